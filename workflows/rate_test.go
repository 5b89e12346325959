package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

// twoTasksClosedAt is a department-tier incident whose two tasks are
// completed and which is closed by a satisfied return visit at 4h.
func twoTasksClosedAt() []step {
	return []step{
		{at: time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}},
		{at: 2 * time.Minute, actor: scjg, cmd: incident.Ack{TaskID: t2}},
		{at: time.Hour, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "vendors moved"}},
		{at: 2 * time.Hour, actor: scjg, cmd: incident.Complete{TaskID: t2, Result: "licences checked"}},
		{at: 3 * time.Hour, actor: street, cmd: incident.Verify{Passed: true}},
		{at: 4 * time.Hour, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}},
	}
}

func TestStreetRatesCompletedTasksAlsoAfterClosing(t *testing.T) {
	h := newHarness(t)
	steps := []step{
		{at: 30 * time.Minute, actor: street, cmd: incident.Rate{TaskID: t1, Score: 90}, want: incident.CodeConflict}, // not completed yet
	}
	steps = append(steps, twoTasksClosedAt()...)
	steps = append(steps,
		step{at: 90 * time.Minute, actor: street, cmd: incident.Rate{TaskID: t1, Score: 101}, want: incident.CodeInvalid},
		step{at: 90 * time.Minute, actor: otherStr, cmd: incident.Rate{TaskID: t1, Score: 80}, want: incident.CodeForbidden},
		step{at: 90 * time.Minute, actor: cg, cmd: incident.Rate{TaskID: t1, Score: 100}, want: incident.CodeForbidden},
		step{at: 91 * time.Minute, actor: street, cmd: incident.Rate{TaskID: t1, Score: 85, Note: "quick and tidy"}, check: func(t *testing.T, in *incident.Incident) {
			r := in.Task(t1).Rating
			require.NotNil(t, r)
			require.Equal(t, 85, r.Score)
			require.Equal(t, "street:FH:li", r.By)
		}},
		step{at: 92 * time.Minute, actor: street, cmd: incident.Rate{TaskID: t1, Score: 95}, want: incident.CodeConflict}, // once
		// After closing, within the window: the workflow is still there.
		step{at: 5 * 24 * time.Hour, actor: street, cmd: incident.Rate{TaskID: t2, Score: 70}, check: status(incident.StatusClosed)},
	)
	final := h.run(input(t, incident.TierDepartment), steps...)
	require.Equal(t, incident.StatusClosed, final.Status)
	require.Equal(t, 70, final.Task(t2).Rating.Score)
	rated := entriesOf(final, incident.EventRated)
	require.Len(t, rated, 2)
	require.Equal(t, "85 — quick and tidy", rated[0].Note)
	require.Equal(t, "CG", rated[0].Department)
	// Every completed task rated: the workflow ended then, not at the end of the window.
	require.Equal(t, start.Add(5*24*time.Hour), h.env.Now().UTC())
}

func TestRatingWindowEnds(t *testing.T) {
	h := newHarness(t)
	in := input(t, incident.TierDepartment)
	in.RatingWindow = mustDur(t, "48h")
	final := h.run(in, twoTasksClosedAt()...)
	require.Nil(t, final.Task(t1).Rating)
	// Closed at 4h, the window ran 48h more before the workflow ended.
	require.Equal(t, start.Add(52*time.Hour), h.env.Now().UTC())
}
