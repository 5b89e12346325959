package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
	"github.com/whistle-city/whistle/workflows"
)

// DefaultUpdateTimeout bounds how long a command waits for the workflow's answer;
// past it the API answers 503 (the command may still take effect).
const DefaultUpdateTimeout = 30 * time.Second

// commandInput is the request of a command: the path id (an incident's or
// a task's) and the body, kept as JSON for the command's own type to
// decode once huma has validated it against that type's schema.
type commandInput struct {
	ID   string          `path:"id" maxLength:"200"`
	Body json.RawMessage `required:"true"`
}

// optionalCommandInput is commandInput for a command whose body may be
// left out (incident.Doc.OptionalBody).
type optionalCommandInput struct {
	ID   string           `path:"id" maxLength:"200"`
	Body *json.RawMessage `required:"false"`
}

// registerCommands registers the POST route of every command of
// incident.Commands, with the operation its Doc describes and its type's
// fields as the body schema.
func (s *Server) registerCommands() {
	for _, c := range incident.Commands {
		doc := c.Doc()
		op := huma.Operation{
			OperationID: doc.Operation, Method: http.MethodPost, Path: incident.Route(c), Summary: doc.Summary,
			Description: doc.Description + " Answers the incident after the command. A state that does not fit answers 409 with " +
				"`current_status`; an incident still `received` answers 409 with Retry-After: 1.",
			Tags: []string{"Commands"}, MaxBodyBytes: MaxCommandBytes,
			Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge,
				http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
			RequestBody: &huma.RequestBody{Required: !doc.OptionalBody, Content: map[string]*huma.MediaType{
				"application/json": {Schema: s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(c), true, doc.Operation+"Request")},
			}},
		}
		run := func(ctx context.Context, id string, body []byte) (*incidentOutput, error) {
			incidentID, taskID := id, ""
			if doc.OnTask {
				if incidentID, taskID = incident.IncidentOfTask(id), id; incidentID == "" {
					return nil, newProblem(http.StatusNotFound, "no task %s", id)
				}
			}
			cmd, err := incident.Decode(c, body, taskID)
			if err != nil {
				return nil, s.fail(ctx, err, "body", "read the command")
			}
			return runCommand(ctx, s, incidentID, cmd)
		}
		if doc.OptionalBody {
			huma.Register(s.api, secured(op, doc.Roles...), func(ctx context.Context, in *optionalCommandInput) (*incidentOutput, error) {
				var body []byte
				if in.Body != nil {
					body = *in.Body
				}
				return run(ctx, in.ID, body)
			})
		} else {
			huma.Register(s.api, secured(op, doc.Roles...), func(ctx context.Context, in *commandInput) (*incidentOutput, error) {
				return run(ctx, in.ID, in.Body)
			})
		}
		// Name the path id for what it is on this path.
		if pi := s.api.OpenAPI().Paths[op.Path]; pi != nil && pi.Post != nil {
			for _, p := range pi.Post.Parameters {
				if p.Name == "id" && p.In == "path" {
					p.Description = map[bool]string{false: "Incident id.", true: "Task id."}[doc.OnTask]
				}
			}
		}
	}
}

// runCommand sends cmd to the workflow of incident id as a Temporal Update
// and answers the incident after it. The read model is consulted first: an
// unknown incident, or one the caller may not read, is 404; a caller who
// may not send the command 403 (incident.Permit); a finished incident 409,
// one still received 409 with Retry-After; references to departments are
// checked against the jurisdiction (422). The workflow's validator decides
// everything else.
//
// When the read model is unreachable the command still goes to the
// workflow, which is the source of truth and checks it anyway: a department
// that acknowledges while Postgres is down is on time, and the read model
// catches up when the database is back.
func runCommand(ctx context.Context, s *Server, id string, cmd incident.Command) (*incidentOutput, error) {
	a := actorFrom(ctx)
	// A caller who may not read the incident learns nothing of it: 404, as
	// GET answers.
	in, err := s.cfg.Store.Incident(ctx, scopeOf(ctx), id)
	if err != nil && store.IsUnavailable(err) {
		s.log.WarnContext(ctx, "read model unavailable: sending the command to the workflow unchecked", "incident", id, "err", err)
		in, err = &incident.Incident{ID: id}, nil
	}
	if err != nil {
		return nil, s.fail(ctx, err, "path", "read the incident")
	}
	// Who the caller is, before anything of the state: one who may read
	// the incident but not act on it gets 403, never its status.
	if in.Status != "" && in.Status != incident.StatusReceived {
		if err := in.Permit(a, cmd); err != nil {
			return nil, s.fail(ctx, err, "path", "check the command")
		}
	}
	switch {
	case in.Status.Terminal() && !(cmd.Doc().AfterClosing && in.Status == incident.StatusClosed):
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
		Args:         []any{workflows.UpdateInput{Actor: a, Command: cmd}},
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
	in, err := s.cfg.Store.Incident(ctx, store.Everything, id) // the caller could read it before the command

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
	switch c := cmd.(type) {
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
	if c, ok := incident.CommandNamed(cmd); errors.As(err, &nf) && ok && c.Doc().AfterClosing {
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
