-- Definition 2026-11-v3 (docs/metrics.md), monthly rollups and a faster
-- metrics_contribution (migration 00007).
--
-- New counters:
-- * unrated: incidents the clock closed without a return visit (its
--   `closed` entry, actor `system`), on the day it closed, once on the
--   incident ('') and once per department with a task of the last round
--   neither returned nor cancelled, as a visit would have been. v2's
--   unrated share was (visits - rated) / visits, but a visit always has a
--   rating, so it was always 0; v3's is unrated / (visits + unrated).
-- * incidents and repeats: the incidents reported (duplicates left out)
--   and, of them, the repeats (重复诉求), on the day reported, on the
--   incident's row (''). The monthly report counted them from the incidents
--   table through 00008's partial indexes: at ten million tasks a year
--   that is a million index entries a month. They are dropped here.
--
-- Monthly rollups: metrics_monthly and metrics_latency_monthly hold the
-- same sums per calendar month. A month's league table reads about 500
-- counter rows and 13,000 histogram rows instead of 30 times as many daily
-- ones (with two million tasks a year the daily ones took 170 ms, the
-- report 900 ms). store.League reads whole months from them and the days
-- at either end from the daily tables. Every change is added to both in
-- the same transaction (store.Project, store.Load); RebuildRollups derives
-- the months from the days.
--
-- metrics_settings.definition names the definition the rollups were built
-- with; '' here, so the next start rebuilds them (store.SyncRollups) in
-- batches instead of this migration in one statement.
--
-- Speed of the contribution: every projection computes it twice for one
-- incident, and RebuildRollups for every incident:
-- * 00007 turned each counted thing into a row of its own (about 17 per
--   incident) and pivoted them with 18 FILTERed sums. Here each task,
--   rating, timeline entry counted, visit or report is one row carrying
--   all its counters, summed per key: a third of the rows and plain sums.
--   Every row has a counter that is not 0, so no key is kept for nothing.
-- * The timeline entries it reads (returned, overruled, routing_override,
--   the clock's closing) are a few in a hundred. 00007 found them through
--   timeline_review (type, at, ...), whose incident_id comes after the
--   time: when the planner took it, each incident's look-up read every
--   return of every incident (0.45 ms at 300k tasks, growing with the
--   table). The partial index below holds only those entries, by incident.
-- One call over 10,000 incidents of a 300,000-task seed: 1.5 s before,
-- 0.4 s after.

-- +goose Up

ALTER TABLE metrics_daily
    ADD COLUMN unrated   bigint NOT NULL DEFAULT 0,
    ADD COLUMN incidents bigint NOT NULL DEFAULT 0,
    ADD COLUMN repeats   bigint NOT NULL DEFAULT 0;

CREATE TABLE metrics_monthly (
    month             date    NOT NULL, -- the first day of the month
    department        text    NOT NULL,
    street            text    NOT NULL,
    item              text    NOT NULL,
    domain            text    NOT NULL,
    tasks             bigint  NOT NULL DEFAULT 0,
    acked_on_time     bigint  NOT NULL DEFAULT 0,
    completed         bigint  NOT NULL DEFAULT 0,
    completed_on_time bigint  NOT NULL DEFAULT 0,
    extensions        bigint  NOT NULL DEFAULT 0,
    level1            bigint  NOT NULL DEFAULT 0,
    level2            bigint  NOT NULL DEFAULT 0,
    level3            bigint  NOT NULL DEFAULT 0,
    rated_tasks       bigint  NOT NULL DEFAULT 0,
    rating_sum        bigint  NOT NULL DEFAULT 0,
    returns           bigint  NOT NULL DEFAULT 0,
    overruled         bigint  NOT NULL DEFAULT 0,
    routing_overrides bigint  NOT NULL DEFAULT 0,
    visits            bigint  NOT NULL DEFAULT 0,
    resolved          bigint  NOT NULL DEFAULT 0,
    rated             bigint  NOT NULL DEFAULT 0,
    satisfied         bigint  NOT NULL DEFAULT 0,
    reopened          bigint  NOT NULL DEFAULT 0,
    unrated           bigint  NOT NULL DEFAULT 0,
    incidents         bigint  NOT NULL DEFAULT 0,
    repeats           bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (month, department, street, item, domain)
);

CREATE TABLE metrics_latency_monthly (
    month  date    NOT NULL,
    dim    "char"  NOT NULL,
    value  text    NOT NULL,
    kind   "char"  NOT NULL,
    bucket integer NOT NULL,
    n      bigint  NOT NULL,
    PRIMARY KEY (dim, month, value, kind, bucket)
);

ALTER TABLE metrics_settings ADD COLUMN definition text NOT NULL DEFAULT '';

CREATE INDEX timeline_metrics ON timeline (incident_id)
    WHERE type IN ('returned', 'overruled', 'routing_override') OR (type = 'closed' AND actor = 'system');

DROP INDEX incidents_report_repeats;
DROP INDEX incidents_report_cases_street;
DROP INDEX incidents_report_cases;

-- The counters, the day each counts on and the department each is on
-- (docs/metrics.md):
--   tasks: dispatch day; tasks, acked_on_time, completed,
--     completed_on_time, extensions, level1..3 of every task not cancelled;
--   the street's rating: the day it was given;
--   returns and overrules: the day they happened, on the department that
--     returned; routing overrides on the incident ('');
--   unrated: the day the clock closed the incident, on the incident and
--     the departments of its last round;
--   return visits: the day they were made, once on the incident ('') and
--     once per department with a task of the visit's round that was
--     neither returned nor cancelled;
--   incidents, repeats: the day reported, on the incident.
-- New columns change the function's type: it is dropped and created.
DROP FUNCTION metrics_contribution(text[]);
-- +goose StatementBegin
CREATE FUNCTION metrics_contribution(p_ids text[])
RETURNS TABLE (day date, department text, street text, item text, domain text,
               tasks bigint, acked_on_time bigint, completed bigint, completed_on_time bigint,
               extensions bigint, level1 bigint, level2 bigint, level3 bigint,
               rated_tasks bigint, rating_sum bigint, returns bigint, overruled bigint,
               routing_overrides bigint, visits bigint, resolved bigint, rated bigint,
               satisfied bigint, reopened bigint, unrated bigint, incidents bigint, repeats bigint)
LANGUAGE sql STABLE AS $$
WITH i AS (SELECT inc.id, inc.street, inc.category, inc.domain, inc.round, inc.reported_at,
                  inc.duplicate_of, inc.repeat_of
           FROM unnest(p_ids) AS x(id) JOIN incidents inc ON inc.id = x.id),
r (at, department, street, item, domain,
   tasks, acked_on_time, completed, completed_on_time, extensions, level1, level2, level3,
   rated_tasks, rating_sum, returns, overruled, routing_overrides,
   visits, resolved, rated, satisfied, reopened, unrated, incidents, repeats) AS (
    SELECT tk.created_at, tk.department, i.street, i.category, i.domain,
           1, (tk.acked_at <= tk.ack_due IS TRUE)::int, (tk.status = 'completed')::int,
           (tk.status = 'completed' AND tk.completed_at <= tk.resolve_due IS TRUE)::int,
           tk.extensions, (tk.max_level >= 1)::int, (tk.max_level >= 2)::int, (tk.max_level >= 3)::int,
           0, 0, 0, 0, 0,
           0, 0, 0, 0, 0, 0, 0, 0
    FROM i JOIN tasks tk ON tk.incident_id = i.id
    WHERE tk.status <> 'cancelled'
    UNION ALL
    SELECT tk.rated_at, tk.department, i.street, i.category, i.domain,
           0, 0, 0, 0, 0, 0, 0, 0,
           1, tk.rating, 0, 0, 0,
           0, 0, 0, 0, 0, 0, 0, 0
    FROM i JOIN tasks tk ON tk.incident_id = i.id
    WHERE tk.status <> 'cancelled' AND tk.rated_at IS NOT NULL
    UNION ALL
    SELECT tl.at, d.department, i.street, i.category, i.domain,
           0, 0, 0, 0, 0, 0, 0, 0,
           0, 0, (tl.type = 'returned')::int, (tl.type = 'overruled')::int, (tl.type = 'routing_override')::int,
           0, 0, 0, 0, 0, (tl.type = 'closed')::int, 0, 0
    FROM i JOIN timeline tl ON tl.incident_id = i.id
    CROSS JOIN LATERAL (
        SELECT CASE WHEN tl.type IN ('returned', 'overruled') THEN coalesce(tl.department, '') ELSE '' END AS department
        UNION
        SELECT tk.department FROM tasks tk
        WHERE tl.type = 'closed' AND tk.incident_id = i.id AND tk.round = i.round AND tk.status NOT IN ('returned', 'cancelled')
    ) d
    WHERE tl.type IN ('returned', 'overruled', 'routing_override') OR (tl.type = 'closed' AND tl.actor = 'system')
    UNION ALL
    SELECT f.at, d.department, i.street, i.category, i.domain,
           0, 0, 0, 0, 0, 0, 0, 0,
           0, 0, 0, 0, 0,
           1, f.resolved::int, (f.rating IS NOT NULL)::int,
           (f.rating IN ('satisfied', 'basically_satisfied') IS TRUE)::int, (f.round < i.round)::int, 0, 0, 0
    FROM i JOIN feedback f ON f.incident_id = i.id
    CROSS JOIN LATERAL (
        SELECT '' AS department
        UNION
        SELECT tk.department FROM tasks tk
        WHERE tk.incident_id = f.incident_id AND tk.round = f.round AND tk.status NOT IN ('returned', 'cancelled')
    ) d
    UNION ALL
    SELECT i.reported_at, '', i.street, i.category, i.domain,
           0, 0, 0, 0, 0, 0, 0, 0,
           0, 0, 0, 0, 0,
           0, 0, 0, 0, 0, 0, 1, (i.repeat_of IS NOT NULL)::int
    FROM i WHERE i.duplicate_of IS NULL
)
SELECT (r.at AT TIME ZONE z.timezone)::date, r.department, r.street, r.item, r.domain,
       sum(r.tasks), sum(r.acked_on_time), sum(r.completed), sum(r.completed_on_time), sum(r.extensions),
       sum(r.level1), sum(r.level2), sum(r.level3), sum(r.rated_tasks), sum(r.rating_sum),
       sum(r.returns), sum(r.overruled), sum(r.routing_overrides),
       sum(r.visits), sum(r.resolved), sum(r.rated), sum(r.satisfied), sum(r.reopened),
       sum(r.unrated), sum(r.incidents), sum(r.repeats)
FROM r CROSS JOIN metrics_settings z
GROUP BY 1, 2, 3, 4, 5
$$;
-- +goose StatementEnd

-- +goose Down
-- Back to 00008: its indexes, and 00007's metrics_contribution (v2, as it
-- was written there). The daily rollups keep v2's counters, which v3 did
-- not change.
DROP FUNCTION metrics_contribution(text[]);
DROP INDEX timeline_metrics;
ALTER TABLE metrics_settings DROP COLUMN definition;
DROP TABLE metrics_latency_monthly;
DROP TABLE metrics_monthly;
ALTER TABLE metrics_daily DROP COLUMN repeats, DROP COLUMN incidents, DROP COLUMN unrated;
-- Cases, district: incidents that are no duplicate, by report time.
CREATE INDEX incidents_report_cases ON incidents (reported_at, category)
    WHERE duplicate_of IS NULL;

-- Cases, one street (a street's own report).
CREATE INDEX incidents_report_cases_street ON incidents (street, reported_at, category)
    WHERE duplicate_of IS NULL;

-- Repeats, district and one street: few rows (only repeats), so one index
-- with street after the time serves both; a street's scan of a month's
-- repeats filters on the index entries.
CREATE INDEX incidents_report_repeats ON incidents (reported_at, street, category)
    WHERE repeat_of IS NOT NULL AND duplicate_of IS NULL;

-- +goose StatementBegin
CREATE FUNCTION metrics_contribution(p_ids text[])
RETURNS TABLE (day date, department text, street text, item text, domain text,
               tasks bigint, acked_on_time bigint, completed bigint, completed_on_time bigint,
               extensions bigint, level1 bigint, level2 bigint, level3 bigint,
               rated_tasks bigint, rating_sum bigint, returns bigint, overruled bigint,
               routing_overrides bigint, visits bigint, resolved bigint, rated bigint,
               satisfied bigint, reopened bigint)
LANGUAGE sql STABLE AS $$
WITH z AS (SELECT timezone AS tz FROM metrics_settings),
i AS (SELECT inc.id, inc.street, inc.category, inc.domain, inc.round
      FROM incidents inc JOIN unnest(p_ids) AS x(id) ON x.id = inc.id),
t AS (SELECT tk.* FROM tasks tk JOIN i ON i.id = tk.incident_id WHERE tk.status <> 'cancelled'),
facts (incident_id, at, department, m, n) AS (
    -- Tasks on the day they were dispatched.
    SELECT incident_id, created_at, department, 'tasks', 1 FROM t
    UNION ALL SELECT incident_id, created_at, department, 'acked_on_time', 1 FROM t WHERE acked_at <= ack_due
    UNION ALL SELECT incident_id, created_at, department, 'completed', 1 FROM t WHERE status = 'completed'
    UNION ALL SELECT incident_id, created_at, department, 'completed_on_time', 1 FROM t
              WHERE status = 'completed' AND completed_at <= resolve_due
    UNION ALL SELECT incident_id, created_at, department, 'extensions', extensions FROM t WHERE extensions > 0
    UNION ALL SELECT incident_id, created_at, department, 'level1', 1 FROM t WHERE max_level >= 1
    UNION ALL SELECT incident_id, created_at, department, 'level2', 1 FROM t WHERE max_level >= 2
    UNION ALL SELECT incident_id, created_at, department, 'level3', 1 FROM t WHERE max_level >= 3
    -- The street's rating on the day it was given.
    UNION ALL SELECT incident_id, rated_at, department, 'rated_tasks', 1 FROM t WHERE rated_at IS NOT NULL
    UNION ALL SELECT incident_id, rated_at, department, 'rating_sum', rating FROM t WHERE rated_at IS NOT NULL
    -- Returns and overrules on the day they happened, on the department
    -- that returned; routing overrides on the incident.
    UNION ALL SELECT tl.incident_id, tl.at, coalesce(tl.department, ''),
                     CASE tl.type WHEN 'returned' THEN 'returns' ELSE 'overruled' END, 1
              FROM timeline tl JOIN i ON i.id = tl.incident_id
              WHERE tl.type IN ('returned', 'overruled')
    UNION ALL SELECT tl.incident_id, tl.at, '', 'routing_overrides', 1
              FROM timeline tl JOIN i ON i.id = tl.incident_id WHERE tl.type = 'routing_override'
    -- Return visits on the day they were made: once on the incident ('')
    -- and once per department with a task of the visit's round that was
    -- neither returned nor cancelled.
    UNION ALL SELECT v.incident_id, v.at, d.department, v.m, v.n
    FROM (SELECT f.incident_id, f.at, f.round, x.m, x.n
          FROM feedback f JOIN i ON i.id = f.incident_id
          CROSS JOIN LATERAL (VALUES
              ('visits', 1),
              ('resolved', f.resolved::int),
              ('rated', (f.rating IS NOT NULL)::int),
              ('satisfied', (f.rating IN ('satisfied', 'basically_satisfied'))::int),
              ('reopened', (f.round < i.round)::int)) AS x(m, n)
          WHERE x.n <> 0) v
    CROSS JOIN LATERAL (
        SELECT '' AS department
        UNION
        SELECT tk.department FROM tasks tk
        WHERE tk.incident_id = v.incident_id AND tk.round = v.round AND tk.status NOT IN ('returned', 'cancelled')
    ) d
)
SELECT (f.at AT TIME ZONE z.tz)::date, f.department, i.street, i.category, i.domain,
       coalesce(sum(n) FILTER (WHERE m = 'tasks'), 0), coalesce(sum(n) FILTER (WHERE m = 'acked_on_time'), 0),
       coalesce(sum(n) FILTER (WHERE m = 'completed'), 0), coalesce(sum(n) FILTER (WHERE m = 'completed_on_time'), 0),
       coalesce(sum(n) FILTER (WHERE m = 'extensions'), 0), coalesce(sum(n) FILTER (WHERE m = 'level1'), 0),
       coalesce(sum(n) FILTER (WHERE m = 'level2'), 0), coalesce(sum(n) FILTER (WHERE m = 'level3'), 0),
       coalesce(sum(n) FILTER (WHERE m = 'rated_tasks'), 0), coalesce(sum(n) FILTER (WHERE m = 'rating_sum'), 0),
       coalesce(sum(n) FILTER (WHERE m = 'returns'), 0), coalesce(sum(n) FILTER (WHERE m = 'overruled'), 0),
       coalesce(sum(n) FILTER (WHERE m = 'routing_overrides'), 0), coalesce(sum(n) FILTER (WHERE m = 'visits'), 0),
       coalesce(sum(n) FILTER (WHERE m = 'resolved'), 0), coalesce(sum(n) FILTER (WHERE m = 'rated'), 0),
       coalesce(sum(n) FILTER (WHERE m = 'satisfied'), 0), coalesce(sum(n) FILTER (WHERE m = 'reopened'), 0)
FROM facts f JOIN i ON i.id = f.incident_id CROSS JOIN z
GROUP BY 1, 2, 3, 4, 5
$$;
-- +goose StatementEnd
