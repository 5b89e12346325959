// Package metrics is what a street grades the departments by
// (docs/metrics.md): the league tables read from the rollups, the monthly
// report and its CSV, the recomputation from the record that checks them,
// and the rebuild of the rollups. The projection keeps the rollups exact
// as it writes the read model (store.Project, with the statements of
// metrics/rollup); this package reads them.
package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Metrics reads and rebuilds the metrics of the read model's database. It
// is safe for concurrent use.
type Metrics struct {
	pool *pgxpool.Pool
}

// New returns the metrics of the database of pool (the store's,
// store.Store.Pool).
func New(pool *pgxpool.Pool) *Metrics { return &Metrics{pool: pool} }

// querier is what a pool and a transaction both offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// MetricsTimezone returns the time zone whose calendar days key the
// rollups (metrics_settings): the district's, as SyncRollups last set it.
func (m *Metrics) MetricsTimezone(ctx context.Context) (*time.Location, error) {
	return metricsTimezone(ctx, m.pool)
}

func metricsTimezone(ctx context.Context, q querier) (*time.Location, error) {
	var tz string
	if err := q.QueryRow(ctx, `SELECT timezone FROM metrics_settings`).Scan(&tz); err != nil {
		return nil, fmt.Errorf("metrics: time zone: %w", err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("metrics: time zone %q: %w", tz, err)
	}
	return loc, nil
}
