-- Metrics rollups (issue 5, docs/metrics.md, definition 2026-11-v2). The
-- league tables of a month must answer in milliseconds over ten million
-- tasks a year, so they are sums over small daily rows kept up to date at
-- projection instead of a scan of tasks, feedback and timeline per request.
--
-- How they stay exact: an incident's contribution to the rollups is a pure
-- function of its stored rows (tasks, feedback, the timeline's returned /
-- overruled / routing_override entries, its incidents row):
-- metrics_contribution and metrics_latency_contribution below. Projection
-- (store.Project) computes the contribution of the stored rows before it
-- rewrites them and after, in the same transaction, and adds the
-- difference. Re-projecting a snapshot or a late, older one changes no row,
-- so the difference is zero: nothing can be counted twice. store.Load and
-- store.RebuildRollups add the contribution of whole sets of incidents.

-- +goose Up

-- What the contribution needs and the snapshot had but the rows did not:
-- the item's domain, and per task its approved extensions, the highest
-- escalation level either ladder ever reached (from the timeline's
-- ack_overdue / resolve_overdue entries: an approved extension can bring a
-- clock back to level 0, the task still reached the level) and the
-- street's rating.
ALTER TABLE incidents ADD COLUMN domain text NOT NULL DEFAULT '';
ALTER TABLE tasks
    ADD COLUMN extensions  integer     NOT NULL DEFAULT 0,
    ADD COLUMN max_level   integer     NOT NULL DEFAULT 0,
    ADD COLUMN rating      integer,
    ADD COLUMN rated_at    timestamptz;

UPDATE incidents SET domain = coalesce(doc->'item'->>'domain', '');
UPDATE tasks t SET extensions = coalesce((x->>'extensions')::int, 0),
                   rating = (x->'rating'->>'score')::int,
                   rated_at = (x->'rating'->>'at')::timestamptz
FROM incidents i, jsonb_array_elements(i.doc->'tasks') x
WHERE i.id = t.incident_id AND x->>'id' = t.id;
UPDATE tasks t SET max_level = l.level
FROM (SELECT incident_id, task_id, max(level) AS level FROM timeline
      WHERE type IN ('ack_overdue', 'resolve_overdue') AND task_id IS NOT NULL
      GROUP BY 1, 2) l
WHERE t.incident_id = l.incident_id AND t.id = l.task_id;

-- The time zone whose calendar days key the rollups: the district's. A
-- change needs the rollups rebuilt (store.RebuildRollups), since every
-- stored day would move.
CREATE TABLE metrics_settings (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    timezone text    NOT NULL
);
INSERT INTO metrics_settings (timezone) VALUES ('Asia/Shanghai');

-- metrics_daily: additive counters per (local day, department, street,
-- item, domain). department '' holds what belongs to the incident rather
-- than to a department: the return visit counted once (a department's
-- visits are on its own rows, once per department that worked the round)
-- and routing overrides. Which day a counter is on: see docs/metrics.md.
CREATE TABLE metrics_daily (
    day               date    NOT NULL,
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
    PRIMARY KEY (day, department, street, item, domain)
);

-- metrics_latency: how many tasks took how long to acknowledge (kind 'a')
-- or to complete (kind 'c'), in buckets of metrics_bucket, per local day
-- of dispatch and per one dimension (dim 'd' department, 's' street, 'i'
-- item, 'o' domain; value its code). Medians cannot be summed, histograms
-- can; one dimension per row keeps a month's table for one dimension at a
-- few tens of thousands of rows.
CREATE TABLE metrics_latency (
    day    date    NOT NULL,
    dim    "char"  NOT NULL,
    value  text    NOT NULL,
    kind   "char"  NOT NULL,
    bucket integer NOT NULL,
    n      bigint  NOT NULL,
    PRIMARY KEY (dim, day, value, kind, bucket)
);

-- metrics_bucket is the histogram bucket of a duration in seconds: one
-- minute wide below 2 hours (0..119), ten minutes below 48 hours
-- (120..395), one hour beyond (396..). store.latencyBucket is the same.
-- +goose StatementBegin
CREATE FUNCTION metrics_bucket(seconds double precision) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN seconds < 0 THEN 0
        WHEN seconds < 7200 THEN floor(seconds / 60)::int
        WHEN seconds < 172800 THEN 120 + floor((seconds - 7200) / 600)::int
        ELSE 396 + floor((seconds - 172800) / 3600)::int
    END
$$;
-- +goose StatementEnd

-- metrics_contribution is what the incidents p_ids add to metrics_daily,
-- as a pure function of their stored rows (docs/metrics.md says why each
-- counter is on which day). facts is one row per counted thing, the
-- outer query pivots them into counters.
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

-- metrics_latency_contribution is what the incidents p_ids add to
-- metrics_latency: each task not cancelled, acknowledged (completed), in
-- the bucket of acked_at - created_at (completed_at - created_at), on its
-- dispatch day, once per dimension.
-- +goose StatementBegin
CREATE FUNCTION metrics_latency_contribution(p_ids text[])
RETURNS TABLE (day date, dim "char", value text, kind "char", bucket integer, n bigint)
LANGUAGE sql STABLE AS $$
WITH z AS (SELECT timezone AS tz FROM metrics_settings),
l AS (
    SELECT (tk.created_at AT TIME ZONE z.tz)::date AS day, tk.department, inc.street, inc.category, inc.domain,
           k.kind, metrics_bucket(extract(epoch FROM k.done - tk.created_at)) AS bucket
    FROM tasks tk
    JOIN incidents inc ON inc.id = tk.incident_id
    JOIN unnest(p_ids) AS x(id) ON x.id = inc.id
    CROSS JOIN z
    CROSS JOIN LATERAL (VALUES ('a'::"char", tk.acked_at), ('c'::"char", CASE WHEN tk.status = 'completed' THEN tk.completed_at END)) AS k(kind, done)
    WHERE tk.status <> 'cancelled' AND k.done IS NOT NULL
)
SELECT l.day, d.dim, d.value, l.kind, l.bucket, count(*)
FROM l CROSS JOIN LATERAL (VALUES ('d'::"char", l.department), ('s'::"char", l.street),
                                  ('i'::"char", l.category), ('o'::"char", l.domain)) AS d(dim, value)
GROUP BY 1, 2, 3, 4, 5
$$;
-- +goose StatementEnd

-- The incidents already stored.
INSERT INTO metrics_daily
SELECT * FROM metrics_contribution(ARRAY(SELECT id FROM incidents));
INSERT INTO metrics_latency
SELECT * FROM metrics_latency_contribution(ARRAY(SELECT id FROM incidents));

-- +goose Down
DROP FUNCTION metrics_latency_contribution(text[]);
DROP FUNCTION metrics_contribution(text[]);
DROP FUNCTION metrics_bucket(double precision);
DROP TABLE metrics_latency;
DROP TABLE metrics_daily;
DROP TABLE metrics_settings;
ALTER TABLE tasks DROP COLUMN rated_at, DROP COLUMN rating, DROP COLUMN max_level, DROP COLUMN extensions;
ALTER TABLE incidents DROP COLUMN domain;
