package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

var districtActor = incident.Actor{Sub: "inspector", Role: incident.RoleDistrict, Org: "DA"}

// disputeFixture projects incidents whose returns (退单) are open, referred,
// overruled and reassigned, a routing override and an enforcement call,
// every step at t0 plus whole minutes:
//
//	D1 FH: SCJG returns at 10                                   → open
//	D2 XY: CG returns at 20, referred at 30                      → open, referred
//	D3 FH: CG returns at 5, the street overrules at 40           → back to pending_ack
//	D4 FH: SCJG returns at 15, the street reassigns to ZJ at 45  → settled
//	D5 FH: CG returns at 1, overruled at 2, returns again at 10  → open, 2 returns
//	D6 XY: CG returns at 25, referred at 26, the district overrules at 50
//	D7 FH: SCJG returns at 12, referred at 13, the district reassigns to ZJ at 55
//	R1 FH: a street-tier item whistled to CG at 60               → routing override
//	E1 XY: the street calls the enforcement team ZFD at 70       → enforcement call
func disputeFixture(t *testing.T, s *Store) map[string]*incident.Incident {
	t.Helper()
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	out := map[string]*incident.Incident{}
	mk := func(id, street string, item incident.Item) *incident.Incident {
		in := newIncident(id, street, item, t0)
		in.MaxReturns = 2
		project(t, s, in)
		out[id] = in
		return in
	}
	ret := func(in *incident.Incident, dept, reason string, m int) {
		step(t, s, in, deptActor(dept), incident.Return{TaskID: taskOf(t, in, dept), Reason: reason}, at(m))
	}
	d1 := mk("D1", "FH", itemCG)
	ret(d1, "SCJG", "not a licence matter", 10)
	d2 := mk("D2", "XY", itemCG)
	ret(d2, "CG", "private land", 20)
	step(t, s, d2, streetActor("XY"), incident.Refer{TaskID: taskOf(t, d2, "CG"), Note: "who owns the land?"}, at(30))
	d3 := mk("D3", "FH", itemCG)
	ret(d3, "CG", "not ours", 5)
	step(t, s, d3, streetActor("FH"), incident.Overrule{TaskID: taskOf(t, d3, "CG"), Note: "the list says CG"}, at(40))
	d4 := mk("D4", "FH", itemCG)
	ret(d4, "SCJG", "not ours", 15)
	step(t, s, d4, streetActor("FH"), incident.Reassign{TaskID: taskOf(t, d4, "SCJG"), Department: "ZJ"}, at(45))
	d5 := mk("D5", "FH", itemCG)
	ret(d5, "CG", "first", 1)
	step(t, s, d5, streetActor("FH"), incident.Overrule{TaskID: taskOf(t, d5, "CG"), Note: "yours"}, at(2))
	ret(d5, "CG", "second", 10)
	d6 := mk("D6", "XY", itemCG)
	ret(d6, "CG", "not ours", 25)
	step(t, s, d6, streetActor("XY"), incident.Refer{TaskID: taskOf(t, d6, "CG"), Note: "please decide"}, at(26))
	step(t, s, d6, districtActor, incident.Overrule{TaskID: taskOf(t, d6, "CG"), Note: "CG's by the list"}, at(50))
	d7 := mk("D7", "FH", itemCG)
	ret(d7, "SCJG", "not ours", 12)
	step(t, s, d7, streetActor("FH"), incident.Refer{TaskID: taskOf(t, d7, "SCJG"), Note: "please decide"}, at(13))
	step(t, s, d7, districtActor, incident.Reassign{TaskID: taskOf(t, d7, "SCJG"), Department: "ZJ", Note: "ZJ's"}, at(55))
	r1 := mk("R1", "FH", itemStreet)
	step(t, s, r1, streetActor("FH"), incident.Whistle{Departments: []string{"CG"}, Note: "a stall on the pavement"}, at(60))
	e1 := mk("E1", "XY", itemCG)
	step(t, s, e1, streetActor("XY"), incident.Whistle{Departments: []string{"ZFD"}, Enforcement: true, Note: "联合执法"}, at(70))

	require.Equal(t, incident.TaskPendingAck, d3.Task(taskOf(t, d3, "CG")).Status, "overruled: back to its department")
	require.Equal(t, incident.TaskPendingAck, d6.Task(taskOf(t, d6, "CG")).Status)
	return out
}

// allDisputes pages through Disputes with f and returns the task ids.
func allDisputes(t *testing.T, s *Store, f DisputeFilter) []string {
	t.Helper()
	got := []string{}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 50)
		rows, next, err := s.Disputes(context.Background(), Everything, f)
		require.NoError(t, err)
		for _, r := range rows {
			got = append(got, r.TaskID)
		}
		if next == "" {
			return got
		}
		require.Len(t, rows, pageLimit(f.Limit), "only the last page is short")
		f.Cursor = next
	}
}

func TestDisputes(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(2 * time.Hour)
	s := newStore(t, &now)
	fx := disputeFixture(t, s)
	task := func(id, dept string) string { return taskOf(t, fx[id], dept) }

	// Oldest return first; D1's and D5's at the same minute by task id.
	all := []string{task("D1", "SCJG"), task("D5", "CG"), task("D2", "CG")}
	yes, no := true, false
	for _, c := range []struct {
		f    DisputeFilter
		want []string
	}{
		{DisputeFilter{}, all},
		{DisputeFilter{Street: "FH"}, all[:2]},
		{DisputeFilter{Street: "XY"}, all[2:]},
		{DisputeFilter{Street: "ZZ"}, []string{}},
		{DisputeFilter{Department: "CG"}, all[1:]},
		{DisputeFilter{Department: "SCJG", Street: "FH"}, all[:1]},
		{DisputeFilter{Referred: &yes}, all[2:]},
		{DisputeFilter{Referred: &no}, all[:2]},
		{DisputeFilter{Referred: &yes, Street: "FH"}, []string{}},
	} {
		for _, limit := range []int{0, 1, 2} {
			c.f.Limit = limit
			assert.Equal(t, c.want, allDisputes(t, s, c.f), "%+v", c.f)
		}
	}

	rows, next, err := s.Disputes(ctx, Everything, DisputeFilter{})
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Empty(t, next)
	assert.Equal(t, OpenDispute{
		IncidentID: "D5", TaskID: task("D5", "CG"), Department: "CG", Street: "FH", Item: "SR-001", ItemName: "占道经营",
		Reason: "second", ReturnedAt: rows[1].ReturnedAt, Returns: 2,
	}, rows[1])
	assert.True(t, rows[1].ReturnedAt.Equal(t0.Add(10*time.Minute)), "the latest return: %s", rows[1].ReturnedAt)
	referredAt := t0.Add(30 * time.Minute)
	d2 := rows[2]
	require.NotNil(t, d2.ReferredAt)
	assert.True(t, d2.ReferredAt.Equal(referredAt))
	assert.True(t, d2.ReturnedAt.Equal(t0.Add(20*time.Minute)))
	assert.Equal(t, OpenDispute{
		IncidentID: "D2", TaskID: task("D2", "CG"), Department: "CG", Street: "XY", Item: "SR-001", ItemName: "占道经营",
		Reason: "private land", ReturnedAt: d2.ReturnedAt, Returns: 1, Referred: true, ReferredAt: d2.ReferredAt,
		ReferNote: "who owns the land?",
	}, d2)

	// Settling a return takes it off the queue: the district overrules D2.
	step(t, s, fx["D2"], districtActor, incident.Overrule{TaskID: task("D2", "CG"), Note: "CG's"}, t0.Add(time.Hour))
	assert.Equal(t, all[:2], allDisputes(t, s, DisputeFilter{}))
	assert.Empty(t, allDisputes(t, s, DisputeFilter{Referred: &yes}))

	_, _, err = s.Disputes(ctx, Everything, DisputeFilter{Cursor: "nope"})
	assert.Equal(t, incident.CodeInvalid, incident.ErrorCode(err))
}

// reviewKey names a review entry: incident, type and minute after t0.
func reviewKey(incidentID, typ string, at time.Time) string {
	return fmt.Sprintf("%s/%s/%d", incidentID, typ, int(at.Sub(t0)/time.Minute))
}

// allReview pages through Review with f and returns the entries' keys.
func allReview(t *testing.T, s *Store, f ReviewFilter) []string {
	t.Helper()
	got := []string{}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 50)
		rows, next, err := s.Review(context.Background(), Everything, f)
		require.NoError(t, err)
		for _, r := range rows {
			got = append(got, reviewKey(r.IncidentID, r.Type, r.At))
		}
		if next == "" {
			return got
		}
		require.Len(t, rows, pageLimit(f.Limit), "only the last page is short")
		f.Cursor = next
	}
}

func TestReview(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(2 * time.Hour)
	s := newStore(t, &now)
	fx := disputeFixture(t, s)

	// Newest first; at equal times by incident id, then sequence, descending.
	all := []string{
		"E1/enforcement_called/70",
		"R1/routing_override/60",
		"D7/reassigned/55",
		"D6/overruled/50",
		"D4/reassigned/45",
		"D3/overruled/40",
		"D2/dispute_referred/30",
		"D6/dispute_referred/26",
		"D6/returned/25",
		"D2/returned/20",
		"D4/returned/15",
		"D7/dispute_referred/13",
		"D7/returned/12",
		"D5/returned/10",
		"D1/returned/10",
		"D3/returned/5",
		"D5/overruled/2",
		"D5/returned/1",
	}
	// The same, worked out from the domain's timelines.
	type entry struct {
		id string
		e  incident.Entry
	}
	var oracle []entry
	for id, in := range fx {
		for _, e := range in.Timeline {
			if slices.Contains(ReviewTypes, e.Type) {
				oracle = append(oracle, entry{id, e})
			}
		}
	}
	slices.SortFunc(oracle, func(a, b entry) int {
		if c := b.e.At.Compare(a.e.At); c != 0 {
			return c
		}
		if c := strings.Compare(b.id, a.id); c != 0 {
			return c
		}
		return b.e.Seq - a.e.Seq
	})
	var fromDomain []string
	for _, o := range oracle {
		fromDomain = append(fromDomain, reviewKey(o.id, o.e.Type, o.e.At))
	}
	require.Equal(t, all, fromDomain, "the hand-made list matches the domain")

	only := func(keep func(k string) bool) []string {
		out := []string{}
		for _, k := range all {
			if keep(k) {
				out = append(out, k)
			}
		}
		return out
	}
	street := map[string]string{"D1": "FH", "D2": "XY", "D3": "FH", "D4": "FH", "D5": "FH", "D6": "XY", "D7": "FH", "R1": "FH", "E1": "XY"}
	for _, c := range []struct {
		f    ReviewFilter
		want []string
	}{
		{ReviewFilter{}, all},
		{ReviewFilter{Street: "XY"}, only(func(k string) bool { return street[k[:2]] == "XY" })},
		{ReviewFilter{Street: "FH"}, only(func(k string) bool { return street[k[:2]] == "FH" })},
		{ReviewFilter{Type: incident.EventOverruled}, []string{"D6/overruled/50", "D3/overruled/40", "D5/overruled/2"}},
		{ReviewFilter{Type: incident.EventOverruled, Street: "FH"}, []string{"D3/overruled/40", "D5/overruled/2"}},
		{ReviewFilter{Type: incident.EventRoutingOverride}, []string{"R1/routing_override/60"}},
		{ReviewFilter{Type: incident.EventRoutingOverride, Street: "XY"}, []string{}},
		{ReviewFilter{Type: incident.EventReturned, Street: "FH"},
			[]string{"D4/returned/15", "D7/returned/12", "D5/returned/10", "D1/returned/10", "D3/returned/5", "D5/returned/1"}},
		// [10m, 40m): from inclusive, to exclusive.
		{ReviewFilter{From: t0.Add(10 * time.Minute), To: t0.Add(40 * time.Minute)}, all[6:15]},
		{ReviewFilter{From: t0.Add(50 * time.Minute)}, all[:4]},
		{ReviewFilter{To: t0.Add(2 * time.Minute)}, all[17:]},
		{ReviewFilter{Type: incident.EventDisputeReferred, Street: "XY", From: t0.Add(27 * time.Minute)}, []string{"D2/dispute_referred/30"}},
	} {
		for _, limit := range []int{0, 1, 2, 5} {
			c.f.Limit = limit
			assert.Equal(t, c.want, allReview(t, s, c.f), "%+v", c.f)
		}
	}

	// A row in full.
	rows, _, err := s.Review(ctx, Everything, ReviewFilter{Type: incident.EventRoutingOverride})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, ReviewEntry{IncidentID: "R1", Street: "FH", Item: "ST-002", At: rows[0].At, Type: "routing_override",
		Actor: "street:FH:officer", Note: " → CG: a stall on the pavement"}, rows[0])
	rows, _, err = s.Review(ctx, Everything, ReviewFilter{Type: incident.EventReassigned, Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, ReviewEntry{IncidentID: "D7", Street: "FH", Item: "SR-001", At: rows[0].At, Type: "reassigned",
		Actor: "district:DA:inspector", Note: "SCJG → ZJ — ZJ's", TaskID: taskOf(t, fx["D7"], "SCJG"), Department: "SCJG"}, rows[0])

	for _, f := range []ReviewFilter{
		{Type: "task_created"},
		{Type: "RETURNED"},
		{From: t0, To: t0},
		{Cursor: "nope"},
	} {
		_, _, err := s.Review(ctx, Everything, f)
		assert.Equal(t, incident.CodeInvalid, incident.ErrorCode(err), "%+v", f)
	}
}

// Migration 00005 fills the new columns of rows projected before it the
// way projection fills them.
func TestMigrationBackfillsDisputes(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(2 * time.Hour)
	s := newStore(t, &now)
	disputeFixture(t, s)
	state := func(where string) string {
		t.Helper()
		var js string
		require.NoError(t, s.Pool().QueryRow(ctx, `
SELECT json_build_object(
    'tasks', (SELECT json_agg(json_build_array(id, returns, returned_at, referred_at, refer_note) ORDER BY id) FROM tasks),
    'timeline', (SELECT json_agg(json_build_array(incident_id, seq, street) ORDER BY incident_id, seq)
                 FROM timeline WHERE `+where+`))::text`).Scan(&js))
		return js
	}
	reviewed := "type IN ('" + strings.Join(ReviewTypes, "', '") + "')"
	want := state(reviewed)
	require.Contains(t, want, "who owns the land?")

	p, err := goose.NewProvider(goose.DialectPostgres, stdlib.OpenDBFromPool(s.Pool()), Migrations(),
		goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = p.DownTo(ctx, 4)
	require.NoError(t, err)
	require.Equal(t, 0, count(t, s, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'tasks' AND column_name = 'returned_at'"))
	_, err = p.Up(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, state(reviewed))
	// Entries of other types keep no street (documented in the migration).
	assert.Equal(t, count(t, s, "SELECT count(*) FROM timeline WHERE NOT "+reviewed),
		count(t, s, "SELECT count(*) FROM timeline WHERE street IS NULL"))
}
