package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
)

// The read model's history (incidents, tasks, timeline, feedback) is
// partitioned by incident id, a UUID version 7 whose first 48 bits are the
// instant the API received the report, into the district's calendar months
// (migration 00014). A month's partitions are made ahead (serve keeps two
// months ahead) and, should a write still find its month missing, when it
// fails: inMonths makes the month and writes again.

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

// inMonths runs write; when it fails because the month of an incident id
// has no partition yet, it makes the months of ids (IDTime) and runs write
// once more. write must be a whole transaction (nothing of the failed try
// is kept).
func (s *Store) inMonths(ctx context.Context, ids []string, write func() error) error {
	err := write()
	if !isNoPartition(err) {
		return err
	}
	var at []time.Time
	for _, id := range ids {
		if t, ok := IDTime(id); ok {
			at = append(at, t)
		}
	}
	if err := s.EnsureMonths(ctx, at...); err != nil {
		return err
	}
	return write()
}

// IDTime is the instant a UUID version 7 incident id was made (its first
// 48 bits, Unix milliseconds), which decides the month partition the
// incident's rows are in; ok is false for an id that is not one.
func IDTime(id string) (t time.Time, ok bool) {
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		return time.Time{}, false
	}
	sec, nsec := u.Time().UnixTime()
	return time.Unix(sec, nsec), true
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
	// From and To bound the instants its incidents were received (the
	// time in their ids; To excluded), in the metrics time zone.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Incidents counts its incidents; Open those not closed.
	Incidents int64 `json:"incidents"`
	Open      int64 `json:"open"`
	// Bytes is the size on disk of its four partitions with their indexes
	// and TOAST.
	Bytes int64 `json:"bytes"`
}

// Months lists the months of the read model's history, oldest first. It
// counts the rows of every month (one pass over incidents), so it takes
// time in proportion to the record.
func (s *Store) Months(ctx context.Context) ([]MonthPartition, error) {
	rows, err := s.pool.Query(ctx, `
WITH p AS (
    SELECT c.relname, to_date(right(c.relname, 7), 'YYYY_MM') AS month
    FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
    WHERE h.inhparent = 'incidents'::regclass AND c.relname ~ '_[0-9]{4}_[0-9]{2}$'),
n AS (SELECT tableoid, count(*) AS incidents, count(*) FILTER (WHERE status <> 'closed') AS open
      FROM incidents GROUP BY tableoid)
SELECT p.month, p.month::timestamp AT TIME ZONE z.timezone, (p.month + interval '1 month')::timestamp AT TIME ZONE z.timezone,
       coalesce(n.incidents, 0), coalesce(n.open, 0),
       (SELECT sum(pg_total_relation_size(t || right(p.relname, 8))) FROM unnest(ARRAY['incidents', 'tasks', 'timeline', 'feedback']) t)
FROM p CROSS JOIN metrics_settings z LEFT JOIN n ON n.tableoid = p.relname::regclass
ORDER BY p.month`)
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
