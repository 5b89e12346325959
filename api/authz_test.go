package api_test

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
)

// rule is what an operation allows: the roles that may call it (none: no
// token is needed) and what an outsider of such a role (another grid,
// street or department than the one the request names) gets.
type rule struct {
	roles []incident.Role
	// scoped: the request names an incident, task, inbox or another's
	// street or department (query), and an outsider is refused (403 or
	// 404). Not scoped: an outsider is served like an insider (the
	// responsibility list, the league tables of the district).
	scoped bool
	// request: the path with its ids and query filled in, and the body
	// (commands take theirs from the registry).
	path string
	body any
}

var (
	allRoles = []incident.Role{incident.RoleGridWorker, incident.RoleStreet, incident.RoleDepartment, incident.RoleDistrict, incident.RoleAdmin}
	readers  = []incident.Role{incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin}
)

// TestAuthorizationMatrix walks every operation of the OpenAPI document
// with every role, as an insider (the grid FH-01-01, the street FH, the
// department CG that has the incident's lead task, the district) and as an
// outsider of the same role (MCK-01-01, MCK, ZJ): a role the operation
// does not allow gets 403; an outsider of an allowed role 403 or 404 where
// the request names what is not theirs; an insider gets past both. An
// operation without a declared rule here (or, for a command, in
// incident.Commands) fails the test.
func TestAuthorizationMatrix(t *testing.T) {
	e := newEnv(t, envOptions{})
	in := e.project("FH-01-01", "SR-001", nil) // FH's, tasks of CG (lead) and SCJG
	id, task := in.ID, in.Tasks[0].ID
	k, _, err := e.store.CreateOpen311Key(context.Background(), store.Everything,
		store.Open311Key{Client: "fms", RatePerMinute: 60, MaxBodyBytes: 65536})
	if err != nil {
		t.Fatal(err)
	}
	keyID := k.ID
	rules := map[string]rule{
		"healthz":                 {path: "/healthz"},
		"readyz":                  {path: "/readyz"},
		"createReport":            {roles: []incident.Role{incident.RoleGridWorker}, scoped: true, path: "/v1/reports", body: validReport()},
		"getIncident":             {roles: allRoles, scoped: true, path: "/v1/incidents/" + id},
		"listIncidents":           {roles: allRoles, scoped: true, path: "/v1/incidents?street=FH&grid=FH-01-01&department=CG"},
		"listDepartmentTasks":     {roles: []incident.Role{incident.RoleDepartment, incident.RoleDistrict, incident.RoleAdmin}, scoped: true, path: "/v1/departments/CG/tasks"},
		"listOverdue":             {roles: readers, scoped: true, path: "/v1/supervision/overdue?street=FH"},
		"listDisputes":            {roles: readers, scoped: true, path: "/v1/supervision/disputes?street=FH"},
		"listReview":              {roles: readers, scoped: true, path: "/v1/supervision/review?street=FH"},
		"listExtensions":          {roles: readers, scoped: true, path: "/v1/supervision/extensions?street=FH"},
		"listOpen311Keys":         {roles: []incident.Role{incident.RoleAdmin, incident.RoleDistrict}, path: "/v1/open311/keys"},
		"createOpen311Key":        {roles: []incident.Role{incident.RoleAdmin}, path: "/v1/open311/keys", body: map[string]any{"client": "fms"}},
		"revokeOpen311Key":        {roles: []incident.Role{incident.RoleAdmin}, path: "/v1/open311/keys/" + keyID},
		"createDelegation":        {roles: []incident.Role{incident.RoleDepartment}, path: "/v1/delegations", body: map[string]any{"item": "LJ-001", "street": "FH", "note": "a quarrel"}},
		"listDelegations":         {roles: []incident.Role{incident.RoleStreet, incident.RoleDepartment, incident.RoleDistrict, incident.RoleAdmin}, scoped: true, path: "/v1/delegations?street=FH&department=CG"},
		"getCatalogue":            {roles: allRoles, path: "/v1/catalogue"},
		"getCatalogueItem":        {roles: allRoles, path: "/v1/catalogue/items/SR-001"},
		"getCatalogueItemHistory": {roles: allRoles, path: "/v1/catalogue/items/SR-001/history"},
		"putCatalogueItem":        {roles: []incident.Role{incident.RoleAdmin}, path: "/v1/catalogue/items/SR-001", body: map[string]any{}},
		"retireCatalogueItem":     {roles: []incident.Role{incident.RoleAdmin}, path: "/v1/catalogue/items/SR-001?reason=test"},
		"departmentMetrics":       {roles: readers, path: "/v1/metrics/departments"},
		"streetMetrics":           {roles: readers, path: "/v1/metrics/streets"},
		"itemMetrics":             {roles: readers, path: "/v1/metrics/items"},
		"domainMetrics":           {roles: readers, path: "/v1/metrics/domains"},
		"monthlyReport":           {roles: readers, scoped: true, path: "/v1/reports/monthly?month=2026-01&street=FH"},
		"startWhatif":             {roles: []incident.Role{incident.RoleDistrict, incident.RoleAdmin}, path: "/v1/whatif", body: map[string]any{"month": "2026-01", "rules": "district: {code: DA}"}},
		"getWhatif":               {roles: []incident.Role{incident.RoleDistrict, incident.RoleAdmin}, path: "/v1/whatif/none"},
		"listWhatif":              {roles: []incident.Role{incident.RoleDistrict, incident.RoleAdmin}, path: "/v1/whatif"},
	}
	// Commands: their roles as incident.Commands declares them, on the
	// incident's lead task or the incident itself.
	for _, c := range incident.Commands {
		p := strings.ReplaceAll(incident.Route(c), "{id}", id)
		if c.Doc().OnTask {
			p = strings.ReplaceAll(incident.Route(c), "{id}", task)
		}
		rules[c.Doc().Operation] = rule{roles: c.Doc().Roles, scoped: true, path: p, body: sampleBody(c)}
	}
	// Roles whose permission depends on the incident, which this one
	// does not give: the grid resolves community-tier incidents only, the
	// district arbitrates only disputes the street referred to it.
	conditional := map[string]incident.Role{"resolveIncident": incident.RoleGridWorker,
		"reassignTask": incident.RoleDistrict, "overruleReturn": incident.RoleDistrict}
	insiders := map[incident.Role]string{incident.RoleGridWorker: "FH-01-01", incident.RoleStreet: "FH",
		incident.RoleDepartment: "CG", incident.RoleDistrict: "DA", incident.RoleAdmin: "DA"}
	outsiders := map[incident.Role]string{incident.RoleGridWorker: "MCK-01-01", incident.RoleStreet: "MCK", incident.RoleDepartment: "ZJ"}

	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	e.do(http.MethodGet, "/openapi.json", "", nil).json(t, &doc)
	seen := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			r, ok := rules[op.OperationID]
			if !ok {
				t.Errorf("%s %s (%s) has no declared rule", strings.ToUpper(method), path, op.OperationID)
				continue
			}
			seen++
			method = strings.ToUpper(method)
			call := func(role incident.Role, org string) response {
				tok := ""
				if role != "" {
					tok = token(t, role, org)
				}
				return e.do(method, r.path, tok, r.body)
			}
			if r.roles == nil {
				if res := call("", ""); res.status == http.StatusUnauthorized || res.status == http.StatusForbidden {
					t.Errorf("%s %s: no token: %d %s", method, r.path, res.status, res.body)
				}
				continue
			}
			if res := call("", ""); res.status != http.StatusUnauthorized {
				t.Errorf("%s %s: no token: %d, want 401", method, r.path, res.status)
			}
			for _, role := range allRoles {
				res := call(role, insiders[role])
				if !slices.Contains(r.roles, role) {
					if res.status != http.StatusForbidden {
						t.Errorf("%s %s as %s: %d %s, want 403: the role may not call it", method, r.path, role, res.status, res.body)
					}
					continue
				}
				if conditional[op.OperationID] == role {
					if res.status != http.StatusForbidden {
						t.Errorf("%s %s as %s: %d %s, want 403 on this incident", method, r.path, role, res.status, res.body)
					}
					continue
				}
				if res.status == http.StatusUnauthorized || res.status == http.StatusForbidden || res.status == http.StatusNotFound {
					t.Errorf("%s %s as %s %s: %d %s, want it past authorization", method, r.path, role, insiders[role], res.status, res.body)
				}
				org, ok := outsiders[role]
				if !ok {
					continue
				}
				res = call(role, org)
				refused := res.status == http.StatusForbidden || res.status == http.StatusNotFound
				if r.scoped && !refused {
					t.Errorf("%s %s as %s %s (an outsider): %d %s, want 403 or 404", method, r.path, role, org, res.status, res.body)
				}
				if !r.scoped && refused {
					t.Errorf("%s %s as %s %s: %d %s, want it served like any %s", method, r.path, role, org, res.status, res.body, role)
				}
			}
		}
	}
	if seen != len(rules) {
		t.Errorf("the document has %d of the %d operations declared here", seen, len(rules))
	}
}

// sampleBody is a body that passes command c's schema: every field it
// shows filled with a plausible value, so that what the matrix sees is
// the authorization, not the validation.
func sampleBody(c incident.Command) map[string]any {
	body := map[string]any{}
	t := reflect.TypeOf(c)
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Tag.Get("hidden") == "true" || name == "" {
			continue
		}
		switch {
		case f.Type == reflect.TypeOf(incident.Rating("")):
			body[name] = incident.RatingSatisfied
		case f.Type == reflect.TypeOf(time.Time{}):
			body[name] = time.Now().AddDate(1, 0, 0).UTC()
		case name == "department":
			body[name] = "ZJ"
		case f.Type.Kind() == reflect.String:
			body[name] = "a note from the matrix"
		case f.Type.Kind() == reflect.Int:
			body[name] = 50
		case f.Type.Kind() == reflect.Bool:
			body[name] = true
		}
	}
	return body
}
