package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
)

// validReport is a report grid worker FH-01-01 may send.
func validReport() map[string]any {
	return map[string]any{
		"category":    "SR-001",
		"grid":        "FH-01-01",
		"description": "三轮车占道卖水果",
		"location":    map[string]any{"lat": 29.35, "lng": 104.77, "address": "凤凰路12号"},
		"photos":      []string{"https://img.example/1.jpg"},
	}
}

func with(mod func(m map[string]any)) map[string]any {
	m := validReport()
	mod(m)
	return m
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReportValidation(t *testing.T) {
	e := newEnv(t, envOptions{})
	worker := token(t, incident.RoleGridWorker, "FH-01-01")
	photos := make([]string, incident.MaxPhotos+1)
	for i := range photos {
		photos[i] = "https://img.example/p.jpg"
	}
	cases := []struct {
		name     string
		body     any
		status   int
		code     string
		location string
	}{
		{"unknown category", with(func(m map[string]any) { m["category"] = "NOPE-1" }), 422, api.ProblemInvalid, "body.category"},
		{"unknown grid", with(func(m map[string]any) { m["grid"] = "XX-99-99" }), 422, api.ProblemInvalid, "body.grid"},
		{"foreign grid", with(func(m map[string]any) { m["grid"] = "FH-01-02" }), 403, api.ProblemForbidden, ""},
		{"malformed JSON", `{"category": "SR-001",`, 400, api.ProblemInvalid, "body"},
		{"bad photo URL", with(func(m map[string]any) { m["photos"] = []string{"https://ok.example/a.jpg", "ftp://x/y.jpg"} }), 422, api.ProblemInvalid, "body.photos[1]"},
		{"relative photo URL", with(func(m map[string]any) { m["photos"] = []string{"/a.jpg"} }), 422, api.ProblemInvalid, "body.photos[0]"},
		{"too many photos", with(func(m map[string]any) { m["photos"] = photos }), 422, api.ProblemInvalid, "body.photos"},
		{"missing description", with(func(m map[string]any) { delete(m, "description") }), 422, api.ProblemInvalid, "body.description"},
		{"blank description", with(func(m map[string]any) { m["description"] = "   " }), 422, api.ProblemInvalid, "body.description"},
		{"long description", with(func(m map[string]any) { m["description"] = strings.Repeat("x", incident.MaxDescriptionLen+1) }), 422, api.ProblemInvalid, "body.description"},
		{"latitude out of range", with(func(m map[string]any) { m["location"] = map[string]any{"lat": 91, "lng": 104} }), 422, api.ProblemInvalid, "body.location.lat"},
		{"longitude out of range", with(func(m map[string]any) { m["location"] = map[string]any{"lat": 29, "lng": -181} }), 422, api.ProblemInvalid, "body.location.lng"},
		{"future occurred_at", with(func(m map[string]any) { m["occurred_at"] = time.Now().Add(time.Hour).Format(time.RFC3339) }), 422, api.ProblemInvalid, "body.occurred_at"},
		{"unknown field", with(func(m map[string]any) { m["priority"] = "high" }), 422, api.ProblemInvalid, ""},
		{"oversized body", with(func(m map[string]any) { m["description"] = strings.Repeat("x", api.MaxReportBytes) }), 413, api.ProblemTooLarge, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(http.MethodPost, "/v1/reports", worker, c.body)
			wantProblem(t, r, c.status, c.code, c.location)
		})
	}
	long := strings.Repeat("k", 201)
	r := e.do(http.MethodPost, "/v1/reports", worker, validReport(), "Idempotency-Key", long)
	wantProblem(t, r, 422, api.ProblemInvalid, "header.Idempotency-Key")

	// Nothing was recorded or published by any of them.
	if n := e.count("incidents"); n != 0 {
		t.Errorf("%d incidents after refused reports", n)
	}
	if n := e.published(); n != 0 {
		t.Errorf("%d reports published after refused reports", n)
	}
}

func TestReportAccepted(t *testing.T) {
	e := newEnv(t, envOptions{})
	worker := token(t, incident.RoleGridWorker, "FH-01-01")
	occurred := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	body := with(func(m map[string]any) { m["occurred_at"] = occurred.Format(time.RFC3339) })

	r := e.do(http.MethodPost, "/v1/reports", worker, body, "Idempotency-Key", "k-1")
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var acc struct {
		IncidentID string `json:"incident_id"`
	}
	r.json(t, &acc)
	if acc.IncidentID == "" || r.header.Get("Location") != "/v1/incidents/"+acc.IncidentID {
		t.Fatalf("incident_id %q, Location %q", acc.IncidentID, r.header.Get("Location"))
	}

	// It exists at once, as received, filled in from the jurisdiction.
	g := e.do(http.MethodGet, "/v1/incidents/"+acc.IncidentID, worker, nil)
	if g.status != http.StatusOK {
		t.Fatalf("GET after 202: %d %s", g.status, g.body)
	}
	var in incident.Incident
	g.json(t, &in)
	if in.Status != incident.StatusReceived || in.Street != "FH" || in.Community != "FH-01" || in.Item.Lead != "CG" ||
		in.Reporter != "tester-FH-01-01" || in.OccurredAt == nil || !in.OccurredAt.Equal(occurred) {
		t.Errorf("incident %+v", in)
	}

	// The same key again: the same incident, nothing new; the re-publish is
	// de-duplicated by JetStream.
	r2 := e.do(http.MethodPost, "/v1/reports", worker, body, "Idempotency-Key", "k-1")
	var acc2 struct {
		IncidentID string `json:"incident_id"`
	}
	r2.json(t, &acc2)
	if r2.status != http.StatusAccepted || acc2.IncidentID != acc.IncidentID {
		t.Fatalf("repeat: %d %s, want 202 with %s", r2.status, r2.body, acc.IncidentID)
	}
	if n := e.count("incidents"); n != 1 {
		t.Errorf("%d incidents after a repeated key", n)
	}
	if n := e.published(); n != 1 {
		t.Errorf("%d reports published, want 1", n)
	}

	// Another key, or none: a new incident each time.
	for _, key := range []string{"k-2", ""} {
		var hs []string
		if key != "" {
			hs = []string{"Idempotency-Key", key}
		}
		r := e.do(http.MethodPost, "/v1/reports", worker, validReport(), hs...)
		if r.status != http.StatusAccepted {
			t.Fatalf("key %q: %d %s", key, r.status, r.body)
		}
	}
	if n := e.count("incidents"); n != 3 {
		t.Errorf("%d incidents, want 3", n)
	}
	if n := e.published(); n != 3 {
		t.Errorf("%d reports published, want 3", n)
	}
}

// TestReportPublishFails checks that a report NATS does not take is withdrawn
// (503, nothing recorded), and that the client's retry with the same key
// then goes through.
func TestReportPublishFails(t *testing.T) {
	e := newEnv(t, envOptions{noStreams: true})
	worker := token(t, incident.RoleGridWorker, "FH-01-01")
	r := e.do(http.MethodPost, "/v1/reports", worker, validReport(), "Idempotency-Key", "retry-me")
	wantProblem(t, r, http.StatusServiceUnavailable, api.ProblemUnavailable, "")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if n := e.count("incidents"); n != 0 {
		t.Fatalf("%d incidents left after a failed publish", n)
	}

	if err := e.bus.EnsureStreams(t.Context()); err != nil {
		t.Fatal(err)
	}
	r = e.do(http.MethodPost, "/v1/reports", worker, validReport(), "Idempotency-Key", "retry-me")
	if r.status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	if n, p := e.count("incidents"), e.published(); n != 1 || p != 1 {
		t.Errorf("after retry: %d incidents, %d published; want 1, 1", n, p)
	}
}
