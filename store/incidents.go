package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/incident"
)

// Incident returns the latest projected snapshot of the incident with the
// given id, with Overdue computed now. An unknown id, or one outside sc, is
// a CodeNotFound *incident.Error.
func (s *Store) Incident(ctx context.Context, sc Scope, id string) (*incident.Incident, error) {
	var doc []byte
	var w where
	w.and("i.id = " + w.arg(id))
	sc.incidents(&w)
	err := s.pool.QueryRow(ctx, `SELECT i.doc FROM incidents i `+w.sql(), w.args...).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, incident.Errorf(incident.CodeNotFound, "no incident %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read incident %s: %w", id, err)
	}
	return s.decode(doc)
}

// IncidentOfTask returns the incident a task belongs to, like Incident. An
// unknown task id, or one of an incident outside sc, is a CodeNotFound
// *incident.Error.
func (s *Store) IncidentOfTask(ctx context.Context, sc Scope, taskID string) (*incident.Incident, error) {
	var doc []byte
	var w where
	w.and("t.id = " + w.arg(taskID))
	sc.incidents(&w)
	err := s.pool.QueryRow(ctx, `
SELECT i.doc FROM tasks t JOIN incidents i ON i.id = t.incident_id `+w.sql(), w.args...).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, incident.Errorf(incident.CodeNotFound, "no task %s", taskID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read incident of task %s: %w", taskID, err)
	}
	return s.decode(doc)
}

// IncidentFilter selects incidents for Incidents. Empty fields match any.
type IncidentFilter struct {
	Status     string // incident status
	Street     string // street code
	Department string // incidents with a task (of any round or status) of this department
	Grid       string // grid code
	// DuplicateOf keeps only the duplicates of the incident with this id.
	DuplicateOf string
	// Repeat, when set, keeps only incidents that are (true) or are not
	// (false) repeats of a closed one (重复诉求).
	Repeat *bool
	// Overdue, when set, keeps only incidents that are (true) or are not
	// (false) overdue now (incident.Incident.OverdueAt).
	Overdue *bool
	// Channel keeps only the incidents that came in by this channel.
	Channel string
	// Category keeps only the incidents of these items (any, when empty).
	Category []string
	// IDs keeps only the incidents with these ids (any, when empty).
	IDs []string
	// ReportedFrom and ReportedTo keep only the incidents reported in
	// [ReportedFrom, ReportedTo); a zero bound is open.
	ReportedFrom, ReportedTo time.Time
	// Closed, when set, keeps only incidents that are (true) or are not
	// (false) closed or rejected.
	Closed *bool
	Limit  int    // page size: DefaultLimit when 0, at most MaxLimit
	Cursor string // "" for the first page, else the next cursor of the previous page
}

type incidentCursor struct {
	ReportedAt time.Time `json:"t"`
	ID         string    `json:"id"`
}

// Incidents lists the incidents of sc matching f, newest first
// (reported_at desc, id desc), one page at a time with keyset pagination:
// next is the cursor of the following page, "" on the last page. A
// malformed cursor is a CodeInvalid *incident.Error; a grid, street or
// department outside sc a CodeForbidden one.
func (s *Store) Incidents(ctx context.Context, sc Scope, f IncidentFilter) (items []*incident.Incident, next string, err error) {
	limit := pageLimit(f.Limit)
	for _, n := range []struct {
		kind  incident.Role
		field *string
	}{{incident.RoleGridWorker, &f.Grid}, {incident.RoleStreet, &f.Street}, {incident.RoleDepartment, &f.Department}} {
		if *n.field, err = sc.narrow(n.kind, "incidents", *n.field); err != nil {
			return nil, "", err
		}
	}
	var w where
	sc.incidents(&w)
	if f.Status != "" {
		w.and("i.status = " + w.arg(f.Status))
	}
	if f.Street != "" {
		w.and("i.street = " + w.arg(f.Street))
	}
	if f.Grid != "" {
		w.and("i.grid = " + w.arg(f.Grid))
	}
	if f.DuplicateOf != "" {
		w.and("i.duplicate_of = " + w.arg(f.DuplicateOf))
	}
	if f.Channel != "" {
		w.and("i.channel = " + w.arg(f.Channel))
	}
	if len(f.Category) > 0 {
		w.and("i.category = ANY(" + w.arg(f.Category) + ")")
	}
	if len(f.IDs) > 0 {
		w.and("i.id = ANY(" + w.arg(f.IDs) + ")")
	}
	if !f.ReportedFrom.IsZero() {
		w.and("i.reported_at >= " + w.arg(f.ReportedFrom))
	}
	if !f.ReportedTo.IsZero() {
		w.and("i.reported_at < " + w.arg(f.ReportedTo))
	}
	if f.Closed != nil {
		ended := w.arg([]string{string(incident.StatusClosed), string(incident.StatusRejected)})
		if *f.Closed {
			w.and("i.status = ANY(" + ended + ")")
		} else {
			w.and("i.status <> ALL(" + ended + ")")
		}
	}
	if f.Repeat != nil {
		if *f.Repeat {
			w.and("i.repeat_of IS NOT NULL")
		} else {
			w.and("i.repeat_of IS NULL")
		}
	}
	if f.Department != "" {
		w.and("EXISTS (SELECT 1 FROM tasks t WHERE t.incident_id = i.id AND t.department = " + w.arg(f.Department) + ")")
	}
	if f.Overdue != nil {
		now := w.arg(s.now())
		if *f.Overdue {
			w.and("i.overdue_from < " + now)
		} else {
			w.and("(i.overdue_from IS NULL OR i.overdue_from >= " + now + ")")
		}
	}
	if f.Cursor != "" {
		var c incidentCursor
		if err := decodeCursor(f.Cursor, &c); err != nil {
			return nil, "", err
		}
		w.and("(i.reported_at, i.id) < (" + w.arg(c.ReportedAt) + ", " + w.arg(c.ID) + ")")
	}
	q := "SELECT i.doc, i.reported_at, i.id FROM incidents i " + w.sql() +
		" ORDER BY i.reported_at DESC, i.id DESC LIMIT " + strconv.Itoa(limit+1)
	rows, err := s.pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list incidents: %w", err)
	}
	var last incidentCursor
	items = []*incident.Incident{}
	for rows.Next() {
		var doc []byte
		var c incidentCursor
		if err := rows.Scan(&doc, &c.ReportedAt, &c.ID); err != nil {
			rows.Close()
			return nil, "", fmt.Errorf("store: list incidents: %w", err)
		}
		if len(items) == limit {
			next = encodeCursor(last)
			break
		}
		in, err := s.decode(doc)
		if err != nil {
			rows.Close()
			return nil, "", err
		}
		items, last = append(items, in), c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list incidents: %w", err)
	}
	return items, next, nil
}

// decode reads a stored snapshot and computes what is computed at read time.
func (s *Store) decode(doc []byte) (*incident.Incident, error) {
	in := new(incident.Incident)
	if err := json.Unmarshal(doc, in); err != nil {
		return nil, fmt.Errorf("store: decode incident: %w", err)
	}
	in.Overdue = in.OverdueAt(s.now())
	return in, nil
}

// where builds a WHERE clause with numbered parameters.
type where struct {
	conds []string
	args  []any
}

// arg adds a parameter and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// and adds a condition.
func (w *where) and(cond string) { w.conds = append(w.conds, cond) }

// sql returns "WHERE c1 AND c2 …", or "" without conditions.
func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(w.conds, " AND ")
}

// Stranded returns up to limit incidents still "received" that were
// reported before cutoff, oldest first: reports the API recorded but whose
// publication to the dispatcher may have been lost (a crash between the two).
func (s *Store) Stranded(ctx context.Context, cutoff time.Time, limit int) ([]*incident.Incident, error) {
	rows, err := s.pool.Query(ctx, `
SELECT doc FROM incidents
WHERE status = 'received' AND reported_at < $1
ORDER BY reported_at, id
LIMIT $2`, cutoff, limit)
	if err != nil {
		return nil, fmt.Errorf("store: stranded incidents: %w", err)
	}
	docs, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("store: stranded incidents: %w", err)
	}
	out := make([]*incident.Incident, 0, len(docs))
	for _, d := range docs {
		in, err := s.decode(d)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}
