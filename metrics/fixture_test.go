package metrics

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/whistle-city/whistle/incident"
)

// metricsFixture builds fourteen incidents with the real domain; every SLA
// is acknowledge within 1h, resolve within 72h, return visit within 72h (I11
// escalates further: see ladderRules). t0 is 2026-03-02 09:00 in Shanghai;
// the league tests' month is the local days [2026-03-02, 2026-04-01), which
// end 9 hours before t0+30d. The expected numbers are worked out by hand in
// league_test.go.
func metricsFixture(t *testing.T, s *testDB) {
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
	rate := func(in *incident.Incident, dept string, score int, d time.Duration) {
		step(t, s, in, streetActor(in.Street), incident.Rate{TaskID: taskOf(t, in, dept), Score: score}, at(d))
	}
	// tick fires the incident's clock steps up to d, as its timers would,
	// projecting each.
	tick := func(in *incident.Incident, d time.Duration) {
		for {
			next, ok := in.NextDeadline()
			if !ok || next.After(at(d)) {
				return
			}
			require.True(t, in.Tick(next))
			project(t, s, in)
		}
	}
	// lived is a department-tier incident of dept alone handled on time:
	// acknowledged after 10 minutes, completed after a day, verified an
	// hour later, satisfied at the visit a day after that, rated score an
	// hour after the visit.
	lived := func(id, street, dept string, d time.Duration, score int) {
		in := newIncident(id, street, lead(dept), at(d))
		project(t, s, in)
		ack(in, dept, d+10*minute)
		complete(in, dept, d+day)
		verify(in, d+day+hour)
		feedback(in, true, incident.RatingSatisfied, d+2*day+hour)
		rate(in, dept, score, d+2*day+2*hour)
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

	// I3, XY, t0+2h: ZJ never acknowledges; level 1 (催办) at t0+3h.
	i3 := newIncident("I3", "XY", lead("ZJ"), at(2*hour))
	project(t, s, i3)
	tick(i3, 4*hour)
	require.Equal(t, 1, i3.Tasks[0].EscalationLevel)

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

	// I10, XY, t0+4h: CG and SCJG acknowledge on time and ask for more
	// time. The street approves CG's (resolve due t0+3d4h → t0+6d) and
	// refuses SCJG's. SCJG completes at t0+2d, CG at t0+5d: on time by the
	// extension. Nobody visits: the clock closes it unrated at t0+8d1h.
	// The street rates CG 90 at t0+8d2h and SCJG 70 at t0+30d, after the
	// month.
	i10 := newIncident("I10", "XY", itemCG, at(4*hour))
	project(t, s, i10)
	ack(i10, "CG", 4*hour+30*minute)
	ack(i10, "SCJG", 4*hour+40*minute)
	street := streetActor("XY")
	step(t, s, i10, deptActor("CG"), incident.RequestExtension{TaskID: taskOf(t, i10, "CG"), Until: at(6 * day), Reason: "permit"}, at(day))
	step(t, s, i10, street, incident.DecideExtension{TaskID: taskOf(t, i10, "CG"), Approve: true}, at(day+hour))
	step(t, s, i10, deptActor("SCJG"), incident.RequestExtension{TaskID: taskOf(t, i10, "SCJG"), Until: at(6 * day), Reason: "busy"}, at(day+2*hour))
	step(t, s, i10, street, incident.DecideExtension{TaskID: taskOf(t, i10, "SCJG"), Approve: false}, at(day+3*hour))
	complete(i10, "SCJG", 2*day)
	complete(i10, "CG", 5*day)
	verify(i10, 5*day+hour)
	tick(i10, 9*day)
	require.Equal(t, incident.StatusClosed, i10.Status)
	rate(i10, "CG", 90, 8*day+2*hour)
	rate(i10, "SCJG", 70, 30*day)

	// I11, FH, t0+7h: ZJ does not acknowledge; the ladder climbs to level
	// 3 (t0+8h, t0+10h, t0+1d8h). ZJ acknowledges at t0+2d, completes on
	// time at t0+3d; satisfied at t0+4d; rated 40 at t0+4d1h.
	i11 := incident.New(func() incident.Report {
		r := report("I11", "FH", at(7*hour))
		r.Category = lead("ZJ").Code
		return r
	}(), lead("ZJ"), at(7*hour), ladderRules{})
	project(t, s, i11)
	tick(i11, 2*day)
	require.Equal(t, 3, i11.Tasks[0].EscalationLevel)
	ack(i11, "ZJ", 2*day)
	complete(i11, "ZJ", 3*day)
	verify(i11, 3*day+hour)
	feedback(i11, true, incident.RatingSatisfied, 4*day)
	rate(i11, "ZJ", 40, 4*day+hour)

	// I12, I13, I14: SW once, GA twice, on time, satisfied, rated 80.
	lived("I12", "FH", "SW", 8*hour, 80)
	lived("I13", "XY", "GA", 9*hour, 80)
	lived("I14", "XY", "GA", 10*hour, 80)
}
