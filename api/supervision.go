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
	IncidentID     string     `json:"incident_id"`
	TaskID         string     `json:"task_id"`
	Department     string     `json:"department" example:"CG"`
	Street         string     `json:"street" example:"FH"`
	Item           string     `json:"item" example:"SR-001" doc:"Item code of the responsibility list (the incident's category)."`
	ItemName       string     `json:"item_name" example:"占道经营" doc:"Item name."`
	Kind           string     `json:"kind" enum:"ack,resolve" doc:"Which deadline was missed: ack (报到) or resolve."`
	Due            time.Time  `json:"due" doc:"The missed deadline."`
	OverdueSeconds int64      `json:"overdue_seconds" example:"5400" doc:"How long ago the deadline passed, in seconds."`
	Level          int        `json:"level" example:"2" doc:"The task's escalation level: 1 催办, 2 督办, 3 district supervision (通报)."`
	Description    string     `json:"description" doc:"The incident's description: what the report says."`
	NextLevel      int        `json:"next_level" example:"3" doc:"The next level of this deadline's escalation ladder; 0 at its top."`
	NextLevelAt    *time.Time `json:"next_level_at" doc:"When the next level comes unless the task moves; null at the ladder's top."`
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
	s.registerDisputes()
}

func (s *Server) listOverdue(ctx context.Context, in *overdueInput) (*overdueOutput, error) {
	f := store.OverdueFilter{
		Street: in.Street, Department: in.Department, Kind: in.Kind, MinLevel: in.MinLevel,
		Limit: in.Limit, Cursor: in.Cursor,
	}
	rows, next, err := s.cfg.Store.OverdueTasks(ctx, scopeOf(ctx), f)
	if err != nil {
		return nil, s.fail(ctx, err, "query", "list overdue tasks")
	}
	out := &overdueOutput{Body: OverduePage{Items: make([]OverdueItem, len(rows)), NextCursor: next}}
	for i, r := range rows {
		out.Body.Items[i] = OverdueItem{
			IncidentID: r.IncidentID, TaskID: r.TaskID, Department: r.Department, Street: r.Street,
			Item: r.Item, ItemName: r.ItemName, Kind: r.Kind, Due: r.Due, OverdueSeconds: r.OverdueSeconds, Level: r.Level,
			Description: r.Description, NextLevel: r.NextLevel, NextLevelAt: r.NextLevelAt,
		}
	}
	return out, nil
}

// DisputeItem is one return (退单) awaiting arbitration: a task its
// department returned that is neither reassigned nor overruled yet.
type DisputeItem struct {
	IncidentID string     `json:"incident_id"`
	TaskID     string     `json:"task_id"`
	Department string     `json:"department" example:"SCJG" doc:"The department that returned the task."`
	Street     string     `json:"street" example:"FH"`
	Item       string     `json:"item" example:"SR-001" doc:"Item code of the responsibility list (the incident's category)."`
	ItemName   string     `json:"item_name" example:"占道经营" doc:"Item name."`
	Reason     string     `json:"reason" doc:"The reason the department gave."`
	ReturnedAt time.Time  `json:"returned_at" doc:"When it was returned (the latest return)."`
	Returns    int        `json:"returns" example:"1" doc:"How often the department returned this task, this time included."`
	Referred   bool       `json:"referred" doc:"The street referred the return to the district, which decides it now."`
	ReferredAt *time.Time `json:"referred_at" doc:"When it was referred; null when not."`
	ReferNote  string     `json:"refer_note" doc:"Why the street referred it."`
}

// DisputePage is a page of the dispute queue.
type DisputePage struct {
	Items      []DisputeItem `json:"items"`
	NextCursor string        `json:"next_cursor" doc:"Pass as cursor to get the next page; empty on the last page."`
}

type disputesInput struct {
	Street     string       `query:"street" maxLength:"64" doc:"Only returns of this street (a street user may only give its own, which is also the default)."`
	Department string       `query:"department" maxLength:"64" doc:"Only returns made by this department."`
	Referred   OptionalBool `query:"referred" doc:"Only returns referred to the district (true: what the district decides) or only those the street still holds (false)."`
	Limit      int          `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	Cursor     string       `query:"cursor" maxLength:"1000" doc:"next_cursor of the previous page."`
}

type disputesOutput struct {
	Body DisputePage
}

// ExtensionItem is a department's request to move a task's resolution
// deadline (延期) that awaits the street's decision.
type ExtensionItem struct {
	IncidentID  string    `json:"incident_id"`
	TaskID      string    `json:"task_id"`
	Department  string    `json:"department" example:"CG" doc:"The department that asked."`
	Street      string    `json:"street" example:"FH"`
	Item        string    `json:"item" example:"SR-001" doc:"Item code of the responsibility list (the incident's category)."`
	ItemName    string    `json:"item_name" example:"占道经营" doc:"Item name."`
	Description string    `json:"description" doc:"The incident's description: what the report says."`
	ResolveDue  time.Time `json:"resolve_due" doc:"The resolution deadline in force."`
	Until       time.Time `json:"until" doc:"The resolution deadline asked for."`
	Reason      string    `json:"reason" doc:"Why the department needs more time."`
	RequestedAt time.Time `json:"requested_at"`
	RequestedBy string    `json:"requested_by" example:"department:CG:chen" doc:"Who asked: role:org:sub."`
}

// ExtensionPage is a page of the extension requests.
type ExtensionPage struct {
	Items      []ExtensionItem `json:"items"`
	NextCursor string          `json:"next_cursor" doc:"Pass as cursor to get the next page; empty on the last page."`
}

type extensionsInput struct {
	Street     string `query:"street" maxLength:"64" doc:"Only requests of this street (a street user may only give its own, which is also the default)."`
	Department string `query:"department" maxLength:"64" doc:"Only requests of this department."`
	Limit      int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	Cursor     string `query:"cursor" maxLength:"1000" doc:"next_cursor of the previous page."`
}

type extensionsOutput struct {
	Body ExtensionPage
}

// ReviewItem is one timeline entry the district reviews.
type ReviewItem struct {
	IncidentID string    `json:"incident_id"`
	Street     string    `json:"street" example:"FH"`
	Item       string    `json:"item" example:"SR-001" doc:"Item code of the responsibility list (the incident's category)."`
	At         time.Time `json:"at"`
	Type       string    `json:"type" enum:"routing_override,returned,overruled,reassigned,dispute_referred,enforcement_called"`
	Actor      string    `json:"actor" example:"street:FH:li.ming" doc:"Who: role:org:sub."`
	Note       string    `json:"note" doc:"The entry's note: the reason, or for a routing override \"CG,SCJG → ZJ: reason\"."`
	TaskID     string    `json:"task_id" doc:"The task concerned; empty for an entry about the whole incident."`
	Department string    `json:"department" doc:"The task's department; empty likewise."`
}

// ReviewPage is a page of the district's review.
type ReviewPage struct {
	Items      []ReviewItem `json:"items"`
	NextCursor string       `json:"next_cursor" doc:"Pass as cursor to get the next page; empty on the last page."`
}

type reviewInput struct {
	Type   string `query:"type" enum:"routing_override,returned,overruled,reassigned,dispute_referred,enforcement_called" doc:"Only entries of this type (default: all of them)."`
	Street string `query:"street" maxLength:"64" doc:"Only entries of this street's incidents (a street user may only give its own, which is also the default)."`
	From   string `query:"from" doc:"Only entries at or after: RFC 3339, or YYYY-MM-DD (midnight in the district's time zone)."`
	To     string `query:"to" doc:"Only entries before: RFC 3339, or YYYY-MM-DD (that whole day included)."`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"1000" doc:"next_cursor of the previous page."`
}

type reviewOutput struct {
	Body ReviewPage
}

func (s *Server) registerDisputes() {
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "listDisputes", Method: http.MethodGet, Path: "/v1/supervision/disputes", Tags: []string{"Supervision"},
		Summary: "The dispute queue",
		Description: "Tasks their departments returned (退单) that wait for arbitration (reassign, overrule, or refer " +
			"to the district), oldest return first. `referred=true` is what the district decides. A street " +
			"supervisor sees its own street only (asking for another street answers 403); district and admin see " +
			"every street.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin), s.listDisputes)
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "listExtensions", Method: http.MethodGet, Path: "/v1/supervision/extensions", Tags: []string{"Supervision"},
		Summary: "Extension requests to decide",
		Description: "Open tasks whose department asked to move the resolution deadline (延期) and that await the " +
			"street's decision (POST /v1/tasks/{id}/extension/decision), oldest request first. A street supervisor " +
			"sees its own street only (asking for another street answers 403); district and admin see every street.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin), s.listExtensions)
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "listReview", Method: http.MethodGet, Path: "/v1/supervision/review", Tags: []string{"Supervision"},
		Summary: "The district's review",
		Description: "Timeline entries of the street's powers over the responsibility list and the departments' " +
			"disputes of it, newest first: routing overrides, returns, overrules, reassignments, referrals to the " +
			"district and enforcement calls. A street supervisor sees its own street only (asking for another " +
			"street answers 403); district and admin see every street.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin), s.listReview)
}

func (s *Server) listDisputes(ctx context.Context, in *disputesInput) (*disputesOutput, error) {
	rows, next, err := s.cfg.Store.Disputes(ctx, scopeOf(ctx), store.DisputeFilter{
		Street: in.Street, Department: in.Department, Referred: in.Referred.Ptr(), Limit: in.Limit, Cursor: in.Cursor,
	})
	if err != nil {
		return nil, s.fail(ctx, err, "query", "list disputes")
	}
	out := &disputesOutput{Body: DisputePage{Items: make([]DisputeItem, len(rows)), NextCursor: next}}
	for i, r := range rows {
		out.Body.Items[i] = DisputeItem{
			IncidentID: r.IncidentID, TaskID: r.TaskID, Department: r.Department, Street: r.Street, Item: r.Item,
			ItemName: r.ItemName, Reason: r.Reason, ReturnedAt: r.ReturnedAt, Returns: r.Returns, Referred: r.Referred,
			ReferredAt: r.ReferredAt, ReferNote: r.ReferNote,
		}
	}
	return out, nil
}

func (s *Server) listExtensions(ctx context.Context, in *extensionsInput) (*extensionsOutput, error) {
	rows, next, err := s.cfg.Store.Extensions(ctx, scopeOf(ctx), store.ExtensionFilter{
		Street: in.Street, Department: in.Department, Limit: in.Limit, Cursor: in.Cursor,
	})
	if err != nil {
		return nil, s.fail(ctx, err, "query", "list extension requests")
	}
	out := &extensionsOutput{Body: ExtensionPage{Items: make([]ExtensionItem, len(rows)), NextCursor: next}}
	for i, r := range rows {
		out.Body.Items[i] = ExtensionItem(r)
	}
	return out, nil
}

func (s *Server) listReview(ctx context.Context, in *reviewInput) (*reviewOutput, error) {
	f := store.ReviewFilter{Type: in.Type, Street: in.Street, Limit: in.Limit, Cursor: in.Cursor}
	loc := s.location()
	var err error
	if in.From != "" {
		if f.From, err = parseBound(in.From, loc, false); err != nil {
			return nil, invalidField("query.from", "from %q is neither RFC 3339 nor YYYY-MM-DD", in.From)
		}
	}
	if in.To != "" {
		if f.To, err = parseBound(in.To, loc, true); err != nil {
			return nil, invalidField("query.to", "to %q is neither RFC 3339 nor YYYY-MM-DD", in.To)
		}
	}
	rows, next, err := s.cfg.Store.Review(ctx, scopeOf(ctx), f)
	if err != nil {
		return nil, s.fail(ctx, err, "query", "list review entries")
	}
	out := &reviewOutput{Body: ReviewPage{Items: make([]ReviewItem, len(rows)), NextCursor: next}}
	for i, r := range rows {
		out.Body.Items[i] = ReviewItem{
			IncidentID: r.IncidentID, Street: r.Street, Item: r.Item, At: r.At, Type: r.Type, Actor: r.Actor,
			Note: r.Note, TaskID: r.TaskID, Department: r.Department,
		}
	}
	return out, nil
}
