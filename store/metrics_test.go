package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/whistle-city/whistle/incident"
)

const (
	minute = time.Minute
	hour   = time.Hour
	day    = 24 * time.Hour
)

// metricsFixture builds nine incidents with the real domain; every SLA is
// acknowledge within 1h, resolve within 72h. The period under test is
// [t0, t0+30d). Expected numbers are worked out by hand in TestMetrics.
func metricsFixture(t *testing.T, s *Store) {
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	ack := func(in *incident.Incident, dept string, d time.Duration) {
		step(t, s, in, deptActor(dept), incident.Ack{TaskID: taskOf(t, in, dept)}, at(d))
	}
	complete := func(in *incident.Incident, dept string, d time.Duration) {
		step(t, s, in, deptActor(dept), incident.Complete{TaskID: taskOf(t, in, dept), Result: "done"}, at(d))
	}
	verify := func(in *incident.Incident, d time.Duration) {
		step(t, s, in, streetActor(in.Street), incident.Verify{Passed: true}, at(d))
	}
	feedback := func(in *incident.Incident, resolved bool, r incident.Rating, d time.Duration) {
		step(t, s, in, streetActor(in.Street), incident.GiveFeedback{Resolved: resolved, Rating: r}, at(d))
	}

	// I1, FH, t0: CG (on time twice) and SCJG (late twice); satisfied.
	i1 := newIncident("I1", "FH", itemCG, at(0))
	project(t, s, i1)
	ack(i1, "CG", 30*minute)
	ack(i1, "SCJG", 2*hour)
	complete(i1, "CG", day)
	complete(i1, "SCJG", 4*day)
	verify(i1, 4*day)
	feedback(i1, true, incident.RatingSatisfied, 5*day)

	// I2, FH, t0+1h: CG on time; unresolved and unsatisfied at t0+3d, so
	// reopened: a round-2 CG task created at t0+3d, never acknowledged.
	i2 := newIncident("I2", "FH", lead("CG"), at(hour))
	project(t, s, i2)
	ack(i2, "CG", 90*minute)
	complete(i2, "CG", 2*day)
	verify(i2, 2*day)
	feedback(i2, false, incident.RatingUnsatisfied, 3*day)
	require.Equal(t, 2, i2.Round)
	require.Equal(t, incident.StatusDispatched, i2.Status)

	// I3, XY, t0+2h: ZJ never acknowledges.
	project(t, s, newIncident("I3", "XY", lead("ZJ"), at(2*hour)))

	// I4, FH, t0-10d (before the period): GA handles it then; the return
	// visit is inside the period (t0+1d), basically satisfied.
	i4 := newIncident("I4", "FH", lead("GA"), at(-10*day))
	project(t, s, i4)
	ack(i4, "GA", -10*day+10*minute)
	complete(i4, "GA", -9*day)
	verify(i4, -9*day)
	feedback(i4, true, incident.RatingBasicallySatisfied, day)

	// I5, XY, t0+3h: CG and SCJG; SCJG returns its task (退单), the street
	// reassigns it to SW; CG and SW on time; basically satisfied.
	i5 := newIncident("I5", "XY", itemCG, at(3*hour))
	project(t, s, i5)
	ack(i5, "CG", 3*hour+20*minute)
	step(t, s, i5, deptActor("SCJG"), incident.Return{TaskID: taskOf(t, i5, "SCJG"), Reason: "not ours"}, at(3*hour+30*minute))
	step(t, s, i5, streetActor("XY"), incident.Reassign{TaskID: taskOf(t, i5, "SCJG"), Department: "SW"}, at(4*hour))
	ack(i5, "SW", 4*hour+30*minute)
	complete(i5, "CG", day)
	complete(i5, "SW", day+hour)
	verify(i5, day+2*hour)
	feedback(i5, true, incident.RatingBasicallySatisfied, 2*day)

	// I6, FH, t0+20d: CG late twice; the return visit falls after the period.
	i6 := newIncident("I6", "FH", lead("CG"), at(20*day))
	project(t, s, i6)
	ack(i6, "CG", 20*day+2*hour)
	complete(i6, "CG", 24*day)
	verify(i6, 24*day)
	feedback(i6, true, incident.RatingSatisfied, 31*day)

	// I7, FH, t0+5h: CG returns its task (退单), the street overrules the
	// return and CG acknowledges in time (its deadline is the one it had);
	// SCJG never acknowledges.
	i7 := newIncident("I7", "FH", itemCG, at(5*hour))
	project(t, s, i7)
	step(t, s, i7, deptActor("CG"), incident.Return{TaskID: taskOf(t, i7, "CG"), Reason: "not ours"}, at(5*hour+10*minute))
	step(t, s, i7, streetActor("FH"), incident.Overrule{TaskID: taskOf(t, i7, "CG"), Note: "the list says CG"}, at(5*hour+20*minute))
	ack(i7, "CG", 5*hour+30*minute)

	// I8, XY, t0+6h: a street-tier item the street whistles to ZJ (a
	// routing override); ZJ returns it, the street refers the return to the
	// district, which overrules it; ZJ never acknowledges.
	i8 := newIncident("I8", "XY", itemStreet, at(6*hour))
	project(t, s, i8)
	step(t, s, i8, streetActor("XY"), incident.Whistle{Departments: []string{"ZJ"}, Note: "a wall about to fall"}, at(6*hour+10*minute))
	step(t, s, i8, deptActor("ZJ"), incident.Return{TaskID: taskOf(t, i8, "ZJ"), Reason: "not ours"}, at(6*hour+20*minute))
	step(t, s, i8, streetActor("XY"), incident.Refer{TaskID: taskOf(t, i8, "ZJ"), Note: "please decide"}, at(6*hour+30*minute))
	district := incident.Actor{Sub: "inspector", Role: incident.RoleDistrict, Org: "DA"}
	step(t, s, i8, district, incident.Overrule{TaskID: taskOf(t, i8, "ZJ"), Note: "ZJ's"}, at(7*hour))

	// I9, FH, t0+30d-1h: dispatched to CG in the period, returned after it
	// (t0+30d+1h), not yet arbitrated.
	i9 := newIncident("I9", "FH", lead("CG"), at(30*day-hour))
	project(t, s, i9)
	step(t, s, i9, deptActor("CG"), incident.Return{TaskID: taskOf(t, i9, "CG"), Reason: "not ours"}, at(30*day+hour))
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(40 * day)
	s := newStore(t, &now)
	metricsFixture(t, s)
	from, to := t0, t0.Add(30*day)

	// Departments, over tasks created in the period, visits made in it and
	// returns made or overruled in it:
	//
	//   CG:   tasks I1, I2 r1, I2 r2, I5, I6, I7, I9 = 7 (I4 is GA's)
	//         acked on time I1, I2 r1, I5, I7 = 4; completed I1, I2 r1, I5, I6 = 4, on time 3 (I6 late)
	//         visits I1 (resolved, satisfied), I2 r1 (unresolved, unsatisfied), I5 (resolved, basically) = 3
	//         returns I7 = 1 (I9's is after the period), overruled I7 = 1; return rate 1/7
	//   GA:   no task in the period (I4's is from t0-10d); the visit of I4 counts
	//   SCJG: tasks I1 (late, completed late), I5 (returned), I7 (never acked) = 3;
	//         visit of I1 only (I5's task was returned); return I5 = 1, reassigned not overruled
	//   SW:   task I5 (reassigned), on time; visit of I5; no return: rate 0
	//   ZJ:   tasks I3, I8 = 2, nothing done, no visit: no denominator for the visit rates;
	//         return I8 = 1, overruled by the district = 1
	want := []Metrics{
		{Key: "CG", Tasks: 7, AckedOnTime: 4, Completed: 4, CompletedOnTime: 3, Feedback: 3, Resolved: 2, Rated: 3, Satisfied: 2,
			Returns: 1, OverruledReturns: 1,
			ResponseRate: ptr(4.0 / 7), OnTimeResolutionRate: ptr(3.0 / 7), ResolutionRate: ptr(2.0 / 3), SatisfactionRate: ptr(2.0 / 3),
			ReturnRate: ptr(1.0 / 7)},
		{Key: "GA", Feedback: 1, Resolved: 1, Rated: 1, Satisfied: 1,
			ResolutionRate: ptr(1.0), SatisfactionRate: ptr(1.0), MeetsTarget: true},
		{Key: "SCJG", Tasks: 3, Completed: 1, Feedback: 1, Resolved: 1, Rated: 1, Satisfied: 1, Returns: 1,
			ResponseRate: ptr(0.0), OnTimeResolutionRate: ptr(0.0), ResolutionRate: ptr(1.0), SatisfactionRate: ptr(1.0), MeetsTarget: true,
			ReturnRate: ptr(1.0 / 3)},
		{Key: "SW", Tasks: 1, AckedOnTime: 1, Completed: 1, CompletedOnTime: 1, Feedback: 1, Resolved: 1, Rated: 1, Satisfied: 1,
			ResponseRate: ptr(1.0), OnTimeResolutionRate: ptr(1.0), ResolutionRate: ptr(1.0), SatisfactionRate: ptr(1.0), MeetsTarget: true,
			ReturnRate: ptr(0.0)},
		{Key: "ZJ", Tasks: 2, Returns: 1, OverruledReturns: 1, ResponseRate: ptr(0.0), OnTimeResolutionRate: ptr(0.0), ReturnRate: ptr(0.5)},
	}
	got, err := s.DepartmentMetrics(ctx, from, to, 0.95)
	require.NoError(t, err)
	assertMetrics(t, want, got)

	// Streets, over their incidents' tasks, visits, returns and overrides:
	//
	//   FH: tasks I1 CG, I1 SCJG, I2 r1, I2 r2, I6, I7 CG, I7 SCJG, I9 = 8; acked on time I1 CG, I2 r1, I7 CG = 3;
	//       completed I1 CG, I1 SCJG, I2 r1, I6 = 4, on time I1 CG, I2 r1 = 2;
	//       visits I1, I2, I4 = 3, resolved 2, satisfied 2 (I1, I4);
	//       returns I7 = 1, overruled 1; return rate 1/8
	//   XY: tasks I3 ZJ, I5 CG, I5 SCJG (returned), I5 SW, I8 ZJ = 5; acked on time and
	//       completed on time I5 CG, I5 SW = 2; visit I5, resolved, basically satisfied;
	//       returns I5, I8 = 2, overruled I8 = 1, routing override I8 = 1; return rate 2/5
	want = []Metrics{
		{Key: "FH", Tasks: 8, AckedOnTime: 3, Completed: 4, CompletedOnTime: 2, Feedback: 3, Resolved: 2, Rated: 3, Satisfied: 2,
			Returns: 1, OverruledReturns: 1,
			ResponseRate: ptr(3.0 / 8), OnTimeResolutionRate: ptr(2.0 / 8), ResolutionRate: ptr(2.0 / 3), SatisfactionRate: ptr(2.0 / 3),
			ReturnRate: ptr(1.0 / 8)},
		{Key: "XY", Tasks: 5, AckedOnTime: 2, Completed: 2, CompletedOnTime: 2, Feedback: 1, Resolved: 1, Rated: 1, Satisfied: 1,
			Returns: 2, OverruledReturns: 1, RoutingOverrides: 1,
			ResponseRate: ptr(0.4), OnTimeResolutionRate: ptr(0.4), ResolutionRate: ptr(1.0), SatisfactionRate: ptr(1.0), MeetsTarget: true,
			ReturnRate: ptr(0.4)},
	}
	got, err = s.StreetMetrics(ctx, from, to, 0.95)
	require.NoError(t, err)
	assertMetrics(t, want, got)

	// A lower target changes only MeetsTarget.
	got, err = s.StreetMetrics(ctx, from, to, 0.6)
	require.NoError(t, err)
	assert.True(t, got[0].MeetsTarget)

	// The period after: only I6's visit (t0+31d) and I9's return
	// (t0+30d+1h), for CG and FH; no task dispatched, so no return rate.
	got, err = s.DepartmentMetrics(ctx, to, to.Add(30*day), 0.95)
	require.NoError(t, err)
	assertMetrics(t, []Metrics{{Key: "CG", Feedback: 1, Resolved: 1, Rated: 1, Satisfied: 1, Returns: 1,
		ResolutionRate: ptr(1.0), SatisfactionRate: ptr(1.0), MeetsTarget: true}}, got)
	got, err = s.StreetMetrics(ctx, to, to.Add(30*day), 0.95)
	require.NoError(t, err)
	assertMetrics(t, []Metrics{{Key: "FH", Feedback: 1, Resolved: 1, Rated: 1, Satisfied: 1, Returns: 1,
		ResolutionRate: ptr(1.0), SatisfactionRate: ptr(1.0), MeetsTarget: true}}, got)

	// An empty period has no rows.
	got, err = s.StreetMetrics(ctx, t0.Add(-100*day), t0.Add(-90*day), 0.95)
	require.NoError(t, err)
	assert.Empty(t, got)

	// The month's most reported items: I1, I5, I7 (SR-001); I2, I6, I9 (D-CG); I3 (D-ZJ); I8 (ST-002).
	items, err := s.TopItems(ctx, from, to, "", 0)
	require.NoError(t, err)
	assert.Equal(t, []ItemCount{{"D-CG", "事项 CG", 3}, {"SR-001", "占道经营", 3}, {"D-ZJ", "事项 ZJ", 1}, {"ST-002", "邻里纠纷", 1}}, items)
	items, err = s.TopItems(ctx, from, to, "XY", 1)
	require.NoError(t, err)
	assert.Equal(t, []ItemCount{{"D-ZJ", "事项 ZJ", 1}}, items)
}

// assertMetrics compares metrics, rates within a rounding error.
func assertMetrics(t *testing.T, want, got []Metrics) {
	t.Helper()
	require.Len(t, got, len(want), "keys: %v", keys(got))
	for i := range want {
		w, g := want[i], got[i]
		for _, r := range []struct {
			name string
			w, g **float64
		}{
			{"ResponseRate", &w.ResponseRate, &g.ResponseRate},
			{"OnTimeResolutionRate", &w.OnTimeResolutionRate, &g.OnTimeResolutionRate},
			{"ResolutionRate", &w.ResolutionRate, &g.ResolutionRate},
			{"SatisfactionRate", &w.SatisfactionRate, &g.SatisfactionRate},
			{"ReturnRate", &w.ReturnRate, &g.ReturnRate},
		} {
			if *r.w == nil {
				assert.Nil(t, *r.g, "%s %s", w.Key, r.name)
			} else if assert.NotNil(t, *r.g, "%s %s", w.Key, r.name) {
				assert.InDelta(t, **r.w, **r.g, 1e-9, "%s %s", w.Key, r.name)
			}
			*r.w, *r.g = nil, nil
		}
		assert.Equal(t, w, g)
	}
}

func keys(ms []Metrics) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Key
	}
	return out
}

// Approved extensions (延期) are counted on the department whose task they
// extended; a refused one is not.
func TestMetricsCountApprovedExtensions(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(2 * day)
	s := newStore(t, &now)
	in := newIncident("ext-1", "FH", itemCG, t0)
	project(t, s, in)
	cg, scjg := taskOf(t, in, "CG"), taskOf(t, in, "SCJG")
	until := t0.Add(10 * day)
	step(t, s, in, deptActor("CG"), incident.RequestExtension{TaskID: cg, Until: until, Reason: "permit"}, t0.Add(time.Hour))
	step(t, s, in, streetActor("FH"), incident.DecideExtension{TaskID: cg, Approve: true}, t0.Add(2*time.Hour))
	step(t, s, in, deptActor("SCJG"), incident.RequestExtension{TaskID: scjg, Until: until, Reason: "busy"}, t0.Add(3*time.Hour))
	step(t, s, in, streetActor("FH"), incident.DecideExtension{TaskID: scjg, Approve: false}, t0.Add(4*time.Hour))

	got, err := s.DepartmentMetrics(ctx, t0, t0.Add(day), 0.95)
	require.NoError(t, err)
	ext := map[string]int{}
	for _, m := range got {
		ext[m.Key] = m.Extensions
	}
	require.Equal(t, map[string]int{"CG": 1, "SCJG": 0}, ext)
}
