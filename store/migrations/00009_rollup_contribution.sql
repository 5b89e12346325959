-- Definition 2026-11-v3 (docs/metrics.md) and a faster
-- metrics_contribution (migration 00007).
--
-- v3 counts the incidents closed unrated: the return-visit window ran out
-- with no visit (the `closed` entry the clock writes, actor `system`). v2's
-- unrated share was (visits - rated) / visits, but a visit always has a
-- rating, so it was always 0; v3's is unrated / (visits + unrated). The new
-- counter is on the day the incident closed, once on the incident ('') and
-- once per department with a task of the last round that was neither
-- returned nor cancelled, as a visit would have been.
--
-- Speed: every projection computes the contribution twice for one
-- incident, and RebuildRollups for every incident, so its cost is paid on
-- the hot path and at scale:
--
-- * 00007 turned each counted thing into a row of its own (about 17 per
--   incident) and pivoted them with 18 FILTERed sums. Here each task, rating,
--   dispute entry and return visit is one row carrying all its counters,
--   summed per key: a third of the rows and plain sums. Every row has a
--   counter that is not 0 (tasks, rated_tasks, one of returns, overruled,
--   routing_overrides and unrated, or visits), so the keys are 00007's keys
--   and those of the new counter.
-- * The timeline entries it reads (returned, overruled, routing_override,
--   the clock's closing) are a few in a hundred. 00007 found them through
--   timeline_review (type, at, ...), whose incident_id comes after the time: when the
--   planner took it, each incident's look-up read every return of every
--   incident (0.45 ms at 300k tasks, growing with the table); through the
--   primary key it reads the incident's whole timeline. The partial index
--   below holds only those entries, by incident.
--
-- Measured on 166k incidents (whistle seed --tasks 300000, analysed), one
-- call over 10,000 incidents: 1.5 s before, see the README for after.

-- +goose Up

CREATE INDEX timeline_metrics ON timeline (incident_id)
    WHERE type IN ('returned', 'overruled', 'routing_override') OR (type = 'closed' AND actor = 'system');

ALTER TABLE metrics_daily ADD COLUMN unrated bigint NOT NULL DEFAULT 0;

-- The counters, the day each counts on and the department each is on are
-- those of 00007 (docs/metrics.md):
--   tasks: dispatch day; tasks, acked_on_time, completed,
--     completed_on_time, extensions, level1..3 of every task not cancelled;
--   the street's rating: the day it was given;
--   returns and overrules: the day they happened, on the department that
--     returned; routing overrides on the incident ('');
--   return visits: the day they were made, once on the incident ('') and
--     once per department with a task of the visit's round that was
--     neither returned nor cancelled;
--   unrated: the day the clock closed the incident, on the incident and
--     the departments of its last round as for a visit.
-- A new column changes the function's type: it is dropped and created.
DROP FUNCTION metrics_contribution(text[]);
-- +goose StatementBegin
CREATE FUNCTION metrics_contribution(p_ids text[])
RETURNS TABLE (day date, department text, street text, item text, domain text,
               tasks bigint, acked_on_time bigint, completed bigint, completed_on_time bigint,
               extensions bigint, level1 bigint, level2 bigint, level3 bigint,
               rated_tasks bigint, rating_sum bigint, returns bigint, overruled bigint,
               routing_overrides bigint, visits bigint, resolved bigint, rated bigint,
               satisfied bigint, reopened bigint, unrated bigint)
LANGUAGE sql STABLE AS $$
WITH i AS (SELECT inc.id, inc.street, inc.category, inc.domain, inc.round
           FROM unnest(p_ids) AS x(id) JOIN incidents inc ON inc.id = x.id),
r (at, department, street, item, domain,
   tasks, acked_on_time, completed, completed_on_time, extensions, level1, level2, level3,
   rated_tasks, rating_sum, returns, overruled, routing_overrides,
   visits, resolved, rated, satisfied, reopened, unrated) AS (
    SELECT tk.created_at, tk.department, i.street, i.category, i.domain,
           1, (tk.acked_at <= tk.ack_due IS TRUE)::int, (tk.status = 'completed')::int,
           (tk.status = 'completed' AND tk.completed_at <= tk.resolve_due IS TRUE)::int,
           tk.extensions, (tk.max_level >= 1)::int, (tk.max_level >= 2)::int, (tk.max_level >= 3)::int,
           0, 0, 0, 0, 0,
           0, 0, 0, 0, 0, 0
    FROM i JOIN tasks tk ON tk.incident_id = i.id
    WHERE tk.status <> 'cancelled'
    UNION ALL
    SELECT tk.rated_at, tk.department, i.street, i.category, i.domain,
           0, 0, 0, 0, 0, 0, 0, 0,
           1, tk.rating, 0, 0, 0,
           0, 0, 0, 0, 0, 0
    FROM i JOIN tasks tk ON tk.incident_id = i.id
    WHERE tk.status <> 'cancelled' AND tk.rated_at IS NOT NULL
    UNION ALL
    SELECT tl.at, d.department, i.street, i.category, i.domain,
           0, 0, 0, 0, 0, 0, 0, 0,
           0, 0, (tl.type = 'returned')::int, (tl.type = 'overruled')::int, (tl.type = 'routing_override')::int,
           0, 0, 0, 0, 0, (tl.type = 'closed')::int
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
           (f.rating IN ('satisfied', 'basically_satisfied') IS TRUE)::int, (f.round < i.round)::int, 0
    FROM i JOIN feedback f ON f.incident_id = i.id
    CROSS JOIN LATERAL (
        SELECT '' AS department
        UNION
        SELECT tk.department FROM tasks tk
        WHERE tk.incident_id = f.incident_id AND tk.round = f.round AND tk.status NOT IN ('returned', 'cancelled')
    ) d
)
SELECT (r.at AT TIME ZONE z.timezone)::date, r.department, r.street, r.item, r.domain,
       sum(r.tasks), sum(r.acked_on_time), sum(r.completed), sum(r.completed_on_time), sum(r.extensions),
       sum(r.level1), sum(r.level2), sum(r.level3), sum(r.rated_tasks), sum(r.rating_sum),
       sum(r.returns), sum(r.overruled), sum(r.routing_overrides),
       sum(r.visits), sum(r.resolved), sum(r.rated), sum(r.satisfied), sum(r.reopened), sum(r.unrated)
FROM r CROSS JOIN metrics_settings z
GROUP BY 1, 2, 3, 4, 5
$$;
-- +goose StatementEnd

-- The incidents already closed unrated: their unrated counts (every other
-- counter is unchanged, and the contribution is a sum of its parts).
INSERT INTO metrics_daily AS m (day, department, street, item, domain, unrated)
SELECT day, department, street, item, domain, unrated
FROM metrics_contribution(ARRAY(SELECT incident_id FROM timeline WHERE type = 'closed' AND actor = 'system'))
WHERE unrated > 0
ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (day, department, street, item, domain) DO UPDATE SET unrated = m.unrated + EXCLUDED.unrated;

-- +goose Down
-- Back to 00007's metrics_contribution (v2, as it was written there).
DROP FUNCTION metrics_contribution(text[]);
ALTER TABLE metrics_daily DROP COLUMN unrated;
DROP INDEX timeline_metrics;
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
