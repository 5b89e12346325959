package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
)

// readers are the roles that may read incidents (each within its scope: an
// intake system reads what came in by its channel).
var readers = []incident.Role{incident.RoleGridWorker, incident.RoleStreet, incident.RoleDepartment, incident.RoleDistrict, incident.RoleAdmin, incident.RoleIntake}

type incidentPath struct {
	ID string `path:"id" maxLength:"200" doc:"Incident id."`
}

type incidentOutput struct {
	Body *incident.Incident
}

// IncidentView is an incident as GET /v1/incidents/{id} answers it: the
// incident and, for a duplicate, a summary of its original.
type IncidentView struct {
	*incident.Incident
	// Original summarises the incident this one duplicates (duplicate_of),
	// so that its reporter, who may not be allowed to read the original,
	// follows its progress. Only on a duplicate.
	Original *OriginalSummary `json:"original,omitempty"`
}

// OriginalSummary is what a duplicate's reader sees of its original: where
// it stands, and its departments' tasks, no more.
type OriginalSummary struct {
	ID       string          `json:"id"`
	Status   incident.Status `json:"status"`
	Tasks    []OriginalTask  `json:"tasks"`
	ClosedAt *time.Time      `json:"closed_at"`
}

// OriginalTask is one task of an original: which department, and where it
// stands. Every task of every round, in the original's order.
type OriginalTask struct {
	Department string              `json:"department"`
	Status     incident.TaskStatus `json:"status"`
}

type incidentViewOutput struct {
	Body *IncidentView
}

// maxOriginalHops bounds how far a duplicate's original is followed when the
// original is itself a duplicate.
const maxOriginalHops = 3

// IncidentPage is a page of incidents.
type IncidentPage struct {
	Items      []*incident.Incident `json:"items"`
	NextCursor string               `json:"next_cursor" doc:"Pass as cursor to get the next page; empty on the last page."`
}

type listIncidentsInput struct {
	Status      string       `query:"status" enum:"received,community,triage,dispatched,verifying,awaiting_feedback,suspended,closed,rejected" doc:"Only incidents in this status."`
	Street      string       `query:"street" maxLength:"64" doc:"Only incidents of this street (a street user may only give its own)."`
	Department  string       `query:"department" maxLength:"64" doc:"Only incidents with a task of this department (a department user may only give its own)."`
	Grid        string       `query:"grid" maxLength:"64" doc:"Only incidents of this grid (a grid worker may only give its own)."`
	Overdue     OptionalBool `query:"overdue" doc:"Only incidents that are (true) or are not (false) overdue now."`
	Repeat      OptionalBool `query:"repeat" doc:"Only incidents that are (true) or are not (false) repeats (重复诉求) of one closed before."`
	DuplicateOf string       `query:"duplicate_of" maxLength:"200" doc:"Only the duplicates of this incident."`
	Limit       int          `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	Cursor      string       `query:"cursor" maxLength:"1000" doc:"next_cursor of the previous page."`
}

type listIncidentsOutput struct {
	Body IncidentPage
}

func (s *Server) registerIncidents() {
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "getIncident", Method: http.MethodGet, Path: "/v1/incidents/{id}", Tags: []string{"Incidents"},
		Summary: "Get an incident",
		Description: "The incident with its tasks and timeline. Right after the 202 of a report it exists (at least as " +
			"`received`). A grid worker reads its grid's incidents, a street its street's, a department those it has " +
			"a task on or handed down (POST /v1/delegations), district and admin all; any other incident answers 404. A duplicate (`duplicate_of`) also " +
			"carries `original`: the original's status, its tasks' departments and statuses, and when it closed.",
		Errors: []int{http.StatusNotFound},
	}, readers...), s.getIncident)

	huma.Register(s.api, secured(huma.Operation{
		OperationID: "listIncidents", Method: http.MethodGet, Path: "/v1/incidents", Tags: []string{"Incidents"},
		Summary: "List incidents",
		Description: "Incidents newest first, filtered, a page at a time. The caller's scope is always applied: a grid " +
			"worker sees its grid, a street its street, a department the incidents it has tasks on; asking for " +
			"another grid, street or department answers 403.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, readers...), s.listIncidents)
}

func (s *Server) getIncident(ctx context.Context, in *incidentPath) (*incidentViewOutput, error) {
	inc, err := s.cfg.Store.Incident(ctx, scopeOf(ctx), in.ID)
	if err != nil {
		return nil, s.fail(ctx, err, "path", "read the incident")
	}
	inc.Overdue = inc.OverdueAt(s.now())
	view := &IncidentView{Incident: inc}
	if inc.DuplicateOf != nil {
		if view.Original, err = s.original(ctx, *inc.DuplicateOf); err != nil {
			return nil, s.fail(ctx, err, "path", "read the original of the duplicate")
		}
	}
	return &incidentViewOutput{Body: view}, nil
}

// original summarises the incident with the given id for the readers of its
// duplicate, whoever may read it. Should it be a duplicate itself (two
// reports dispatched at the same moment can be linked in a chain), its own
// original is followed, up to maxOriginalHops. An original that is not
// there is left out (nil).
func (s *Server) original(ctx context.Context, id string) (*OriginalSummary, error) {
	var orig *incident.Incident
	for range maxOriginalHops {
		// The duplicate's reader follows its original, whoever may read it.
		in, err := s.cfg.Store.Incident(ctx, store.Everything, id)
		if incident.ErrorCode(err) == incident.CodeNotFound {
			break
		}
		if err != nil {
			return nil, err
		}
		orig = in
		if in.DuplicateOf == nil {
			break
		}
		id = *in.DuplicateOf
	}
	if orig == nil {
		return nil, nil
	}
	sum := &OriginalSummary{ID: orig.ID, Status: orig.Status, Tasks: make([]OriginalTask, len(orig.Tasks)), ClosedAt: orig.ClosedAt}
	for i, t := range orig.Tasks {
		sum.Tasks[i] = OriginalTask{Department: t.Department, Status: t.Status}
	}
	return sum, nil
}

func (s *Server) listIncidents(ctx context.Context, in *listIncidentsInput) (*listIncidentsOutput, error) {
	f := store.IncidentFilter{
		Status: in.Status, Street: in.Street, Department: in.Department, Grid: in.Grid,
		Overdue: in.Overdue.Ptr(), Repeat: in.Repeat.Ptr(), DuplicateOf: in.DuplicateOf, Limit: in.Limit, Cursor: in.Cursor,
	}
	items, next, err := s.cfg.Store.Incidents(ctx, scopeOf(ctx), f)
	if err != nil {
		return nil, s.fail(ctx, err, "query", "list incidents")
	}
	now := s.now()
	for _, it := range items {
		it.Overdue = it.OverdueAt(now)
	}
	if items == nil {
		items = []*incident.Incident{}
	}
	return &listIncidentsOutput{Body: IncidentPage{Items: items, NextCursor: next}}, nil
}
