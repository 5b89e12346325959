package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// DisputeFilter selects the returns awaiting arbitration for Disputes.
// Empty fields match any.
type DisputeFilter struct {
	Street     string // street code of the task's incident
	Department string // the department that returned the task
	// Referred, when set, keeps only the returns the street referred to
	// the district (true: the district's queue) or only those it still
	// holds (false).
	Referred *bool
	Limit    int    // page size: DefaultLimit when 0, at most MaxLimit
	Cursor   string // "" for the first page, else the next cursor of the previous page
}

// OpenDispute is a task its department returned (退单) that is not settled
// yet: neither reassigned to another department nor overruled (which sends
// it back to pending_ack or acknowledged).
type OpenDispute struct {
	IncidentID string    `json:"incident_id"`
	TaskID     string    `json:"task_id"`
	Department string    `json:"department"` // the department that returned it
	Street     string    `json:"street"`
	Item       string    `json:"item"`      // item code (the incident's category)
	ItemName   string    `json:"item_name"` // item name
	Reason     string    `json:"reason"`    // the reason the department gave
	ReturnedAt time.Time `json:"returned_at"`
	Returns    int       `json:"returns"` // how often the department returned this task, this time included
	// Referred reports whether the street referred the return to the
	// district, which then decides; ReferredAt and ReferNote say when and why.
	Referred   bool       `json:"referred"`
	ReferredAt *time.Time `json:"referred_at"`
	ReferNote  string     `json:"refer_note"`
}

type disputeCursor struct {
	At time.Time `json:"a"`
	ID string    `json:"id"`
}

// Disputes lists the returned tasks of sc awaiting arbitration (GET
// /v1/supervision/disputes): status returned and not reassigned, oldest
// return first, ties by task id. A return stays here while its incident is
// suspended (it is settled after the resume). It pages like Tasks; a
// malformed cursor is a CodeInvalid *incident.Error.
//
// Open disputes are few whatever the size of the district: the page is a
// walk along a partial index holding only them (migration 00005), the
// street's when a street is given.
func (s *Store) Disputes(ctx context.Context, sc Scope, f DisputeFilter) ([]OpenDispute, string, error) {
	if err := sc.tasks("the disputes", &f.Street, &f.Department); err != nil {
		return nil, "", err
	}
	limit := pageLimit(f.Limit)
	var w where
	w.and("t.status = 'returned'")
	w.and("t.reassigned_to = ''")
	if f.Street != "" {
		w.and("t.street = " + w.arg(f.Street))
	}
	if f.Department != "" {
		w.and("t.department = " + w.arg(f.Department))
	}
	if f.Referred != nil {
		if *f.Referred {
			w.and("t.referred_at IS NOT NULL")
		} else {
			w.and("t.referred_at IS NULL")
		}
	}
	if f.Cursor != "" {
		var c disputeCursor
		if err := decodeCursor(f.Cursor, &c); err != nil {
			return nil, "", err
		}
		w.and("(t.returned_at, t.id) > (" + w.arg(c.At) + ", " + w.arg(c.ID) + ")")
	}
	q := `
SELECT t.incident_id, t.id, t.department, t.street, t.category, i.item_name, t.return_reason,
       t.returned_at, t.returns, t.referred_at, t.refer_note
FROM tasks t JOIN incidents i ON i.id = t.incident_id
` + w.sql() + `
ORDER BY t.returned_at, t.id
LIMIT ` + strconv.Itoa(limit+1)
	rows, err := s.pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list disputes: %w", err)
	}
	defer rows.Close()
	out := []OpenDispute{}
	next := ""
	for rows.Next() {
		var d OpenDispute
		var returns int32
		if err := rows.Scan(&d.IncidentID, &d.TaskID, &d.Department, &d.Street, &d.Item, &d.ItemName, &d.Reason,
			&d.ReturnedAt, &returns, &d.ReferredAt, &d.ReferNote); err != nil {
			return nil, "", fmt.Errorf("store: list disputes: %w", err)
		}
		if len(out) == limit {
			l := out[len(out)-1]
			next = encodeCursor(disputeCursor{At: l.ReturnedAt, ID: l.TaskID})
			break
		}
		d.Returns, d.Referred = int(returns), d.ReferredAt != nil
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list disputes: %w", err)
	}
	return out, next, nil
}

// ReviewTypes are the timeline entry types the district reviews (GET
// /v1/supervision/review): how the street used its powers over the
// responsibility list and how departments disputed it. Migration 00005's
// partial indexes hold exactly these types.
var ReviewTypes = []string{
	incident.EventRoutingOverride,   // whistled other departments than the list's
	incident.EventReturned,          // a department returned its task (退单)
	incident.EventOverruled,         // the return was overruled
	incident.EventReassigned,        // the task was given to another department
	incident.EventDisputeReferred,   // the street referred the return to the district
	incident.EventEnforcementCalled, // the street called enforcement teams directly
}

// ReviewFilter selects timeline entries for Review. Empty fields match any.
type ReviewFilter struct {
	Type   string // one of ReviewTypes; "" for all of them
	Street string // street code of the entry's incident
	// From and To bound the entries' time to [From, To); a zero time
	// leaves that side open.
	From, To time.Time
	Limit    int    // page size: DefaultLimit when 0, at most MaxLimit
	Cursor   string // "" for the first page, else the next cursor of the previous page
}

// ReviewEntry is one timeline entry under review, with its incident's
// street and item.
type ReviewEntry struct {
	IncidentID string    `json:"incident_id"`
	Street     string    `json:"street"`
	Item       string    `json:"item"` // item code (the incident's category)
	At         time.Time `json:"at"`
	Type       string    `json:"type"`
	Actor      string    `json:"actor"` // "role:org:sub"
	Note       string    `json:"note"`
	TaskID     string    `json:"task_id"`    // "" for an entry about the whole incident
	Department string    `json:"department"` // the task's department; "" likewise
}

type reviewCursor struct {
	At  time.Time `json:"a"`
	ID  string    `json:"id"`
	Seq int       `json:"s"`
}

// Review lists the timeline entries of ReviewTypes (or of f.Type) newest
// first, ties by incident id and sequence number, descending. It pages like
// Tasks. A type not in ReviewTypes, a To not after From or a malformed
// cursor is a CodeInvalid *incident.Error.
//
// Each type is its own branch, ordered and limited on its own, so that each
// is one backward walk along a partial index in (type, at, incident_id,
// seq) order, the street's when a street is given (migration 00005); the
// union of the pages is then sorted and cut, and only that page is joined
// to its incidents. The type is written into the SQL as a literal, for the
// planner to prove that the partial index covers it.
func (s *Store) Review(ctx context.Context, sc Scope, f ReviewFilter) ([]ReviewEntry, string, error) {
	if err := sc.only("the review", incident.RoleStreet); err != nil {
		return nil, "", err
	}
	var err error
	if f.Street, err = sc.narrow(incident.RoleStreet, "review", f.Street); err != nil {
		return nil, "", err
	}
	types := ReviewTypes
	if f.Type != "" {
		if !slices.Contains(ReviewTypes, f.Type) {
			return nil, "", incident.Invalid("type", "type must be one of %s, not %q", strings.Join(ReviewTypes, ", "), f.Type)
		}
		types = []string{f.Type}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, "", incident.Invalid("to", "to (%s) must be after from (%s)", f.To.Format(time.RFC3339), f.From.Format(time.RFC3339))
	}
	var common []string
	var w where
	if f.Street != "" {
		common = append(common, "tl.street = "+w.arg(f.Street))
	}
	if !f.From.IsZero() {
		common = append(common, "tl.at >= "+w.arg(f.From))
	}
	if !f.To.IsZero() {
		common = append(common, "tl.at < "+w.arg(f.To))
	}
	if f.Cursor != "" {
		var c reviewCursor
		if err := decodeCursor(f.Cursor, &c); err != nil {
			return nil, "", err
		}
		common = append(common, "(tl.at, tl.incident_id, tl.seq) < ("+w.arg(c.At)+", "+w.arg(c.ID)+", "+w.arg(c.Seq)+")")
	}
	limit := pageLimit(f.Limit)
	page := strconv.Itoa(limit + 1)
	const order = " ORDER BY at DESC, incident_id DESC, seq DESC"
	parts := make([]string, len(types))
	for i, typ := range types {
		// typ is one of ReviewTypes: a constant, safe to write as a literal.
		conds := append([]string{"tl.type = '" + typ + "'"}, common...)
		parts[i] = "(SELECT tl.incident_id, tl.seq, tl.at, tl.type, tl.actor, tl.note, tl.task_id, tl.department, tl.street" +
			" FROM timeline tl WHERE " + strings.Join(conds, " AND ") + order + " LIMIT " + page + ")"
	}
	q := `
SELECT r.incident_id, r.seq, r.at, r.type, r.actor, r.note, coalesce(r.task_id, ''), coalesce(r.department, ''),
       coalesce(r.street, i.street), i.category
FROM (SELECT * FROM (` + strings.Join(parts, " UNION ALL ") + `) u` + order + ` LIMIT ` + page + `) r
JOIN incidents i ON i.id = r.incident_id
ORDER BY r.at DESC, r.incident_id DESC, r.seq DESC`
	rows, err := s.pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list review entries: %w", err)
	}
	defer rows.Close()
	out := []ReviewEntry{}
	var last reviewCursor
	next := ""
	for rows.Next() {
		var e ReviewEntry
		var seq int32
		if err := rows.Scan(&e.IncidentID, &seq, &e.At, &e.Type, &e.Actor, &e.Note, &e.TaskID, &e.Department,
			&e.Street, &e.Item); err != nil {
			return nil, "", fmt.Errorf("store: list review entries: %w", err)
		}
		if len(out) == limit {
			next = encodeCursor(last)
			break
		}
		out, last = append(out, e), reviewCursor{At: e.At, ID: e.IncidentID, Seq: int(seq)}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list review entries: %w", err)
	}
	return out, next, nil
}
