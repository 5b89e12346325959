-- The overdue board (GET /v1/supervision/overdue, store.OverdueTasks) at
-- district scale. Measured on 1,000,000 seeded tasks (`whistle seed`, 4% of
-- them overdue, ~47,000 rows on the board), 00001's indexes made a page of
-- 50 take ~300 ms: keyed on the deadline alone, they let the planner read
-- every overdue row, join each to its incident and sort them all; and a
-- department or street filter walked that department's whole inbox.
--
-- OverdueTasks now asks each kind of deadline for its own page in (due, id)
-- order. That needs, per kind, an index in exactly that order, and one per
-- filter a supervisor narrows by that starts with the filter's column: then
-- a page is one short index range scan whatever the filter. The indexes are
-- partial on running clocks only (a few percent of all tasks): at 1M tasks
-- each is a few MB, and closed tasks cost them nothing.

-- +goose Up

-- running is true while the task's deadlines run: the task is open
-- (pending_ack or acknowledged) and its incident is dispatched (a
-- suspended incident's clocks stand still). Projection keeps it with the
-- rest of the task (it rewrites every task of a snapshot). Before, the board
-- filtered on the joined incident's status, and the planner, which cannot
-- know that open tasks mostly belong to dispatched incidents, estimated 6%
-- of them would (the share of dispatched incidents), chose parallel scans
-- and sorts over a walk along the index, and took 10-200 ms for a page.
ALTER TABLE tasks ADD COLUMN running boolean NOT NULL DEFAULT false;
UPDATE tasks t SET running = true
FROM incidents i
WHERE i.id = t.incident_id AND i.status = 'dispatched' AND t.status IN ('pending_ack', 'acknowledged');

-- The whole district's board, with the tie-break by task id.
DROP INDEX tasks_ack_overdue;
DROP INDEX tasks_resolve_overdue;
CREATE INDEX tasks_ack_overdue ON tasks (ack_due, id) WHERE running AND status = 'pending_ack';
CREATE INDEX tasks_resolve_overdue ON tasks (resolve_due, id) WHERE running;

-- A street supervisor's board (always filtered by their street).
CREATE INDEX tasks_ack_overdue_street ON tasks (street, ack_due, id) WHERE running AND status = 'pending_ack';
CREATE INDEX tasks_resolve_overdue_street ON tasks (street, resolve_due, id) WHERE running;

-- One department's missed deadlines, also when that department has few.
CREATE INDEX tasks_ack_overdue_department ON tasks (department, ack_due, id) WHERE running AND status = 'pending_ack';
CREATE INDEX tasks_resolve_overdue_department ON tasks (department, resolve_due, id) WHERE running;

-- The highest escalation level reached by a running task: a min_level above
-- it matches nothing, which OverdueTasks checks here first instead of
-- reading every running deadline in vain.
CREATE INDEX tasks_running_level ON tasks (escalation_level) WHERE running;

-- +goose Down
DROP INDEX tasks_running_level;
DROP INDEX tasks_resolve_overdue_department;
DROP INDEX tasks_ack_overdue_department;
DROP INDEX tasks_resolve_overdue_street;
DROP INDEX tasks_ack_overdue_street;
DROP INDEX tasks_resolve_overdue;
DROP INDEX tasks_ack_overdue;
ALTER TABLE tasks DROP COLUMN running;
CREATE INDEX tasks_ack_overdue ON tasks (ack_due) WHERE status = 'pending_ack';
CREATE INDEX tasks_resolve_overdue ON tasks (resolve_due) WHERE status IN ('pending_ack', 'acknowledged');
