package temporaldev

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite" // also registers the "sqlite" database/sql driver
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"google.golang.org/protobuf/types/known/durationpb"
)

// sqlitePragmas apply to every connection to the file. WAL with
// synchronous=NORMAL fsyncs at checkpoints instead of on every commit (about
// 30% of the server's cost on this kind of box): a commit survives a crash of
// the process, and only the last moments before a power loss are at risk.
var sqlitePragmas = map[string]string{
	"journal_mode": "wal",
	"synchronous":  "normal",
	"busy_timeout": "10000",
}

// sqliteConfig returns the persistence config for a file in dataDir, or for
// a private in-memory database when dataDir is "".
func sqliteConfig(dataDir string) (*config.SQL, error) {
	cfg := &config.SQL{PluginName: sqliteplugin.PluginName, ConnectAttributes: map[string]string{}}
	if dataDir == "" {
		// The plugin creates the schema itself for an in-memory database.
		cfg.DatabaseName = "whistle-" + strconv.FormatUint(rand.Uint64(), 36)
		cfg.ConnectAttributes["mode"] = "memory"
		cfg.ConnectAttributes["cache"] = "shared"
		return cfg, nil
	}
	path, err := temporalDBPath(dataDir)
	if err != nil {
		return nil, err
	}
	cfg.DatabaseName = path
	cfg.ConnectAttributes["mode"] = "rwc"
	for k, v := range sqlitePragmas {
		cfg.ConnectAttributes[k] = v
	}
	return cfg, nil
}

// prepareSQLite creates the schema in a new file and the namespace if it is
// missing, with the given retention (the schema helper's default is 24h).
func prepareSQLite(cfg *config.SQL, file bool, namespace string, retention time.Duration) error {
	if file {
		if err := ensureSchema(cfg.DatabaseName); err != nil {
			return err
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, namespace, false, nil)
	if err != nil {
		return fmt.Errorf("temporal: namespace %q: %w", namespace, err)
	}
	ns.Detail.Config.Retention = durationpb.New(retention)
	if err := sqliteschema.CreateNamespaces(cfg, ns); err != nil {
		return fmt.Errorf("temporal: create namespace %q: %w", namespace, err)
	}
	return nil
}

// ensureSchema creates Temporal's tables in the SQLite file at path unless
// they exist. It runs the whole schema in one transaction on its own
// connection, so a start killed half-way leaves either no schema (done again
// next time) or all of it, never a file the server cannot use.
func ensureSchema(path string) error {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=rwc&_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("temporal: open %s: %w", path, err)
	}
	defer db.Close()
	ctx := context.Background()

	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'namespaces'`).Scan(&n); err != nil {
		return fmt.Errorf("temporal: read %s: %w", path, err)
	}
	if n > 0 {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("temporal: create schema in %s: %w", path, err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := sqliteschema.SetupSchemaOnDB(txAdminDB{tx: tx}); err != nil {
		return fmt.Errorf("temporal: create schema in %s: %w", path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("temporal: create schema in %s: %w", path, err)
	}
	return nil
}

// txAdminDB runs schema statements in a transaction. SetupSchemaOnDB only
// calls Exec; the embedded nil AdminDB makes any other call panic, which the
// tests would show at once after a server upgrade.
type txAdminDB struct {
	sqlplugin.AdminDB
	tx *sql.Tx
}

func (d txAdminDB) Exec(stmt string, args ...any) error {
	_, err := d.tx.Exec(stmt, args...)
	return err
}
