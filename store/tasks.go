package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// TaskFilter selects tasks for Tasks. Empty fields match any.
type TaskFilter struct {
	Department string // department code: the department's inbox
	Status     string // task status
	Street     string // street code of the task's incident
	Limit      int    // page size: DefaultLimit when 0, at most MaxLimit
	Cursor     string // "" for the first page, else the next cursor of the previous page
}

// TaskRow is a task with what an inbox shows of its incident.
type TaskRow struct {
	incident.Task
	IncidentID     string `json:"incident_id"`
	Street         string `json:"street"`
	Category       string `json:"category"`
	ItemName       string `json:"item_name"`
	IncidentStatus string `json:"incident_status"`
	// Description is the incident's description: what the report says.
	Description string `json:"description"`
	// Overdue reports whether one of the task's running deadlines has passed
	// now while its incident is dispatched (clocks stop otherwise).
	Overdue bool `json:"overdue"`
}

type taskCursor struct {
	Rank int16  `json:"r"`
	Key  int64  `json:"k"`
	ID   string `json:"id"`
}

// Tasks lists the tasks of sc matching f in inbox order: open tasks first, by nearest
// deadline (ack_due while pending acknowledgement, else resolve_due), then
// the others, most recently dispatched first; ties by task id. It pages with
// keyset pagination: the second result is the cursor of the next page, ""
// on the last page. A malformed cursor is a CodeInvalid *incident.Error.
func (s *Store) Tasks(ctx context.Context, sc Scope, f TaskFilter) ([]TaskRow, string, error) {
	if err := sc.tasks("tasks", &f.Street, &f.Department); err != nil {
		return nil, "", err
	}
	limit := pageLimit(f.Limit)
	var w where
	if f.Department != "" {
		w.and("t.department = " + w.arg(f.Department))
	}
	if f.Status != "" {
		w.and("t.status = " + w.arg(f.Status))
	}
	if f.Street != "" {
		w.and("t.street = " + w.arg(f.Street))
	}
	if f.Cursor != "" {
		var c taskCursor
		if err := decodeCursor(f.Cursor, &c); err != nil {
			return nil, "", err
		}
		w.and("(t.inbox_rank, t.inbox_key, t.id) > (" + w.arg(c.Rank) + ", " + w.arg(c.Key) + ", " + w.arg(c.ID) + ")")
	}
	q := `
SELECT t.id, t.department, t.role, t.status, t.round, t.created_at, t.ack_due, t.resolve_due,
       t.acked_at, t.completed_at, t.result, t.return_reason, t.reassigned_to, t.escalation_level,
       t.ack_overdue, t.resolve_overdue, t.incident_id, t.street, t.category, i.item_name, i.status,
       t.inbox_rank, t.inbox_key, coalesce(i.doc->>'description', '')
FROM tasks t JOIN incidents i ON i.id = t.incident_id
` + w.sql() + `
ORDER BY t.inbox_rank, t.inbox_key, t.id
LIMIT ` + strconv.Itoa(limit+1)
	rows, err := s.pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list tasks: %w", err)
	}
	defer rows.Close()
	now := s.now()
	out := []TaskRow{}
	var last taskCursor
	next := ""
	for rows.Next() {
		var r TaskRow
		var c taskCursor
		var round, level int32
		if err := rows.Scan(&r.ID, &r.Department, &r.Role, &r.Status, &round, &r.CreatedAt, &r.AckDue, &r.ResolveDue,
			&r.AckedAt, &r.CompletedAt, &r.Result, &r.ReturnReason, &r.ReassignedTo, &level,
			&r.AckOverdue, &r.ResolveOverdue, &r.IncidentID, &r.Street, &r.Category, &r.ItemName, &r.IncidentStatus,
			&c.Rank, &c.Key, &r.Description); err != nil {
			return nil, "", fmt.Errorf("store: list tasks: %w", err)
		}
		if len(out) == limit {
			next = encodeCursor(last)
			break
		}
		r.Round, r.EscalationLevel = int(round), int(level)
		r.Overdue = r.IncidentStatus == string(incident.StatusDispatched) && r.Task.Overdue(now)
		c.ID = r.ID
		out, last = append(out, r), c
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list tasks: %w", err)
	}
	return out, next, nil
}

// Overdue kinds: which deadline a task missed.
const (
	KindAck     = "ack"     // not acknowledged (报到) by ack_due
	KindResolve = "resolve" // not completed by resolve_due
)

// OverdueFilter selects missed deadlines for OverdueTasks. Empty fields
// match any.
type OverdueFilter struct {
	Street     string
	Department string
	Kind       string // KindAck, KindResolve or "" for both
	MinLevel   int    // only tasks escalated to at least this level
	Limit      int    // page size: DefaultLimit when 0, at most MaxLimit
	Cursor     string // "" for the first page, else the next cursor of the previous page
}

// OverdueTask is one missed, still running deadline of an open task.
type OverdueTask struct {
	IncidentID     string    `json:"incident_id"`
	TaskID         string    `json:"task_id"`
	Department     string    `json:"department"`
	Street         string    `json:"street"`
	Item           string    `json:"item"`      // item code (the incident's category)
	ItemName       string    `json:"item_name"` // item name
	Kind           string    `json:"kind"`      // KindAck or KindResolve
	Due            time.Time `json:"due"`
	OverdueSeconds int64     `json:"overdue_seconds"`
	Level          int       `json:"level"` // the task's escalation level
	Description    string    `json:"description"`
	// NextLevel and NextLevelAt are the next step of the missed deadline's
	// escalation ladder and when it comes; 0 and nil at the ladder's top.
	NextLevel   int        `json:"next_level"`
	NextLevelAt *time.Time `json:"next_level_at"`
}

type overdueCursor struct {
	Due  time.Time `json:"d"`
	ID   string    `json:"id"`
	Kind string    `json:"k"`
}

// OverdueTasks lists the deadlines that open tasks of dispatched incidents
// have missed by now (GET /v1/supervision/overdue), most overdue first
// (by due, then task id, then kind); a task pending acknowledgement past
// both deadlines appears once per kind. It pages like Tasks. An unknown kind
// or malformed cursor is a CodeInvalid *incident.Error.
//
// Each kind is its own branch, ordered and limited on its own, so that each
// is one walk along a partial index of running clocks in deadline order (the
// street's, the department's or the district's, see migration 00002) that
// stops after a page; the union of the two pages is then sorted. A plain
// ORDER BY over the UNION ALL makes the planner read and sort every overdue
// row instead. Which clocks run is tasks.running (open task, dispatched
// incident), not a filter on the joined incident, whose selectivity the
// planner cannot know and underestimates twentyfold.
func (s *Store) OverdueTasks(ctx context.Context, sc Scope, f OverdueFilter) ([]OverdueTask, string, error) {
	if err := sc.tasks("the overdue board", &f.Street, &f.Department); err != nil {
		return nil, "", err
	}
	if f.Kind != "" && f.Kind != KindAck && f.Kind != KindResolve {
		return nil, "", incident.Invalid("kind", "kind must be %s or %s, not %q", KindAck, KindResolve, f.Kind)
	}
	var cur *overdueCursor
	if f.Cursor != "" {
		cur = new(overdueCursor)
		if err := decodeCursor(f.Cursor, cur); err != nil {
			return nil, "", err
		}
	}
	limit := pageLimit(f.Limit)
	page := strconv.Itoa(limit + 1)
	now := s.now()
	var w where
	nowArg := w.arg(now)
	// Filters common to both branches go into each, so each branch uses
	// its partial index.
	var common []string
	if f.Street != "" {
		common = append(common, "t.street = "+w.arg(f.Street))
	}
	if f.Department != "" {
		common = append(common, "t.department = "+w.arg(f.Department))
	}
	if f.MinLevel > 0 {
		// The EXISTS is a one-time test on a small index: when no running
		// task has reached the level (min_level above the ladder), the
		// branch reads nothing instead of every running deadline.
		lvl := w.arg(f.MinLevel)
		common = append(common, "t.escalation_level >= "+lvl,
			"EXISTS (SELECT 1 FROM tasks x WHERE x.running AND x.escalation_level >= "+lvl+")")
	}
	var curDue, curID string
	if cur != nil {
		curDue, curID = w.arg(cur.Due), w.arg(cur.ID)
	}
	branch := func(kind, due, status string) string {
		conds := append([]string{status, "t." + due + " < " + nowArg}, common...)
		if cur != nil {
			// After the cursor in (due, id, kind) order: kind is constant
			// here, so this is (due, id) > or >= the cursor's, which the
			// index seeks to.
			op := " > "
			if kind > cur.Kind {
				op = " >= "
			}
			conds = append(conds, "(t."+due+", t.id)"+op+"("+curDue+", "+curID+")")
		}
		return "(SELECT t.incident_id, t.id, t.department, t.street, t.category, i.item_name, '" + kind + "' AS kind, t." + due +
			" AS due, t.escalation_level, coalesce(i.doc->>'description', '') AS description, " +
			"(SELECT x->'" + kind + "_clock' FROM jsonb_array_elements(i.doc->'tasks') x WHERE x->>'id' = t.id) AS clock FROM tasks t JOIN incidents i ON i.id = t.incident_id WHERE " +
			strings.Join(conds, " AND ") + " ORDER BY t." + due + ", t.id LIMIT " + page + ")"
	}
	var parts []string
	if f.Kind != KindResolve {
		parts = append(parts, branch(KindAck, "ack_due", "t.running AND t.status = 'pending_ack'"))
	}
	if f.Kind != KindAck {
		parts = append(parts, branch(KindResolve, "resolve_due", "t.running"))
	}
	q := "SELECT o.* FROM (" + strings.Join(parts, " UNION ALL ") + ") o ORDER BY o.due, o.id, o.kind LIMIT " + page
	rows, err := s.pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list overdue tasks: %w", err)
	}
	defer rows.Close()
	out := []OverdueTask{}
	next := ""
	for rows.Next() {
		var o OverdueTask
		var level int32
		var clock *incident.Clock
		if err := rows.Scan(&o.IncidentID, &o.TaskID, &o.Department, &o.Street, &o.Item, &o.ItemName, &o.Kind, &o.Due, &level, &o.Description, &clock); err != nil {
			return nil, "", fmt.Errorf("store: list overdue tasks: %w", err)
		}
		if len(out) == limit {
			l := out[len(out)-1]
			next = encodeCursor(overdueCursor{Due: l.Due, ID: l.TaskID, Kind: l.Kind})
			break
		}
		o.Level = int(level)
		if clock != nil {
			if next, at, ok := clock.NextLevel(); ok {
				o.NextLevel, o.NextLevelAt = next, &at
			}
		}
		o.OverdueSeconds = int64(now.Sub(o.Due) / time.Second)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list overdue tasks: %w", err)
	}
	return out, next, nil
}
