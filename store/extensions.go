package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// ExtensionFilter selects the extension requests for Extensions. Empty
// fields match any.
type ExtensionFilter struct {
	Street     string // street code of the task's incident
	Department string // the department that asked
	Limit      int    // page size: DefaultLimit when 0, at most MaxLimit
	Cursor     string // "" for the first page, else the next cursor of the previous page
}

// PendingExtension is a department's request to move a task's resolution
// deadline (延期) that awaits the street's decision.
type PendingExtension struct {
	IncidentID  string    `json:"incident_id"`
	TaskID      string    `json:"task_id"`
	Department  string    `json:"department"`
	Street      string    `json:"street"`
	Item        string    `json:"item"`      // item code (the incident's category)
	ItemName    string    `json:"item_name"` // item name
	Description string    `json:"description"`
	ResolveDue  time.Time `json:"resolve_due"` // the deadline in force
	Until       time.Time `json:"until"`       // the deadline asked for
	Reason      string    `json:"reason"`
	RequestedAt time.Time `json:"requested_at"`
	RequestedBy string    `json:"requested_by"`
}

type extensionCursor struct {
	At time.Time `json:"a"`
	ID string    `json:"id"`
}

// Extensions lists the extension requests of sc awaiting a decision (GET
// /v1/supervision/extensions), oldest request first, ties by task id. It
// pages like Tasks; a malformed cursor is a CodeInvalid *incident.Error.
// The page is a walk along a partial index of pending requests (migration
// 00011), the street's when a street is given.
func (s *Store) Extensions(ctx context.Context, sc Scope, f ExtensionFilter) ([]PendingExtension, string, error) {
	if err := sc.tasks("the extension requests", &f.Street, &f.Department); err != nil {
		return nil, "", err
	}
	limit := pageLimit(f.Limit)
	var w where
	w.and("t.extension_requested_at IS NOT NULL")
	if f.Street != "" {
		w.and("t.street = " + w.arg(f.Street))
	}
	if f.Department != "" {
		w.and("t.department = " + w.arg(f.Department))
	}
	if f.Cursor != "" {
		var c extensionCursor
		if err := decodeCursor(f.Cursor, &c); err != nil {
			return nil, "", err
		}
		w.and("(t.extension_requested_at, t.id) > (" + w.arg(c.At) + ", " + w.arg(c.ID) + ")")
	}
	q := `
SELECT t.incident_id, t.id, t.department, t.street, t.category, i.item_name,
       coalesce(i.doc->>'description', ''), t.resolve_due, t.extension_requested_at,
       (SELECT x->'extension' FROM jsonb_array_elements(i.doc->'tasks') x WHERE x->>'id' = t.id)
FROM tasks t JOIN incidents i ON i.id = t.incident_id
` + w.sql() + `
ORDER BY t.extension_requested_at, t.id
LIMIT ` + strconv.Itoa(limit+1)
	rows, err := s.pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list extension requests: %w", err)
	}
	defer rows.Close()
	out := []PendingExtension{}
	next := ""
	for rows.Next() {
		var p PendingExtension
		var x *incident.Extension
		if err := rows.Scan(&p.IncidentID, &p.TaskID, &p.Department, &p.Street, &p.Item, &p.ItemName,
			&p.Description, &p.ResolveDue, &p.RequestedAt, &x); err != nil {
			return nil, "", fmt.Errorf("store: list extension requests: %w", err)
		}
		if len(out) == limit {
			l := out[len(out)-1]
			next = encodeCursor(extensionCursor{At: l.RequestedAt, ID: l.TaskID})
			break
		}
		if x != nil {
			p.Until, p.Reason, p.RequestedBy = x.Until, x.Reason, x.RequestedBy
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list extension requests: %w", err)
	}
	return out, next, nil
}
