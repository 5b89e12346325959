package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/workflows"
)

// TestCommandsThroughWorkflow drives one incident through the real
// IncidentWorkflow on an embedded Temporal server, with its activities
// writing to the same Postgres and NATS as the API, and checks how the API
// answers the workflow's yes and no. (The dispatcher is not part of this
// test: it starts the workflow itself, as the dispatcher would.)
func TestCommandsThroughWorkflow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	tc := startTemporal(t)
	e := newEnv(t, envOptions{temporal: tc})

	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	workflows.Register(w)
	// What activities.RecordIncident does, inline: api never imports activities.
	w.RegisterActivityWithOptions(func(ctx context.Context, in workflows.RecordInput) error {
		if err := e.store.Project(ctx, in.Incident); err != nil {
			return err
		}
		return e.bus.PublishEntries(ctx, in.Incident, in.Incident.Timeline[in.FromSeq:])
	}, activity.RegisterOptions{Name: workflows.ActivityRecord})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	gw := token(t, incident.RoleGridWorker, "FH-01-01")
	street := token(t, incident.RoleStreet, "FH")
	cg := token(t, incident.RoleDepartment, "CG")
	scjg := token(t, incident.RoleDepartment, "SCJG")

	// Report, then start the workflow as the dispatcher would.
	var acc struct {
		IncidentID string `json:"incident_id"`
	}
	e.do(http.MethodPost, "/v1/reports", gw, validReport()).json(t, &acc)
	id := acc.IncidentID
	var rec incident.Incident
	e.do(http.MethodGet, "/v1/incidents/"+id, gw, nil).json(t, &rec)
	it, _ := e.jur.Item(rec.Category)
	_, err := tc.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue},
		workflows.IncidentWorkflowName, workflows.Input{
			Report: incident.Report{IncidentID: id, Category: rec.Category, Street: rec.Street, Community: rec.Community,
				Grid: rec.Grid, Description: rec.Description, Location: rec.Location, Photos: rec.Photos,
				ReportedAt: rec.ReportedAt, Reporter: rec.Reporter},
			Item: rec.Item, SLA: it.SLA, Calendar: e.jur.Calendar(), MaxReopens: incident.DefaultLimits.MaxReopens,
		})
	if err != nil {
		t.Fatal(err)
	}
	in := e.await(id, street, incident.StatusDispatched)
	cgTask, scjgTask := in.Tasks[0].ID, in.Tasks[1].ID

	// Refusals by the workflow's validator, mapped to 403 / 409 / 404 / 422.
	wantProblem(t, e.do(http.MethodPost, "/v1/tasks/"+cgTask+"/ack", scjg, nil), 403, api.ProblemForbidden, "")
	p := wantProblem(t, e.do(http.MethodPost, "/v1/tasks/"+cgTask+"/complete", cg, map[string]any{"result": "done"}), 409, api.ProblemConflict, "")
	if p.CurrentStatus != string(incident.TaskPendingAck) {
		t.Errorf("complete before ack: current_status %q", p.CurrentStatus)
	}
	wantProblem(t, e.do(http.MethodPost, "/v1/tasks/"+id+"-t9/ack", cg, nil), 404, api.ProblemNotFound, "")
	wantProblem(t, e.do(http.MethodPost, "/v1/incidents/"+id+"/resolve", street, map[string]any{"note": "x"}), 409, api.ProblemConflict, "")
	wantProblem(t, e.do(http.MethodPost, "/v1/tasks/"+cgTask+"/return", cg, map[string]any{"reason": " "}), 422, api.ProblemInvalid, "body.reason")
	var after incident.Incident
	e.do(http.MethodGet, "/v1/incidents/"+id, street, nil).json(t, &after)
	if after.Version != in.Version {
		t.Fatalf("refused commands changed the incident: version %d → %d", in.Version, after.Version)
	}

	// The loop, each answer the incident after the command.
	step := func(path, tok string, body any, want incident.Status) incident.Incident {
		t.Helper()
		r := e.do(http.MethodPost, path, tok, body)
		if r.status != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, r.status, r.body)
		}
		var got incident.Incident
		r.json(t, &got)
		if got.Status != want {
			t.Fatalf("POST %s: status %s, want %s", path, got.Status, want)
		}
		return got
	}
	got := step("/v1/tasks/"+cgTask+"/ack", cg, map[string]any{"note": "on my way"}, incident.StatusDispatched)
	if got.Task(cgTask).Status != incident.TaskAcknowledged || got.Task(cgTask).AckedAt == nil {
		t.Errorf("after ack: task %+v", got.Task(cgTask))
	}
	p = wantProblem(t, e.do(http.MethodPost, "/v1/tasks/"+cgTask+"/ack", cg, nil), 409, api.ProblemConflict, "")
	if p.CurrentStatus != string(incident.TaskAcknowledged) {
		t.Errorf("second ack: current_status %q", p.CurrentStatus)
	}
	step("/v1/tasks/"+cgTask+"/complete", cg, map[string]any{"result": "vendor moved on"}, incident.StatusDispatched)
	step("/v1/tasks/"+scjgTask+"/ack", scjg, nil, incident.StatusDispatched)
	step("/v1/tasks/"+scjgTask+"/complete", scjg, map[string]any{"result": "licence checked"}, incident.StatusVerifying)
	step("/v1/incidents/"+id+"/verify", gw, map[string]any{"passed": true}, incident.StatusAwaitingFeedback)
	step("/v1/incidents/"+id+"/feedback", street, map[string]any{"resolved": true, "rating": "satisfied"}, incident.StatusClosed)

	// Finished: the read model answers 409 closed.
	e.await(id, street, incident.StatusClosed)
	p = wantProblem(t, e.do(http.MethodPost, "/v1/incidents/"+id+"/feedback", street, map[string]any{"resolved": true, "rating": "satisfied"}), 409, api.ProblemConflict, "")
	if p.CurrentStatus != string(incident.StatusClosed) {
		t.Errorf("after close: current_status %q", p.CurrentStatus)
	}
}

// await polls GET /v1/incidents/{id} until the incident has status want.
func (e *env) await(id, tok string, want incident.Status) incident.Incident {
	e.t.Helper()
	var in incident.Incident
	var r response
	if !wait.Within(20*time.Second, func() bool {
		in = incident.Incident{}
		if r = e.do(http.MethodGet, "/v1/incidents/"+id, tok, nil); r.status == http.StatusOK {
			r.json(e.t, &in)
		}
		return in.Status == want
	}) {
		e.t.Fatalf("incident %s: status %s after 20s, want %s (%d %s)", id, in.Status, want, r.status, r.body)
	}
	return in
}
