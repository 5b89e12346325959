-- The street's queue of extension requests (延期) awaiting its decision
-- (store.Extensions, GET /v1/supervision/extensions, the console's
-- disputes page). A pending request lives only in its incident's snapshot
-- (doc); without a column the queue would read the doc of every dispatched
-- incident of the street, and a list of the newest ones would miss an old
-- request.

-- +goose Up

-- extension_requested_at is when the task's latest extension request was
-- made, while it awaits a decision and the task is open; NULL otherwise.
-- Projection rewrites it with the rest of the task.
ALTER TABLE tasks ADD COLUMN extension_requested_at timestamptz;

-- Existing rows from their incidents' snapshots, as projection would
-- write them: only incidents still running can hold an open task.
UPDATE tasks t SET extension_requested_at = (x->'extension'->>'requested_at')::timestamptz
FROM incidents i, jsonb_array_elements(i.doc->'tasks') x
WHERE i.id = t.incident_id AND i.status IN ('dispatched', 'suspended')
  AND x->>'id' = t.id AND t.status IN ('pending_ack', 'acknowledged')
  AND jsonb_typeof(x->'extension') = 'object' AND coalesce(x->'extension'->>'decision', '') = '';

-- Pending requests are a handful per street at any time: partial indexes
-- hold only them, oldest request first, for the district and per street.
CREATE INDEX tasks_extensions ON tasks (extension_requested_at, id)
    WHERE extension_requested_at IS NOT NULL;
CREATE INDEX tasks_extensions_street ON tasks (street, extension_requested_at, id)
    WHERE extension_requested_at IS NOT NULL;

-- +goose Down
DROP INDEX tasks_extensions_street;
DROP INDEX tasks_extensions;
ALTER TABLE tasks DROP COLUMN extension_requested_at;
