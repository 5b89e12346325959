package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
)

// DelegationRequest is the body of POST /v1/delegations.
type DelegationRequest struct {
	Item     string          `json:"item" minLength:"1" maxLength:"64" example:"SR-004" doc:"Code of the responsibility-list item the matter falls under."`
	Street   string          `json:"street" minLength:"1" maxLength:"64" example:"FH" doc:"The street the department hands the matter down to."`
	Note     string          `json:"note" minLength:"1" doc:"What the matter is; it becomes the incident's description. At most 4000 bytes."`
	Location *ReportLocation `json:"location,omitempty" doc:"Where the matter is, if known."`
}

// Delegation is one attempt by a department to hand a matter down to a
// street (准入), accepted or refused.
type Delegation struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	Department string    `json:"department" example:"CG"`
	Actor      string    `json:"actor" example:"department:CG:li"`
	Item       string    `json:"item" example:"SR-004"`
	Street     string    `json:"street" example:"FH"`
	Note       string    `json:"note"`
	Accepted   bool      `json:"accepted"`
	Reason     string    `json:"reason" doc:"Why a refused attempt was refused; empty when accepted."`
	IncidentID string    `json:"incident_id" doc:"The incident an accepted delegation created, now with the street (triage)."`
}

type delegationInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"200" doc:"Repeat a delegation safely: the same key from the same user answers the first delegation and creates nothing."`
	Body           DelegationRequest
}

type delegationOutput struct {
	Location string `header:"Location" doc:"/v1/incidents/{incident_id}"`
	Body     Delegation
}

// DelegationPage is a page of delegation attempts.
type DelegationPage struct {
	Items      []Delegation `json:"items"`
	NextCursor string       `json:"next_cursor" doc:"Pass as cursor to get the next page; empty on the last page."`
}

type delegationsInput struct {
	Street     string `query:"street" maxLength:"64" doc:"Only attempts towards this street (a street user: its own, the default)."`
	Department string `query:"department" maxLength:"64" doc:"Only attempts by this department (a department user: its own, the default)."`
	Accepted   string `query:"accepted" enum:"true,false" doc:"Only accepted (true) or refused (false) attempts."`
	Limit      int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	Cursor     string `query:"cursor" maxLength:"1000" doc:"next_cursor of the previous page."`
}

type delegationsOutput struct {
	Body DelegationPage
}

func (s *Server) registerDelegations() {
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "createDelegation", Method: http.MethodPost, Path: "/v1/delegations", Tags: []string{"Delegations"},
		Summary: "Hand a matter down to a street (准入)",
		Description: "A department hands a matter down to a street. Admission control: accepted (201) only when the " +
			"responsibility list makes the street responsible (a community- or street-tier item); the matter then " +
			"becomes an incident with the street (triage). Otherwise 422 with the reason. Every attempt, accepted or " +
			"refused, is recorded for the district (GET /v1/delegations).",
		DefaultStatus: http.StatusCreated,
		MaxBodyBytes:  MaxReportBytes,
		Errors:        []int{http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, incident.RoleDepartment), s.createDelegation)
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "listDelegations", Method: http.MethodGet, Path: "/v1/delegations", Tags: []string{"Delegations"},
		Summary:     "Delegation attempts",
		Description: "Every attempt to hand a matter down, newest first. The district and admin see all; a street sees those towards it; a department its own.",
		Errors:      []int{http.StatusForbidden, http.StatusUnprocessableEntity},
	}, incident.RoleStreet, incident.RoleDepartment, incident.RoleDistrict, incident.RoleAdmin), s.listDelegations)
}

func (s *Server) createDelegation(ctx context.Context, in *delegationInput) (*delegationOutput, error) {
	a := actorFrom(ctx)
	b := in.Body
	if len(b.Note) > incident.MaxDescriptionLen {
		return nil, invalidField("body.note", "note is longer than %d bytes", incident.MaxDescriptionLen)
	}
	if strings.TrimSpace(b.Note) == "" {
		return nil, invalidField("body.note", "note is required: say what the matter is")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, s.fail(ctx, fmt.Errorf("new delegation id: %w", err), "body", "create a delegation id")
	}
	now := s.now().UTC()
	d := store.Delegation{
		ID: id.String(), At: now, Department: a.Org, Actor: a.String(), Item: b.Item, Street: b.Street, Note: b.Note,
	}
	it, err := s.jur().Admit(b.Item, b.Street)
	var de *incident.Error
	if errors.As(err, &de) {
		// Refused: every attempt is recorded for the district.
		d.Reason = de.Message
		if err := s.cfg.Store.RecordRefusedDelegation(ctx, d); err != nil {
			return nil, s.fail(ctx, err, "body", "record the refused delegation")
		}
		return nil, fromDomain(de, "body")
	} else if err != nil {
		return nil, s.fail(ctx, err, "body", "check the delegation")
	}
	if s.cfg.Publisher == nil {
		return nil, unavailable("delegations cannot be queued for dispatch: no publisher configured")
	}
	iid, err := uuid.NewV7()
	if err != nil {
		return nil, s.fail(ctx, fmt.Errorf("new incident id: %w", err), "body", "create an incident id")
	}
	r := incident.Report{
		IncidentID: iid.String(), Category: it.Code, Street: b.Street, Description: b.Note,
		Photos: []string{}, ReportedAt: now, Reporter: a.String(), Delegation: d.ID, Channel: incident.ChannelDelegation,
	}
	if b.Location != nil {
		r.Location = incident.Location{Lat: b.Location.Lat, Lng: b.Location.Lng, Address: b.Location.Address}
	}
	got, created, err := s.cfg.Store.Delegate(ctx, d, r, it.Snapshot(), in.IdempotencyKey)
	if err != nil {
		return nil, s.fail(ctx, err, "body", "record the delegation")
	}
	if created {
		if err := s.publishNew(ctx, r); err != nil {
			return nil, err
		}
	} else if err := s.republish(ctx, got.IncidentID); err != nil {
		return nil, err
	}
	return &delegationOutput{Location: "/v1/incidents/" + got.IncidentID, Body: delegationOf(got)}, nil
}

func (s *Server) listDelegations(ctx context.Context, in *delegationsInput) (*delegationsOutput, error) {
	f := store.DelegationFilter{Street: in.Street, Department: in.Department, Limit: in.Limit, Cursor: in.Cursor}
	switch in.Accepted {
	case "true", "false":
		v := in.Accepted == "true"
		f.Accepted = &v
	}
	rows, next, err := s.cfg.Store.Delegations(ctx, scopeOf(ctx), f)
	if err != nil {
		return nil, s.fail(ctx, err, "query", "list delegations")
	}
	out := &delegationsOutput{Body: DelegationPage{Items: make([]Delegation, len(rows)), NextCursor: next}}
	for i, d := range rows {
		out.Body.Items[i] = delegationOf(d)
	}
	return out, nil
}

func delegationOf(d store.Delegation) Delegation {
	return Delegation{
		ID: d.ID, At: d.At, Department: d.Department, Actor: d.Actor, Item: d.Item, Street: d.Street,
		Note: d.Note, Accepted: d.Accepted, Reason: d.Reason, IncidentID: d.IncidentID,
	}
}
