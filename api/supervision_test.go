package api_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
)

// ladderRules are test deadlines with the district's default ladder:
// acknowledge within 1h, resolve within 72h, return visit within 72h;
// level 1 at the deadline, 2 two hours later, 3 a day later.
type ladderRules struct{}

func (ladderRules) Due(kind incident.SLAKind, from time.Time) time.Time {
	if kind == incident.SLAAck {
		return from.Add(time.Hour)
	}
	return from.Add(72 * time.Hour)
}

func (ladderRules) Ladder(_ incident.SLAKind, _, due time.Time) (time.Time, []time.Time) {
	return time.Time{}, []time.Time{due, due.Add(2 * time.Hour), due.Add(24 * time.Hour)}
}

func (ladderRules) Limits() incident.Limits { return incident.DefaultLimits }

type overduePage struct {
	Items      []api.OverdueItem `json:"items"`
	NextCursor string            `json:"next_cursor"`
}

// keys are the rows of a page as "task/kind", in order.
func (p overduePage) keys() []string {
	out := []string{}
	for _, it := range p.Items {
		out = append(out, it.TaskID+"/"+it.Kind)
	}
	return out
}

// overdueFixture projects incidents whose tasks missed deadlines by
// different amounts, each ticked at now as its workflow's timers would
// have, and returns them by name.
func overdueFixture(t *testing.T, e *env, now time.Time) map[string]*incident.Incident {
	t.Helper()
	ctx := context.Background()
	out := map[string]*incident.Incident{}
	mk := func(name, grid string, ago time.Duration, steps func(in *incident.Incident, at func(time.Duration) time.Time)) {
		t.Helper()
		street, community, _ := e.jur.LocateGrid(grid)
		it, _ := e.jur.Item("SR-001")
		reported := now.Add(-ago)
		r := incident.Report{IncidentID: name + "-" + randomHex(4), Category: "SR-001", Street: street, Community: community,
			Grid: grid, Description: "overdue fixture " + name, ReportedAt: reported, Reporter: "tester"}
		in := incident.New(r, it.Snapshot(), reported, ladderRules{})
		at := func(d time.Duration) time.Time { return reported.Add(d) }
		if steps != nil {
			steps(in, at)
		}
		in.Tick(now)
		if err := e.store.Project(ctx, in); err != nil {
			t.Fatalf("project %s: %v", name, err)
		}
		out[name] = in
	}
	apply := func(in *incident.Incident, a incident.Actor, c incident.Command, at time.Time) {
		t.Helper()
		in.Tick(at)
		if err := in.Apply(a, c, at, ladderRules{}); err != nil {
			t.Fatalf("%s on %s: %v", c.Name(), in.ID, err)
		}
	}
	dept := func(code string) incident.Actor {
		return incident.Actor{Sub: "clerk", Role: incident.RoleDepartment, Org: code}
	}
	// A (FH): SCJG acknowledged in time; CG has not, 29h late: level 3.
	mk("A", "FH-01-01", 30*time.Hour, func(in *incident.Incident, at func(time.Duration) time.Time) {
		apply(in, dept("SCJG"), incident.Ack{TaskID: in.Tasks[1].ID}, at(30*time.Minute))
	})
	// B (MCK): SCJG acknowledged; CG 4h late: level 2.
	mk("B", "MCK-01-01", 5*time.Hour, func(in *incident.Incident, at func(time.Duration) time.Time) {
		apply(in, dept("SCJG"), incident.Ack{TaskID: in.Tasks[1].ID}, at(30*time.Minute))
	})
	// C (FH): CG acknowledged but 8h past resolution (level 2); SCJG never
	// acknowledged: 79h late for that (level 3) and 8h for resolution.
	mk("C", "FH-01-02", 80*time.Hour, func(in *incident.Incident, at func(time.Duration) time.Time) {
		apply(in, dept("CG"), incident.Ack{TaskID: in.Tasks[0].ID}, at(30*time.Minute))
	})
	// D (FH): both 30 minutes late: level 1.
	mk("D", "FH-01-01", 90*time.Minute, nil)
	// E (FH): nothing due yet.
	mk("E", "FH-01-01", 10*time.Minute, nil)
	// F (FH): both late, but the incident is suspended (挂账): clocks stopped.
	mk("F", "FH-01-02", 3*time.Hour, func(in *incident.Incident, at func(time.Duration) time.Time) {
		apply(in, incident.Actor{Sub: "officer", Role: incident.RoleStreet, Org: "FH"},
			incident.Suspend{Reason: "waiting for the owner", ReviewAt: now.Add(48 * time.Hour)}, at(2*time.Hour))
	})
	// G (MCK): closed long ago, once late: history, not on the board.
	mk("G", "MCK-01-01", 200*time.Hour, func(in *incident.Incident, at func(time.Duration) time.Time) {
		street := incident.Actor{Sub: "officer", Role: incident.RoleStreet, Org: "MCK"}
		for i, tk := range in.Tasks {
			apply(in, dept(tk.Department), incident.Ack{TaskID: tk.ID}, at(3*time.Hour+time.Duration(i)*time.Minute))
		}
		for i, tk := range in.Tasks {
			apply(in, dept(tk.Department), incident.Complete{TaskID: tk.ID, Result: "done"}, at(5*time.Hour+time.Duration(i)*time.Minute))
		}
		apply(in, street, incident.Verify{Passed: true}, at(6*time.Hour))
		apply(in, street, incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}, at(7*time.Hour))
	})
	if out["G"].Status != incident.StatusClosed || out["F"].Status != incident.StatusSuspended {
		t.Fatalf("fixture: G %s, F %s", out["G"].Status, out["F"].Status)
	}
	return out
}

func TestOverdueBoard(t *testing.T) {
	e := newEnv(t, envOptions{})
	now := time.Now().UTC().Truncate(time.Millisecond)
	fx := overdueFixture(t, e, now)
	row := func(name string, task int, kind string) string { return fx[name].Tasks[task-1].ID + "/" + kind }
	// Most overdue first; C's two resolution deadlines are equal: by task id.
	all := []string{
		row("C", 2, "ack"),     // 79h, level 3
		row("A", 1, "ack"),     // 29h, level 3
		row("C", 1, "resolve"), // 8h, level 2
		row("C", 2, "resolve"), // 8h, level 3 (the task's level)
		row("B", 1, "ack"),     // 4h, level 2
		row("D", 1, "ack"),     // 30m, level 1
		row("D", 2, "ack"),     // 30m, level 1
	}
	district, admin := token(t, incident.RoleDistrict, "DA"), token(t, incident.RoleAdmin, "DA")
	fh, mck := token(t, incident.RoleStreet, "FH"), token(t, incident.RoleStreet, "MCK")

	get := func(tok string, q url.Values) overduePage {
		t.Helper()
		r := e.do(http.MethodGet, "/v1/supervision/overdue?"+q.Encode(), tok, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET overdue?%s: %d %s", q.Encode(), r.status, r.body)
		}
		var p overduePage
		r.json(t, &p)
		return p
	}
	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	t.Run("rows", func(t *testing.T) {
		p := get(district, nil)
		if got := p.keys(); !slices.Equal(got, all) {
			t.Fatalf("district sees\n%v\nwant\n%v", got, all)
		}
		if p.NextCursor != "" {
			t.Errorf("next_cursor %q on the only page", p.NextCursor)
		}
		first := p.Items[0]
		c := fx["C"]
		tk := c.Tasks[1]
		want := api.OverdueItem{IncidentID: c.ID, TaskID: tk.ID, Department: "SCJG", Street: "FH", Item: "SR-001",
			ItemName: "占道经营", Kind: "ack", Due: first.Due, OverdueSeconds: first.OverdueSeconds, Level: 3, Description: c.Description}
		if first != want {
			t.Errorf("first row %+v, want %+v", first, want)
		}
		if !first.Due.Equal(tk.AckDue) {
			t.Errorf("due %s, want %s", first.Due, tk.AckDue)
		}
		if d := time.Duration(first.OverdueSeconds)*time.Second - 79*time.Hour; d < -time.Second || d > time.Minute {
			t.Errorf("overdue_seconds %d, want about 79h", first.OverdueSeconds)
		}
		levels := []int{}
		for _, it := range p.Items {
			levels = append(levels, it.Level)
		}
		if want := []int{3, 3, 2, 3, 2, 1, 1}; !slices.Equal(levels, want) {
			t.Errorf("levels %v, want %v", levels, want)
		}
		if got := get(admin, nil).keys(); !slices.Equal(got, all) {
			t.Errorf("admin sees %v", got)
		}
	})

	t.Run("street scope", func(t *testing.T) {
		fhRows := slices.DeleteFunc(slices.Clone(all), func(k string) bool { return k == row("B", 1, "ack") })
		if got := get(fh, nil).keys(); !slices.Equal(got, fhRows) {
			t.Errorf("street FH sees %v, want %v", got, fhRows)
		}
		if got := get(fh, q("street", "FH")).keys(); !slices.Equal(got, fhRows) {
			t.Errorf("street FH asking for FH sees %v", got)
		}
		if got := get(mck, nil).keys(); !slices.Equal(got, []string{row("B", 1, "ack")}) {
			t.Errorf("street MCK sees %v", got)
		}
		r := e.do(http.MethodGet, "/v1/supervision/overdue?street=MCK", fh, nil)
		wantProblem(t, r, http.StatusForbidden, api.ProblemForbidden, "")
		for _, tok := range []string{token(t, incident.RoleDepartment, "CG"), token(t, incident.RoleGridWorker, "FH-01-01")} {
			r := e.do(http.MethodGet, "/v1/supervision/overdue", tok, nil)
			wantProblem(t, r, http.StatusForbidden, api.ProblemForbidden, "")
		}
		r = e.do(http.MethodGet, "/v1/supervision/overdue", "", nil)
		wantProblem(t, r, http.StatusUnauthorized, api.ProblemUnauthorized, "")
	})

	t.Run("filters", func(t *testing.T) {
		cases := []struct {
			tok  string
			q    url.Values
			want []string
		}{
			{district, q("street", "MCK"), []string{row("B", 1, "ack")}},
			{district, q("department", "CG"), []string{row("A", 1, "ack"), row("C", 1, "resolve"), row("B", 1, "ack"), row("D", 1, "ack")}},
			{district, q("department", "ZJ"), []string{}},
			{district, q("kind", "resolve"), []string{row("C", 1, "resolve"), row("C", 2, "resolve")}},
			{district, q("kind", "ack"), []string{row("C", 2, "ack"), row("A", 1, "ack"), row("B", 1, "ack"), row("D", 1, "ack"), row("D", 2, "ack")}},
			{district, q("min_level", "2"), all[:5]},
			{district, q("min_level", "3"), []string{row("C", 2, "ack"), row("A", 1, "ack"), row("C", 2, "resolve")}},
			{district, q("min_level", "4"), []string{}},
			{district, q("min_level", "0"), all},
			{district, q("street", "FH", "kind", "ack", "department", "SCJG"), []string{row("C", 2, "ack"), row("D", 2, "ack")}},
			{district, q("street", "FH", "kind", "ack", "department", "SCJG", "min_level", "2"), []string{row("C", 2, "ack")}},
			{fh, q("department", "CG", "min_level", "2"), []string{row("A", 1, "ack"), row("C", 1, "resolve")}},
		}
		for _, c := range cases {
			if got := get(c.tok, c.q).keys(); !slices.Equal(got, c.want) {
				t.Errorf("?%s: %v, want %v", c.q.Encode(), got, c.want)
			}
		}
	})

	t.Run("validation", func(t *testing.T) {
		for _, c := range []struct{ query, location string }{
			{"kind=late", "query.kind"},
			{"kind=ACK", "query.kind"},
			{"min_level=-1", "query.min_level"},
			{"min_level=x", "query.min_level"},
			{"limit=0", "query.limit"},
			{"limit=201", "query.limit"},
			{"cursor=not-a-cursor", "query.cursor"},
		} {
			r := e.do(http.MethodGet, "/v1/supervision/overdue?"+c.query, district, nil)
			wantProblem(t, r, http.StatusUnprocessableEntity, api.ProblemInvalid, c.location)
		}
	})

	t.Run("pages", func(t *testing.T) {
		for _, lim := range []int{1, 2, 3} {
			limit := strconv.Itoa(lim)
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > len(all) {
					t.Fatalf("limit %s: no end after %d pages", limit, pages)
				}
				v := q("limit", limit, "cursor", cursor)
				if cursor == "" {
					v.Del("cursor")
				}
				p := get(district, v)
				if n := len(p.Items); n == 0 || n > lim {
					t.Fatalf("limit %s: page of %d", limit, n)
				}
				got = append(got, p.keys()...)
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
			}
			if !slices.Equal(got, all) {
				t.Errorf("limit %s: pages give %v, want %v", limit, got, all)
			}
		}
		// A street's pages stay in its street.
		p := get(fh, q("limit", "4"))
		next := get(fh, q("limit", "4", "cursor", p.NextCursor))
		if got := append(p.keys(), next.keys()...); len(got) != 6 || slices.Contains(got, row("B", 1, "ack")) || next.NextCursor != "" {
			t.Errorf("street FH pages: %v (next %q)", got, next.NextCursor)
		}
	})
}
