package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/incident"
)

// The rollups (migrations 00007 and 00009) hold the sum of every incident's
// contribution, a pure function of its stored rows (the SQL functions
// metrics_contribution and metrics_latency_contribution), twice: per local
// day (metrics_daily, metrics_latency) and per calendar month
// (metrics_monthly, metrics_latency_monthly), so that a month is a few
// thousand rows to read. Project keeps both exact by adding, in its
// transaction, the contribution of the rows it leaves minus the
// contribution of the rows it found.

// rollupCounterList are the columns of metrics_daily and metrics_monthly
// after their key, in table order.
var rollupCounterList = []string{"tasks", "acked_on_time", "completed", "completed_on_time", "extensions",
	"level1", "level2", "level3", "rated_tasks", "rating_sum", "returns", "overruled", "routing_overrides",
	"visits", "resolved", "rated", "satisfied", "reopened", "unrated", "incidents", "repeats"}

// counters writes format once per counter (%[1]s is its name), joined by
// sep: counters("sum(%[1]s)", ", ") is "sum(tasks), sum(acked_on_time), …".
func counters(format, sep string) string {
	parts := make([]string, len(rollupCounterList))
	for i, c := range rollupCounterList {
		parts[i] = fmt.Sprintf(format, c)
	}
	return strings.Join(parts, sep)
}

// queueRollupBefore queues, first in Project's batch, the lock that orders
// projections of one incident and the record of its current contribution:
// in the transaction-local settings whistle.rollup_old and
// whistle.latency_old as JSON when the snapshot will be applied (the stored
// version is older or there is no row), else ” (then nothing changes and
// queueRollupAfter adds nothing).
func queueRollupBefore(b *pgx.Batch, in *incident.Incident) {
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 5))`, in.ID)
	b.Queue(`
WITH applies AS (SELECT coalesce((SELECT version FROM incidents WHERE id = $1), -1) < $2 AS yes)
SELECT set_config('whistle.rollup_old', CASE WHEN yes
           THEN coalesce((SELECT json_agg(c)::text FROM metrics_contribution(ARRAY[$1]) c), '[]') ELSE '' END, true),
       set_config('whistle.latency_old', CASE WHEN yes
           THEN coalesce((SELECT json_agg(c)::text FROM metrics_latency_contribution(ARRAY[$1]) c), '[]') ELSE '' END, true)
FROM applies`, in.ID, in.Version)
}

// queueRollupAfter queues, last in Project's batch, the difference between
// the incident's contribution now and the one queueRollupBefore recorded
// (into whistle.rollup_delta and whistle.latency_delta, computed once), and
// its addition to the days and then to the months. Only keys whose
// counters change are written, each table in key order, days before
// months, so that concurrent projections lock rollup rows in one order
// (no deadlock) and an acknowledgement touches few rows.
func queueRollupAfter(b *pgx.Batch, in *incident.Incident) {
	b.Queue(rollupDeltaSQL, in.ID)
	for _, q := range rollupAddSQL {
		b.Queue(q)
	}
}

var rollupDeltaSQL = `
SELECT set_config('whistle.rollup_delta', CASE WHEN current_setting('whistle.rollup_old', true) <> '' THEN coalesce((
    SELECT json_agg(d)::text FROM (
        SELECT day, department, street, item, domain, ` + counters("sum(%[1]s) AS %[1]s", ", ") + `
        FROM (SELECT * FROM metrics_contribution(ARRAY[$1])
              UNION ALL
              SELECT day, department, street, item, domain, ` + counters("-%[1]s", ", ") + `
              FROM json_populate_recordset(NULL::metrics_daily, current_setting('whistle.rollup_old', true)::json)) x
        GROUP BY day, department, street, item, domain
        HAVING ` + counters("sum(%[1]s) <> 0", " OR ") + `) d), '') ELSE '' END, true),
       set_config('whistle.latency_delta', CASE WHEN current_setting('whistle.latency_old', true) <> '' THEN coalesce((
    SELECT json_agg(d)::text FROM (
        SELECT day, dim, value, kind, bucket, sum(n) AS n
        FROM (SELECT * FROM metrics_latency_contribution(ARRAY[$1])
              UNION ALL
              SELECT day, dim, value, kind, bucket, -n
              FROM json_populate_recordset(NULL::metrics_latency, current_setting('whistle.latency_old', true)::json)) x
        GROUP BY day, dim, value, kind, bucket
        HAVING sum(n) <> 0) d), '') ELSE '' END, true)`

// rollupAddSQL add the deltas rollupDeltaSQL recorded to the four rollup
// tables.
var rollupAddSQL = func() []string {
	const delta = `json_populate_recordset(NULL::metrics_daily, nullif(current_setting('whistle.rollup_delta', true), '')::json)`
	const latency = `json_populate_recordset(NULL::metrics_latency, nullif(current_setting('whistle.latency_delta', true), '')::json)`
	return []string{addDaysSQL(delta), addMonthsSQL(delta), addLatencyDaysSQL(latency), addLatencyMonthsSQL(latency)}
}()

// The statements that add rows to the rollups, from src: a relation with
// the columns of metrics_daily (addDaysSQL, addMonthsSQL) or of
// metrics_latency (the latency ones), one row per day and key. Each writes
// its table in key order, and every writer (Project, Load, RebuildRollups)
// runs them in this order, days, months, latency days, latency months, so
// that concurrent writers lock rollup rows in one order (no deadlock).

func addDaysSQL(src string) string {
	return `
INSERT INTO metrics_daily AS m (day, department, street, item, domain, ` + counters("%[1]s", ", ") + `)
SELECT day, department, street, item, domain, ` + counters("%[1]s", ", ") + ` FROM ` + src + `
ORDER BY day, department, street, item, domain
ON CONFLICT (day, department, street, item, domain) DO UPDATE SET ` + counters("%[1]s = m.%[1]s + EXCLUDED.%[1]s", ", ")
}

// addMonthsSQL sums src's days into their months.
func addMonthsSQL(src string) string {
	return `
INSERT INTO metrics_monthly AS m (month, department, street, item, domain, ` + counters("%[1]s", ", ") + `)
SELECT date_trunc('month', day)::date, department, street, item, domain, ` + counters("sum(%[1]s)", ", ") + `
FROM ` + src + `
GROUP BY 1, 2, 3, 4, 5 HAVING ` + counters("sum(%[1]s) <> 0", " OR ") + `
ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (month, department, street, item, domain) DO UPDATE SET ` + counters("%[1]s = m.%[1]s + EXCLUDED.%[1]s", ", ")
}

func addLatencyDaysSQL(src string) string {
	return `
INSERT INTO metrics_latency AS m (day, dim, value, kind, bucket, n)
SELECT day, dim, value, kind, bucket, n FROM ` + src + `
ORDER BY dim, day, value, kind, bucket
ON CONFLICT (dim, day, value, kind, bucket) DO UPDATE SET n = m.n + EXCLUDED.n`
}

// addLatencyMonthsSQL sums src's days into their months.
func addLatencyMonthsSQL(src string) string {
	return `
INSERT INTO metrics_latency_monthly AS m (month, dim, value, kind, bucket, n)
SELECT date_trunc('month', day)::date, dim, value, kind, bucket, sum(n) FROM ` + src + `
GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0
ORDER BY 2, 1, 3, 4, 5
ON CONFLICT (dim, month, value, kind, bucket) DO UPDATE SET n = m.n + EXCLUDED.n`
}

// addRollups adds the contribution of the incidents ids (just inserted by
// Load, or a batch of RebuildRollups) to the daily rollups and, when months
// is set, to the monthly ones, in tx.
func addRollups(ctx context.Context, tx pgx.Tx, ids []string, months bool) error {
	const contribution, latency = "metrics_contribution($1)", "metrics_latency_contribution($1)"
	stmts := []string{addDaysSQL(contribution), addLatencyDaysSQL(latency)}
	if months {
		stmts = []string{addDaysSQL(contribution), addMonthsSQL(contribution), addLatencyDaysSQL(latency), addLatencyMonthsSQL(latency)}
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q, ids); err != nil {
			return fmt.Errorf("add rollups: %w", err)
		}
	}
	return nil
}

// rebuildBatch is how many incidents RebuildRollups adds at a time, in id
// order: each call's sort stays in memory and the upserts stay near each
// other (ids are UUID v7, so id order is report order).
var rebuildBatch = 10000

// RebuildRollups recomputes the rollups from every incident's stored rows,
// in one transaction, and records that they hold MetricsDefinitionVersion:
// after a bulk load with DeferRollups, when the definitions or the time
// zone change (SyncRollups does it), or to repair them. Readers see the old
// rollups until it commits; projections wait at their rollup step until
// then (see rebuildRollups).
func (s *Store) RebuildRollups(ctx context.Context) error {
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return rebuildRollups(ctx, tx) }); err != nil {
		return fmt.Errorf("store: rebuild rollups: %w", err)
	}
	return nil
}

// rebuildRollups empties the rollups, adds every incident's contribution
// to the days, rebuildBatch incidents at a time, and sums the days into
// the months (written in key order, so that a month's rows of one
// dimension sit on few pages), in tx. It first locks the rollup tables EXCLUSIVE: reads go
// on, but a projection (or Load) waits at its rollup statements until tx
// commits. That keeps them exact: a projection that has not committed when
// a batch reads its incident left the rows its "before" saw, so the batch
// adds that contribution and the projection, once let through, adds its
// difference; one that committed before the lock is in the rows every
// batch reads.
func rebuildRollups(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `
LOCK TABLE metrics_daily, metrics_latency, metrics_monthly, metrics_latency_monthly IN EXCLUSIVE MODE;
DELETE FROM metrics_daily; DELETE FROM metrics_latency; DELETE FROM metrics_monthly; DELETE FROM metrics_latency_monthly`); err != nil {
		return err
	}
	for last := ""; ; {
		var ids []string
		if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM (
    SELECT id FROM incidents WHERE id > $1 ORDER BY id LIMIT $2) b`, last, rebuildBatch).Scan(&ids); err != nil {
			return err
		}
		if len(ids) == 0 {
			break
		}
		if err := addRollups(ctx, tx, ids, false); err != nil {
			return err
		}
		last = ids[len(ids)-1]
	}
	// The months from the days (RebuildRollups' batches add days only).
	for _, q := range []string{addMonthsSQL("metrics_daily"), addLatencyMonthsSQL("metrics_latency")} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, `UPDATE metrics_settings SET definition = $1`, MetricsDefinitionVersion)
	return err
}

// MetricsTimezone returns the time zone whose calendar days key the
// rollups (metrics_settings): the district's, as SyncRollups last set it.
func (s *Store) MetricsTimezone(ctx context.Context) (*time.Location, error) {
	return metricsTimezone(ctx, s.pool)
}

func metricsTimezone(ctx context.Context, q querier) (*time.Location, error) {
	var tz string
	if err := q.QueryRow(ctx, `SELECT timezone FROM metrics_settings`).Scan(&tz); err != nil {
		return nil, fmt.Errorf("store: metrics time zone: %w", err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("store: metrics time zone %q: %w", tz, err)
	}
	return loc, nil
}

// SyncRollups makes the rollups count on the calendar days of tz (an IANA
// name: the district's) under MetricsDefinitionVersion. When the stored
// time zone or definition differs (every stored day would move, or the
// counters mean something else), it rebuilds them in the same transaction
// and returns rebuilt true; otherwise it writes nothing. Processes starting
// together serialise on the settings row: the first rebuilds, the others
// find it done. A zone Postgres does not know is a CodeInvalid
// *incident.Error and changes nothing.
func (s *Store) SyncRollups(ctx context.Context, tz string) (rebuilt bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var cur, def string
		if err := tx.QueryRow(ctx, `SELECT timezone, definition FROM metrics_settings FOR UPDATE`).Scan(&cur, &def); err != nil {
			return err
		}
		if cur == tz && def == MetricsDefinitionVersion {
			return nil
		}
		var known bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)`, tz).Scan(&known); err != nil {
			return err
		}
		if !known {
			return incident.Invalid("district.timezone", "PostgreSQL does not know the time zone %q", tz)
		}
		if _, err := tx.Exec(ctx, `UPDATE metrics_settings SET timezone = $1`, tz); err != nil {
			return err
		}
		rebuilt = true
		return rebuildRollups(ctx, tx)
	})
	if err != nil {
		var ie *incident.Error
		if errors.As(err, &ie) {
			return false, err
		}
		return false, fmt.Errorf("store: sync rollups to %q, %s: %w", tz, MetricsDefinitionVersion, err)
	}
	return rebuilt, nil
}

// maxLevel is the highest escalation level either of t's ladders ever
// reached: the largest Level of its ack_overdue and resolve_overdue
// entries (tasks.max_level).
func maxLevel(in *incident.Incident, t *incident.Task) int32 {
	var l int
	for _, e := range in.Timeline {
		if e.TaskID == t.ID && (e.Type == incident.EventAckOverdue || e.Type == incident.EventResolveOverdue) {
			l = max(l, e.Level)
		}
	}
	return int32(l)
}

// taskRating is t's rating as tasks.rating and tasks.rated_at.
func taskRating(t *incident.Task) (*int32, *time.Time) {
	if t.Rating == nil {
		return nil, nil
	}
	s, at := int32(t.Rating.Score), t.Rating.At
	return &s, &at
}
