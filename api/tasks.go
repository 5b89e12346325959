package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
)

// TaskRow is a task in a department's inbox, with what the inbox shows of
// its incident.
type TaskRow struct {
	incident.Task
	IncidentID     string `json:"incident_id"`
	Street         string `json:"street"`
	Category       string `json:"category"`
	ItemName       string `json:"item_name"`
	IncidentStatus string `json:"incident_status"`
	Description    string `json:"description" doc:"The incident's description: what the report says."`
	Overdue        bool   `json:"overdue" doc:"Whether one of the task's running deadlines has passed."`
}

// TaskPage is a page of a department's inbox.
type TaskPage struct {
	Items      []TaskRow `json:"items"`
	NextCursor string    `json:"next_cursor" doc:"Pass as cursor to get the next page; empty on the last page."`
}

type listTasksInput struct {
	Code   string `path:"code" maxLength:"64" doc:"Department code."`
	Status string `query:"status" enum:"pending_ack,acknowledged,returned,completed,cancelled" doc:"Only tasks in this status."`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"1000" doc:"next_cursor of the previous page."`
}

type listTasksOutput struct {
	Body TaskPage
}

func (s *Server) registerTasks() {
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "listDepartmentTasks", Method: http.MethodGet, Path: "/v1/departments/{code}/tasks", Tags: []string{"Tasks"},
		Summary: "A department's inbox",
		Description: "The department's tasks: open ones first by nearest deadline, then the others, newest first. " +
			"A department reads only its own inbox.",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, incident.RoleDepartment, incident.RoleDistrict, incident.RoleAdmin), s.listTasks)
}

func (s *Server) listTasks(ctx context.Context, in *listTasksInput) (*listTasksOutput, error) {
	if _, ok := s.jur().Department(in.Code); !ok {
		return nil, newProblem(http.StatusNotFound, "no department %s", in.Code)
	}
	rows, next, err := s.cfg.Store.Tasks(ctx, scopeOf(ctx), store.TaskFilter{Department: in.Code, Status: in.Status, Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, s.fail(ctx, err, "query", "list tasks")
	}
	out := &listTasksOutput{Body: TaskPage{Items: make([]TaskRow, len(rows)), NextCursor: next}}
	for i, r := range rows {
		out.Body.Items[i] = TaskRow{Task: r.Task, IncidentID: r.IncidentID, Street: r.Street, Category: r.Category,
			ItemName: r.ItemName, IncidentStatus: r.IncidentStatus, Description: r.Description, Overdue: r.Overdue}
	}
	return out, nil
}
