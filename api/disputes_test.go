package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
)

// disputeFixture projects four incidents, each step some minutes after
// its report:
//
//	A (FH):  SCJG returns its task at +10                     → open
//	C (FH):  CG returns at +15, the street overrules at +25   → back to CG
//	B (MCK): CG returns at +20, the street refers it at +30   → open, referred
//	D (FH):  a street-tier item whistled to ZJ at +40         → routing override
func disputeFixture(t *testing.T, e *env) map[string]*incident.Incident {
	t.Helper()
	apply := func(in *incident.Incident, a incident.Actor, c incident.Command, minutes int) {
		t.Helper()
		if err := in.Apply(a, c, in.ReportedAt.Add(time.Duration(minutes)*time.Minute), ladderRules{}); err != nil {
			t.Fatalf("%s on %s: %v", c.Name(), in.ID, err)
		}
	}
	dept := func(code string) incident.Actor {
		return incident.Actor{Sub: "clerk", Role: incident.RoleDepartment, Org: code}
	}
	street := func(code string) incident.Actor {
		return incident.Actor{Sub: "officer", Role: incident.RoleStreet, Org: code}
	}
	out := map[string]*incident.Incident{}
	out["A"] = e.project("FH-01-01", "SR-001", func(in *incident.Incident) {
		apply(in, dept("SCJG"), incident.Return{TaskID: in.Tasks[1].ID, Reason: "not a licence matter"}, 10)
	})
	out["C"] = e.project("FH-01-02", "SR-001", func(in *incident.Incident) {
		apply(in, dept("CG"), incident.Return{TaskID: in.Tasks[0].ID, Reason: "not ours"}, 15)
		apply(in, street("FH"), incident.Overrule{TaskID: in.Tasks[0].ID, Note: "the list says CG"}, 25)
	})
	out["B"] = e.project("MCK-01-01", "SR-001", func(in *incident.Incident) {
		apply(in, dept("CG"), incident.Return{TaskID: in.Tasks[0].ID, Reason: "private land"}, 20)
		apply(in, street("MCK"), incident.Refer{TaskID: in.Tasks[0].ID, Note: "who owns the land?"}, 30)
	})
	out["D"] = e.project("FH-01-01", "LJ-001", func(in *incident.Incident) {
		apply(in, street("FH"), incident.Whistle{Departments: []string{"ZJ"}, Note: "a wall about to fall"}, 40)
	})
	return out
}

type disputePage struct {
	Items      []api.DisputeItem `json:"items"`
	NextCursor string            `json:"next_cursor"`
}

type reviewPage struct {
	Items      []api.ReviewItem `json:"items"`
	NextCursor string           `json:"next_cursor"`
}

// query builds a query string from key, value pairs.
func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// getAll pages through path with tok, limit rows a page, and returns the
// rows.
func getAll[T any](t *testing.T, e *env, path, tok string, limit int, kv ...string) []T {
	t.Helper()
	var out []T
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatalf("%s: no end after %d pages", path, pages)
		}
		args := append([]string{"limit", strconv.Itoa(limit)}, kv...)
		if cursor != "" {
			args = append(args, "cursor", cursor)
		}
		r := e.do(http.MethodGet, path+query(args...), tok, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s%s: %d %s", path, query(args...), r.status, r.body)
		}
		var p struct {
			Items      []T    `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		r.json(t, &p)
		if len(p.Items) > limit || (p.NextCursor != "" && len(p.Items) != limit) {
			t.Fatalf("GET %s: page of %d at limit %d (next %q)", path, len(p.Items), limit, p.NextCursor)
		}
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			return out
		}
		cursor = p.NextCursor
	}
}

func TestDisputeQueue(t *testing.T) {
	e := newEnv(t, envOptions{})
	fx := disputeFixture(t, e)
	district, admin := token(t, incident.RoleDistrict, "DA"), token(t, incident.RoleAdmin, "DA")
	fh, mck := token(t, incident.RoleStreet, "FH"), token(t, incident.RoleStreet, "MCK")
	a, b := fx["A"].Tasks[1].ID, fx["B"].Tasks[0].ID
	ids := func(tok string, limit int, kv ...string) []string {
		t.Helper()
		out := []string{}
		for _, it := range getAll[api.DisputeItem](t, e, "/v1/supervision/disputes", tok, limit, kv...) {
			out = append(out, it.TaskID)
		}
		return out
	}

	t.Run("filters and scope", func(t *testing.T) {
		for _, c := range []struct {
			tok  string
			kv   []string
			want []string
		}{
			{district, nil, []string{a, b}}, // C's return was overruled
			{admin, nil, []string{a, b}},
			{district, []string{"referred", "true"}, []string{b}},
			{district, []string{"referred", "false"}, []string{a}},
			{district, []string{"street", "MCK"}, []string{b}},
			{district, []string{"department", "CG"}, []string{b}},
			{district, []string{"department", "ZJ"}, []string{}},
			{fh, nil, []string{a}},
			{fh, []string{"street", "FH"}, []string{a}},
			{fh, []string{"referred", "true"}, []string{}},
			{mck, nil, []string{b}},
		} {
			for _, limit := range []int{1, 50} {
				if got := ids(c.tok, limit, c.kv...); !slices.Equal(got, c.want) {
					t.Errorf("%v at limit %d: %v, want %v", c.kv, limit, got, c.want)
				}
			}
		}
	})

	t.Run("rows", func(t *testing.T) {
		var p disputePage
		e.do(http.MethodGet, "/v1/supervision/disputes?referred=true", district, nil).json(t, &p)
		if len(p.Items) != 1 {
			t.Fatalf("referred: %+v", p.Items)
		}
		got, in := p.Items[0], fx["B"]
		returnedAt, referredAt := in.ReportedAt.Add(20*time.Minute), in.ReportedAt.Add(30*time.Minute)
		if got.ReferredAt == nil || !got.ReferredAt.Equal(referredAt) || !got.ReturnedAt.Equal(returnedAt) {
			t.Errorf("times %+v, want returned %s, referred %s", got, returnedAt, referredAt)
		}
		want := api.DisputeItem{IncidentID: in.ID, TaskID: b, Department: "CG", Street: "MCK", Item: "SR-001", ItemName: "占道经营",
			Reason: "private land", ReturnedAt: got.ReturnedAt, Returns: 1, Referred: true, ReferredAt: got.ReferredAt,
			ReferNote: "who owns the land?"}
		if got != want {
			t.Errorf("row %+v, want %+v", got, want)
		}
		r := e.do(http.MethodGet, "/v1/supervision/disputes?referred=false", district, nil)
		if r.status != http.StatusOK || !containsAll(string(r.body), `"referred":false`, `"referred_at":null`, `"refer_note":""`) {
			t.Errorf("unreferred row: %s", r.body)
		}
	})

	t.Run("refused", func(t *testing.T) {
		wantProblem(t, e.do(http.MethodGet, "/v1/supervision/disputes?street=MCK", fh, nil), http.StatusForbidden, api.ProblemForbidden, "")
		for _, tok := range []string{token(t, incident.RoleDepartment, "CG"), token(t, incident.RoleGridWorker, "FH-01-01")} {
			wantProblem(t, e.do(http.MethodGet, "/v1/supervision/disputes", tok, nil), http.StatusForbidden, api.ProblemForbidden, "")
		}
		wantProblem(t, e.do(http.MethodGet, "/v1/supervision/disputes", "", nil), http.StatusUnauthorized, api.ProblemUnauthorized, "")
		for _, c := range []struct{ query, location string }{
			{"referred=maybe", "query.referred"},
			{"limit=0", "query.limit"},
			{"limit=201", "query.limit"},
			{"cursor=not-a-cursor", "query.cursor"},
		} {
			wantProblem(t, e.do(http.MethodGet, "/v1/supervision/disputes?"+c.query, district, nil), http.StatusUnprocessableEntity, api.ProblemInvalid, c.location)
		}
	})
}

func TestReview(t *testing.T) {
	e := newEnv(t, envOptions{})
	fx := disputeFixture(t, e)
	district, admin := token(t, incident.RoleDistrict, "DA"), token(t, incident.RoleAdmin, "DA")
	fh, mck := token(t, incident.RoleStreet, "FH"), token(t, incident.RoleStreet, "MCK")
	keys := func(tok string, limit int, kv ...string) []string {
		t.Helper()
		out := []string{}
		for _, it := range getAll[api.ReviewItem](t, e, "/v1/supervision/review", tok, limit, kv...) {
			for name, in := range fx {
				if in.ID == it.IncidentID {
					out = append(out, name+"/"+it.Type)
				}
			}
		}
		return out
	}
	// Newest first.
	all := []string{"D/routing_override", "B/dispute_referred", "C/overruled", "B/returned", "C/returned", "A/returned"}
	at := func(name string, minutes int) string {
		return fx[name].ReportedAt.Add(time.Duration(minutes) * time.Minute).Format(time.RFC3339Nano)
	}

	t.Run("filters and scope", func(t *testing.T) {
		for _, c := range []struct {
			tok  string
			kv   []string
			want []string
		}{
			{district, nil, all},
			{admin, nil, all},
			{district, []string{"type", "returned"}, []string{"B/returned", "C/returned", "A/returned"}},
			{district, []string{"type", "routing_override"}, []string{"D/routing_override"}},
			{district, []string{"type", "enforcement_called"}, []string{}},
			{district, []string{"street", "MCK"}, []string{"B/dispute_referred", "B/returned"}},
			{district, []string{"from", at("C", 25)}, all[:3]},
			{district, []string{"from", at("C", 15), "to", at("C", 25)}, []string{"B/returned", "C/returned"}},
			{district, []string{"to", "2020-01-01"}, []string{}},
			{fh, nil, []string{"D/routing_override", "C/overruled", "C/returned", "A/returned"}},
			{fh, []string{"street", "FH", "type", "overruled"}, []string{"C/overruled"}},
			{mck, nil, []string{"B/dispute_referred", "B/returned"}},
		} {
			for _, limit := range []int{1, 2, 50} {
				if got := keys(c.tok, limit, c.kv...); !slices.Equal(got, c.want) {
					t.Errorf("%v at limit %d: %v, want %v", c.kv, limit, got, c.want)
				}
			}
		}
	})

	t.Run("rows", func(t *testing.T) {
		var p reviewPage
		e.do(http.MethodGet, "/v1/supervision/review?type=routing_override", district, nil).json(t, &p)
		if len(p.Items) != 1 {
			t.Fatalf("routing overrides: %+v", p.Items)
		}
		d := fx["D"]
		want := api.ReviewItem{IncidentID: d.ID, Street: "FH", Item: "LJ-001", At: p.Items[0].At, Type: "routing_override",
			Actor: "street:FH:officer", Note: " → ZJ: a wall about to fall"}
		if p.Items[0] != want || !p.Items[0].At.Equal(d.ReportedAt.Add(40*time.Minute)) {
			t.Errorf("row %+v, want %+v", p.Items[0], want)
		}
		e.do(http.MethodGet, "/v1/supervision/review?type=overruled", fh, nil).json(t, &p)
		c := fx["C"]
		want = api.ReviewItem{IncidentID: c.ID, Street: "FH", Item: "SR-001", At: p.Items[0].At, Type: "overruled",
			Actor: "street:FH:officer", Note: "the list says CG", TaskID: c.Tasks[0].ID, Department: "CG"}
		if len(p.Items) != 1 || p.Items[0] != want {
			t.Errorf("overruled: %+v, want %+v", p.Items, want)
		}
	})

	t.Run("refused", func(t *testing.T) {
		wantProblem(t, e.do(http.MethodGet, "/v1/supervision/review?street=FH", mck, nil), http.StatusForbidden, api.ProblemForbidden, "")
		for _, tok := range []string{token(t, incident.RoleDepartment, "CG"), token(t, incident.RoleGridWorker, "FH-01-01")} {
			wantProblem(t, e.do(http.MethodGet, "/v1/supervision/review", tok, nil), http.StatusForbidden, api.ProblemForbidden, "")
		}
		wantProblem(t, e.do(http.MethodGet, "/v1/supervision/review", "", nil), http.StatusUnauthorized, api.ProblemUnauthorized, "")
		for _, c := range []struct{ query, location string }{
			{"type=task_created", "query.type"},
			{"type=Returned", "query.type"},
			{"from=yesterday", "query.from"},
			{"to=soon", "query.to"},
			{"from=2026-11-02&to=2026-11-01", "query.to"},
			{"limit=0", "query.limit"},
			{"cursor=not-a-cursor", "query.cursor"},
		} {
			wantProblem(t, e.do(http.MethodGet, "/v1/supervision/review?"+c.query, district, nil), http.StatusUnprocessableEntity, api.ProblemInvalid, c.location)
		}
	})
}

// The metrics count the fixture's returns, overrules and routing override.
func TestMetricsReturns(t *testing.T) {
	e := newEnv(t, envOptions{})
	fx := disputeFixture(t, e)
	period := query("from", fx["A"].ReportedAt.Add(-time.Hour).Format(time.RFC3339), "to", fx["D"].ReportedAt.Add(2*time.Hour).Format(time.RFC3339))
	district := token(t, incident.RoleDistrict, "DA")
	rows := func(path string, key string) map[string]map[string]any {
		t.Helper()
		var rep struct {
			Items []map[string]any `json:"items"`
		}
		r := e.do(http.MethodGet, path+period, district, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		r.json(t, &rep)
		out := map[string]map[string]any{}
		for _, it := range rep.Items {
			out[it[key].(string)] = it
		}
		return out
	}
	check := func(row map[string]any, want map[string]any) {
		t.Helper()
		for k, v := range want {
			if got, ok := row[k]; !ok || got != v {
				t.Errorf("%s = %v (present %v), want %v in %v", k, got, ok, v, row)
			}
		}
	}
	// Tasks: A, B, C to CG and SCJG each; D to ZJ. Returns: A by SCJG, B and
	// C by CG; C's overruled.
	deps := rows("/v1/metrics/departments", "department")
	check(deps["CG"], map[string]any{"tasks": 3.0, "returns": 2.0, "overruled_returns": 1.0, "return_rate": 2.0 / 3})
	check(deps["SCJG"], map[string]any{"tasks": 3.0, "returns": 1.0, "overruled_returns": 0.0, "return_rate": 1.0 / 3})
	check(deps["ZJ"], map[string]any{"tasks": 1.0, "returns": 0.0, "overruled_returns": 0.0, "return_rate": 0.0})
	if _, ok := deps["CG"]["routing_overrides"]; ok {
		t.Errorf("a department row has routing_overrides: %v", deps["CG"])
	}
	streets := rows("/v1/metrics/streets", "street")
	check(streets["FH"], map[string]any{"tasks": 5.0, "returns": 2.0, "overruled_returns": 1.0, "return_rate": 0.4, "routing_overrides": 1.0})
	check(streets["MCK"], map[string]any{"tasks": 2.0, "returns": 1.0, "overruled_returns": 0.0, "return_rate": 0.5, "routing_overrides": 0.0})
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
