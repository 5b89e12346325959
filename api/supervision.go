package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
)

// OverdueItem is one missed deadline on the overdue board: an open task of
// a dispatched incident past its acknowledgement (kind ack) or resolution
// (kind resolve) deadline. A task past both appears once per kind.
type OverdueItem struct {
	IncidentID     string    `json:"incident_id"`
	TaskID         string    `json:"task_id"`
	Department     string    `json:"department" example:"CG"`
	Street         string    `json:"street" example:"FH"`
	Item           string    `json:"item" example:"SR-001" doc:"Item code of the responsibility list (the incident's category)."`
	ItemName       string    `json:"item_name" example:"占道经营" doc:"Item name."`
	Kind           string    `json:"kind" enum:"ack,resolve" doc:"Which deadline was missed: ack (报到) or resolve."`
	Due            time.Time `json:"due" doc:"The missed deadline."`
	OverdueSeconds int64     `json:"overdue_seconds" example:"5400" doc:"How long ago the deadline passed, in seconds."`
	Level          int       `json:"level" example:"2" doc:"The task's escalation level: 1 催办, 2 督办, 3 district supervision (通报)."`
}

// OverduePage is a page of the overdue board.
type OverduePage struct {
	Items      []OverdueItem `json:"items"`
	NextCursor string        `json:"next_cursor" doc:"Pass as cursor to get the next page; empty on the last page."`
}

type overdueInput struct {
	Street     string `query:"street" maxLength:"64" doc:"Only tasks of this street (a street user may only give its own, which is also the default)."`
	Department string `query:"department" maxLength:"64" doc:"Only tasks of this department."`
	Kind       string `query:"kind" enum:"ack,resolve" doc:"Only missed acknowledgement (ack) or resolution (resolve) deadlines."`
	MinLevel   int    `query:"min_level" minimum:"0" maximum:"100" doc:"Only tasks escalated to at least this level."`
	Limit      int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	Cursor     string `query:"cursor" maxLength:"1000" doc:"next_cursor of the previous page."`
}

type overdueOutput struct {
	Body OverduePage
}

func (s *Server) registerSupervision() {
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "listOverdue", Method: http.MethodGet, Path: "/v1/supervision/overdue", Tags: []string{"Supervision"},
		Summary: "The overdue board",
		Description: "Every deadline that open tasks of dispatched incidents have missed, most overdue first, filtered " +
			"by street, department, kind and minimum escalation level, a page at a time. A street supervisor sees " +
			"its own street only (asking for another street answers 403); district and admin see every street.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin), s.listOverdue)
}

func (s *Server) listOverdue(ctx context.Context, in *overdueInput) (*overdueOutput, error) {
	a := actorFrom(ctx)
	f := store.OverdueFilter{
		Street: in.Street, Department: in.Department, Kind: in.Kind, MinLevel: in.MinLevel,
		Limit: in.Limit, Cursor: in.Cursor,
	}
	if a.Role == incident.RoleStreet {
		if f.Street != "" && f.Street != a.Org {
			return nil, newProblem(http.StatusForbidden, "street %s may not supervise street %s", a.Org, f.Street)
		}
		f.Street = a.Org
	}
	rows, next, err := s.cfg.Store.OverdueTasks(ctx, f)
	if err != nil {
		return nil, s.fail(ctx, err, "query", "list overdue tasks")
	}
	out := &overdueOutput{Body: OverduePage{Items: make([]OverdueItem, len(rows)), NextCursor: next}}
	for i, r := range rows {
		out.Body.Items[i] = OverdueItem{
			IncidentID: r.IncidentID, TaskID: r.TaskID, Department: r.Department, Street: r.Street,
			Item: r.Item, ItemName: r.ItemName, Kind: r.Kind, Due: r.Due, OverdueSeconds: r.OverdueSeconds, Level: r.Level,
		}
	}
	return out, nil
}
