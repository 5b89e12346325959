package rollup

// Every writer of the rollups (store.Project, store.Load) first takes the
// rollup lock shared (LockSQL); a rebuild takes it exclusively twice, for a
// moment each: to start recording the writers' changes in metrics_journal
// and to swap the rebuilt tables in.

// LockKey is the two-key advisory lock that writers of the rollups take
// shared and a rebuild exclusive; RebuildLockKey (a session lock) lets one
// rebuild run at a time; LockSQL takes the first shared.
const (
	LockKey        = `1464814675, 1` // 'WHIS', 1
	RebuildLockKey = `1464814675, 2`
	LockSQL        = `SELECT pg_advisory_xact_lock_shared(` + LockKey + `)`
)

// PlansSQL makes the rest of a projection's transaction plan
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
const PlansSQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
       set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true),
       set_config('enable_mergejoin', 'off', true), set_config('jit', 'off', true)`

// OldSQL ($1 the incident id as a one-element array, $2 the snapshot's
// version) records the incident's current contribution in the
// transaction-local settings whistle.rollup_old and whistle.latency_old as
// JSON when the snapshot will be applied (the stored version is older or
// there is no row), else empty (then DeltaSQL records no change).
var OldSQL = `
WITH applies AS (SELECT coalesce((SELECT version FROM incidents WHERE id = ($1::text[])[1]), -1) < $2 AS yes)
SELECT set_config('whistle.rollup_old', CASE WHEN yes
           THEN coalesce((SELECT json_agg(c)::text FROM (` + Contribution(SomeIncidents) + `) c), '[]') ELSE '' END, true),
       set_config('whistle.latency_old', CASE WHEN yes
           THEN coalesce((SELECT json_agg(c)::text FROM (` + LatencyContribution(SomeIncidents) + `) c), '[]') ELSE '' END, true)
FROM applies`

// DeltaSQL ($1 as OldSQL's) records the difference between the
// incident's contribution now and the one OldSQL recorded, computed once,
// in whistle.rollup_delta and whistle.latency_delta: only the keys whose
// counters change.
var DeltaSQL = `
SELECT set_config('whistle.rollup_delta', CASE WHEN current_setting('whistle.rollup_old', true) <> '' THEN coalesce((
    SELECT json_agg(d)::text FROM (
        SELECT day, ` + Key + `, ` + Format("sum(%[1]s) AS %[1]s", ", ") + `
        FROM (SELECT * FROM (` + Contribution(SomeIncidents) + `) c
              UNION ALL
              SELECT day, ` + Key + `, ` + Format("-%[1]s", ", ") + `
              FROM json_to_recordset(current_setting('whistle.rollup_old', true)::json) AS o(` + DailyColumns + `)) x
        GROUP BY day, ` + Key + `
        HAVING ` + Format("sum(%[1]s) <> 0", " OR ") + `) d), '') ELSE '' END, true),
       set_config('whistle.latency_delta', CASE WHEN current_setting('whistle.latency_old', true) <> '' THEN coalesce((
    SELECT json_agg(d)::text FROM (
        SELECT day, dim, value, kind, bucket, sum(n) AS n
        FROM (SELECT * FROM (` + LatencyContribution(SomeIncidents) + `) c
              UNION ALL
              SELECT day, dim, value, kind, bucket, -n
              FROM json_to_recordset(current_setting('whistle.latency_old', true)::json) AS o(` + LatencyColumns + `)) x
        GROUP BY day, dim, value, kind, bucket
        HAVING sum(n) <> 0) d), '') ELSE '' END, true)`

// LoadDeltaSQL records, as DeltaSQL does, the contribution of the
// incidents $1 just inserted (Load): all of it is new.
var LoadDeltaSQL = `
SELECT set_config('whistle.rollup_delta', coalesce((SELECT json_agg(c)::text FROM (` + Contribution(SomeIncidents) + `) c), ''), true),
       set_config('whistle.latency_delta', coalesce((SELECT json_agg(c)::text FROM (` + LatencyContribution(SomeIncidents) + `) c), ''), true)`

// AddLive adds the deltas that DeltaSQL (or LoadDeltaSQL) recorded to the
// four live rollup tables, days before months, and, while a rebuild runs,
// to the journal it catches up from.
var AddLive = func() []string {
	const delta = `json_to_recordset(nullif(current_setting('whistle.rollup_delta', true), '')::json) AS x(`
	const latency = `json_to_recordset(nullif(current_setting('whistle.latency_delta', true), '')::json) AS x(`
	return append(Add(Live, delta+DailyColumns+`)`, latency+LatencyColumns+`)`), `
INSERT INTO metrics_journal (daily, latency)
SELECT nullif(current_setting('whistle.rollup_delta', true), '')::json, nullif(current_setting('whistle.latency_delta', true), '')::json
WHERE EXISTS (SELECT FROM metrics_rebuild)
  AND (current_setting('whistle.rollup_delta', true) <> '' OR current_setting('whistle.latency_delta', true) <> '')`)
}()

// Tables names the four rollup tables: the live ones, or the ones a
// rebuild fills before it swaps them in.
type Tables struct{ Days, Months, LatencyDays, LatencyMonths string }

// Live are the rollup tables read and written; Next the ones a rebuild
// fills.
var (
	Live = Tables{"metrics_daily", "metrics_monthly", "metrics_latency", "metrics_latency_monthly"}
	Next = Tables{"metrics_daily_next", "metrics_monthly_next", "metrics_latency_next", "metrics_latency_monthly_next"}
)

// List returns the four table names, in writing order.
func (r Tables) List() []string {
	return []string{r.Days, r.Months, r.LatencyDays, r.LatencyMonths}
}

// Add returns the statements that add rows to the rollup tables r:
// src rows with the columns of metrics_daily (one per day and key) and
// latency rows with those of metrics_latency. Each writes its table in key
// order, and every writer runs them in this order, days, months, latency
// days, latency months, so that concurrent writers lock rollup rows in one
// order (no deadlock).
func Add(r Tables, src, latency string) []string {
	return []string{`
INSERT INTO ` + r.Days + ` AS m (day, ` + Key + `, ` + Format("%[1]s", ", ") + `)
SELECT day, ` + Key + `, ` + Format("%[1]s", ", ") + ` FROM ` + src + `
ORDER BY day, ` + Key + `
ON CONFLICT (day, ` + Key + `) DO UPDATE SET ` + Format("%[1]s = m.%[1]s + EXCLUDED.%[1]s", ", "),
		`
INSERT INTO ` + r.Months + ` AS m (month, ` + Key + `, ` + Format("%[1]s", ", ") + `)
SELECT date_trunc('month', day)::date, ` + Key + `, ` + Format("sum(%[1]s)", ", ") + `
FROM ` + src + `
GROUP BY 1, 2, 3, 4, 5, 6 HAVING ` + Format("sum(%[1]s) <> 0", " OR ") + `
ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT (month, ` + Key + `) DO UPDATE SET ` + Format("%[1]s = m.%[1]s + EXCLUDED.%[1]s", ", "),
		`
INSERT INTO ` + r.LatencyDays + ` AS m (day, dim, value, kind, bucket, n)
SELECT day, dim, value, kind, bucket, n FROM ` + latency + `
ORDER BY dim, day, value, kind, bucket
ON CONFLICT (dim, day, value, kind, bucket) DO UPDATE SET n = m.n + EXCLUDED.n`,
		`
INSERT INTO ` + r.LatencyMonths + ` AS m (month, dim, value, kind, bucket, n)
SELECT date_trunc('month', day)::date, dim, value, kind, bucket, sum(n) FROM ` + latency + `
GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0
ORDER BY 2, 1, 3, 4, 5
ON CONFLICT (dim, month, value, kind, bucket) DO UPDATE SET n = m.n + EXCLUDED.n`}
}
