package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLockID is the key of the session-level advisory lock that
// serialises Migrate across processes: the first runs the migrations, the
// others wait and then find nothing to do. (The value spells "whistle".)
const migrateLockID int64 = 0x77686973746c65

// Migrations returns the embedded migration files (NNNNN_name.sql, goose
// format), for tools that want to list or print them.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// Migrate applies every embedded migration not yet applied to the database
// at url, with goose over the pgx stdlib driver. It is safe to run from
// several processes at once: they take turns on a Postgres advisory lock,
// and a database already up to date is left alone.
func Migrate(ctx context.Context, url string) (err error) {
	// Parsed as a pool config so that a URL with pool_* parameters, as
	// Open accepts, works here too.
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("store: migrate: parse database url: %w", err)
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	defer func() { err = errors.Join(err, db.Close()) }()

	// Hold the lock on a connection of its own for the whole run; goose
	// uses other connections of db. pg_advisory_lock blocks until the
	// holder finishes (or ctx ends: the driver cancels the query).
	lockConn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: connect: %w", err)
	}
	defer func() { err = errors.Join(err, lockConn.Close()) }()
	if _, err := lockConn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLockID); err != nil {
		return fmt.Errorf("store: migrate: take the migration lock: %w", err)
	}
	defer func() {
		// Unlock with a fresh context: ctx may be done, and a lock left
		// behind would only be released when the connection closes.
		if _, uerr := lockConn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockID); uerr != nil {
			err = errors.Join(err, fmt.Errorf("store: migrate: release the migration lock: %w", uerr))
		}
	}()

	return up(ctx, db)
}

func up(ctx context.Context, db *sql.DB) error {
	p, err := goose.NewProvider(goose.DialectPostgres, db, Migrations(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		if r.Error == nil {
			slog.InfoContext(ctx, "store: migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
		}
	}
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}
