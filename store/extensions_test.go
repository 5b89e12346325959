package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

// TestExtensions: the queue holds the open tasks whose extension request
// awaits a decision, oldest request first, in the reader's scope, and a
// decision (or the task closing) takes it out.
func TestExtensions(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(10 * time.Hour)
	s := newStore(t, &now)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	asked := func(id, street string, m int) *incident.Incident {
		in := newIncident(id, street, itemCG, t0)
		project(t, s, in)
		task := taskOf(t, in, "CG")
		step(t, s, in, deptActor("CG"), incident.Ack{TaskID: task}, at(m))
		step(t, s, in, deptActor("CG"), incident.RequestExtension{TaskID: task, Until: in.Task(task).ResolveDue.Add(48 * time.Hour),
			Reason: "parts on order " + id}, at(m+1))
		return in
	}
	asked("A", "FH", 20)
	b := asked("B", "FH", 10)
	asked("C", "XY", 5)
	d := asked("D", "FH", 30)
	step(t, s, d, streetActor("FH"), incident.DecideExtension{TaskID: taskOf(t, d, "CG"), Approve: true}, at(40))
	e := asked("E", "FH", 35)
	step(t, s, e, deptActor("CG"), incident.Complete{TaskID: taskOf(t, e, "CG"), Result: "done anyway"}, at(45))

	ids := func(rows []PendingExtension) []string {
		out := []string{}
		for _, r := range rows {
			out = append(out, r.IncidentID)
		}
		return out
	}
	rows, next, err := s.Extensions(ctx, Everything, ExtensionFilter{})
	require.NoError(t, err)
	assert.Empty(t, next)
	assert.Equal(t, []string{"C", "B", "A"}, ids(rows), "pending only, oldest request first")
	first := rows[1]
	bt := b.Task(taskOf(t, b, "CG"))
	assert.Equal(t, PendingExtension{IncidentID: "B", TaskID: bt.ID, Department: "CG", Street: "FH", Item: "SR-001", ItemName: "占道经营",
		Description: b.Description, ResolveDue: first.ResolveDue, Until: first.Until, Reason: "parts on order B",
		RequestedAt: first.RequestedAt, RequestedBy: bt.Extension.RequestedBy}, first)
	assert.True(t, first.ResolveDue.Equal(bt.ResolveDue) && first.Until.Equal(bt.Extension.Until) && first.RequestedAt.Equal(at(11)),
		"due %s until %s asked %s", first.ResolveDue, first.Until, first.RequestedAt)

	// A street sees its own; asking for another's is refused.
	rows, _, err = s.Extensions(ctx, ScopeOf(streetActor("FH")), ExtensionFilter{})
	require.NoError(t, err)
	assert.Equal(t, []string{"B", "A"}, ids(rows))
	_, _, err = s.Extensions(ctx, ScopeOf(streetActor("FH")), ExtensionFilter{Street: "XY"})
	var ie *incident.Error
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, incident.CodeForbidden, ie.Code)

	// Pages.
	rows, next, err = s.Extensions(ctx, Everything, ExtensionFilter{Limit: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{"C", "B"}, ids(rows))
	rows, next, err = s.Extensions(ctx, Everything, ExtensionFilter{Limit: 2, Cursor: next})
	require.NoError(t, err)
	assert.Equal(t, []string{"A"}, ids(rows))
	assert.Empty(t, next)
}
