// Package store is Whistle's Postgres read model and metrics store
// (DESIGN.md §2). The incident workflow projects every state change of an
// incident here (Project); the API reads incidents, department inboxes and
// overdue lists from here, and the 三率 are SQL over it. The schema lives in
// embedded goose migrations (Migrate).
//
// Temporal stays the source of truth: a row here is the latest snapshot the
// workflow projected, applied only when newer than what is stored, so
// retried and reordered projections are harmless.
package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the read model on a pgx connection pool. It is safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// now is the clock that decides what is overdue at read time.
	now func() time.Time
}

// Open connects to the Postgres database at url (a postgres:// URL or a
// keyword/value DSN, with pgxpool's pool_* parameters), traces every query
// with OpenTelemetry through the global providers (otelpgx), records the
// pool's statistics as metrics, and pings the database. Its connections
// use generic plans (plan_cache_mode) unless url says otherwise. It does not migrate:
// call Migrate first.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: parse database url: %w", err)
	}
	cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTrimSQLInSpanName())
	// The read model is partitioned by month (migration 00014): a generic
	// plan of a statement prunes the months it does not need as it runs,
	// while PostgreSQL's default keeps planning each execution afresh
	// across every month and every index of each, which made the overdue
	// board 5 to 8 times slower at 17 partitions. A URL that sets
	// plan_cache_mode keeps its own.
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: create pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: ping %s/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	if err := otelpgx.RecordStats(pool); err != nil {
		slog.WarnContext(ctx, "store: pool statistics will not be exported", "err", err)
	}
	return &Store{pool: pool, now: time.Now}, nil
}

// Close closes every connection of the pool, waiting for queries in flight.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers; a readiness probe calls it.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Pool returns the underlying connection pool, for callers that need SQL the
// Store does not offer (tests, ad-hoc reports). The Store still owns it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// SetClock replaces the clock that decides what is overdue at read time
// (time.Now by default), for tests and simulations. Call it before the
// Store is shared: it is not synchronised with reads.
func (s *Store) SetClock(now func() time.Time) { s.now = now }
