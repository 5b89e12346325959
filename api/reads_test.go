package api_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
)

type page struct {
	Items      []incident.Incident `json:"items"`
	NextCursor string              `json:"next_cursor"`
}

func ids(p page) []string {
	var out []string
	for _, in := range p.Items {
		out = append(out, in.ID)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

func TestReadScoping(t *testing.T) {
	e := newEnv(t, envOptions{})
	// a: department tier in FH-01-01, whistled to CG (lead) and SCJG.
	a := e.project("FH-01-01", "SR-001", nil)
	// b: street tier in MCK, with the street.
	b := e.project("MCK-01-01", "LJ-001", nil)
	// c: community tier in FH-01-02.
	c := e.project("FH-01-02", "SR-002", nil)
	if len(a.Tasks) != 2 || a.Status != incident.StatusDispatched {
		t.Fatalf("fixture a: %s with %d tasks", a.Status, len(a.Tasks))
	}

	type who struct {
		role incident.Role
		org  string
	}
	readers := map[who][]string{ // who → the incidents it may read
		{incident.RoleGridWorker, "FH-01-01"}: {a.ID},
		{incident.RoleGridWorker, "FH-01-02"}: {c.ID},
		{incident.RoleStreet, "FH"}:           {a.ID, c.ID},
		{incident.RoleStreet, "MCK"}:          {b.ID},
		{incident.RoleDepartment, "CG"}:       {a.ID},
		{incident.RoleDepartment, "ZJ"}:       nil,
		{incident.RoleDistrict, "DA"}:         {a.ID, b.ID, c.ID},
		{incident.RoleAdmin, "DA"}:            {a.ID, b.ID, c.ID},
	}
	for w, visible := range readers {
		tok := token(t, w.role, w.org)
		for _, id := range []string{a.ID, b.ID, c.ID} {
			r := e.do(http.MethodGet, "/v1/incidents/"+id, tok, nil)
			if slices.Contains(visible, id) {
				if r.status != http.StatusOK {
					t.Errorf("%v reading %s: %d %s", w, id, r.status, r.body)
				}
				continue
			}
			// A foreign incident is not found, like one that does not exist.
			wantProblem(t, r, http.StatusNotFound, api.ProblemNotFound, "")
		}
		var p page
		r := e.do(http.MethodGet, "/v1/incidents", tok, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%v listing: %d %s", w, r.status, r.body)
		}
		r.json(t, &p)
		if got, want := ids(p), sorted(visible...); !slices.Equal(got, want) {
			t.Errorf("%v lists %v, want %v", w, got, want)
		}
	}
	wantProblem(t, e.do(http.MethodGet, "/v1/incidents/nope", token(t, incident.RoleDistrict, "DA"), nil), 404, api.ProblemNotFound, "")

	// Asking for someone else's scope is forbidden.
	for _, q := range []struct {
		role       incident.Role
		org, query string
	}{
		{incident.RoleStreet, "FH", "street=MCK"},
		{incident.RoleGridWorker, "FH-01-01", "grid=FH-01-02"},
		{incident.RoleDepartment, "CG", "department=SCJG"},
	} {
		wantProblem(t, e.do(http.MethodGet, "/v1/incidents?"+q.query, token(t, q.role, q.org), nil), 403, api.ProblemForbidden, "")
	}

	// Filters, paging and their validation.
	district := token(t, incident.RoleDistrict, "DA")
	var p page
	e.do(http.MethodGet, "/v1/incidents?street=FH&status=community", district, nil).json(t, &p)
	if got := ids(p); !slices.Equal(got, []string{c.ID}) {
		t.Errorf("street=FH&status=community lists %v", got)
	}
	e.do(http.MethodGet, "/v1/incidents?department=SCJG", district, nil).json(t, &p)
	if got := ids(p); !slices.Equal(got, []string{a.ID}) {
		t.Errorf("department=SCJG lists %v", got)
	}
	e.do(http.MethodGet, "/v1/incidents?overdue=true", district, nil).json(t, &p)
	if len(p.Items) != 0 {
		t.Errorf("overdue=true lists %v", ids(p))
	}
	e.do(http.MethodGet, "/v1/incidents?overdue=false", district, nil).json(t, &p)
	if len(p.Items) != 3 {
		t.Errorf("overdue=false lists %v", ids(p))
	}
	var seen []string
	cursor := ""
	for range 4 {
		var p page
		e.do(http.MethodGet, "/v1/incidents?limit=2&cursor="+cursor, district, nil).json(t, &p)
		seen = append(seen, ids(p)...)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if slices.Sort(seen); !slices.Equal(seen, sorted(a.ID, b.ID, c.ID)) {
		t.Errorf("paging by 2 saw %v", seen)
	}
	for q, loc := range map[string]string{
		"limit=0":        "query.limit",
		"limit=201":      "query.limit",
		"status=lost":    "query.status",
		"overdue=maybe":  "query.overdue",
		"cursor=garbage": "query.cursor",
	} {
		wantProblem(t, e.do(http.MethodGet, "/v1/incidents?"+q, district, nil), 422, api.ProblemInvalid, loc)
	}
}

func TestIncidentJSON(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := e.project("FH-01-01", "SR-001", func(in *incident.Incident) {
		// The first task's acknowledgement deadline has passed.
		in.Tasks[0].AckDue = time.Now().Add(-time.Minute)
	})
	r := e.do(http.MethodGet, "/v1/incidents/"+a.ID, token(t, incident.RoleStreet, "FH"), nil)
	var m map[string]any
	r.json(t, &m)
	// The contract's fields (DESIGN.md §4) are there under their names.
	for _, k := range []string{"id", "status", "category", "street", "community", "grid", "description", "location",
		"reported_at", "reporter", "tasks", "escalation_level", "overdue", "reopen_count", "duplicate_of", "repeat_of",
		"feedback", "timeline"} {
		if _, ok := m[k]; !ok {
			t.Errorf("incident JSON lacks %s: %s", k, r.body)
		}
	}
	if m["overdue"] != true {
		t.Errorf("overdue = %v, want true (computed at read time)", m["overdue"])
	}
	task := m["tasks"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "department", "role", "status", "ack_due", "resolve_due", "acked_at", "completed_at", "escalation_level"} {
		if _, ok := task[k]; !ok {
			t.Errorf("task JSON lacks %s", k)
		}
	}
	if _, ok := m["$schema"]; ok {
		t.Error("incident JSON carries $schema")
	}
}

func TestDepartmentTasks(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := e.project("FH-01-01", "SR-001", nil)
	e.project("MCK-01-01", "SR-001", nil)
	var p struct {
		Items []struct {
			ID         string `json:"id"`
			Department string `json:"department"`
			Status     string `json:"status"`
			IncidentID string `json:"incident_id"`
			Street     string `json:"street"`
			ItemName   string `json:"item_name"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	r := e.do(http.MethodGet, "/v1/departments/SCJG/tasks", token(t, incident.RoleDepartment, "SCJG"), nil)
	if r.status != http.StatusOK {
		t.Fatalf("inbox: %d %s", r.status, r.body)
	}
	r.json(t, &p)
	if len(p.Items) != 2 || p.NextCursor == nil {
		t.Fatalf("SCJG inbox: %s", r.body)
	}
	for _, it := range p.Items {
		if it.Department != "SCJG" || it.Status != "pending_ack" || it.ItemName != "占道经营" || it.IncidentID == "" {
			t.Errorf("row %+v", it)
		}
	}
	e.do(http.MethodGet, "/v1/departments/SCJG/tasks?status=acknowledged", token(t, incident.RoleDistrict, "DA"), nil).json(t, &p)
	if len(p.Items) != 0 {
		t.Errorf("status=acknowledged: %d rows", len(p.Items))
	}
	e.do(http.MethodGet, "/v1/departments/CG/tasks?limit=1", token(t, incident.RoleAdmin, "DA"), nil).json(t, &p)
	if len(p.Items) != 1 || p.NextCursor == nil || *p.NextCursor == "" {
		t.Errorf("limit=1: %d rows, next %v", len(p.Items), p.NextCursor)
	}
	_ = a
	wantProblem(t, e.do(http.MethodGet, "/v1/departments/CG/tasks", token(t, incident.RoleDepartment, "SCJG"), nil), 403, api.ProblemForbidden, "")
	wantProblem(t, e.do(http.MethodGet, "/v1/departments/NOPE/tasks", token(t, incident.RoleDistrict, "DA"), nil), 404, api.ProblemNotFound, "")
	wantProblem(t, e.do(http.MethodGet, "/v1/departments/CG/tasks?status=done", token(t, incident.RoleDistrict, "DA"), nil), 422, api.ProblemInvalid, "query.status")
}

func TestCatalogue(t *testing.T) {
	e := newEnv(t, envOptions{})
	var c api.Catalogue
	r := e.do(http.MethodGet, "/v1/catalogue", token(t, incident.RoleDepartment, "ZJ"), nil)
	r.json(t, &c)
	if c.District.Code != "DA" || len(c.Items) != 3 || len(c.Departments) != 3 || len(c.Streets) != 2 {
		t.Fatalf("catalogue %s", r.body)
	}
	sr := c.Items[0]
	if sr.Code != "SR-001" || sr.Lead != "CG" || !slices.Equal(sr.Cooperating, []string{"SCJG"}) ||
		sr.SLA.Ack != "1h0m0s" || sr.SLA.Resolve != "3wd" || sr.Tier != incident.TierDepartment {
		t.Errorf("item %+v", sr)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.project("FH-01-01", "SR-001", nil)
	e.project("MCK-01-01", "SR-001", nil)
	type report struct {
		From              time.Time        `json:"from"`
		To                time.Time        `json:"to"`
		Target            float64          `json:"target"`
		DefinitionVersion string           `json:"definition_version"`
		Items             []map[string]any `json:"items"`
	}
	var rep report
	r := e.do(http.MethodGet, "/v1/metrics/departments", token(t, incident.RoleStreet, "FH"), nil)
	if r.status != http.StatusOK {
		t.Fatalf("department metrics: %d %s", r.status, r.body)
	}
	r.json(t, &rep)
	if rep.DefinitionVersion != api.MetricsDefinitionVersion || rep.Target != 0.95 || rep.From.Day() != 1 || !rep.To.After(rep.From) {
		t.Errorf("report %+v", rep)
	}
	var cg map[string]any
	for _, it := range rep.Items {
		if it["department"] == "CG" {
			cg = it
		}
	}
	if cg == nil || cg["tasks"] != 2.0 || cg["acked_on_time"] != 0.0 || cg["satisfaction_rate"] != nil || cg["meets_target"] != false {
		t.Errorf("CG row %v", cg)
	}
	for _, k := range []string{"response_rate", "completed", "completed_on_time", "on_time_resolution_rate", "feedback",
		"resolved", "resolution_rate", "rated", "satisfied"} {
		if _, ok := cg[k]; !ok {
			t.Errorf("row lacks %s", k)
		}
	}

	// A street sees only its own street; the district sees all.
	e.do(http.MethodGet, "/v1/metrics/streets", token(t, incident.RoleStreet, "FH"), nil).json(t, &rep)
	if len(rep.Items) != 1 || rep.Items[0]["street"] != "FH" {
		t.Errorf("street FH sees %v", rep.Items)
	}
	e.do(http.MethodGet, "/v1/metrics/streets", token(t, incident.RoleDistrict, "DA"), nil).json(t, &rep)
	if len(rep.Items) != 2 {
		t.Errorf("district sees %v", rep.Items)
	}

	// Dates are local days, the end day included; RFC 3339 is taken as is.
	e.do(http.MethodGet, "/v1/metrics/streets?from=2026-11-01&to=2026-11-30", token(t, incident.RoleDistrict, "DA"), nil).json(t, &rep)
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	if !rep.From.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, shanghai)) || !rep.To.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, shanghai)) {
		t.Errorf("period %s – %s", rep.From, rep.To)
	}
	e.do(http.MethodGet, "/v1/metrics/streets?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z", token(t, incident.RoleDistrict, "DA"), nil).json(t, &rep)
	if len(rep.Items) != 0 {
		t.Errorf("2020 has rows %v", rep.Items)
	}
	district := token(t, incident.RoleDistrict, "DA")
	wantProblem(t, e.do(http.MethodGet, "/v1/metrics/streets?from=yesterday", district, nil), 422, api.ProblemInvalid, "query.from")
	wantProblem(t, e.do(http.MethodGet, "/v1/metrics/departments?from=2026-11-02&to=2026-11-01", district, nil), 422, api.ProblemInvalid, "query.to")
}

// The item and domain league tables answer from the rollups for a period
// given as period and date; too few cases leave a row unranked.
func TestMetricsItemsAndDomains(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.project("FH-01-01", "SR-001", nil)
	e.project("MCK-01-01", "SR-001", nil)
	district := token(t, incident.RoleDistrict, "DA")
	type report struct {
		From              time.Time        `json:"from"`
		To                time.Time        `json:"to"`
		MinCases          int              `json:"min_cases"`
		DefinitionVersion string           `json:"definition_version"`
		Items             []map[string]any `json:"items"`
	}
	var rep report
	r := e.do(http.MethodGet, "/v1/metrics/items?period=month", district, nil)
	if r.status != http.StatusOK {
		t.Fatalf("item metrics: %d %s", r.status, r.body)
	}
	r.json(t, &rep)
	if rep.DefinitionVersion != "2026-12-v4" || rep.MinCases != 10 || len(rep.Items) != 1 {
		t.Fatalf("report %+v", rep)
	}
	it := rep.Items[0]
	// Two incidents, each whistling the lead and one cooperating
	// department: four tasks still in their windows, so no rate yet.
	if it["key"] != "SR-001" || it["tasks"] != 4.0 || it["ack_pending"] != 4.0 || it["resolve_pending"] != 4.0 ||
		it["response_rate"] != nil || it["too_few_cases"] != true || it["rank"] != nil || it["score"] != nil {
		t.Errorf("SR-001 row %v", it)
	}
	var domains report
	e.do(http.MethodGet, "/v1/metrics/domains?period=week&date="+rep.From.Format("2006-01-02"), district, nil).json(t, &domains)
	if !domains.To.Equal(domains.From.AddDate(0, 0, 7)) || domains.From.Weekday() != time.Monday {
		t.Errorf("week %s – %s", domains.From, domains.To)
	}
	wantProblem(t, e.do(http.MethodGet, "/v1/metrics/items?period=day&from=2026-11-01", district, nil), 422, api.ProblemInvalid, "query.period")
	wantProblem(t, e.do(http.MethodGet, "/v1/metrics/items?period=day&date=11/01", district, nil), 422, api.ProblemInvalid, "query.date")
	if r := e.do(http.MethodGet, "/v1/metrics/domains?period=year", district, nil); r.status != http.StatusUnprocessableEntity {
		t.Errorf("period=year: %d %s", r.status, r.body)
	}
}
