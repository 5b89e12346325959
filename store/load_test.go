package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

// loadFixture is a handful of incidents that between them fill every column
// Project writes: tasks in every open and closed status, overdue flags and
// levels, a returned and reassigned task, an overruled and a referred
// return, a reopened round, feedback with and without a rating, text with a
// NUL, a repeat and a duplicate without a location. changed is called with
// every snapshot
// of their lives, in order.
func loadFixture(t *testing.T, changed func(*incident.Incident)) []LoadIncident {
	t.Helper()
	var earlier []incident.Feedback // of B
	apply := func(in *incident.Incident, a incident.Actor, c incident.Command, at time.Time) {
		t.Helper()
		require.NoError(t, in.Apply(a, c, at, due), "%s on %s", c.Name(), in.ID)
		changed(in)
		if _, ok := c.(incident.GiveFeedback); ok && in.Status != incident.StatusClosed {
			earlier = append(earlier, *in.Feedback)
		}
	}
	tick := func(in *incident.Incident, at time.Time) {
		t.Helper()
		require.True(t, in.Tick(at))
		changed(in)
	}
	// A: dispatched, CG overdue for acknowledgement (level 1), SCJG acknowledged.
	a := newIncident("A", "FH", itemCG, t0)
	changed(a)
	apply(a, deptActor("SCJG"), incident.Ack{TaskID: "A-t2", Note: "on it\x00"}, t0.Add(10*time.Minute))
	tick(a, t0.Add(time.Hour))

	// B: closed after a reopened round; SCJG returned, reassigned to ZJ.
	b := newIncident("B", "XY", itemCG, t0.Add(time.Hour))
	changed(b)
	at := t0.Add(time.Hour)
	next := func() time.Time { at = at.Add(20 * time.Minute); return at }
	apply(b, deptActor("SCJG"), incident.Return{TaskID: "B-t2", Reason: "not ours"}, next())
	apply(b, streetActor("XY"), incident.Reassign{TaskID: "B-t2", Department: "ZJ"}, next())
	for _, d := range []struct{ dept, id string }{{"CG", "B-t1"}, {"ZJ", "B-t3"}} {
		apply(b, deptActor(d.dept), incident.Ack{TaskID: d.id}, next())
		apply(b, deptActor(d.dept), incident.Complete{TaskID: d.id, Result: "done by " + d.dept}, next())
	}
	apply(b, streetActor("XY"), incident.Verify{Passed: true}, next())
	apply(b, streetActor("XY"), incident.GiveFeedback{Resolved: false, Rating: incident.RatingUnsatisfied, Comment: "still there"}, next())
	for _, id := range []string{"B-t4", "B-t5"} {
		dept := b.Task(id).Department
		apply(b, deptActor(dept), incident.Ack{TaskID: id}, next())
		apply(b, deptActor(dept), incident.Complete{TaskID: id, Result: "again"}, next())
	}
	apply(b, streetActor("XY"), incident.Verify{Passed: true}, next())
	apply(b, streetActor("XY"), incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}, next())
	require.Equal(t, incident.StatusClosed, b.Status)

	// C: street tier, resolved by the street, closed unrated by the clock.
	c := newIncident("C", "FH", itemStreet, t0)
	changed(c)
	apply(c, streetActor("FH"), incident.Resolve{Note: "talked to both"}, t0.Add(time.Hour))
	tick(c, t0.Add(100*time.Hour))
	require.Equal(t, incident.StatusClosed, c.Status)

	// D: still in triage, no tasks; a repeat of C.
	rd := report("D", "XY", t0)
	rd.Category, rd.RepeatOf = itemStreet.Code, ptr("C")
	d := incident.New(rd, itemStreet, t0, due)
	changed(d)

	// E: a duplicate of D, without a location.
	re := report("E", "XY", t0.Add(time.Minute))
	re.Category, re.DuplicateOf, re.Location = itemStreet.Code, ptr("D"), incident.Location{}
	e := incident.New(re, itemStreet, t0.Add(time.Minute), due)
	changed(e)
	require.Len(t, earlier, 1)

	// F: a street-tier item whistled to CG and SCJG (a routing override);
	// CG's return is overruled, SCJG's referred to the district; nothing
	// overdue yet.
	f := newIncident("F", "FH", itemStreet, t0)
	changed(f)
	apply(f, streetActor("FH"), incident.Whistle{Departments: []string{"CG", "SCJG"}, Note: "needs enforcement"}, t0.Add(91*time.Minute))
	apply(f, deptActor("CG"), incident.Return{TaskID: "F-t1", Reason: "not ours"}, t0.Add(92*time.Minute))
	apply(f, streetActor("FH"), incident.Overrule{TaskID: "F-t1", Note: "yours by the list"}, t0.Add(93*time.Minute))
	apply(f, deptActor("SCJG"), incident.Return{TaskID: "F-t2", Reason: "no licence issue"}, t0.Add(94*time.Minute))
	apply(f, streetActor("FH"), incident.Refer{TaskID: "F-t2", Note: "district, please\x00"}, t0.Add(95*time.Minute))
	return []LoadIncident{{Snapshot: a}, {Snapshot: b, EarlierFeedback: earlier}, {Snapshot: c}, {Snapshot: d}, {Snapshot: e}, {Snapshot: f}}
}

// dump returns every row of the read model's tables as JSON, in key order.
func dump(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for table, order := range map[string]string{
		"incidents": "id", "tasks": "id", "timeline": "incident_id, seq", "feedback": "incident_id, round",
	} {
		var js string
		err := s.Pool().QueryRow(context.Background(),
			"SELECT coalesce(json_agg(r ORDER BY "+order+")::text, '[]') FROM "+table+" r").Scan(&js)
		require.NoError(t, err, table)
		out[table] = js
	}
	return out
}

func TestLoadWritesWhatProjectWrites(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(2 * time.Hour)
	loaded, projected := newStore(t, &now), newStore(t, &now)
	// Every snapshot is projected as it happens, as the workflow does.
	fix := loadFixture(t, func(in *incident.Incident) { project(t, projected, in) })
	n, err := loaded.Load(ctx, fix)
	require.NoError(t, err)
	assert.Equal(t, LoadCounts{Incidents: 6, Tasks: 9, Timeline: int64(count(t, projected, "SELECT count(*) FROM timeline")), Feedback: 2}, n)
	want, got := dump(t, projected), dump(t, loaded)
	for table := range want {
		assert.JSONEq(t, want[table], got[table], table)
	}
	// The dispute columns are filled, not equal for being empty: B-t2,
	// F-t1 and F-t2 were returned once each, F-t2 is referred; every entry
	// has its incident's street.
	assert.Equal(t, 3, count(t, loaded, "SELECT count(*) FROM tasks WHERE returns = 1 AND returned_at IS NOT NULL"))
	assert.Equal(t, 1, count(t, loaded, "SELECT count(*) FROM tasks WHERE referred_at IS NOT NULL AND refer_note <> ''"))
	assert.Equal(t, 0, count(t, loaded, "SELECT count(*) FROM timeline WHERE street IS NULL"))
	// A loaded incident reads and lists like a projected one.
	rows, _, err := loaded.OverdueTasks(ctx, Everything, OverdueFilter{})
	require.NoError(t, err)
	assert.Equal(t, []string{"A-t1"}, overdueIDs(rows))
	// And projection carries on from it.
	a := clone(t, fix[0].Snapshot)
	require.NoError(t, a.Apply(deptActor("CG"), incident.Ack{TaskID: "A-t1"}, now, due))
	require.NoError(t, loaded.Project(ctx, a))
	rows, _, err = loaded.OverdueTasks(ctx, Everything, OverdueFilter{})
	require.NoError(t, err)
	assert.Empty(t, rows)
}

func TestLoadIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)
	fix := loadFixture(t, func(*incident.Incident) {})
	_, err := s.Load(ctx, fix[:1])
	require.NoError(t, err)
	// B and C are new, A is stored already: nothing of B or C is written.
	_, err = s.Load(ctx, fix[:3])
	require.Error(t, err)
	assert.Equal(t, 1, count(t, s, "SELECT count(*) FROM incidents"))
	assert.Equal(t, 2, count(t, s, "SELECT count(*) FROM tasks"))
	assert.Equal(t, 0, count(t, s, "SELECT count(*) FROM feedback"))
	_, err = s.Load(ctx, []LoadIncident{{Snapshot: &incident.Incident{}}})
	assert.Equal(t, incident.CodeInvalid, incident.ErrorCode(err))
}
