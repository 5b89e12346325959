package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/incident"
)

// The rollups (migrations 00007, 00009 and 00010) hold the sum of every
// incident's contribution, a pure function of its stored rows
// (contribution.go), twice: per local day (metrics_daily, metrics_latency)
// and per calendar month (metrics_monthly, metrics_latency_monthly), so
// that a month is a few thousand rows to read. Project keeps both exact by
// adding, in its transaction, the contribution of the rows it leaves minus
// the contribution of the rows it found.
//
// Every writer of the rollups (Project, Load) first takes the rollup lock
// shared; a rebuild takes it exclusively twice, for a moment each: to
// start recording the writers' changes in metrics_journal and to swap the
// rebuilt tables in (RebuildRollups).

// rollupLockKey is the two-key advisory lock that writers of the rollups
// take shared and a rebuild exclusive; rebuildLockKey (a session lock)
// lets one rebuild run at a time.
const (
	rollupLockKey  = `1464814675, 1` // 'WHIS', 1
	rebuildLockKey = `1464814675, 2`
	rollupLockSQL  = `SELECT pg_advisory_xact_lock_shared(` + rollupLockKey + `)`
)

// queueRollupBefore queues, first in Project's batch, the locks that order
// projections (the rollup lock shared, then the incident's own) and the
// record of the incident's current contribution: in the
// transaction-local settings whistle.rollup_old and whistle.latency_old as
// JSON when the snapshot will be applied (the stored version is older or
// there is no row), else empty (then nothing changes and queueRollupAfter
// adds nothing).
func queueRollupBefore(b *pgx.Batch, in *incident.Incident) {
	b.Queue(projectionPlansSQL)
	b.Queue(rollupLockSQL)
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 5))`, in.ID)
	b.Queue(rollupOldSQL, []string{in.ID}, in.Version)
}

// queueRollupAfter queues, last in Project's batch, the difference between
// the incident's contribution now and the one queueRollupBefore recorded
// (into whistle.rollup_delta and whistle.latency_delta, computed once), its
// addition to the days and then to the months, and its record in the
// journal while a rebuild runs. Only keys whose counters change are
// written, each table in key order, days before months, so that
// concurrent projections lock rollup rows in one order (no deadlock) and
// an acknowledgement touches few rows.
func queueRollupAfter(b *pgx.Batch, in *incident.Incident) {
	b.Queue(rollupDeltaSQL, []string{in.ID})
	for _, q := range rollupAddSQL {
		b.Queue(q)
	}
}

// projectionPlansSQL makes the rest of a projection's transaction plan
// as what it is, a look-up of one incident: generic plans (the statements
// are the same for every incident, and a custom plan of the contribution
// costs more to make, about 0.8 ms, than to run, 0.1 ms) made of index
// look-ups joined by nested loops. The contribution's SQL serves the
// rebuild's pass over every incident too, where hash joins are right; left
// to itself, the planner also picks them for one incident when the tables
// are small or their statistics old, and a projection then reads whole
// tables (three times slower on a fresh database). No JIT: a scan that
// has no index (metrics_settings' one row) costs as if disabled, which
// would compile the query (a second). The settings end with the
// transaction.
const projectionPlansSQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
       set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true),
       set_config('enable_mergejoin', 'off', true), set_config('jit', 'off', true)`

var rollupOldSQL = `
WITH applies AS (SELECT coalesce((SELECT version FROM incidents WHERE id = ($1::text[])[1]), -1) < $2 AS yes)
SELECT set_config('whistle.rollup_old', CASE WHEN yes
           THEN coalesce((SELECT json_agg(c)::text FROM (` + contributionSQL(someIncidents) + `) c), '[]') ELSE '' END, true),
       set_config('whistle.latency_old', CASE WHEN yes
           THEN coalesce((SELECT json_agg(c)::text FROM (` + latencyContributionSQL(someIncidents) + `) c), '[]') ELSE '' END, true)
FROM applies`

var rollupDeltaSQL = `
SELECT set_config('whistle.rollup_delta', CASE WHEN current_setting('whistle.rollup_old', true) <> '' THEN coalesce((
    SELECT json_agg(d)::text FROM (
        SELECT day, department, street, item, domain, ` + counters("sum(%[1]s) AS %[1]s", ", ") + `
        FROM (SELECT * FROM (` + contributionSQL(someIncidents) + `) c
              UNION ALL
              SELECT day, department, street, item, domain, ` + counters("-%[1]s", ", ") + `
              FROM json_to_recordset(current_setting('whistle.rollup_old', true)::json) AS o(` + dailyColumns + `)) x
        GROUP BY day, department, street, item, domain
        HAVING ` + counters("sum(%[1]s) <> 0", " OR ") + `) d), '') ELSE '' END, true),
       set_config('whistle.latency_delta', CASE WHEN current_setting('whistle.latency_old', true) <> '' THEN coalesce((
    SELECT json_agg(d)::text FROM (
        SELECT day, dim, value, kind, bucket, sum(n) AS n
        FROM (SELECT * FROM (` + latencyContributionSQL(someIncidents) + `) c
              UNION ALL
              SELECT day, dim, value, kind, bucket, -n
              FROM json_to_recordset(current_setting('whistle.latency_old', true)::json) AS o(` + latencyColumns + `)) x
        GROUP BY day, dim, value, kind, bucket
        HAVING sum(n) <> 0) d), '') ELSE '' END, true)`

// loadDeltaSQL records, as rollupDeltaSQL does, the contribution of the
// incidents $1 just inserted (Load): all of it is new.
var loadDeltaSQL = `
SELECT set_config('whistle.rollup_delta', coalesce((SELECT json_agg(c)::text FROM (` + contributionSQL(someIncidents) + `) c), ''), true),
       set_config('whistle.latency_delta', coalesce((SELECT json_agg(c)::text FROM (` + latencyContributionSQL(someIncidents) + `) c), ''), true)`

// rollupAddSQL add the deltas that rollupDeltaSQL (or loadDeltaSQL)
// recorded to the four rollup tables and, while a rebuild runs, to the
// journal it catches up from.
var rollupAddSQL = func() []string {
	const delta = `json_to_recordset(nullif(current_setting('whistle.rollup_delta', true), '')::json) AS x(`
	const latency = `json_to_recordset(nullif(current_setting('whistle.latency_delta', true), '')::json) AS x(`
	return append(addRollupsSQL(liveRollups, delta+dailyColumns+`)`, latency+latencyColumns+`)`), `
INSERT INTO metrics_journal (daily, latency)
SELECT nullif(current_setting('whistle.rollup_delta', true), '')::json, nullif(current_setting('whistle.latency_delta', true), '')::json
WHERE EXISTS (SELECT FROM metrics_rebuild)
  AND (current_setting('whistle.rollup_delta', true) <> '' OR current_setting('whistle.latency_delta', true) <> '')`)
}()

// rollupTables names the four rollup tables: the live ones, or the ones a
// rebuild fills before it swaps them in.
type rollupTables struct{ days, months, latencyDays, latencyMonths string }

var (
	liveRollups = rollupTables{"metrics_daily", "metrics_monthly", "metrics_latency", "metrics_latency_monthly"}
	nextRollups = rollupTables{"metrics_daily_next", "metrics_monthly_next", "metrics_latency_next", "metrics_latency_monthly_next"}
)

func (r rollupTables) list() []string {
	return []string{r.days, r.months, r.latencyDays, r.latencyMonths}
}

// addRollupsSQL are the statements that add rows to the rollup tables r:
// src rows with the columns of metrics_daily (one per day and key) and
// latency rows with those of metrics_latency. Each writes its table in key
// order, and every writer runs them in this order, days, months, latency
// days, latency months, so that concurrent writers lock rollup rows in one
// order (no deadlock).
func addRollupsSQL(r rollupTables, src, latency string) []string {
	return []string{`
INSERT INTO ` + r.days + ` AS m (day, department, street, item, domain, ` + counters("%[1]s", ", ") + `)
SELECT day, department, street, item, domain, ` + counters("%[1]s", ", ") + ` FROM ` + src + `
ORDER BY day, department, street, item, domain
ON CONFLICT (day, department, street, item, domain) DO UPDATE SET ` + counters("%[1]s = m.%[1]s + EXCLUDED.%[1]s", ", "),
		`
INSERT INTO ` + r.months + ` AS m (month, department, street, item, domain, ` + counters("%[1]s", ", ") + `)
SELECT date_trunc('month', day)::date, department, street, item, domain, ` + counters("sum(%[1]s)", ", ") + `
FROM ` + src + `
GROUP BY 1, 2, 3, 4, 5 HAVING ` + counters("sum(%[1]s) <> 0", " OR ") + `
ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (month, department, street, item, domain) DO UPDATE SET ` + counters("%[1]s = m.%[1]s + EXCLUDED.%[1]s", ", "),
		`
INSERT INTO ` + r.latencyDays + ` AS m (day, dim, value, kind, bucket, n)
SELECT day, dim, value, kind, bucket, n FROM ` + latency + `
ORDER BY dim, day, value, kind, bucket
ON CONFLICT (dim, day, value, kind, bucket) DO UPDATE SET n = m.n + EXCLUDED.n`,
		`
INSERT INTO ` + r.latencyMonths + ` AS m (month, dim, value, kind, bucket, n)
SELECT date_trunc('month', day)::date, dim, value, kind, bucket, sum(n) FROM ` + latency + `
GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0
ORDER BY 2, 1, 3, 4, 5
ON CONFLICT (dim, month, value, kind, bucket) DO UPDATE SET n = m.n + EXCLUDED.n`}
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
