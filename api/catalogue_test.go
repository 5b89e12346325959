package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
)

// vendingItem is a PUT body for SR-001 led by lead.
func vendingItem(lead, reason string) map[string]any {
	return map[string]any{
		"name": "占道经营", "gloss": "street vending that blocks the road", "domain": "市容环境",
		"tier": "department", "lead": lead, "cooperating": []string{"SCJG"},
		"legal_basis": "《城市市容和环境卫生管理条例》",
		"sla":         map[string]any{"ack": "1h", "resolve": "3wd", "feedback": "3wd"},
		"reason":      reason,
	}
}

func changed(m map[string]any, mod func(m map[string]any)) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	mod(c)
	return c
}

func TestCatalogueItemWrites(t *testing.T) {
	e := newEnv(t, envOptions{catalogue: true})
	admin := token(t, incident.RoleAdmin, "DA")
	rows := func() int { return e.count("catalogue_items") }
	start := rows()
	if start != 3 {
		t.Fatalf("the file wrote %d versions, want one per item (3)", start)
	}

	// Only an admin of the district may write.
	for name, tok := range map[string]string{
		"street":        token(t, incident.RoleStreet, "FH"),
		"district":      token(t, incident.RoleDistrict, "DA"),
		"department":    token(t, incident.RoleDepartment, "CG"),
		"another admin": token(t, incident.RoleAdmin, "XX"),
		"grid worker":   token(t, incident.RoleGridWorker, "FH-01-01"),
	} {
		t.Run(name, func(t *testing.T) {
			wantProblem(t, e.do(http.MethodPut, "/v1/catalogue/items/SR-001", tok, vendingItem("ZJ", "x")), 403, api.ProblemForbidden, "")
			wantProblem(t, e.do(http.MethodDelete, "/v1/catalogue/items/SR-001?reason=x", tok, nil), 403, api.ProblemForbidden, "")
		})
	}
	if rows() != start {
		t.Fatal("a refused write wrote a version")
	}

	// A new item: 201.
	fire := map[string]any{"name": "消防通道堵塞", "gloss": "blocked fire lane", "tier": "street",
		"sla": map[string]any{"resolve": "4h", "feedback": "1wd"}, "reason": "fire lanes are the street's",
		"escalation": map[string]any{"levels": []string{"0s", "1h"}}}
	r := e.do(http.MethodPut, "/v1/catalogue/items/XF-001", admin, fire)
	if r.status != http.StatusCreated {
		t.Fatalf("PUT new item: %d %s", r.status, r.body)
	}
	var v api.CatalogueItemVersion
	r.json(t, &v)
	if v.Version != 1 || v.Source != "api" || v.Actor != "admin:DA:tester-DA" || v.Reason != "fire lanes are the street's" ||
		v.Item.Tier != incident.TierStreet || v.Item.SLA.Resolve != "4h0m0s" || v.Retired {
		t.Fatalf("created version = %+v", v)
	}
	if v.Item.Escalation == nil || v.Item.Escalation.WarnAt != 0.8 || strings.Join(v.Item.Escalation.Levels, ",") != "0s,1h0m0s" {
		t.Fatalf("escalation = %+v, want the district's warn_at with the item's levels", v.Item.Escalation)
	}
	if loc := r.header.Get("Location"); loc != "/v1/catalogue/items/XF-001" {
		t.Errorf("Location = %q", loc)
	}

	// A change: 200, version 2, in force at once.
	r = e.do(http.MethodPut, "/v1/catalogue/items/SR-001", admin, vendingItem("ZJ", "ZJ takes vending over"))
	if r.status != http.StatusOK {
		t.Fatalf("PUT change: %d %s", r.status, r.body)
	}
	r.json(t, &v)
	if v.Version != 2 || v.Item.Lead != "ZJ" || v.Item.Version != 2 {
		t.Fatalf("changed version = %+v", v)
	}
	var cat api.Catalogue
	e.do(http.MethodGet, "/v1/catalogue", admin, nil).json(t, &cat)
	versions := map[string]int{}
	for _, it := range cat.Items {
		versions[it.Code] = it.Version
	}
	if versions["SR-001"] != 2 || versions["SR-002"] != 1 || versions["XF-001"] != 1 || len(cat.Items) != 4 {
		t.Fatalf("GET /v1/catalogue versions = %v", versions)
	}

	// The same again writes nothing and answers the current version.
	before := rows()
	r = e.do(http.MethodPut, "/v1/catalogue/items/SR-001", admin, vendingItem("ZJ", "once more"))
	r.json(t, &v)
	if r.status != http.StatusOK || v.Version != 2 || v.Reason != "ZJ takes vending over" || rows() != before {
		t.Fatalf("identical PUT: %d %+v, %d rows (was %d)", r.status, v, rows(), before)
	}

	// Two admins at once: the one who read version 1 is told.
	p := wantProblem(t, e.do(http.MethodPut, "/v1/catalogue/items/SR-001", admin,
		changed(vendingItem("CG", "back to CG"), func(m map[string]any) { m["expected_version"] = 1 })), 409, api.ProblemConflict, "")
	if p.CurrentStatus != "version 2" {
		t.Errorf("current_status = %q", p.CurrentStatus)
	}
	r = e.do(http.MethodPut, "/v1/catalogue/items/SR-001", admin,
		changed(vendingItem("CG", "back to CG"), func(m map[string]any) { m["expected_version"] = 2 }))
	r.json(t, &v)
	if r.status != http.StatusOK || v.Version != 3 || v.Item.Lead != "CG" {
		t.Fatalf("PUT with the right expected_version: %d %s", r.status, r.body)
	}

	// Bad bodies answer 422 naming the field, and write nothing.
	before = rows()
	for _, c := range []struct {
		name     string
		body     any
		location string
	}{
		{"unknown lead", vendingItem("QQ", "typo"), "body.lead"},
		{"unknown cooperating", changed(vendingItem("CG", "x"), func(m map[string]any) { m["cooperating"] = []string{"QQ"} }), "body.cooperating[0]"},
		{"lead also cooperating", changed(vendingItem("CG", "x"), func(m map[string]any) { m["cooperating"] = []string{"CG"} }), "body.cooperating[0]"},
		{"department tier without lead", changed(vendingItem("", "x"), func(m map[string]any) { delete(m, "lead") }), "body.lead"},
		{"bad SLA", changed(vendingItem("CG", "x"), func(m map[string]any) {
			m["sla"] = map[string]any{"ack": "1h", "resolve": "3days", "feedback": "3wd"}
		}), "body.sla.resolve"},
		{"negative SLA", changed(vendingItem("CG", "x"), func(m map[string]any) {
			m["sla"] = map[string]any{"ack": "-1h", "resolve": "3wd", "feedback": "3wd"}
		}), "body.sla.ack"},
		{"department tier without ack", changed(vendingItem("CG", "x"), func(m map[string]any) {
			m["sla"] = map[string]any{"resolve": "3wd", "feedback": "3wd"}
		}), "body.sla.ack"},
		{"escalation not increasing", changed(vendingItem("CG", "x"), func(m map[string]any) {
			m["escalation"] = map[string]any{"levels": []string{"2h", "1h"}}
		}), "body.escalation.levels[1]"},
		{"bad escalation level", changed(vendingItem("CG", "x"), func(m map[string]any) {
			m["escalation"] = map[string]any{"levels": []string{"soon"}}
		}), "body.escalation.levels[0]"},
		{"unknown tier", changed(vendingItem("CG", "x"), func(m map[string]any) { m["tier"] = "city" }), "body.tier"},
		{"missing name", changed(vendingItem("CG", "x"), func(m map[string]any) { delete(m, "name") }), "body.name"},
		{"empty name", changed(vendingItem("CG", "x"), func(m map[string]any) { m["name"] = "" }), "body.name"},
		{"code differs from the path", changed(vendingItem("CG", "x"), func(m map[string]any) { m["code"] = "SR-009" }), "body.code"},
		{"no reason", changed(vendingItem("CG", "x"), func(m map[string]any) { delete(m, "reason") }), "body.reason"},
		{"blank reason", vendingItem("CG", "   "), "body.reason"},
		{"unknown field", changed(vendingItem("CG", "x"), func(m map[string]any) { m["priority"] = "high" }), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantProblem(t, e.do(http.MethodPut, "/v1/catalogue/items/SR-001", admin, c.body), 422, api.ProblemInvalid, c.location)
		})
	}
	wantProblem(t, e.do(http.MethodPut, "/v1/catalogue/items/bad%20code", admin, vendingItem("CG", "x")), 422, api.ProblemInvalid, "body.code")
	if rows() != before {
		t.Fatalf("refused PUTs wrote %d versions", rows()-before)
	}

	// Retire: the reason is required; unknown 404; twice 409.
	wantProblem(t, e.do(http.MethodDelete, "/v1/catalogue/items/SR-001", admin, nil), 422, api.ProblemInvalid, "query.reason")
	wantProblem(t, e.do(http.MethodDelete, "/v1/catalogue/items/NOPE-1?reason=gone", admin, nil), 404, api.ProblemNotFound, "")
	r = e.do(http.MethodDelete, "/v1/catalogue/items/SR-001?reason="+url.QueryEscape("handed to the district"), admin, nil)
	r.json(t, &v)
	if r.status != http.StatusOK || v.Version != 4 || !v.Retired || v.Item.Lead != "CG" {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	p = wantProblem(t, e.do(http.MethodDelete, "/v1/catalogue/items/SR-001?reason=again", admin, nil), 409, api.ProblemConflict, "")
	if p.CurrentStatus != "retired" {
		t.Errorf("current_status = %q", p.CurrentStatus)
	}

	// A retired item still answers, marked retired, and is out of the list.
	reader := token(t, incident.RoleGridWorker, "FH-01-01")
	r = e.do(http.MethodGet, "/v1/catalogue/items/SR-001", reader, nil)
	r.json(t, &v)
	if r.status != http.StatusOK || !v.Retired || v.Version != 4 || v.Reason != "handed to the district" {
		t.Fatalf("GET retired item: %d %s", r.status, r.body)
	}
	e.do(http.MethodGet, "/v1/catalogue", reader, nil).json(t, &cat)
	for _, it := range cat.Items {
		if it.Code == "SR-001" {
			t.Fatal("a retired item is still in GET /v1/catalogue")
		}
	}
	wantProblem(t, e.do(http.MethodGet, "/v1/catalogue/items/NOPE-1", reader, nil), 404, api.ProblemNotFound, "")

	// The history, oldest first, for any role.
	var h api.CatalogueHistory
	r = e.do(http.MethodGet, "/v1/catalogue/items/SR-001/history", reader, nil)
	if r.status != http.StatusOK {
		t.Fatalf("history: %d %s", r.status, r.body)
	}
	r.json(t, &h)
	type row struct {
		version       int
		source, actor string
		reason, lead  string
		retired       bool
	}
	want := []row{
		{1, "file", "jurisdiction file test.yaml", "loaded from file", "CG", false},
		{2, "api", "admin:DA:tester-DA", "ZJ takes vending over", "ZJ", false},
		{3, "api", "admin:DA:tester-DA", "back to CG", "CG", false},
		{4, "api", "admin:DA:tester-DA", "handed to the district", "CG", true},
	}
	if h.Code != "SR-001" || len(h.Versions) != len(want) {
		t.Fatalf("history = %s", r.body)
	}
	for i, w := range want {
		g := h.Versions[i]
		got := row{g.Version, g.Source, g.Actor, g.Reason, g.Item.Lead, g.Retired}
		if got != w {
			t.Errorf("version %d = %+v, want %+v", i+1, got, w)
		}
		if g.At.IsZero() || (i > 0 && g.At.Before(h.Versions[i-1].At)) || time.Since(g.At) > time.Minute {
			t.Errorf("version %d at %v", i+1, g.At)
		}
	}
	wantProblem(t, e.do(http.MethodGet, "/v1/catalogue/items/NOPE-1/history", reader, nil), 404, api.ProblemNotFound, "")
	wantProblem(t, e.do(http.MethodGet, "/v1/catalogue/items/SR-001/history", "", nil), 401, api.ProblemUnauthorized, "")

	// Bringing the item back is a new version (200, not 201).
	r = e.do(http.MethodPut, "/v1/catalogue/items/SR-001", admin, vendingItem("CG", "back after all"))
	r.json(t, &v)
	if r.status != http.StatusOK || v.Version != 5 || v.Retired {
		t.Fatalf("PUT of a retired item: %d %s", r.status, r.body)
	}
}

// TestReportOfRetiredItem: a grid worker reporting a retired item is told
// when and why it was retired, and nothing is written or published.
func TestReportOfRetiredItem(t *testing.T) {
	e := newEnv(t, envOptions{catalogue: true})
	admin := token(t, incident.RoleAdmin, "DA")
	worker := token(t, incident.RoleGridWorker, "FH-01-01")

	r := e.do(http.MethodDelete, "/v1/catalogue/items/SR-001?reason="+url.QueryEscape("now a district matter"), admin, nil)
	if r.status != http.StatusOK {
		t.Fatalf("retire: %d %s", r.status, r.body)
	}
	p := wantProblem(t, e.do(http.MethodPost, "/v1/reports", worker, validReport()), 422, api.ProblemInvalid, "body.category")
	for _, want := range []string{"SR-001", "retired", "now a district matter", "admin:DA:tester-DA"} {
		if !strings.Contains(p.Detail, want) {
			t.Errorf("detail %q does not say %q", p.Detail, want)
		}
	}
	if n := e.count("incidents"); n != 0 {
		t.Errorf("%d incidents written", n)
	}
	if n := e.published(); n != 0 {
		t.Errorf("%d reports published", n)
	}

	// Another item is still reported.
	r = e.do(http.MethodPost, "/v1/reports", worker, with(func(m map[string]any) { m["category"] = "SR-002" }))
	if r.status != http.StatusAccepted {
		t.Fatalf("report of a current item: %d %s", r.status, r.body)
	}
}
