-- What the street and the district see of disputes (退单) and routing
-- overrides (issue 4): the dispute queue (store.Disputes, GET
-- /v1/supervision/disputes), the district's review of the timeline
-- (store.Review, GET /v1/supervision/review) and the return counts of the
-- metrics. (Numbered 00005 because 00003 and 00004 belong to changes made
-- at the same time; goose applies whatever is missing in order.)

-- +goose Up

-- The task's latest return and its arbitration, from incident.Task.Returns
-- and Task.Dispute, rewritten at projection with the rest of the task:
-- returns counts the department's returns of the task; returned_at is the
-- latest one (it stays set after the dispute is settled: a settled dispute
-- is told apart by status and reassigned_to, below); referred_at and
-- refer_note are set while that return is referred to the district, and
-- cleared by a later return. The queue shows them without reading doc.
ALTER TABLE tasks
    ADD COLUMN returns     integer     NOT NULL DEFAULT 0,
    ADD COLUMN returned_at timestamptz,
    ADD COLUMN referred_at timestamptz,
    ADD COLUMN refer_note  text        NOT NULL DEFAULT '';

-- Existing rows from their timelines, which is what projection would
-- write: every `returned` entry of a task is one return, the last is the
-- current one, and the last `dispute_referred` entry refers it only if it
-- came after it. Both read timeline_type_at, so only those entries.
UPDATE tasks t SET returns = r.n, returned_at = r.last
FROM (SELECT incident_id, task_id, count(*) AS n, max(at) AS last
      FROM timeline WHERE type = 'returned' AND task_id IS NOT NULL
      GROUP BY incident_id, task_id) r
WHERE t.incident_id = r.incident_id AND t.id = r.task_id;
UPDATE tasks t SET referred_at = d.at, refer_note = d.note
FROM (SELECT DISTINCT ON (incident_id, task_id) incident_id, task_id, at, note
      FROM timeline WHERE type = 'dispute_referred' AND task_id IS NOT NULL
      ORDER BY incident_id, task_id, seq DESC) d
WHERE t.incident_id = d.incident_id AND t.id = d.task_id AND d.at >= t.returned_at;

-- The dispute queue: returned tasks not reassigned (an overruled task is
-- back in pending_ack or acknowledged), oldest return first. They are the
-- few returns the street has not settled yet, a handful per street at any
-- time against millions of tasks, so the partial indexes stay tiny and a
-- page is a short walk in (returned_at, id) order: the district's queue
-- (department and referred filter that walk, which holds every open
-- dispute at most), and a street's, which its supervisors always filter by.
CREATE INDEX tasks_disputes ON tasks (returned_at, id)
    WHERE status = 'returned' AND reassigned_to = '';
CREATE INDEX tasks_disputes_street ON tasks (street, returned_at, id)
    WHERE status = 'returned' AND reassigned_to = '';

-- street is the incident's street on its timeline entries, so that a
-- street's review is one walk along an index in time order. The
-- alternative, joining each entry to incidents for its street, walks the
-- whole district's entries newest first and drops the other streets' ones:
-- a page for a quiet street (or a filter matching nothing) reads every
-- entry of the period. The street of an incident never changes, so the
-- copy cannot go stale.
--
-- Projection writes it on every entry from now on. The entries already
-- stored get it here only for the types the review and the metrics read
-- (below): filling every entry would rewrite the whole timeline, the
-- largest table, for a column nothing else reads. Older entries of other
-- types keep NULL; a query that needs their street joins incidents.
ALTER TABLE timeline ADD COLUMN street text;
UPDATE timeline tl SET street = i.street
FROM incidents i
WHERE i.id = tl.incident_id
  AND tl.type IN ('routing_override', 'returned', 'overruled', 'reassigned', 'dispute_referred', 'enforcement_called');

-- The district's review (store.Review): the entries of these types, newest
-- first, one index walk per type (store.Review pages each type on its own
-- and merges the pages), for the district and for one street. They are a
-- small share of all entries (returns and overrides are rare, each incident
-- has a dozen entries), hence partial. The key ends in (incident_id, seq),
-- the entry's identity, so that the keyset cursor is exact on equal times.
-- The type list must match store.ReviewTypes: a query names its type as a
-- literal, which the planner proves is in this list.
CREATE INDEX timeline_review ON timeline (type, at, incident_id, seq)
    WHERE type IN ('routing_override', 'returned', 'overruled', 'reassigned', 'dispute_referred', 'enforcement_called');
CREATE INDEX timeline_review_street ON timeline (street, type, at, incident_id, seq)
    WHERE type IN ('routing_override', 'returned', 'overruled', 'reassigned', 'dispute_referred', 'enforcement_called');

-- +goose Down
DROP INDEX timeline_review_street;
DROP INDEX timeline_review;
ALTER TABLE timeline DROP COLUMN street;
DROP INDEX tasks_disputes_street;
DROP INDEX tasks_disputes;
ALTER TABLE tasks
    DROP COLUMN refer_note,
    DROP COLUMN referred_at,
    DROP COLUMN returned_at,
    DROP COLUMN returns;
