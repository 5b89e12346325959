// Package devtest gives tests of other packages real infrastructure with one
// call: a fresh PostgreSQL database and an embedded NATS JetStream server.
//
// Packages that call Postgres should stop the shared private server after
// their tests:
//
//	func TestMain(m *testing.M) { devtest.Main(m) }
package devtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/devstack"
)

// shared is the private PostgreSQL server of this test binary, started by the
// first Postgres call when DATABASE_URL is not set.
var shared struct {
	once sync.Once
	pg   *devstack.Postgres
	dir  string
	err  error
}

// Postgres returns the URL of a fresh, empty database for this test, dropped
// at t.Cleanup. It creates the database on the server named by DATABASE_URL
// when that is set, else on one private server per test binary (started on
// first use under os.TempDir(), stopped by [Main]). Without either it fails
// the test, saying what to install.
func Postgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	admin, err := adminURL()
	if err != nil {
		t.Fatalf("devtest: %v", err)
	}
	name := databaseName(t.Name())
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("devtest: connect to PostgreSQL: %v", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("devtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dropDatabase(ctx, admin, name); err != nil {
			t.Errorf("devtest: drop database %s: %v", name, err)
		}
	})
	u, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("devtest: %v", err)
	}
	return u
}

// NATS returns the client URL of an embedded nats-server with JetStream for
// this test, on a free port of 127.0.0.1, with its store in t.TempDir();
// the server is stopped at t.Cleanup.
func NATS(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := devstack.StartNATS(ctx, devstack.NATSOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("devtest: %v", err)
	}
	t.Cleanup(n.Stop)
	return n.ClientURL()
}

// Main runs the tests, then stops the private PostgreSQL server if Postgres
// started one, and exits with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	if err := stopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "devtest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// adminURL returns a URL with the right to create databases: DATABASE_URL,
// or the private server's maintenance database.
func adminURL() (string, error) {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u, nil
	}
	shared.once.Do(func() {
		// Each test binary gets its own cluster: packages' tests run in
		// parallel processes.
		shared.dir, shared.err = os.MkdirTemp("", "whistle-devtest-")
		if shared.err != nil {
			return
		}
		// MkdirTemp makes it 0700; the server may run as another user.
		if shared.err = os.Chmod(shared.dir, 0o755); shared.err != nil {
			return
		}
		shared.pg, shared.err = devstack.StartPostgres(context.Background(), devstack.PostgresOptions{
			DataDir:  shared.dir,
			Database: "postgres",
		})
	})
	if shared.err != nil {
		return "", shared.err
	}
	return shared.pg.URL(), nil
}

func stopShared() error {
	if shared.pg == nil {
		if shared.dir != "" {
			_ = os.RemoveAll(shared.dir)
		}
		return nil
	}
	err := shared.pg.Stop()
	_ = os.RemoveAll(shared.pg.ClusterDir())
	_ = os.RemoveAll(shared.dir)
	return err
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseName derives a unique, valid database name from a test's name.
func databaseName(test string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := nonIdent.ReplaceAllString(strings.ToLower(test), "_")
	if len(base) > 40 {
		base = base[:40]
	}
	return "t_" + base + "_" + hex.EncodeToString(b[:])
}

// withDatabase returns dsn (URL or key=value form) naming database db.
func withDatabase(dsn, db string) (string, error) {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse database URL: %w", err)
		}
		u.Path = "/" + db
		u.RawPath = ""
		return u.String(), nil
	}
	return dsn + " dbname=" + db, nil
}

// dropDatabase drops db, ending any sessions the test left open.
func dropDatabase(ctx context.Context, admin, db string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ident := pgx.Identifier{db}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err == nil {
		return nil
	}
	// Before PostgreSQL 13 there is no FORCE.
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, db); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident)
	return err
}

// RecordSpans installs, for the whole test binary, a recording tracer
// provider and the W3C trace-context and baggage propagator — as
// telemetry.Setup does — and returns the recorder of every span that ends.
// Call it once, from TestMain.
func RecordSpans() *tracetest.SpanRecorder {
	spans := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return spans
}
