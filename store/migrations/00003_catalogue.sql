-- The living responsibility list (属地管理事项清单, "managed dynamically"):
-- every version of every item, written by the jurisdiction file at start or
-- by an admin through PUT/DELETE /v1/catalogue/items/{code}. Rows are only
-- ever added, never changed, so the table is the audit trail that
-- GET /v1/catalogue/items/{code}/history shows: who, when and why.
--
-- The list in force is the latest version of each item that is not retired;
-- every process (serve, worker) builds it from here, so an admin's change
-- made through one process reaches the others (they reload on a NATS notice,
-- and every 30 s in any case). Incidents do not refer to these rows: each
-- keeps a copy of its item (with its version number) in its own snapshot, so
-- a later change never touches an incident in flight.

-- +goose Up

CREATE TABLE catalogue_items (
    -- id orders rows by insertion: the list shows items in the order they
    -- first appeared (the file's order for the file's items).
    id       bigserial   PRIMARY KEY,
    code     text        NOT NULL,
    -- version counts the item's versions from 1, with no gaps; writers
    -- serialise on an advisory lock, and the unique key is the backstop.
    version  integer     NOT NULL CHECK (version >= 1),
    -- body is the item as JSON (jurisdiction.Item: name, tier, lead,
    -- cooperating, sla, escalation, …), validated before it was written.
    -- It is a document rather than columns so that fields added to items
    -- later need no migration. A retired version repeats the body it retired.
    body     jsonb       NOT NULL,
    retired  boolean     NOT NULL DEFAULT false,
    -- source says who wrote the version: the jurisdiction file, applied at
    -- start when it changed, or an admin through the API. The file's sync
    -- compares the file with the latest 'file' version only, so an API
    -- change survives a restart with an unchanged file.
    source   text        NOT NULL CHECK (source IN ('file', 'api')),
    actor    text        NOT NULL,
    reason   text        NOT NULL,
    at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (code, version)
);

-- The sync at start asks, per item, for the latest version the file wrote.
CREATE INDEX catalogue_items_source ON catalogue_items (code, source, version DESC);

-- +goose Down
DROP TABLE catalogue_items;
