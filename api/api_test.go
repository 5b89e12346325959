package api_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/incident"
)

func TestUnauthorized(t *testing.T) {
	e := newEnv(t, envOptions{})
	now := time.Now()
	signed := func(m jwt.SigningMethod, key any, exp time.Time) string {
		c := &auth.Claims{Sub: "x", Role: incident.RoleDistrict, Org: "DA"}
		c.ExpiresAt = jwt.NewNumericDate(exp)
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := map[string]string{ // name → Authorization header
		"missing":      "",
		"not bearer":   "Basic " + token(t, incident.RoleDistrict, "DA"),
		"garbage":      "Bearer garbage",
		"expired":      "Bearer " + signed(jwt.SigningMethodHS256, secret, now.Add(-time.Minute)),
		"alg none":     "Bearer " + signed(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, now.Add(time.Hour)),
		"wrong secret": "Bearer " + signed(jwt.SigningMethodHS256, []byte("other"), now.Add(time.Hour)),
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/v1/catalogue", "/v1/incidents"} {
				var r response
				if h == "" {
					r = e.do(http.MethodGet, path, "", nil)
				} else {
					r = e.do(http.MethodGet, path, "", nil, "Authorization", h)
				}
				wantProblem(t, r, http.StatusUnauthorized, api.ProblemUnauthorized, "")
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
				}
			}
		})
	}
	// A POST is refused before its body is looked at: nothing is written.
	r := e.do(http.MethodPost, "/v1/reports", "", "{not json")
	wantProblem(t, r, http.StatusUnauthorized, api.ProblemUnauthorized, "")
	if n := e.count("incidents"); n != 0 {
		t.Errorf("%d incidents after unauthorized report", n)
	}
	// The control: a good token passes.
	if r := e.do(http.MethodGet, "/v1/catalogue", token(t, incident.RoleDistrict, "DA"), nil); r.status != http.StatusOK {
		t.Fatalf("good token: %d %s", r.status, r.body)
	}
}

func TestRoleForbidden(t *testing.T) {
	e := newEnv(t, envOptions{})
	cases := []struct {
		role   incident.Role
		org    string
		method string
		path   string
		body   any
	}{
		{incident.RoleStreet, "FH", http.MethodPost, "/v1/reports", validReport()},
		{incident.RoleDepartment, "CG", http.MethodPost, "/v1/incidents/x/whistle", map[string]any{"note": "n"}},
		{incident.RoleStreet, "FH", http.MethodPost, "/v1/tasks/x-t1/ack", nil},
		{incident.RoleGridWorker, "FH-01-01", http.MethodPost, "/v1/incidents/x/feedback", map[string]any{"resolved": true, "rating": "satisfied"}},
		{incident.RoleDepartment, "CG", http.MethodGet, "/v1/metrics/departments", nil},
		{incident.RoleGridWorker, "FH-01-01", http.MethodGet, "/v1/metrics/streets", nil},
		{incident.RoleStreet, "FH", http.MethodGet, "/v1/departments/CG/tasks", nil},
		{incident.RoleDepartment, "CG", http.MethodGet, "/v1/supervision/overdue", nil},
		{incident.RoleGridWorker, "FH-01-01", http.MethodGet, "/v1/supervision/overdue", nil},
	}
	for _, c := range cases {
		r := e.do(c.method, c.path, token(t, c.role, c.org), c.body)
		wantProblem(t, r, http.StatusForbidden, api.ProblemForbidden, "")
	}
	if n := e.count("incidents"); n != 0 {
		t.Errorf("%d incidents after forbidden requests", n)
	}
}

func TestOpenAPI(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(http.MethodGet, "/openapi.json", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d", r.status)
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Info       struct{ Title, Version string }      `json:"info"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas         map[string]map[string]any `json:"schemas"`
			SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	r.json(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	if doc.Info.Title == "" || doc.Info.Version != "test" {
		t.Errorf("info %+v", doc.Info)
	}
	if s := doc.Components.SecuritySchemes["bearer"]; s["type"] != "http" || s["scheme"] != "bearer" {
		t.Errorf("security scheme bearer: %v", s)
	}
	want := map[string][]string{
		"/v1/reports":                        {"post"},
		"/v1/incidents":                      {"get"},
		"/v1/incidents/{id}":                 {"get"},
		"/v1/incidents/{id}/resolve":         {"post"},
		"/v1/incidents/{id}/escalate":        {"post"},
		"/v1/incidents/{id}/whistle":         {"post"},
		"/v1/incidents/{id}/verify":          {"post"},
		"/v1/incidents/{id}/feedback":        {"post"},
		"/v1/tasks/{id}/ack":                 {"post"},
		"/v1/tasks/{id}/complete":            {"post"},
		"/v1/tasks/{id}/return":              {"post"},
		"/v1/tasks/{id}/reassign":            {"post"},
		"/v1/tasks/{id}/overrule":            {"post"},
		"/v1/tasks/{id}/refer":               {"post"},
		"/v1/tasks/{id}/rate":                {"post"},
		"/v1/delegations":                    {"get", "post"},
		"/v1/open311/keys":                   {"get", "post"},
		"/v1/open311/keys/{id}":              {"delete"},
		"/v1/incidents/{id}/urge":            {"post"},
		"/v1/incidents/{id}/note":            {"post"},
		"/v1/incidents/{id}/suspend":         {"post"},
		"/v1/incidents/{id}/resume":          {"post"},
		"/v1/tasks/{id}/extension":           {"post"},
		"/v1/tasks/{id}/extension/decision":  {"post"},
		"/v1/departments/{code}/tasks":       {"get"},
		"/v1/catalogue":                      {"get"},
		"/v1/catalogue/items/{code}":         {"get", "put", "delete"},
		"/v1/catalogue/items/{code}/history": {"get"},
		"/v1/metrics/departments":            {"get"},
		"/v1/metrics/streets":                {"get"},
		"/v1/metrics/items":                  {"get"},
		"/v1/metrics/domains":                {"get"},
		"/v1/reports/monthly":                {"get"},
		"/v1/whatif":                         {"get", "post"},
		"/v1/whatif/{id}":                    {"get"},
		"/v1/supervision/overdue":            {"get"},
		"/v1/supervision/disputes":           {"get"},
		"/v1/supervision/review":             {"get"},
		"/v1/supervision/extensions":         {"get"},
		"/healthz":                           {"get"},
		"/readyz":                            {"get"},
	}
	ids := map[string]bool{}
	for path, methods := range want {
		for _, m := range methods {
			op, ok := doc.Paths[path][m]
			if !ok {
				t.Errorf("%s %s missing from the OpenAPI document", m, path)
				continue
			}
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s %s: operationId %q missing or repeated", m, path, id)
			}
			ids[id] = true
			if _, ok := op["responses"].(map[string]any); !ok {
				t.Errorf("%s %s has no responses", m, path)
			}
			secured := op["security"] != nil
			if secured != strings.HasPrefix(path, "/v1/") {
				t.Errorf("%s %s: security %v", m, path, op["security"])
			}
		}
	}
	if len(doc.Paths) != len(want) {
		var extra []string
		for p := range doc.Paths {
			if _, ok := want[p]; !ok {
				extra = append(extra, p)
			}
		}
		t.Errorf("unexpected paths %v", extra)
	}
	// Errors are documented as problems, with the conflict's current status.
	problem, ok := doc.Components.Schemas["Problem"]
	if !ok {
		t.Fatalf("no Problem schema; schemas: %v", keys(doc.Components.Schemas))
	}
	props, _ := problem["properties"].(map[string]any)
	for _, p := range []string{"type", "title", "status", "detail", "errors", "current_status"} {
		if _, ok := props[p]; !ok {
			t.Errorf("Problem schema lacks %s", p)
		}
	}
	ack := doc.Paths["/v1/tasks/{id}/ack"]["post"]["responses"].(map[string]any)
	conflict, _ := ack["409"].(map[string]any)
	if !strings.Contains(toJSON(t, conflict), "application/problem+json") {
		t.Errorf("409 of ack is not problem+json: %v", conflict)
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t, envOptions{ready: func(context.Context) error { return errors.New("extra check down") }})
	if r := e.do(http.MethodGet, "/healthz", "", nil); r.status != http.StatusOK {
		t.Fatalf("healthz %d %s", r.status, r.body)
	}
	// No Temporal client and a failing extra check: not ready, each named.
	r := e.do(http.MethodGet, "/readyz", "", nil)
	p := wantProblem(t, r, http.StatusServiceUnavailable, api.ProblemUnavailable, "temporal")
	var locs []string
	for _, e := range p.Errors {
		locs = append(locs, e.Location)
	}
	if !slices.Contains(locs, "extra") || slices.Contains(locs, "postgres") || slices.Contains(locs, "nats") {
		t.Errorf("readyz failures %v, want extra and temporal only", locs)
	}
}

func TestUnknownPath(t *testing.T) {
	e := newEnv(t, envOptions{})
	wantProblem(t, e.do(http.MethodGet, "/v2/nothing", "", nil), http.StatusNotFound, api.ProblemNotFound, "")
	r := e.do(http.MethodGet, "/v1/tasks/x-t1/ack", "", nil)
	wantProblem(t, r, http.StatusMethodNotAllowed, api.ProblemInvalid, "")
	if r.header.Get("Allow") != "POST" {
		t.Errorf("Allow %q, want POST", r.header.Get("Allow"))
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	if _, err := api.NewServer(api.Config{}); !errors.Is(err, api.ErrConfig) {
		t.Fatalf("NewServer(empty) error = %v, want ErrConfig", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("New(empty) did not panic")
		}
	}()
	api.New(api.Config{})
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
