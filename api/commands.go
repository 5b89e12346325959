package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
	"github.com/whistle-city/whistle/workflows"
)

// Request bodies of the commands (DESIGN.md §4).
type (
	// ResolveRequest is the body of POST /v1/incidents/{id}/resolve.
	ResolveRequest struct {
		Note string `json:"note" minLength:"1" doc:"How it was handled; at most 2000 bytes."`
	}
	// EscalateRequest is the body of POST /v1/incidents/{id}/escalate.
	EscalateRequest struct {
		Note string `json:"note" minLength:"1" doc:"Why the community cannot handle it; at most 2000 bytes."`
	}
	// WhistleRequest is the body of POST /v1/incidents/{id}/whistle.
	WhistleRequest struct {
		Departments []string `json:"departments,omitempty" maxItems:"50" doc:"Department codes to call, the first as lead; default: the item's lead and cooperating departments (with enforcement: the item's enforcement teams). Other departments than the list's are a routing override: give the reason in note."`
		Note        string   `json:"note,omitempty" doc:"Instructions for the departments; required as the reason of a routing override."`
		Enforcement bool     `json:"enforcement,omitempty" doc:"Call enforcement teams directly (执法指挥调度; several: 联合执法): every department must be an enforcement team; their tasks get the enforcement acknowledgement deadline. Allowed on an incident already dispatched, adding the teams to it."`
	}
	// AckRequest is the (optional) body of POST /v1/tasks/{id}/ack.
	AckRequest struct {
		Note string `json:"note,omitempty" doc:"Optional note."`
	}
	// CompleteRequest is the body of POST /v1/tasks/{id}/complete.
	CompleteRequest struct {
		Result string `json:"result" minLength:"1" doc:"What was done; at most 2000 bytes."`
		Note   string `json:"note,omitempty" doc:"Optional note."`
	}
	// ReturnRequest is the body of POST /v1/tasks/{id}/return.
	ReturnRequest struct {
		Reason string `json:"reason" minLength:"1" doc:"Why this is not the department's responsibility (退单)."`
	}
	// ReassignRequest is the body of POST /v1/tasks/{id}/reassign.
	ReassignRequest struct {
		Department string `json:"department" minLength:"1" maxLength:"64" doc:"Code of the department that takes the returned task over."`
		Note       string `json:"note,omitempty" doc:"Optional note on the arbitration."`
	}
	// RateRequest is the body of POST /v1/tasks/{id}/rate.
	RateRequest struct {
		Score int    `json:"score" minimum:"0" maximum:"100" doc:"The street's assessment of the completed task, 0..100 (考核)."`
		Note  string `json:"note,omitempty" doc:"Optional note."`
	}
	// OverruleRequest is the body of POST /v1/tasks/{id}/overrule.
	OverruleRequest struct {
		Note string `json:"note" minLength:"1" doc:"Why the return is overruled: the department must take the task."`
	}
	// ReferRequest is the body of POST /v1/tasks/{id}/refer.
	ReferRequest struct {
		Note string `json:"note" minLength:"1" doc:"Why the street cannot settle the dispute."`
	}
	// VerifyRequest is the body of POST /v1/incidents/{id}/verify.
	VerifyRequest struct {
		Passed bool   `json:"passed" doc:"Whether the on-site check (核查) found the work done; false sends the tasks back for rework."`
		Note   string `json:"note,omitempty" doc:"Optional note."`
	}
	// FeedbackRequest is the body of POST /v1/incidents/{id}/feedback.
	FeedbackRequest struct {
		Resolved bool            `json:"resolved" doc:"Whether the resident says the problem is solved."`
		Rating   incident.Rating `json:"rating" enum:"satisfied,basically_satisfied,unsatisfied" doc:"The resident's satisfaction; unsatisfied (or not resolved) reopens the incident (重办)."`
		Comment  string          `json:"comment,omitempty" doc:"The resident's words."`
	}
	// UrgeRequest is the body of POST /v1/incidents/{id}/urge.
	UrgeRequest struct {
		Note string `json:"note" minLength:"1" doc:"The reminder (催办); every department with an open task hears it."`
	}
	// SuspendRequest is the body of POST /v1/incidents/{id}/suspend.
	SuspendRequest struct {
		Reason   string    `json:"reason" minLength:"1" doc:"Why it cannot be solved now (挂账: budget, planning)."`
		ReviewAt time.Time `json:"review_at" doc:"When the street must look at it again; watched like a deadline."`
	}
	// ResumeRequest is the body of POST /v1/incidents/{id}/resume.
	ResumeRequest struct {
		Note string `json:"note,omitempty" doc:"Optional note."`
	}
	// ExtensionRequest is the body of POST /v1/tasks/{id}/extension.
	ExtensionRequest struct {
		Until  time.Time `json:"until" doc:"The resolution deadline asked for; later than the current one."`
		Reason string    `json:"reason" minLength:"1" doc:"Why more time is needed (延期)."`
	}
	// ExtensionDecisionRequest is the body of POST /v1/tasks/{id}/extension/decision.
	ExtensionDecisionRequest struct {
		Approve bool   `json:"approve" doc:"true moves the resolution deadline to the date asked for and re-arms its escalation ladder."`
		Note    string `json:"note,omitempty" doc:"Optional note."`
	}
)

// DefaultUpdateTimeout bounds how long a command waits for the workflow's answer;
// past it the API answers 503 (the command may still take effect).
const DefaultUpdateTimeout = 30 * time.Second

type commandInput[B any] struct {
	ID   string `path:"id" maxLength:"200"`
	Body B
}

func (s *Server) registerCommands() {
	gw, st, dep := incident.RoleGridWorker, incident.RoleStreet, incident.RoleDepartment
	registerCommand(s, huma.Operation{
		OperationID: "resolveIncident", Path: "/v1/incidents/{id}/resolve", Summary: "Resolve without departments",
		Description: "The grid worker (community-tier incident of its grid) or the street handles the incident itself; it moves on to the return visit.",
	}, []incident.Role{gw, st}, false, func(_ string, b ResolveRequest) incident.Resolve {
		return incident.Resolve{Note: b.Note}
	})
	registerCommand(s, huma.Operation{
		OperationID: "escalateIncident", Path: "/v1/incidents/{id}/escalate", Summary: "Escalate to the street",
		Description: "The community cannot handle it: up to the street (triage).",
	}, []incident.Role{gw}, false, func(_ string, b EscalateRequest) incident.Escalate {
		return incident.Escalate{Note: b.Note}
	})
	registerCommand(s, huma.Operation{
		OperationID: "whistleIncident", Path: "/v1/incidents/{id}/whistle", Summary: "Whistle departments (吹哨)",
		Description: "The street calls departments; each gets a task with acknowledgement and resolution deadlines. " +
			"Departments other than the responsibility list's need a reason in note (a routing override, recorded for the district's review). " +
			"With enforcement the street calls enforcement teams directly, on the shorter enforcement acknowledgement deadline.",
	}, []incident.Role{st}, false, func(_ string, b WhistleRequest) incident.Whistle {
		return incident.Whistle{Departments: b.Departments, Note: b.Note, Enforcement: b.Enforcement}
	})
	registerCommand(s, huma.Operation{
		OperationID: "verifyIncident", Path: "/v1/incidents/{id}/verify", Summary: "Verify on site (核查)",
		Description: "After every task is completed: passed moves on to the return visit, failed sends the tasks back for rework.",
	}, []incident.Role{gw, st}, false, func(_ string, b VerifyRequest) incident.Verify {
		return incident.Verify{Passed: b.Passed, Note: b.Note}
	})
	registerCommand(s, huma.Operation{
		OperationID: "recordFeedback", Path: "/v1/incidents/{id}/feedback", Summary: "Record the return visit (回访)",
		Description: "Satisfied or basically satisfied and resolved closes the incident; otherwise it is reopened (重办) up to the district's limit.",
	}, []incident.Role{st}, false, func(_ string, b FeedbackRequest) incident.GiveFeedback {
		return incident.GiveFeedback{Resolved: b.Resolved, Rating: b.Rating, Comment: b.Comment}
	})
	registerCommand(s, huma.Operation{
		OperationID: "ackTask", Path: "/v1/tasks/{id}/ack", Summary: "Acknowledge a task (报到)",
		Description: "The department reports in on its own task. The body is optional.",
	}, []incident.Role{dep}, true, func(id string, b *AckRequest) incident.Ack {
		c := incident.Ack{TaskID: id}
		if b != nil {
			c.Note = b.Note
		}
		return c
	})
	registerCommand(s, huma.Operation{
		OperationID: "completeTask", Path: "/v1/tasks/{id}/complete", Summary: "Complete a task",
		Description: "The department has done its acknowledged task.",
	}, []incident.Role{dep}, true, func(id string, b CompleteRequest) incident.Complete {
		return incident.Complete{TaskID: id, Result: b.Result, Note: b.Note}
	})
	registerCommand(s, huma.Operation{
		OperationID: "returnTask", Path: "/v1/tasks/{id}/return", Summary: "Return a task (退单)",
		Description: "The department disputes responsibility; the street arbitrates (reassign, overrule, or refer to the district). A department may return the same task only as often as the jurisdiction allows (disputes.max_returns, default once): after an overrule a second return is refused (409).",
	}, []incident.Role{dep}, true, func(id string, b ReturnRequest) incident.Return {
		return incident.Return{TaskID: id, Reason: b.Reason}
	})
	registerCommand(s, huma.Operation{
		OperationID: "reassignTask", Path: "/v1/tasks/{id}/reassign", Summary: "Reassign a returned task",
		Description: "The street (the district, once the dispute is referred to it) gives a returned task to another department.",
	}, []incident.Role{st, incident.RoleDistrict}, true, func(id string, b ReassignRequest) incident.Reassign {
		return incident.Reassign{TaskID: id, Department: b.Department, Note: b.Note}
	})
	registerCommand(s, huma.Operation{
		OperationID: "rateTask", Path: "/v1/tasks/{id}/rate", Summary: "Rate a completed task (考核)",
		Description: "The street scores a completed task of its own street, 0..100, once. Allowed while the incident runs and, after it closed, for the jurisdiction's assessment.rating_window (default 7 days). The score feeds the department's weighted score.",
	}, []incident.Role{st}, true, func(id string, b RateRequest) incident.Rate {
		return incident.Rate{TaskID: id, Score: b.Score, Note: b.Note}
	})
	registerCommand(s, huma.Operation{
		OperationID: "overruleReturn", Path: "/v1/tasks/{id}/overrule", Summary: "Overrule a return",
		Description: "The street (the district, once the dispute is referred to it) sends a returned task back to its department, which must take it: the task keeps the deadlines it had, and any escalation step passed meanwhile fires at once.",
	}, []incident.Role{st, incident.RoleDistrict}, true, func(id string, b OverruleRequest) incident.Overrule {
		return incident.Overrule{TaskID: id, Note: b.Note}
	})
	registerCommand(s, huma.Operation{
		OperationID: "referDispute", Path: "/v1/tasks/{id}/refer", Summary: "Refer a dispute to the district",
		Description: "The street cannot settle a return; the district decides it (reassign or overrule). Published on whistle.escalations.<street>.",
	}, []incident.Role{st}, true, func(id string, b ReferRequest) incident.Refer {
		return incident.Refer{TaskID: id, Note: b.Note}
	})
	registerCommand(s, huma.Operation{
		OperationID: "urgeIncident", Path: "/v1/incidents/{id}/urge", Summary: "Urge (催办)",
		Description: "A manual reminder by the street or the district, recorded on the timeline and published on whistle.escalations.<street> and whistle.tasks.<department> for each open task.",
	}, []incident.Role{st, incident.RoleDistrict}, false, func(_ string, b UrgeRequest) incident.Urge {
		return incident.Urge{Note: b.Note}
	})
	registerCommand(s, huma.Operation{
		OperationID: "suspendIncident", Path: "/v1/incidents/{id}/suspend", Summary: "Suspend (挂账)",
		Description: "The street parks an incident that cannot be solved now; its clocks stop until it is resumed, and the review date is watched.",
	}, []incident.Role{st}, false, func(_ string, b SuspendRequest) incident.Suspend {
		return incident.Suspend{Reason: b.Reason, ReviewAt: b.ReviewAt}
	})
	registerCommand(s, huma.Operation{
		OperationID: "resumeIncident", Path: "/v1/incidents/{id}/resume", Summary: "Resume a suspended incident",
		Description: "The clocks restart where they stopped: every deadline still ahead moves by the time the incident was suspended.",
	}, []incident.Role{st}, false, func(_ string, b *ResumeRequest) incident.Resume {
		c := incident.Resume{}
		if b != nil {
			c.Note = b.Note
		}
		return c
	})
	registerCommand(s, huma.Operation{
		OperationID: "requestExtension", Path: "/v1/tasks/{id}/extension", Summary: "Ask for an extension (延期)",
		Description: "The department asks, before its resolution deadline, for a later one; the street decides. A request after the deadline is refused (409).",
	}, []incident.Role{dep}, true, func(id string, b ExtensionRequest) incident.RequestExtension {
		return incident.RequestExtension{TaskID: id, Until: b.Until, Reason: b.Reason}
	})
	registerCommand(s, huma.Operation{
		OperationID: "decideExtension", Path: "/v1/tasks/{id}/extension/decision", Summary: "Approve or refuse an extension",
		Description: "The street decides a pending extension request; approval moves resolve_due and re-arms the ladder.",
	}, []incident.Role{st}, true, func(id string, b ExtensionDecisionRequest) incident.DecideExtension {
		return incident.DecideExtension{TaskID: id, Approve: b.Approve, Note: b.Note}
	})
}

// registerCommand registers one command endpoint: POST op.Path with body B,
// turned into the command C by build (given the path id), sent to the
// incident's workflow. onTask says the path id is a task id.
func registerCommand[B any, C incident.Command](s *Server, op huma.Operation, roles []incident.Role, onTask bool, build func(id string, b B) C) {
	op.Method = http.MethodPost
	op.MaxBodyBytes = MaxCommandBytes
	op.Tags = []string{"Commands"}
	op.Description += " Answers the incident after the command. A state that does not fit answers 409 with " +
		"`current_status`; an incident still `received` answers 409 with Retry-After: 1."
	op.Errors = []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge,
		http.StatusUnprocessableEntity, http.StatusServiceUnavailable}
	defer func() { // name the path id for what it is on this path
		doc := "Incident id."
		if onTask {
			doc = "Task id."
		}
		if pi := s.api.OpenAPI().Paths[op.Path]; pi != nil && pi.Post != nil {
			for _, p := range pi.Post.Parameters {
				if p.Name == "id" && p.In == "path" {
					p.Description = doc
				}
			}
		}
	}()
	huma.Register(s.api, secured(op, roles...), func(ctx context.Context, in *commandInput[B]) (*incidentOutput, error) {
		incidentID := in.ID
		if onTask {
			if incidentID = incident.IncidentOfTask(in.ID); incidentID == "" {
				return nil, newProblem(http.StatusNotFound, "no task %s", in.ID)
			}
		}
		return runCommand(ctx, s, incidentID, build(in.ID, in.Body))
	})
}

// runCommand sends cmd to the workflow of incident id as a Temporal Update
// and answers the incident after it. The read model is consulted first: an
// unknown incident is 404, a finished one 409, one still received 409 with
// Retry-After; references to departments are checked against the
// jurisdiction (422). The workflow's validator decides everything else.
//
// When the read model is unreachable the command still goes to the
// workflow, which is the source of truth and checks it anyway: a department
// that acknowledges while Postgres is down is on time, and the read model
// catches up when the database is back.
func runCommand[C incident.Command](ctx context.Context, s *Server, id string, cmd C) (*incidentOutput, error) {
	a := actorFrom(ctx)
	in, err := s.cfg.Store.Incident(ctx, id)
	if err != nil && store.IsUnavailable(err) {
		s.log.WarnContext(ctx, "read model unavailable: sending the command to the workflow unchecked", "incident", id, "err", err)
		in, err = &incident.Incident{ID: id}, nil
	}
	if err != nil {
		return nil, s.fail(ctx, err, "path", "read the incident")
	}
	_, rate := any(cmd).(incident.Rate)
	switch {
	case in.Status.Terminal() && !(rate && in.Status == incident.StatusClosed):
		return nil, conflict(string(in.Status), "incident %s is %s and takes no more commands", in.ID, in.Status)
	case in.Status == incident.StatusReceived:
		return nil, conflict(string(in.Status), "incident %s is still being dispatched: retry in a moment", in.ID).
			withHeader("Retry-After", "1")
	}
	if err := s.checkReferences(cmd); err != nil {
		return nil, err
	}
	if s.cfg.Temporal == nil {
		return nil, unavailable("commands are not available: no Temporal client configured")
	}
	uctx, cancel := context.WithTimeout(ctx, s.cfg.UpdateTimeout)
	defer cancel()
	h, err := s.cfg.Temporal.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   cmd.Name(),
		Args:         []any{workflows.UpdateInput[C]{Actor: a, Command: cmd}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var res workflows.Result
	if err == nil {
		err = h.Get(uctx, &res)
	}
	if err != nil {
		return nil, s.refused(ctx, in, cmd.Name(), err)
	}
	after, err := s.after(uctx, id, res)
	if err != nil {
		return nil, err
	}
	after.Overdue = after.OverdueAt(s.now())
	return &incidentOutput{Body: after}, nil
}

// after returns the incident as the command left it. The Update answers once
// its version is in the read model, so that is where it is read; should the
// read model be behind (another writer lost a race), the workflow is asked.
func (s *Server) after(ctx context.Context, id string, res workflows.Result) (*incident.Incident, error) {
	in, err := s.cfg.Store.Incident(ctx, id)
	if err == nil && in.Version >= res.Version {
		return in, nil
	}
	v, qerr := s.cfg.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryIncident)
	if qerr != nil {
		s.log.WarnContext(ctx, "incident after command", "incident", id, "store_err", err, "query_err", qerr)
		return nil, unavailable("the command was applied (incident version %d, status %s) but the incident cannot be read now; read it again shortly", res.Version, res.Status)
	}
	var q incident.Incident
	if err := v.Get(&q); err != nil {
		return nil, err
	}
	return &q, nil
}

// checkReferences checks the departments a command names against the
// jurisdiction.
func (s *Server) checkReferences(cmd incident.Command) error {
	j := s.jur()
	switch c := any(cmd).(type) {
	case incident.Whistle:
		for i, d := range c.Departments {
			dep, ok := j.Department(d)
			if !ok {
				return invalidField(fmt.Sprintf("body.departments[%d]", i), "unknown department %q", d)
			}
			if c.Enforcement && !dep.Enforcement {
				return invalidField(fmt.Sprintf("body.departments[%d]", i), "department %s is not an enforcement team: the street commands only enforcement teams directly", d)
			}
		}
	case incident.Reassign:
		if _, ok := j.Department(c.Department); !ok {
			return invalidField("body.department", "unknown department %q", c.Department)
		}
	}
	return nil
}

// refused turns the error of an Update into the answer: a refusal by the
// workflow's validator through fromDomain; a workflow Temporal does not know
// or that has finished as 409 with the status the read model has; anything
// else, an infrastructure failure, as 503.
func (s *Server) refused(ctx context.Context, in *incident.Incident, cmd string, err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) && in.Status == "" { // the read model could not be asked
		return newProblem(http.StatusNotFound, "no incident %s", in.ID)
	}
	if errors.As(err, &nf) && cmd == incident.CmdRate {
		return conflict(string(in.Status), "incident %s is closed and its rating window has passed (or every completed task is rated)", in.ID)
	}
	if errors.As(err, &nf) {
		return conflict(string(in.Status), "incident %s takes no commands now (its workflow is not running)", in.ID)
	}
	de := workflows.AsDomainError(err)
	if de == nil {
		s.log.WarnContext(ctx, "update failed", "incident", in.ID, "update", cmd, "err", err)
		if errors.Is(err, context.DeadlineExceeded) {
			return unavailable("the command was not confirmed within %s; it may still take effect: read the incident before retrying", s.cfg.UpdateTimeout)
		}
		return unavailable("the command could not be delivered; retry")
	}
	if de.Code == incident.CodeConflict && de.Status == "" {
		de.Status = string(in.Status)
	}
	return fromDomain(de, "body")
}
