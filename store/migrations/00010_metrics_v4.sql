-- Definition 2026-12-v4 (docs/metrics.md) and rollups that rebuild beside
-- the projections (issue 11).
--
-- v4 adds two counters per dispatched task: ack_pending (not yet
-- acknowledged, its ack clock below level 1) and resolve_pending (open, its
-- resolution clock below level 1). The response and on-time resolution
-- rates divide by the tasks whose outcome is decided (tasks minus
-- pending), so a task still in its window no longer counts as missed.
-- A received row (version 0: accepted by the API, not yet projected by its
-- workflow) counts nowhere: v3 counted it as an incident of domain '' and
-- took it back from there at the first projection, which left every
-- street's incidents at 0 and its duplicates negative.
--
-- The contribution moves from the SQL functions of 00007 and 00009 into
-- Go (store/contribution.go): one text read for one incident (Project,
-- Load) and for every incident at once (RebuildRollups, one pass of hash
-- joins instead of batches of nested loops). The functions go.
--
-- metrics_rebuild holds a row while a rebuild runs; meanwhile every writer
-- of the rollups also appends its change to metrics_journal (with its
-- transaction id), and the rebuild adds to the tables it builds the
-- changes its snapshot did not see, then swaps them in.
--
-- metrics_settings.definition is set to '': the next start rebuilds the
-- rollups once under v4, which also repairs the received rows' counts.

-- +goose Up

ALTER TABLE metrics_daily
    ADD COLUMN ack_pending     bigint NOT NULL DEFAULT 0,
    ADD COLUMN resolve_pending bigint NOT NULL DEFAULT 0;
ALTER TABLE metrics_monthly
    ADD COLUMN ack_pending     bigint NOT NULL DEFAULT 0,
    ADD COLUMN resolve_pending bigint NOT NULL DEFAULT 0;

DROP FUNCTION metrics_contribution(text[]);
DROP FUNCTION metrics_latency_contribution(text[]);

CREATE TABLE metrics_rebuild (
    only_row   boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    started_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE metrics_journal (
    seq     bigserial PRIMARY KEY,
    xid     xid8      NOT NULL DEFAULT pg_current_xact_id(),
    daily   json,
    latency json
);

UPDATE metrics_settings SET definition = '';

-- +goose Down
-- Back to 00009: its metrics_contribution (v3) and 00007's
-- metrics_latency_contribution, as they were written there; the rollups
-- are rebuilt under v3 at the next start of a v3 binary.
DROP TABLE metrics_journal;
DROP TABLE metrics_rebuild;
ALTER TABLE metrics_monthly DROP COLUMN resolve_pending, DROP COLUMN ack_pending;
ALTER TABLE metrics_daily DROP COLUMN resolve_pending, DROP COLUMN ack_pending;
UPDATE metrics_settings SET definition = '';

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
