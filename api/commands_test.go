package api_test

import (
	"net/http"
	"testing"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
)

// TestCommandPrechecks covers what the API decides before a command reaches
// the workflow; no Temporal client is configured, so a command that passes
// them answers 503.
func TestCommandPrechecks(t *testing.T) {
	e := newEnv(t, envOptions{})
	street := token(t, incident.RoleStreet, "FH")
	cg := token(t, incident.RoleDepartment, "CG")
	worker := token(t, incident.RoleGridWorker, "FH-01-01")

	dispatched := e.project("FH-01-01", "SR-001", nil)
	triage := e.project("FH-01-02", "LJ-001", nil)
	closed := e.project("FH-01-01", "SR-002", func(in *incident.Incident) {
		in.Status = incident.StatusClosed
		in.Version++
	})
	var acc struct {
		IncidentID string `json:"incident_id"`
	}
	r := e.do(http.MethodPost, "/v1/reports", worker, validReport())
	if r.status != http.StatusAccepted {
		t.Fatalf("report: %d %s", r.status, r.body)
	}
	r.json(t, &acc)
	received := acc.IncidentID // nobody dispatches it in this test
	task := dispatched.Tasks[0].ID

	// Unknown incident or task, or not a task id at all.
	wantProblem(t, e.do(http.MethodPost, "/v1/incidents/nope/resolve", street, map[string]any{"note": "n"}), 404, api.ProblemNotFound, "")
	wantProblem(t, e.do(http.MethodPost, "/v1/tasks/nope/ack", cg, nil), 404, api.ProblemNotFound, "")
	wantProblem(t, e.do(http.MethodPost, "/v1/tasks/nope-t1/ack", cg, nil), 404, api.ProblemNotFound, "")

	// Still received: 409 with its status and Retry-After, for its street;
	// a department, which cannot read it yet, learns nothing (404).
	wantProblem(t, e.do(http.MethodPost, "/v1/tasks/"+received+"-t1/ack", cg, map[string]any{"note": "on my way"}), 404, api.ProblemNotFound, "")
	r = e.do(http.MethodPost, "/v1/incidents/"+received+"/urge", street, map[string]any{"note": "where is it?"})
	p := wantProblem(t, r, 409, api.ProblemConflict, "")
	if p.CurrentStatus != "received" || r.header.Get("Retry-After") != "1" {
		t.Errorf("received: current_status %q, Retry-After %q", p.CurrentStatus, r.header.Get("Retry-After"))
	}
	// Finished: 409 with its status.
	p = wantProblem(t, e.do(http.MethodPost, "/v1/incidents/"+closed.ID+"/feedback", street,
		map[string]any{"resolved": true, "rating": "satisfied"}), 409, api.ProblemConflict, "")
	if p.CurrentStatus != "closed" {
		t.Errorf("closed: current_status %q", p.CurrentStatus)
	}

	// Bodies: required fields, enums, unknown departments.
	for _, c := range []struct {
		path, tok string
		body      any
		location  string
	}{
		{"/v1/tasks/" + task + "/return", cg, map[string]any{}, "body.reason"},
		{"/v1/tasks/" + task + "/complete", cg, map[string]any{"note": "x"}, "body.result"},
		{"/v1/incidents/" + triage.ID + "/feedback", street, map[string]any{"resolved": true, "rating": "great"}, "body.rating"},
		{"/v1/incidents/" + triage.ID + "/verify", street, map[string]any{"note": "x"}, "body.passed"},
		{"/v1/incidents/" + triage.ID + "/resolve", street, map[string]any{"note": ""}, "body.note"},
		{"/v1/incidents/" + triage.ID + "/whistle", street, map[string]any{"departments": []string{"CG", "NOPE"}, "note": "x"}, "body.departments[1]"},
		{"/v1/tasks/" + task + "/reassign", street, map[string]any{"department": "NOPE"}, "body.department"},
	} {
		wantProblem(t, e.do(http.MethodPost, c.path, c.tok, c.body), 422, api.ProblemInvalid, c.location)
	}
	wantProblem(t, e.do(http.MethodPost, "/v1/tasks/"+task+"/ack", cg, "{"), 400, api.ProblemInvalid, "")
	big := map[string]any{"reason": string(make([]byte, api.MaxCommandBytes))}
	wantProblem(t, e.do(http.MethodPost, "/v1/tasks/"+task+"/return", cg, big), 413, api.ProblemTooLarge, "")

	// Everything checked: without Temporal the command cannot be delivered.
	r = e.do(http.MethodPost, "/v1/tasks/"+task+"/ack", cg, nil)
	wantProblem(t, r, 503, api.ProblemUnavailable, "")
	wantProblem(t, e.do(http.MethodPost, "/v1/incidents/"+triage.ID+"/whistle", street, map[string]any{"departments": []string{"CG"}, "note": "x"}), 503, api.ProblemUnavailable, "")
}

// TestCommandWithoutWorkflow sends a command through a real Temporal server
// for an incident the read model has but Temporal does not: 409 with the
// read model's status, never a 500.
func TestCommandWithoutWorkflow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	tc := startTemporal(t)
	e := newEnv(t, envOptions{temporal: tc})
	in := e.project("FH-01-01", "SR-001", nil)
	r := e.do(http.MethodPost, "/v1/tasks/"+in.Tasks[0].ID+"/ack", token(t, incident.RoleDepartment, "CG"), nil)
	p := wantProblem(t, r, 409, api.ProblemConflict, "")
	if p.CurrentStatus != string(incident.StatusDispatched) {
		t.Errorf("current_status %q, want dispatched", p.CurrentStatus)
	}
	// And readiness now sees Temporal.
	r = e.do(http.MethodGet, "/readyz", "", nil)
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	r.json(t, &ready)
	if r.status != http.StatusOK || ready.Checks["postgres"] != "ok" || ready.Checks["nats"] != "ok" || ready.Checks["temporal"] != "ok" {
		t.Errorf("readyz: %d %s", r.status, r.body)
	}
}
