-- The read model of Whistle (DESIGN.md §2). Temporal is the source of truth
-- for where each incident is; every state change is projected here by an
-- activity so that supervisors' queries, department inboxes and the 三率 are
-- plain SQL instead of Temporal visibility queries (which cost ~25% of the
-- engine's throughput when upserted at every step, DESIGN.md §7).
--
-- Every time is timestamptz: deadlines are computed in the district's local
-- time but compared as instants.

-- +goose Up

-- incidents holds one row per incident: the full snapshot the workflow last
-- projected (doc) plus the columns the list filters and the keyset order need.
-- Projection applies a snapshot only when its version is newer, so retried or
-- reordered activities never move an incident backwards.
CREATE TABLE incidents (
    id               text        PRIMARY KEY,
    status           text        NOT NULL,
    category         text        NOT NULL,
    item_name        text        NOT NULL DEFAULT '',
    tier             text        NOT NULL,
    street           text        NOT NULL,
    community        text        NOT NULL,
    grid             text        NOT NULL,
    reporter         text        NOT NULL,
    -- idempotency_key is the client's Idempotency-Key of POST /v1/reports;
    -- NULL when none was sent. Only the API writes it (projection keeps it).
    idempotency_key  text,
    reported_at      timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    closed_at        timestamptz,
    -- version counts the incident's state changes (incident.Incident.Version);
    -- 0 is the row the API writes before the workflow runs.
    version          integer     NOT NULL,
    round            integer     NOT NULL DEFAULT 1,
    escalation_level integer     NOT NULL DEFAULT 0,
    reopen_count     integer     NOT NULL DEFAULT 0,
    -- overdue_from is the instant from which the incident counts as overdue:
    -- the earliest running deadline of its open tasks while it is dispatched,
    -- NULL when no clock runs. "Overdue now" is then overdue_from < now, which
    -- an index answers without looking at tasks.
    overdue_from     timestamptz,
    -- doc is the full incident.Incident snapshot (tasks, timeline, feedback):
    -- GET /v1/incidents/{id} returns it as is, with overdue computed at read.
    doc              jsonb       NOT NULL
);

-- A second POST /v1/reports with the same Idempotency-Key from the same
-- reporter must find the first incident instead of creating another.
CREATE UNIQUE INDEX incidents_idempotency ON incidents (reporter, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- GET /v1/incidents pages newest first by (reported_at, id); one index per
-- equality filter keeps each filtered page an index range scan.
CREATE INDEX incidents_newest ON incidents (reported_at DESC, id DESC);
CREATE INDEX incidents_status_newest ON incidents (status, reported_at DESC, id DESC);
CREATE INDEX incidents_street_newest ON incidents (street, reported_at DESC, id DESC);
CREATE INDEX incidents_grid_newest ON incidents (grid, reported_at DESC, id DESC);

-- overdue=true lists only incidents with a running clock; the partial index
-- holds just those (dispatched ones), not the closed majority.
CREATE INDEX incidents_overdue ON incidents (overdue_from) WHERE overdue_from IS NOT NULL;

-- The monthly report ranks the items reported in a period.
CREATE INDEX incidents_category_reported ON incidents (reported_at, category);

-- tasks holds one row per department task, denormalised with the incident's
-- street and category so that inboxes, overdue scans and per-department or
-- per-street metrics need no join for filtering.
CREATE TABLE tasks (
    id               text        PRIMARY KEY,
    incident_id      text        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    department       text        NOT NULL,
    street           text        NOT NULL,
    category         text        NOT NULL,
    role             text        NOT NULL,
    status           text        NOT NULL,
    round            integer     NOT NULL,
    created_at       timestamptz NOT NULL,
    ack_due          timestamptz NOT NULL,
    resolve_due      timestamptz NOT NULL,
    acked_at         timestamptz,
    completed_at     timestamptz,
    result           text        NOT NULL DEFAULT '',
    return_reason    text        NOT NULL DEFAULT '',
    reassigned_to    text        NOT NULL DEFAULT '',
    escalation_level integer     NOT NULL DEFAULT 0,
    ack_overdue      boolean     NOT NULL DEFAULT false,
    resolve_overdue  boolean     NOT NULL DEFAULT false,
    -- inbox_rank and inbox_key give a department's inbox its order in one
    -- index: open tasks (rank 0) by nearest deadline (ack_due while pending
    -- acknowledgement, else resolve_due, as Unix microseconds), then the
    -- others (rank 1) most recently dispatched first (negated created_at).
    -- They are computed at projection so the keyset cursor is two numbers.
    inbox_rank       smallint    NOT NULL,
    inbox_key        bigint      NOT NULL
);

-- A department's inbox (GET /v1/departments/{code}/tasks), with and without
-- a status filter, in inbox order.
CREATE INDEX tasks_inbox ON tasks (department, inbox_rank, inbox_key, id);
CREATE INDEX tasks_inbox_status ON tasks (department, status, inbox_rank, inbox_key, id);

-- GET /v1/incidents?department= asks whether an incident has a task of the
-- department; and reading an incident by one of its task ids needs the way back.
CREATE INDEX tasks_incident ON tasks (incident_id);
CREATE INDEX tasks_department_incident ON tasks (department, incident_id);

-- Overdue scans (GET /v1/supervision/overdue): only running clocks matter,
-- and they are a small share of all tasks, so partial indexes stay small.
CREATE INDEX tasks_ack_overdue ON tasks (ack_due) WHERE status = 'pending_ack';
CREATE INDEX tasks_resolve_overdue ON tasks (resolve_due) WHERE status IN ('pending_ack', 'acknowledged');

-- The 三率 count tasks dispatched in a period.
CREATE INDEX tasks_created ON tasks (created_at);

-- timeline keeps every entry of every incident once: (incident_id, seq) is
-- the identity the domain gives an entry and the id of the event published
-- for it, so re-projecting a snapshot inserts only the entries not yet here.
-- It is the SQL-queryable history (audits, reports); reads of a single
-- incident use incidents.doc.
CREATE TABLE timeline (
    incident_id text        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    seq         integer     NOT NULL,
    at          timestamptz NOT NULL,
    type        text        NOT NULL,
    actor       text        NOT NULL,
    note        text        NOT NULL DEFAULT '',
    task_id     text,
    department  text,
    status      text,
    level       integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (incident_id, seq)
);

-- Reports count events of a type in a period (e.g. reopenings, escalations).
CREATE INDEX timeline_type_at ON timeline (type, at);

-- feedback keeps the return visit (回访) of every round. The snapshot only
-- carries the latest one, so a reopened incident's earlier rounds survive
-- here, where the satisfaction and resolution rates are computed.
CREATE TABLE feedback (
    incident_id text        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    round       integer     NOT NULL,
    resolved    boolean     NOT NULL,
    -- rating is NULL for a visit that recorded no rating.
    rating      text,
    comment     text        NOT NULL DEFAULT '',
    by_actor    text        NOT NULL DEFAULT '',
    at          timestamptz NOT NULL,
    PRIMARY KEY (incident_id, round)
);

-- The 三率 count return visits made in a period.
CREATE INDEX feedback_at ON feedback (at);

-- jurisdictions keeps every distinct jurisdiction document Whistle ran with
-- (DESIGN.md §3: the list is managed dynamically), newest last. A start with
-- an unchanged file adds nothing: a row is inserted only when the content
-- hash differs from the latest row's.
CREATE TABLE jurisdictions (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- hash is the hex SHA-256 of doc as stored (the parsed document's JSON).
    hash      text        NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    doc       jsonb       NOT NULL,
    -- raw is the file as read (YAML), for people; NULL when not given.
    raw       text
);

-- "Has this exact document been loaded before, and when?"
CREATE INDEX jurisdictions_hash ON jurisdictions (hash);

-- +goose Down
DROP TABLE jurisdictions;
DROP TABLE feedback;
DROP TABLE timeline;
DROP TABLE tasks;
DROP TABLE incidents;
