package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

// allOverdue pages through the board with f and returns "task/kind" keys.
func allOverdue(t *testing.T, s *Store, f OverdueFilter) []string {
	t.Helper()
	var got []string
	for pages := 0; ; pages++ {
		require.Less(t, pages, 50)
		rows, next, err := s.OverdueTasks(context.Background(), Everything, f)
		require.NoError(t, err)
		for _, r := range rows {
			got = append(got, r.TaskID+"/"+r.Kind)
		}
		if next == "" {
			return got
		}
		f.Cursor = next
	}
}

func TestOverdueTiesAndPages(t *testing.T) {
	now := t0.Add(5 * time.Hour)
	s := newStore(t, &now)
	// Both deadlines one hour after dispatch: each task misses both at
	// the same instant, and its two rows are ordered by kind.
	same := incident.DueFunc(func(_ incident.SLAKind, from time.Time) time.Time { return from.Add(time.Hour) })
	for _, id := range []string{"B", "A"} {
		r := report(id, "FH", t0)
		r.Category = itemCG.Code
		in := incident.New(r, itemCG, t0, same)
		in.Tick(now)
		project(t, s, in)
	}
	want := []string{"A-t1/ack", "A-t1/resolve", "A-t2/ack", "A-t2/resolve", "B-t1/ack", "B-t1/resolve", "B-t2/ack", "B-t2/resolve"}
	for _, limit := range []int{1, 2, 3, 8} {
		assert.Equal(t, want, allOverdue(t, s, OverdueFilter{Limit: limit}), "limit %d", limit)
	}
	assert.Equal(t, []string{"A-t1/ack", "A-t1/resolve", "B-t1/ack", "B-t1/resolve"},
		allOverdue(t, s, OverdueFilter{Department: "CG", Street: "FH", Limit: 1}))
	assert.Equal(t, []string{"A-t2/resolve", "B-t2/resolve"},
		allOverdue(t, s, OverdueFilter{Department: "SCJG", Kind: KindResolve, MinLevel: 1, Limit: 1}))
}

func TestOverdueFollowsRunningClocks(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(3 * time.Hour)
	s := newStore(t, &now)
	street := streetActor("FH")
	in := newIncident("A", "FH", itemCG, t0)
	in.Tick(t0.Add(time.Hour))
	project(t, s, in)
	running := func() int { return count(t, s, "SELECT count(*) FROM tasks WHERE running") }
	assert.Equal(t, []string{"A-t1/ack", "A-t2/ack"}, allOverdue(t, s, OverdueFilter{}))
	assert.Equal(t, 2, running())

	// Suspended (挂账): the clocks stop, the board forgets the incident.
	step(t, s, in, street, incident.Suspend{Reason: "budget", ReviewAt: t0.Add(100 * time.Hour)}, t0.Add(2*time.Hour))
	assert.Empty(t, allOverdue(t, s, OverdueFilter{}))
	assert.Equal(t, 0, running())

	// Resumed: back on the board; a deadline already missed when it was
	// suspended stays where it was.
	step(t, s, in, street, incident.Resume{}, now)
	assert.Equal(t, []string{"A-t1/ack", "A-t2/ack"}, allOverdue(t, s, OverdueFilter{}))
	rows, _, err := s.OverdueTasks(ctx, Everything, OverdueFilter{})
	require.NoError(t, err)
	assert.Equal(t, int64(2*3600), rows[0].OverdueSeconds)

	// Acknowledged and completed: off the board, no longer running.
	step(t, s, in, deptActor("CG"), incident.Ack{TaskID: "A-t1"}, now)
	assert.Equal(t, []string{"A-t2/ack"}, allOverdue(t, s, OverdueFilter{}))
	assert.Equal(t, 2, running())
	step(t, s, in, deptActor("CG"), incident.Complete{TaskID: "A-t1", Result: "done"}, now)
	assert.Equal(t, 1, running())
}
