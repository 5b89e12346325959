package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/incident"
)

// Delegation is one attempt by a department to hand a matter down to a
// street (准入): accepted when the responsibility list makes the street
// responsible, refused otherwise with the reason.
type Delegation struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	Department string    `json:"department"`
	Actor      string    `json:"actor"`
	Item       string    `json:"item"`
	Street     string    `json:"street"`
	Note       string    `json:"note"`
	Accepted   bool      `json:"accepted"`
	Reason     string    `json:"reason"`
	// IncidentID is the incident an accepted delegation created.
	IncidentID string `json:"incident_id"`
}

// RecordRefusedDelegation stores a refused attempt (d.Accepted false).
func (s *Store) RecordRefusedDelegation(ctx context.Context, d Delegation) error {
	if d.Accepted {
		return errors.New("store: RecordRefusedDelegation of an accepted delegation")
	}
	_, err := s.pool.Exec(ctx, `
INSERT INTO delegations (id, at, department, actor, item, street, note, accepted, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7, false, $8)`,
		d.ID, d.At, clean(d.Department), clean(d.Actor), clean(d.Item), clean(d.Street), clean(d.Note), clean(d.Reason))
	if err != nil {
		return fmt.Errorf("store: record delegation %s: %w", d.ID, err)
	}
	return nil
}

// Delegate stores an accepted delegation and the incident it hands down:
// the incident as received (see CreateReceived, with r.Delegation = d.ID),
// then the delegation pointing at it. A repeat with the same idempotency key
// (per actor) finds the first incident and its delegation and creates
// nothing: it returns the stored delegation with created false.
func (s *Store) Delegate(ctx context.Context, d Delegation, r incident.Report, item incident.Item, idemKey string) (_ Delegation, created bool, err error) {
	d.Accepted = true
	r.Delegation = d.ID
	id, created, err := s.CreateReceived(ctx, r, item, idemKey)
	if err != nil {
		return Delegation{}, false, err
	}
	d.IncidentID = id
	err = s.pool.QueryRow(ctx, `
INSERT INTO delegations (id, at, department, actor, item, street, note, accepted, incident_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, true, $8)
ON CONFLICT (incident_id) DO UPDATE SET incident_id = EXCLUDED.incident_id
RETURNING id, at, department, actor, item, street, note, accepted, reason, coalesce(incident_id, '')`,
		d.ID, d.At, clean(d.Department), clean(d.Actor), clean(d.Item), clean(d.Street), clean(d.Note), id).
		Scan(&d.ID, &d.At, &d.Department, &d.Actor, &d.Item, &d.Street, &d.Note, &d.Accepted, &d.Reason, &d.IncidentID)
	if err != nil {
		return Delegation{}, false, fmt.Errorf("store: record delegation %s: %w", d.ID, err)
	}
	return d, created, nil
}

// DelegationFilter narrows Delegations; zero fields do not filter.
type DelegationFilter struct {
	Street     string
	Department string
	Accepted   *bool
	Limit      int    // page size; see pageLimit
	Cursor     string // next_cursor of the previous page
}

type delegationCursor struct {
	At time.Time `json:"at"`
	ID string    `json:"id"`
}

// Delegations lists the delegation attempts of sc (a street's towards it,
// a department's own) newest first, a page at a time; it returns the
// cursor of the next page, "" on the last.
func (s *Store) Delegations(ctx context.Context, sc Scope, f DelegationFilter) ([]Delegation, string, error) {
	if err := sc.only("delegations", incident.RoleStreet, incident.RoleDepartment); err != nil {
		return nil, "", err
	}
	var err error
	if f.Street, err = sc.narrow(incident.RoleStreet, "delegations", f.Street); err != nil {
		return nil, "", err
	}
	if f.Department, err = sc.narrow(incident.RoleDepartment, "delegations", f.Department); err != nil {
		return nil, "", err
	}
	limit := pageLimit(f.Limit)
	var cur delegationCursor
	if f.Cursor != "" {
		if err := decodeCursor(f.Cursor, &cur); err != nil {
			return nil, "", err
		}
	}
	rows, err := s.pool.Query(ctx, `
SELECT id, at, department, actor, item, street, note, accepted, reason, coalesce(incident_id, '')
FROM delegations
WHERE ($1 = '' OR street = $1) AND ($2 = '' OR department = $2) AND ($3::boolean IS NULL OR accepted = $3)
  AND ($4 = '' OR (at, id) < ($5, $4))
ORDER BY at DESC, id DESC
LIMIT $6`, f.Street, f.Department, f.Accepted, cur.ID, cur.At, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("store: list delegations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Delegation, error) {
		var d Delegation
		err := row.Scan(&d.ID, &d.At, &d.Department, &d.Actor, &d.Item, &d.Street, &d.Note, &d.Accepted, &d.Reason, &d.IncidentID)
		return d, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: list delegations: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeCursor(delegationCursor{At: last.At, ID: last.ID})
	}
	return out, next, nil
}
