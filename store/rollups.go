package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/incident"
)

// The rollups (metrics_daily, metrics_latency; migration 00007) hold the
// sum of every incident's contribution, a pure function of its stored rows
// (the SQL functions metrics_contribution and metrics_latency_contribution).
// Project keeps them exact by adding, in its transaction, the contribution
// of the rows it leaves minus the contribution of the rows it found.

// rollupCounters are the columns of metrics_daily after its key.
const rollupCounters = `tasks, acked_on_time, completed, completed_on_time, extensions, level1, level2, level3,
rated_tasks, rating_sum, returns, overruled, routing_overrides, visits, resolved, rated, satisfied, reopened, unrated`

var rollupCounterList = []string{"tasks", "acked_on_time", "completed", "completed_on_time", "extensions",
	"level1", "level2", "level3", "rated_tasks", "rating_sum", "returns", "overruled", "routing_overrides",
	"visits", "resolved", "rated", "satisfied", "reopened", "unrated"}

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

// queueRollupAfter queues, last in Project's batch, the addition of the
// difference between the incident's contribution now and the one
// queueRollupBefore recorded. Only keys whose counters change are written,
// in key order, so that concurrent projections lock rollup rows in one
// order (no deadlock) and an acknowledgement touches one row.
func queueRollupAfter(b *pgx.Batch, in *incident.Incident) {
	b.Queue(rollupDeltaSQL, in.ID)
	b.Queue(latencyDeltaSQL, in.ID)
}

var rollupDeltaSQL = func() string {
	neg, sum, nonzero, set := "", "", "", ""
	for i, c := range rollupCounterList {
		sep := ", "
		if i == 0 {
			sep = ""
		}
		neg += sep + "-" + c
		sum += sep + "sum(" + c + ")"
		if i > 0 {
			nonzero += " OR "
		}
		nonzero += "sum(" + c + ") <> 0"
		set += sep + c + " = m." + c + " + EXCLUDED." + c
	}
	return `
WITH old AS (
    SELECT * FROM json_populate_recordset(NULL::metrics_daily, nullif(current_setting('whistle.rollup_old', true), '')::json)
), d AS (
    SELECT * FROM metrics_contribution(ARRAY[$1]) WHERE current_setting('whistle.rollup_old', true) <> ''
    UNION ALL
    SELECT day, department, street, item, domain, ` + neg + ` FROM old
)
INSERT INTO metrics_daily AS m (day, department, street, item, domain, ` + rollupCounters + `)
SELECT day, department, street, item, domain, ` + sum + `
FROM d GROUP BY day, department, street, item, domain
HAVING ` + nonzero + `
ORDER BY day, department, street, item, domain
ON CONFLICT (day, department, street, item, domain) DO UPDATE SET ` + set
}()

const latencyDeltaSQL = `
WITH old AS (
    SELECT * FROM json_populate_recordset(NULL::metrics_latency, nullif(current_setting('whistle.latency_old', true), '')::json)
), d AS (
    SELECT * FROM metrics_latency_contribution(ARRAY[$1]) WHERE current_setting('whistle.latency_old', true) <> ''
    UNION ALL
    SELECT day, dim, value, kind, bucket, -n FROM old
)
INSERT INTO metrics_latency AS m (day, dim, value, kind, bucket, n)
SELECT day, dim, value, kind, bucket, sum(n)
FROM d GROUP BY day, dim, value, kind, bucket
HAVING sum(n) <> 0
ORDER BY dim, day, value, kind, bucket
ON CONFLICT (dim, day, value, kind, bucket) DO UPDATE SET n = m.n + EXCLUDED.n`

// addRollups adds the contribution of the incidents ids (just inserted by
// Load) to the rollups, in tx.
func addRollups(ctx context.Context, tx pgx.Tx, ids []string) error {
	set := ""
	for i, c := range rollupCounterList {
		if i > 0 {
			set += ", "
		}
		set += c + " = m." + c + " + EXCLUDED." + c
	}
	if _, err := tx.Exec(ctx, `
INSERT INTO metrics_daily AS m
SELECT day, department, street, item, domain, `+rollupSums()+`
FROM metrics_contribution($1) GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (day, department, street, item, domain) DO UPDATE SET `+set, ids); err != nil {
		return fmt.Errorf("add rollups: %w", err)
	}
	if _, err := tx.Exec(ctx, `
INSERT INTO metrics_latency AS m
SELECT * FROM metrics_latency_contribution($1) ORDER BY dim, day, value, kind, bucket
ON CONFLICT (dim, day, value, kind, bucket) DO UPDATE SET n = m.n + EXCLUDED.n`, ids); err != nil {
		return fmt.Errorf("add latency rollups: %w", err)
	}
	return nil
}

func rollupSums() string {
	out := ""
	for i, c := range rollupCounterList {
		if i > 0 {
			out += ", "
		}
		out += "sum(" + c + ")"
	}
	return out
}

// rebuildBatch is how many incidents RebuildRollups adds at a time: the
// cost of one metrics_contribution call grows faster than its input, so a
// rebuild over ten million tasks goes batch by batch, in id order.
var rebuildBatch = 10000

// RebuildRollups recomputes both rollup tables from every incident's stored
// rows, in one transaction: after a bulk load with DeferRollups, after a
// change of the rollups' time zone (SetMetricsTimezone does it), or to
// repair them. Readers see the old rollups until it commits; projections
// wait at their rollup step until then (see rebuildRollups).
func (s *Store) RebuildRollups(ctx context.Context) error {
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return rebuildRollups(ctx, tx) }); err != nil {
		return fmt.Errorf("store: rebuild rollups: %w", err)
	}
	return nil
}

// rebuildRollups empties the rollups and adds every incident's
// contribution, rebuildBatch incidents at a time, in tx. It first locks
// both tables EXCLUSIVE: reads go on, but a projection (or Load) waits at
// its rollup statement until tx commits. That keeps them exact: a
// projection that has not committed when a batch reads its incident left
// the rows its "before" saw, so the batch adds that contribution and the
// projection, once let through, adds its difference; one that committed
// before the lock is in the rows every batch reads.
func rebuildRollups(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `LOCK TABLE metrics_daily, metrics_latency IN EXCLUSIVE MODE`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM metrics_daily; DELETE FROM metrics_latency`); err != nil {
		return err
	}
	for last := ""; ; {
		var ids []string
		if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM (
    SELECT id FROM incidents WHERE id > $1 ORDER BY id LIMIT $2) b`, last, rebuildBatch).Scan(&ids); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := addRollups(ctx, tx, ids); err != nil {
			return err
		}
		last = ids[len(ids)-1]
	}
}

// MetricsTimezone returns the time zone whose calendar days key the
// rollups (metrics_settings): the district's, as SetMetricsTimezone last
// set it.
func (s *Store) MetricsTimezone(ctx context.Context) (*time.Location, error) {
	var tz string
	if err := s.pool.QueryRow(ctx, `SELECT timezone FROM metrics_settings`).Scan(&tz); err != nil {
		return nil, fmt.Errorf("store: metrics time zone: %w", err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("store: metrics time zone %q: %w", tz, err)
	}
	return loc, nil
}

// SetMetricsTimezone makes tz (an IANA name: the district's) the time zone
// whose calendar days key the rollups. When it differs from the stored
// one, every stored day would move, so the rollups are rebuilt in the same
// transaction and changed is true; when it is the same, nothing is written.
// Processes starting together serialise on the settings row: the first
// rebuilds, the others find tz stored. A zone Postgres does not know is a
// CodeInvalid *incident.Error and changes nothing.
func (s *Store) SetMetricsTimezone(ctx context.Context, tz string) (changed bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var cur string
		if err := tx.QueryRow(ctx, `SELECT timezone FROM metrics_settings FOR UPDATE`).Scan(&cur); err != nil {
			return err
		}
		if cur == tz {
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
		changed = true
		return rebuildRollups(ctx, tx)
	})
	if err != nil {
		var ie *incident.Error
		if errors.As(err, &ie) {
			return false, err
		}
		return false, fmt.Errorf("store: set metrics time zone %q: %w", tz, err)
	}
	return changed, nil
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
