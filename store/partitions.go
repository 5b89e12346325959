package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The read model's history (incidents, tasks, timeline, feedback) is
// partitioned by the district month each incident was reported in
// (migration 00014). A month's partitions are made ahead (EnsureMonths at
// start and daily) and, should a write still find its month missing, when
// it fails: inMonths makes the month and writes again.

// EnsureMonths makes sure the partitions of the district months holding
// each of at exist, making the missing ones (whistle_month_partitions). It
// is idempotent and safe from several processes at once.
func (s *Store) EnsureMonths(ctx context.Context, at ...time.Time) error {
	if len(at) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `SELECT whistle_month_partitions(x) FROM unnest($1::timestamptz[]) x`, at); err != nil {
		return fmt.Errorf("store: make month partitions: %w", err)
	}
	return nil
}

// EnsureMonthsAhead makes the partitions of this month and the next
// months ahead (by the store's clock), so that writers do not have to.
func (s *Store) EnsureMonthsAhead(ctx context.Context, months int) error {
	now := s.now()
	at := make([]time.Time, 0, months+1)
	for m := 0; m <= months; m++ {
		at = append(at, now.AddDate(0, m, 0))
	}
	return s.EnsureMonths(ctx, at...)
}

// inMonths runs write; when it fails because a row's month has no
// partition yet, it makes the months of at and runs write once more. write
// must be a whole transaction (nothing of the failed try is kept).
func (s *Store) inMonths(ctx context.Context, at []time.Time, write func() error) error {
	err := write()
	if !isNoPartition(err) {
		return err
	}
	if err := s.EnsureMonths(ctx, at...); err != nil {
		return err
	}
	return write()
}

// isNoPartition reports whether err is PostgreSQL's "no partition of
// relation ... found for row".
func isNoPartition(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23514" && strings.HasPrefix(pe.Message, "no partition of relation")
}

// MonthPartition is one month of the read model's history.
type MonthPartition struct {
	// Month is the month's first day in the district's calendar.
	Month time.Time `json:"month"`
	// From and To bound the reported_at of its incidents (To excluded).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Incidents counts its incidents; Open those not closed.
	Incidents int64 `json:"incidents"`
	Open      int64 `json:"open"`
	// Bytes is the size on disk of its four partitions with their indexes
	// and TOAST.
	Bytes int64 `json:"bytes"`
}

// Months lists the months of the read model's history, oldest first.
func (s *Store) Months(ctx context.Context) ([]MonthPartition, error) {
	rows, err := s.pool.Query(ctx, `
WITH p AS (
    SELECT c.relname, c.oid,
           substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \(''([^'']+)''\)')::timestamptz AS lo,
           substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz AS hi
    FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
    WHERE h.inhparent = 'incidents'::regclass)
SELECT to_date(right(p.relname, 7), 'YYYY_MM'), p.lo, p.hi,
       (SELECT count(*) FROM incidents i WHERE i.reported_at >= p.lo AND i.reported_at < p.hi),
       (SELECT count(*) FROM incidents i WHERE i.reported_at >= p.lo AND i.reported_at < p.hi AND i.status <> 'closed'),
       (SELECT sum(pg_total_relation_size(t || right(p.relname, 8))) FROM unnest(ARRAY['incidents', 'tasks', 'timeline', 'feedback']) t)
FROM p ORDER BY p.lo`)
	if err != nil {
		return nil, fmt.Errorf("store: list months: %w", err)
	}
	defer rows.Close()
	var out []MonthPartition
	for rows.Next() {
		var m MonthPartition
		if err := rows.Scan(&m.Month, &m.From, &m.To, &m.Incidents, &m.Open, &m.Bytes); err != nil {
			return nil, fmt.Errorf("store: list months: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list months: %w", err)
	}
	return out, nil
}
