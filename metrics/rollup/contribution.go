// Package rollup is what an incident adds to the metrics rollups (its
// contribution, the one definition of every counter: docs/metrics.md) and
// the statements that add it: the projection's (store.Project, store.Load)
// for one incident, the rebuild's (metrics) for all of them. It is SQL text
// only, so that both can share it.
package rollup

import (
	"fmt"
	"strings"
)

// An incident's contribution to the rollups is a pure function of its
// stored rows: what it adds to metrics_daily (contributionSQL) and to
// metrics_latency (latencyContributionSQL). It is the definition of every
// counter (docs/metrics.md, MetricsDefinitionVersion), written once and read
// from two sources: the incidents of an array ($1, text[]), which is how
// Project and Load compute the change they add, and every incident, which
// is how RebuildRollups builds the rollups in one pass of hash joins.
const (
	// SomeIncidents reads the incidents whose ids are in $1.
	SomeIncidents = `unnest($1::text[]) AS x(id) JOIN incidents inc ON inc.id = x.id`
	// AllIncidents reads every incident.
	AllIncidents = `incidents inc`
)

// Counters are the counter columns of metrics_daily and
// metrics_monthly after their key, in table order (docs/metrics.md).
var Counters = []string{"tasks", "acked_on_time", "completed", "completed_on_time", "extensions",
	"level1", "level2", "level3", "rated_tasks", "rating_sum", "returns", "overruled", "routing_overrides",
	"visits", "resolved", "rated", "satisfied", "reopened", "unrated", "incidents", "repeats",
	"ack_pending", "resolve_pending"}

// Format writes format once per counter (%[1]s is its name), joined by
// sep: Format("sum(%[1]s)", ", ") is "sum(tasks), sum(acked_on_time), …".
func Format(format, sep string) string {
	parts := make([]string, len(Counters))
	for i, c := range Counters {
		parts[i] = fmt.Sprintf(format, c)
	}
	return strings.Join(parts, sep)
}

// A contributionPart is one kind of counted thing: a row per thing from
// its relation (the CTEs of contributionSQL), the instant whose local day
// it counts on, the department it counts for ("" is the incident's own
// row) and what it adds to each counter (the others add 0).
type contributionPart struct {
	from, at, department string
	adds                 map[string]string
}

// contributionParts are the counted things of definition 2026-12-v4.
var contributionParts = []contributionPart{
	// Each task not cancelled, on the day it was dispatched. Its
	// acknowledgement is still pending while it waits for 报到 and its ack
	// clock has not reached level 1; its resolution while it is open and
	// its resolution clock (moved by extensions and suspensions, fresh
	// after a failed verification) has not reached level 1.
	{from: "t", at: "created_at", department: "department", adds: map[string]string{
		"tasks":             "1",
		"acked_on_time":     "(acked_at <= ack_due IS TRUE)::int",
		"completed":         "(status = 'completed')::int",
		"completed_on_time": "(status = 'completed' AND completed_at <= resolve_due IS TRUE)::int",
		"extensions":        "extensions",
		"level1":            "(max_level >= 1)::int",
		"level2":            "(max_level >= 2)::int",
		"level3":            "(max_level >= 3)::int",
		"ack_pending":       "(status = 'pending_ack' AND acked_at IS NULL AND NOT ack_overdue)::int",
		"resolve_pending":   "(status IN ('pending_ack', 'acknowledged') AND NOT resolve_overdue)::int",
	}},
	// The street's rating, on the day it was given.
	{from: "t WHERE rated_at IS NOT NULL", at: "rated_at", department: "department", adds: map[string]string{
		"rated_tasks": "1", "rating_sum": "rating",
	}},
	// Returns and overrules on the day they happened, on the department
	// that returned; routing overrides on the incident.
	{from: "e", at: "at", department: "CASE WHEN type = 'routing_override' THEN '' ELSE coalesce(department, '') END", adds: map[string]string{
		"returns":           "(type = 'returned')::int",
		"overruled":         "(type = 'overruled')::int",
		"routing_overrides": "(type = 'routing_override')::int",
	}},
	// Return visits, and closings by the clock without one, on their day:
	// once on the incident and once per department that worked the round.
	{from: "v", at: "at", department: "''", adds: visitAdds},
	{from: "v JOIN rd USING (incident_id, round)", at: "at", department: "rd.department", adds: visitAdds},
	// Reports, duplicates left out, on the day reported.
	{from: "i WHERE duplicate_of IS NULL", at: "reported_at", department: "''", adds: map[string]string{
		"incidents": "1", "repeats": "(repeat_of IS NOT NULL)::int",
	}},
}

var visitAdds = map[string]string{
	"visits": "visits", "resolved": "resolved", "rated": "rated", "satisfied": "satisfied",
	"reopened": "reopened", "unrated": "unrated",
}

// contributionCTEs are the relations the parts count from, over the
// incidents of from (SomeIncidents or AllIncidents); a received row
// (version 0, not yet projected by its workflow) counts nowhere.
func contributionCTEs(from string) string {
	return `
i AS MATERIALIZED (
    SELECT inc.id, inc.street, inc.category AS item, inc.domain, inc.channel, inc.round, inc.reported_at, inc.duplicate_of, inc.repeat_of
    FROM ` + from + ` WHERE inc.version > 0),
t AS MATERIALIZED (
    SELECT tk.incident_id, tk.department, tk.round, tk.status, tk.created_at, tk.ack_due, tk.resolve_due,
           tk.acked_at, tk.completed_at, tk.extensions, tk.max_level, tk.rating, tk.rated_at,
           tk.ack_overdue, tk.resolve_overdue, i.street, i.item, i.domain, i.channel
    FROM i JOIN tasks tk ON tk.incident_id = i.id WHERE tk.status <> 'cancelled'),
-- The departments that worked each round: a task of it neither returned
-- nor cancelled.
rd AS (SELECT DISTINCT incident_id, round, department FROM t WHERE status <> 'returned'),
-- The timeline entries counted (each condition implies the predicate of
-- the partial index timeline_metrics).
e AS (SELECT tl.incident_id, tl.at, tl.type, tl.department, i.street, i.item, i.domain, i.channel
      FROM i JOIN timeline tl ON tl.incident_id = i.id
      WHERE tl.type IN ('returned', 'overruled', 'routing_override')),
v AS MATERIALIZED (
    SELECT f.incident_id, f.round, f.at, 1 AS visits, f.resolved::int AS resolved, (f.rating IS NOT NULL)::int AS rated,
           (f.rating IN ('satisfied', 'basically_satisfied') IS TRUE)::int AS satisfied,
           (f.round < i.round)::int AS reopened, 0 AS unrated, i.street, i.item, i.domain, i.channel
    FROM i JOIN feedback f ON f.incident_id = i.id
    UNION ALL
    SELECT tl.incident_id, i.round, tl.at, 0, 0, 0, 0, 0, 1, i.street, i.item, i.domain, i.channel
    FROM i JOIN timeline tl ON tl.incident_id = i.id
    WHERE tl.type = 'closed' AND tl.actor = 'system')`
}

// Key is the key of metrics_daily after its day (and of metrics_monthly
// after its month): the department ("" for the incident's own row), the
// incident's street, item, domain and channel.
const Key = "department, street, item, domain, channel"

// Contribution is what the incidents of from add to metrics_daily: rows
// with its columns (day, Key, counters…), one per key.
func Contribution(from string) string {
	var parts []string
	for _, p := range contributionParts {
		cols := make([]string, len(Counters))
		for i, c := range Counters {
			cols[i] = "0"
			if x, ok := p.adds[c]; ok {
				cols[i] = x
			}
		}
		parts = append(parts, "    SELECT "+p.at+", "+p.department+", street, item, domain, channel, "+strings.Join(cols, ", ")+" FROM "+p.from)
	}
	return `WITH ` + contributionCTEs(from) + `,
r (at, ` + Key + `, ` + Format("%[1]s", ", ") + `) AS (
` + strings.Join(parts, "\n    UNION ALL\n") + `)
SELECT (r.at AT TIME ZONE z.timezone)::date AS day, r.department, r.street, r.item, r.domain, r.channel, ` + Format("sum(r.%[1]s) AS %[1]s", ", ") + `
FROM r CROSS JOIN metrics_settings z
GROUP BY 1, 2, 3, 4, 5, 6`
}

// LatencyContribution is what the incidents of from add to
// metrics_latency: each task not cancelled that was acknowledged (kind
// 'a') or is completed ('c'), in the bucket (metrics_bucket) of the time
// from its dispatch, on its dispatch day, once per dimension ('d'
// department, 's' street, 'i' item, 'o' domain).
func LatencyContribution(from string) string {
	return `WITH i AS MATERIALIZED (
    SELECT inc.id, inc.street, inc.category AS item, inc.domain
    FROM ` + from + ` WHERE inc.version > 0),
l AS (
    SELECT (tk.created_at AT TIME ZONE z.timezone)::date AS day, tk.department, i.street, i.item, i.domain,
           k.kind, metrics_bucket(extract(epoch FROM k.done - tk.created_at)) AS bucket
    FROM i JOIN tasks tk ON tk.incident_id = i.id
    CROSS JOIN metrics_settings z
    CROSS JOIN LATERAL (VALUES ('a'::"char", tk.acked_at),
                               ('c'::"char", CASE WHEN tk.status = 'completed' THEN tk.completed_at END)) AS k(kind, done)
    WHERE tk.status <> 'cancelled' AND k.done IS NOT NULL)
SELECT l.day, d.dim, d.value, l.kind, l.bucket, count(*) AS n
FROM l CROSS JOIN LATERAL (VALUES ('d'::"char", l.department), ('s'::"char", l.street),
                                  ('i'::"char", l.item), ('o'::"char", l.domain)) AS d(dim, value)
GROUP BY 1, 2, 3, 4, 5`
}

// DailyColumns and LatencyColumns are the column definitions of rows
// shaped as metrics_daily and metrics_latency, for json_to_recordset.
var (
	DailyColumns   = "day date, department text, street text, item text, domain text, channel text, " + Format("%[1]s bigint", ", ")
	LatencyColumns = `day date, dim "char", value text, kind "char", bucket integer, n bigint`
)
