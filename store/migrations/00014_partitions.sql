-- The read model's history tables partitioned by month (issue 15). A city
-- at 65,000 reports a day writes about 280 GB a year into incidents, tasks,
-- timeline and feedback (docs/operations.md, "Capacity"). Kept as four plain
-- tables, keeping N years means deleting a month of rows at a time: hours of
-- WAL, then a vacuum of the whole table. Partitioned by month, a month past
-- retention is detached and dropped in milliseconds, each month's indexes
-- stay the size of a month, and vacuum works on the month that changes.
--
-- The partition key is the incident id: the API makes it a UUID version 7,
-- whose first 48 bits are the Unix milliseconds it received the report at,
-- written in hex, so ids sort by that instant and a month is a range of ids.
-- The children (tasks, timeline, feedback) are partitioned by incident_id
-- the same way, so every row of an incident is in its month and a month is
-- detached whole. Keying by id rather than by reported_at means every
-- existing look-up and join by id finds its one partition as it runs
-- (run-time pruning), and the planner's estimates of those joins stay those
-- of one column: an extra reported_at in each join made it guess one row
-- where there were thousands, and a page of the overdue board took about
-- 300 ms instead of 2. Months are the district's calendar months
-- (metrics_settings.timezone). An id that is not a UUID (the tests'
-- "inc-a") is kept in incidents_other, never dropped.
--
-- PostgreSQL has no unique index across partitions, so the two keys that
-- must be unique across all time and are not the id, the client's
-- Idempotency-Key per reporter and the sender's reference per channel, move
-- to incident_keys, a small table of their own.

-- +goose Up

-- whistle_id_bound is the smallest incident id made at or after at: its
-- milliseconds in hex as a UUID's first 13 characters ('018f2c1a-9b00'); a
-- prefix sorts before every id that extends it, in any collation (only the
-- digits 0-9, a-f and the hyphens at fixed places are compared).
CREATE FUNCTION whistle_id_bound(at timestamptz) RETURNS text
IMMUTABLE LANGUAGE sql AS $$
    SELECT overlay(lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') PLACING '-' FROM 9 FOR 0)
$$;

-- whistle_month_partitions makes sure the partitions of the district month
-- holding at exist, for all four tables, and returns that month's first
-- day. A new partition is created as a plain table and then attached, which
-- takes SHARE UPDATE EXCLUSIVE on the parent instead of the ACCESS
-- EXCLUSIVE of CREATE TABLE ... PARTITION OF: reads and writes of the other
-- months go on meanwhile. The parent's indexes and keys are built on the
-- empty table at attach. Writers call it when a row finds no partition
-- (store.Store.EnsureMonths), migrations and whistle serve call it ahead.
-- Bounds are fixed when a month is made: after a change of the metrics
-- time zone the next months are made in the new zone, and one that would
-- overlap a month already made fails loudly instead of moving rows.
-- +goose StatementBegin
CREATE FUNCTION whistle_month_partitions(at timestamptz) RETURNS date
LANGUAGE plpgsql AS $$
DECLARE
    tz text := (SELECT timezone FROM metrics_settings);
    m  date := date_trunc('month', at AT TIME ZONE tz)::date;
    lo text := whistle_id_bound(m::timestamp AT TIME ZONE tz);
    hi text := whistle_id_bound((m + interval '1 month')::timestamp AT TIME ZONE tz);
    t  text;
    p  text;
BEGIN
    -- Two writers finding the same month missing take turns; the second
    -- finds it made.
    PERFORM pg_advisory_xact_lock(hashtextextended('whistle_month_partitions', 0));
    FOREACH t IN ARRAY ARRAY['incidents', 'tasks', 'timeline', 'feedback'] LOOP
        p := t || '_' || to_char(m, 'YYYY_MM');
        IF to_regclass(p) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', p, t);
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', t, p, lo, hi);
        END IF;
    END LOOP;
    RETURN m;
END $$;
-- +goose StatementEnd

-- incident_keys holds the keys under which a report may be sent again:
-- kind 'idempotency' (owner = the reporter, key = the Idempotency-Key) and
-- kind 'external_ref' (owner = the channel, key = the sender's reference).
-- store.CreateReceived claims them in the transaction that inserts the
-- incident; DeleteReceived removes them with it. The row also stays on the
-- incident (idempotency_key, external_ref) for reading.
CREATE TABLE incident_keys (
    kind        text        NOT NULL CHECK (kind IN ('idempotency', 'external_ref')),
    owner       text        NOT NULL,
    key         text        NOT NULL,
    incident_id text        NOT NULL,
    reported_at timestamptz NOT NULL,
    PRIMARY KEY (kind, owner, key)
);
-- Deleting an incident's keys, and dropping a month's.
CREATE INDEX incident_keys_incident ON incident_keys (incident_id);
CREATE INDEX incident_keys_reported ON incident_keys (reported_at);
INSERT INTO incident_keys (kind, owner, key, incident_id, reported_at)
SELECT 'idempotency', reporter, idempotency_key, id, reported_at FROM incidents WHERE idempotency_key IS NOT NULL
UNION ALL
SELECT 'external_ref', channel, external_ref, id, reported_at FROM incidents WHERE external_ref IS NOT NULL;

-- The tables as they were are renamed out of the way (their indexes and
-- constraints go with them when they are dropped below); the partitioned
-- ones take their names and columns.
ALTER TABLE incidents RENAME TO incidents_v13;
ALTER TABLE tasks RENAME TO tasks_v13;
ALTER TABLE timeline RENAME TO timeline_v13;
ALTER TABLE feedback RENAME TO feedback_v13;
CREATE TABLE incidents (LIKE incidents_v13 INCLUDING DEFAULTS) PARTITION BY RANGE (id);
CREATE TABLE tasks (LIKE tasks_v13 INCLUDING DEFAULTS) PARTITION BY RANGE (incident_id);
CREATE TABLE timeline (LIKE timeline_v13 INCLUDING DEFAULTS) PARTITION BY RANGE (incident_id);
CREATE TABLE feedback (LIKE feedback_v13 INCLUDING DEFAULTS) PARTITION BY RANGE (incident_id);

-- Ids that are no month's: below every UUID, and from the year 2527 on
-- (ms 0x100000000000), where every id that is not a lowercase-hex UUID
-- sorts ('inc-a', 'A1').
-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['incidents', 'tasks', 'timeline', 'feedback'] LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (MINVALUE) TO (%L)',
                       t || '_before', t, '00000000-0000');
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (MAXVALUE)',
                       t || '_other', t, '10000000-0000');
    END LOOP;
END $$;
-- +goose StatementEnd

-- Every month with an incident, and this month and the next two, so that
-- writers rarely find a month missing.
SELECT whistle_month_partitions(at)
FROM (SELECT DISTINCT to_timestamp(('x' || lpad(replace(left(id, 13), '-', ''), 16, '0'))::bit(64)::bigint / 1000.0) AS at
      FROM incidents_v13 WHERE id >= '00000000-0000' AND id < '10000000-0000'
      UNION SELECT now() + make_interval(months => n) FROM generate_series(0, 2) n) m;

-- Rows are copied before any index exists (faster than maintaining them).
INSERT INTO incidents SELECT * FROM incidents_v13;
INSERT INTO tasks SELECT * FROM tasks_v13;
INSERT INTO timeline SELECT * FROM timeline_v13;
INSERT INTO feedback SELECT * FROM feedback_v13;
-- CASCADE drops delegations' reference to incidents: an accepted
-- delegation's incident_id stays unique, and DeleteReceived deletes the
-- delegation of the incident it deletes, as the reference's ON DELETE
-- CASCADE did.
DROP TABLE incidents_v13, tasks_v13, timeline_v13, feedback_v13 CASCADE;

-- Keys and indexes as before (00001 to 00012); a task's key takes its
-- incident's id. Each is built on every partition.
ALTER TABLE incidents ADD PRIMARY KEY (id);
ALTER TABLE tasks ADD PRIMARY KEY (id, incident_id);
ALTER TABLE timeline ADD PRIMARY KEY (incident_id, seq);
ALTER TABLE feedback ADD PRIMARY KEY (incident_id, round);
-- The children name their incident without a foreign key. Between
-- partitioned tables a key makes attaching a month of
-- tasks lock incidents while the new partition is held, and a writer in
-- flight (its incident inserted, its tasks' key check reading every
-- partition of incidents) then deadlocks with it; it would also add a key
-- check to every row Project writes. Project writes the children only under
-- their incident's row (the version guard), a received incident, the only
-- one ever deleted, has none, and a month is dropped whole.

CREATE INDEX incidents_category_reported ON incidents (reported_at, category);
CREATE INDEX incidents_channel_newest ON incidents (channel, reported_at DESC, id DESC);
CREATE INDEX incidents_duplicate_of ON incidents (duplicate_of, reported_at DESC, id DESC) WHERE duplicate_of IS NOT NULL;
CREATE INDEX incidents_grid_newest ON incidents (grid, reported_at DESC, id DESC);
CREATE INDEX incidents_near_closed ON incidents (category, closed_at, lat, lng)
    WHERE status = 'closed' AND duplicate_of IS NULL AND lat IS NOT NULL;
CREATE INDEX incidents_near_open ON incidents (category, reported_at, lat, lng) WHERE duplicate_of IS NULL AND lat IS NOT NULL;
CREATE INDEX incidents_newest ON incidents (reported_at DESC, id DESC);
CREATE INDEX incidents_overdue ON incidents (overdue_from) WHERE overdue_from IS NOT NULL;
CREATE INDEX incidents_repeat_street_newest ON incidents (street, reported_at DESC, id DESC) WHERE repeat_of IS NOT NULL;
CREATE INDEX incidents_status_newest ON incidents (status, reported_at DESC, id DESC);
CREATE INDEX incidents_street_newest ON incidents (street, reported_at DESC, id DESC);

CREATE INDEX tasks_ack_overdue ON tasks (ack_due, id) WHERE running AND status = 'pending_ack';
CREATE INDEX tasks_ack_overdue_department ON tasks (department, ack_due, id) WHERE running AND status = 'pending_ack';
CREATE INDEX tasks_ack_overdue_street ON tasks (street, ack_due, id) WHERE running AND status = 'pending_ack';
CREATE INDEX tasks_created ON tasks (created_at);
CREATE INDEX tasks_department_incident ON tasks (department, incident_id);
CREATE INDEX tasks_disputes ON tasks (returned_at, id) WHERE status = 'returned' AND reassigned_to = '';
CREATE INDEX tasks_disputes_street ON tasks (street, returned_at, id) WHERE status = 'returned' AND reassigned_to = '';
CREATE INDEX tasks_extensions ON tasks (extension_requested_at, id) WHERE extension_requested_at IS NOT NULL;
CREATE INDEX tasks_extensions_street ON tasks (street, extension_requested_at, id) WHERE extension_requested_at IS NOT NULL;
CREATE INDEX tasks_inbox ON tasks (department, inbox_rank, inbox_key, id);
CREATE INDEX tasks_inbox_status ON tasks (department, status, inbox_rank, inbox_key, id);
CREATE INDEX tasks_incident ON tasks (incident_id);
CREATE INDEX tasks_resolve_overdue ON tasks (resolve_due, id) WHERE running;
CREATE INDEX tasks_resolve_overdue_department ON tasks (department, resolve_due, id) WHERE running;
CREATE INDEX tasks_resolve_overdue_street ON tasks (street, resolve_due, id) WHERE running;
CREATE INDEX tasks_running_level ON tasks (escalation_level) WHERE running;

CREATE INDEX timeline_metrics ON timeline (incident_id)
    WHERE type IN ('returned', 'overruled', 'routing_override') OR (type = 'closed' AND actor = 'system');
CREATE INDEX timeline_review ON timeline (type, at, incident_id, seq)
    WHERE type IN ('routing_override', 'returned', 'overruled', 'reassigned', 'dispute_referred', 'enforcement_called');
CREATE INDEX timeline_review_street ON timeline (street, type, at, incident_id, seq)
    WHERE type IN ('routing_override', 'returned', 'overruled', 'reassigned', 'dispute_referred', 'enforcement_called');
CREATE INDEX timeline_type_at ON timeline (type, at);

CREATE INDEX feedback_at ON feedback (at);

-- +goose Down
ALTER TABLE incidents RENAME TO incidents_p;
ALTER TABLE tasks RENAME TO tasks_p;
ALTER TABLE timeline RENAME TO timeline_p;
ALTER TABLE feedback RENAME TO feedback_p;
CREATE TABLE incidents (LIKE incidents_p INCLUDING DEFAULTS);
CREATE TABLE tasks (LIKE tasks_p INCLUDING DEFAULTS);
CREATE TABLE timeline (LIKE timeline_p INCLUDING DEFAULTS);
CREATE TABLE feedback (LIKE feedback_p INCLUDING DEFAULTS);
INSERT INTO incidents SELECT * FROM incidents_p;
INSERT INTO tasks SELECT * FROM tasks_p;
INSERT INTO timeline SELECT * FROM timeline_p;
INSERT INTO feedback SELECT * FROM feedback_p;
DROP TABLE incidents_p, tasks_p, timeline_p, feedback_p CASCADE;
DROP FUNCTION whistle_month_partitions(timestamptz);
DROP FUNCTION whistle_id_bound(timestamptz);
DROP TABLE incident_keys;

ALTER TABLE incidents ADD PRIMARY KEY (id);
ALTER TABLE tasks ADD PRIMARY KEY (id);
ALTER TABLE timeline ADD PRIMARY KEY (incident_id, seq);
ALTER TABLE feedback ADD PRIMARY KEY (incident_id, round);
ALTER TABLE tasks ADD FOREIGN KEY (incident_id) REFERENCES incidents (id) ON DELETE CASCADE;
ALTER TABLE timeline ADD FOREIGN KEY (incident_id) REFERENCES incidents (id) ON DELETE CASCADE;
ALTER TABLE feedback ADD FOREIGN KEY (incident_id) REFERENCES incidents (id) ON DELETE CASCADE;
ALTER TABLE delegations ADD FOREIGN KEY (incident_id) REFERENCES incidents (id) ON DELETE CASCADE;

CREATE UNIQUE INDEX incidents_idempotency ON incidents (reporter, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX incidents_external_ref ON incidents (channel, external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX incidents_category_reported ON incidents (reported_at, category);
CREATE INDEX incidents_channel_newest ON incidents (channel, reported_at DESC, id DESC);
CREATE INDEX incidents_duplicate_of ON incidents (duplicate_of, reported_at DESC, id DESC) WHERE duplicate_of IS NOT NULL;
CREATE INDEX incidents_grid_newest ON incidents (grid, reported_at DESC, id DESC);
CREATE INDEX incidents_near_closed ON incidents (category, closed_at, lat, lng)
    WHERE status = 'closed' AND duplicate_of IS NULL AND lat IS NOT NULL;
CREATE INDEX incidents_near_open ON incidents (category, reported_at, lat, lng) WHERE duplicate_of IS NULL AND lat IS NOT NULL;
CREATE INDEX incidents_newest ON incidents (reported_at DESC, id DESC);
CREATE INDEX incidents_overdue ON incidents (overdue_from) WHERE overdue_from IS NOT NULL;
CREATE INDEX incidents_repeat_street_newest ON incidents (street, reported_at DESC, id DESC) WHERE repeat_of IS NOT NULL;
CREATE INDEX incidents_status_newest ON incidents (status, reported_at DESC, id DESC);
CREATE INDEX incidents_street_newest ON incidents (street, reported_at DESC, id DESC);

CREATE INDEX tasks_ack_overdue ON tasks (ack_due, id) WHERE running AND status = 'pending_ack';
CREATE INDEX tasks_ack_overdue_department ON tasks (department, ack_due, id) WHERE running AND status = 'pending_ack';
CREATE INDEX tasks_ack_overdue_street ON tasks (street, ack_due, id) WHERE running AND status = 'pending_ack';
CREATE INDEX tasks_created ON tasks (created_at);
CREATE INDEX tasks_department_incident ON tasks (department, incident_id);
CREATE INDEX tasks_disputes ON tasks (returned_at, id) WHERE status = 'returned' AND reassigned_to = '';
CREATE INDEX tasks_disputes_street ON tasks (street, returned_at, id) WHERE status = 'returned' AND reassigned_to = '';
CREATE INDEX tasks_extensions ON tasks (extension_requested_at, id) WHERE extension_requested_at IS NOT NULL;
CREATE INDEX tasks_extensions_street ON tasks (street, extension_requested_at, id) WHERE extension_requested_at IS NOT NULL;
CREATE INDEX tasks_inbox ON tasks (department, inbox_rank, inbox_key, id);
CREATE INDEX tasks_inbox_status ON tasks (department, status, inbox_rank, inbox_key, id);
CREATE INDEX tasks_incident ON tasks (incident_id);
CREATE INDEX tasks_resolve_overdue ON tasks (resolve_due, id) WHERE running;
CREATE INDEX tasks_resolve_overdue_department ON tasks (department, resolve_due, id) WHERE running;
CREATE INDEX tasks_resolve_overdue_street ON tasks (street, resolve_due, id) WHERE running;
CREATE INDEX tasks_running_level ON tasks (escalation_level) WHERE running;

CREATE INDEX timeline_metrics ON timeline (incident_id)
    WHERE type IN ('returned', 'overruled', 'routing_override') OR (type = 'closed' AND actor = 'system');
CREATE INDEX timeline_review ON timeline (type, at, incident_id, seq)
    WHERE type IN ('routing_override', 'returned', 'overruled', 'reassigned', 'dispute_referred', 'enforcement_called');
CREATE INDEX timeline_review_street ON timeline (street, type, at, incident_id, seq)
    WHERE type IN ('routing_override', 'returned', 'overruled', 'reassigned', 'dispute_referred', 'enforcement_called');
CREATE INDEX timeline_type_at ON timeline (type, at);

CREATE INDEX feedback_at ON feedback (at);
