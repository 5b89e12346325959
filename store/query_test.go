package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/whistle-city/whistle/incident"
)

func TestIncidentsFilters(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(10 * time.Hour)
	s := newStore(t, &now)

	// A: FH, dispatched to CG+SCJG at t0: acknowledgement due t0+1h, overdue now.
	a := newIncident("A", "FH", itemCG, t0)
	project(t, s, a)
	// B: FH, dispatched at t0+9h30m, CG acknowledged: nothing due yet.
	b := newIncident("B", "FH", itemCG, t0.Add(9*time.Hour+30*time.Minute))
	project(t, s, b)
	step(t, s, b, deptActor("CG"), incident.Ack{TaskID: taskOf(t, b, "CG")}, t0.Add(9*time.Hour+40*time.Minute))
	// C: XY, street tier: in triage, no tasks, no clock.
	project(t, s, newIncident("C", "XY", itemStreet, t0.Add(3*time.Hour)))
	// D: XY, dispatched to ZJ at t0+2h: overdue now.
	project(t, s, newIncident("D", "XY", lead("ZJ"), t0.Add(2*time.Hour)))
	// E: FH, only received by the API.
	_, _, err := s.CreateReceived(ctx, report("E", "FH", t0.Add(5*time.Hour)), itemCG, "")
	require.NoError(t, err)
	// F: FH, dispatched at t0+1h, then handled in full and closed: no clock.
	f := newIncident("F", "FH", lead("CG"), t0.Add(time.Hour))
	project(t, s, f)
	step(t, s, f, deptActor("CG"), incident.Ack{TaskID: taskOf(t, f, "CG")}, t0.Add(90*time.Minute))
	step(t, s, f, deptActor("CG"), incident.Complete{TaskID: taskOf(t, f, "CG"), Result: "done"}, t0.Add(2*time.Hour))
	step(t, s, f, streetActor("FH"), incident.Verify{Passed: true}, t0.Add(3*time.Hour))
	step(t, s, f, streetActor("FH"), incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}, t0.Add(4*time.Hour))

	// Newest first: B (9h30), E (5h), C (3h), D (2h), F (1h), A (0h).
	for _, tc := range []struct {
		name string
		f    IncidentFilter
		want []string
	}{
		{"all", IncidentFilter{}, []string{"B", "E", "C", "D", "F", "A"}},
		{"status", IncidentFilter{Status: "dispatched"}, []string{"B", "D", "A"}},
		{"status closed", IncidentFilter{Status: "closed"}, []string{"F"}},
		{"street", IncidentFilter{Street: "FH"}, []string{"B", "E", "F", "A"}},
		{"grid", IncidentFilter{Grid: "XY-01-01"}, []string{"C", "D"}},
		{"department CG", IncidentFilter{Department: "CG"}, []string{"B", "F", "A"}},
		{"department ZJ", IncidentFilter{Department: "ZJ"}, []string{"D"}},
		{"department none", IncidentFilter{Department: "GA"}, []string{}},
		{"overdue", IncidentFilter{Overdue: ptr(true)}, []string{"D", "A"}},
		{"not overdue", IncidentFilter{Overdue: ptr(false)}, []string{"B", "E", "C", "F"}},
		{"street and overdue", IncidentFilter{Street: "FH", Overdue: ptr(true)}, []string{"A"}},
		{"department and not overdue", IncidentFilter{Department: "SCJG", Overdue: ptr(false)}, []string{"B"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, next, err := s.Incidents(ctx, Everything, tc.f)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(items))
			assert.Empty(t, next)
			for _, in := range items {
				assert.Equal(t, in.OverdueAt(now), in.Overdue, "Overdue of %s is computed at read", in.ID)
			}
		})
	}

	// Time passes: B's resolution deadline (t0+9h30m+72h) passes too.
	now = t0.Add(90 * time.Hour)
	items, _, err := s.Incidents(ctx, Everything, IncidentFilter{Overdue: ptr(true)})
	require.NoError(t, err)
	assert.Equal(t, []string{"B", "D", "A"}, ids(items))
	got, err := s.Incident(ctx, Everything, "B")
	require.NoError(t, err)
	assert.True(t, got.Overdue)
}

func TestIncidentsPagination(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)

	// 23 incidents, several sharing a reported_at so the id breaks ties;
	// every third in street XY. Timestamps carry nanoseconds, which
	// Postgres truncates: the cursor must still not skip or repeat.
	var want, wantXY []string
	for i := range 23 {
		id := fmt.Sprintf("inc-%02d", i)
		at := t0.Add(time.Duration(i/3)*time.Minute + 123456789)
		street := "FH"
		if i%3 == 0 {
			street = "XY"
		}
		project(t, s, newIncident(id, street, itemStreet, at))
	}
	// Expected order: reported_at desc, then id desc.
	for i := 22; i >= 0; i-- {
		want = append(want, fmt.Sprintf("inc-%02d", i))
		if i%3 == 0 {
			wantXY = append(wantXY, fmt.Sprintf("inc-%02d", i))
		}
	}

	pageAll := func(f IncidentFilter) (all []string, pages int) {
		seen := map[string]bool{}
		for {
			items, next, err := s.Incidents(ctx, Everything, f)
			require.NoError(t, err)
			pages++
			for _, in := range items {
				require.False(t, seen[in.ID], "duplicate %s", in.ID)
				seen[in.ID] = true
				all = append(all, in.ID)
			}
			if next == "" {
				return all, pages
			}
			require.Len(t, items, max(f.Limit, 1), "a page with a next cursor is full")
			require.Less(t, pages, 50, "pagination does not end")
			f.Cursor = next
		}
	}
	all, pages := pageAll(IncidentFilter{Limit: 5})
	assert.Equal(t, want, all)
	assert.Equal(t, 5, pages)

	all, pages = pageAll(IncidentFilter{Limit: 3, Street: "XY"})
	assert.Equal(t, wantXY, all)
	assert.Equal(t, 3, pages)

	// A page size of exactly the total has no next page.
	items, next, err := s.Incidents(ctx, Everything, IncidentFilter{Limit: 23})
	require.NoError(t, err)
	assert.Len(t, items, 23)
	assert.Empty(t, next)

	// Limits: default 50 and at most 200.
	assert.Equal(t, DefaultLimit, pageLimit(0))
	assert.Equal(t, MaxLimit, pageLimit(1000))

	_, _, err = s.Incidents(ctx, Everything, IncidentFilter{Cursor: "not-a-cursor"})
	assert.Equal(t, incident.CodeInvalid, incident.ErrorCode(err))
}

func TestTasksInbox(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(3 * time.Hour)
	s := newStore(t, &now)

	cg := deptActor("CG")
	// P: pending acknowledgement, due t0+1h (overdue at t0+3h).
	p := newIncident("P", "FH", lead("CG"), t0)
	project(t, s, p)
	// Q: acknowledged, resolution due t0+2h+72h.
	q := newIncident("Q", "FH", lead("CG"), t0.Add(2*time.Hour))
	project(t, s, q)
	step(t, s, q, cg, incident.Ack{TaskID: taskOf(t, q, "CG")}, t0.Add(2*time.Hour+10*time.Minute))
	// R: pending acknowledgement, due t0+4h+1h.
	r := newIncident("R", "XY", lead("CG"), t0.Add(4*time.Hour))
	project(t, s, r)
	// S (t0+6h) and U (t0+7h): completed, so after the open ones, newest first.
	for _, x := range []struct {
		id string
		at time.Duration
	}{{"S", 6 * time.Hour}, {"U", 7 * time.Hour}} {
		in := newIncident(x.id, "FH", lead("CG"), t0.Add(x.at))
		project(t, s, in)
		step(t, s, in, cg, incident.Ack{TaskID: taskOf(t, in, "CG")}, t0.Add(x.at+time.Minute))
		step(t, s, in, cg, incident.Complete{TaskID: taskOf(t, in, "CG"), Result: "done"}, t0.Add(x.at+time.Hour))
	}
	// Another department's task is not in CG's inbox.
	project(t, s, newIncident("Z", "FH", lead("ZJ"), t0))

	want := []string{"P-t1", "R-t1", "Q-t1", "U-t1", "S-t1"}
	var got []string
	f := TaskFilter{Department: "CG", Limit: 2}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		rows, next, err := s.Tasks(ctx, Everything, f)
		require.NoError(t, err)
		for _, r := range rows {
			got = append(got, r.ID)
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	assert.Equal(t, want, got)

	rows, next, err := s.Tasks(ctx, Everything, TaskFilter{Department: "CG"})
	require.NoError(t, err)
	assert.Empty(t, next)
	require.Len(t, rows, 5)
	byID := map[string]TaskRow{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	assert.True(t, byID["P-t1"].Overdue, "acknowledgement due t0+1h, now t0+3h")
	assert.False(t, byID["R-t1"].Overdue)
	assert.False(t, byID["Q-t1"].Overdue)
	assert.False(t, byID["S-t1"].Overdue)
	pr := byID["P-t1"]
	assert.Equal(t, "P", pr.IncidentID)
	assert.Equal(t, "FH", pr.Street)
	assert.Equal(t, "D-CG", pr.Category)
	assert.Equal(t, "事项 CG", pr.ItemName)
	assert.Equal(t, "dispatched", pr.IncidentStatus)
	assert.Equal(t, incident.TaskLead, pr.Role)
	assert.Equal(t, incident.TaskPendingAck, pr.Status)
	assert.Equal(t, 1, pr.Round)
	assert.True(t, pr.AckDue.Equal(t0.Add(time.Hour)))
	assert.Nil(t, pr.AckedAt)
	ur := byID["U-t1"]
	require.NotNil(t, ur.CompletedAt)
	assert.True(t, ur.CompletedAt.Equal(t0.Add(8*time.Hour)))
	assert.Equal(t, "done", ur.Result)
	assert.Equal(t, "verifying", ur.IncidentStatus, "its only task is completed")

	rows, _, err = s.Tasks(ctx, Everything, TaskFilter{Department: "CG", Status: "pending_ack"})
	require.NoError(t, err)
	assert.Equal(t, []string{"P-t1", "R-t1"}, taskIDs(rows))
	rows, _, err = s.Tasks(ctx, Everything, TaskFilter{Department: "CG", Street: "XY"})
	require.NoError(t, err)
	assert.Equal(t, []string{"R-t1"}, taskIDs(rows))

	// Acknowledging P moves it behind R: its next deadline is resolution.
	step(t, s, p, cg, incident.Ack{TaskID: "P-t1"}, t0.Add(3*time.Hour))
	rows, _, err = s.Tasks(ctx, Everything, TaskFilter{Department: "CG"})
	require.NoError(t, err)
	assert.Equal(t, []string{"R-t1", "P-t1", "Q-t1", "U-t1", "S-t1"}, taskIDs(rows))
}

func TestOverdueTasks(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(3 * time.Hour)
	s := newStore(t, &now)

	// A (t0): CG and SCJG pending; acknowledgement due t0+1h.
	a := newIncident("A", "FH", itemCG, t0)
	project(t, s, a)
	// B (t0+30m): ZJ pending, due t0+1h30m, in XY.
	project(t, s, newIncident("B", "XY", lead("ZJ"), t0.Add(30*time.Minute)))
	// C (t0+2h30m): CG pending, due t0+3h30m: not overdue yet.
	project(t, s, newIncident("C", "FH", lead("CG"), t0.Add(150*time.Minute)))
	// SCJG acknowledges late: no longer overdue for acknowledgement.
	step(t, s, a, deptActor("SCJG"), incident.Ack{TaskID: taskOf(t, a, "SCJG")}, t0.Add(2*time.Hour))
	// The deadline timer fired for A's CG task: level 1.
	require.True(t, a.Tick(t0.Add(time.Hour)))
	project(t, s, a)

	rows, next, err := s.OverdueTasks(ctx, Everything, OverdueFilter{})
	require.NoError(t, err)
	assert.Empty(t, next)
	require.Len(t, rows, 2)
	assert.Equal(t, OverdueTask{IncidentID: "A", TaskID: "A-t1", Department: "CG", Street: "FH", Item: "SR-001", ItemName: "占道经营",
		Kind: KindAck, Due: rows[0].Due, OverdueSeconds: 2 * 3600, Level: 1, Description: a.Description}, rows[0])
	assert.True(t, rows[0].Due.Equal(t0.Add(time.Hour)))
	assert.Equal(t, "B-t1", rows[1].TaskID)
	assert.Equal(t, int64(90*60), rows[1].OverdueSeconds)

	rows, _, err = s.OverdueTasks(ctx, Everything, OverdueFilter{MinLevel: 1})
	require.NoError(t, err)
	assert.Equal(t, []string{"A-t1"}, overdueIDs(rows))
	rows, _, err = s.OverdueTasks(ctx, Everything, OverdueFilter{Street: "XY"})
	require.NoError(t, err)
	assert.Equal(t, []string{"B-t1"}, overdueIDs(rows))
	rows, _, err = s.OverdueTasks(ctx, Everything, OverdueFilter{Kind: KindResolve})
	require.NoError(t, err)
	assert.Empty(t, rows)

	// Four days on, every open task missed its resolution deadline too;
	// pending ones appear once per kind, most overdue first.
	now = t0.Add(96 * time.Hour)
	var got []string
	f := OverdueFilter{Limit: 2}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		rows, next, err := s.OverdueTasks(ctx, Everything, f)
		require.NoError(t, err)
		for _, r := range rows {
			got = append(got, r.TaskID+"/"+r.Kind)
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	assert.Equal(t, []string{
		"A-t1/ack",     // t0+1h
		"B-t1/ack",     // t0+1h30m
		"C-t1/ack",     // t0+3h30m
		"A-t1/resolve", // t0+72h
		"A-t2/resolve", // t0+72h (id after A-t1)
		"B-t1/resolve", // t0+72h30m
		"C-t1/resolve", // t0+74h30m
	}, got)
	rows, _, err = s.OverdueTasks(ctx, Everything, OverdueFilter{Department: "CG", Kind: KindResolve})
	require.NoError(t, err)
	assert.Equal(t, []string{"A-t1", "C-t1"}, overdueIDs(rows))

	_, _, err = s.OverdueTasks(ctx, Everything, OverdueFilter{Kind: "late"})
	assert.Equal(t, incident.CodeInvalid, incident.ErrorCode(err))
}

func taskIDs(rows []TaskRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func overdueIDs(rows []OverdueTask) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.TaskID
	}
	return out
}
