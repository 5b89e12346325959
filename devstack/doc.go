// Package devstack runs the infrastructure Whistle needs on one machine, so
// that `whistle dev` and the tests work on a fresh machine with nothing else
// running:
//
//   - [StartNATS]: an embedded nats-server with JetStream, on 127.0.0.1;
//   - [StartPostgres]: the database named by DATABASE_URL, or a private
//     PostgreSQL cluster kept in a data directory and started on a free port;
//   - package temporaldev: an embedded Temporal server persisting to SQLite.
//     It is a package of its own because it links the whole Temporal server
//     (minutes of cold build, ~200 MB of binary): tests that need only
//     Postgres and NATS do not pay for it.
//
// Only cmd/ and tests import these packages. Tests of other packages use the
// small helpers in devstack/devtest.
package devstack
