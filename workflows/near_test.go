package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

// A duplicate closes at once without tasks and tells its original, trying
// again while the original's workflow cannot be found (not started yet).
func TestDuplicateClosesWithoutTasksAndTellsTheOriginal(t *testing.T) {
	h := newHarness(t)
	in := input(t, incident.TierDepartment)
	orig := "inc-0"
	in.Report.DuplicateOf = &orig
	want := incident.Duplicate{IncidentID: incID, Grid: "FH-01-01", Reporter: "wang", ReportedAt: start}
	var signalled []time.Time
	h.env.OnSignalExternalWorkflow(mock.Anything, orig, "", SignalDuplicateReported, want).
		Return(func(string, string, string, string, any) error {
			signalled = append(signalled, h.env.Now().UTC())
			if len(signalled) < 3 {
				return errors.New("unknown external workflow execution")
			}
			return nil
		})

	final := h.run(in)
	require.Equal(t, incident.StatusClosed, final.Status)
	require.NotNil(t, final.ClosedAt)
	require.Equal(t, start, *final.ClosedAt)
	require.Empty(t, final.Tasks)
	require.Equal(t, &orig, final.DuplicateOf)
	require.Nil(t, final.RepeatOf)
	require.Equal(t, []string{"reported", "duplicate"}, types(final))
	require.Equal(t, "duplicate of inc-0", final.Timeline[1].Note)
	// Tried at once, after 1s and after 5s more; then it got through.
	require.Equal(t, []time.Time{start, start.Add(time.Second), start.Add(6 * time.Second)}, signalled)
	// Closed before the original was told: the read model had it at once.
	require.Equal(t, incident.StatusClosed, h.projected[0].Status)
}

// An original that has finished cannot be told: the duplicate gives up
// after its retries and completes all the same.
func TestDuplicateOfAFinishedOriginalCompletes(t *testing.T) {
	h := newHarness(t)
	in := input(t, incident.TierCommunity)
	orig := "inc-0"
	in.Report.DuplicateOf = &orig
	calls := 0
	h.env.OnSignalExternalWorkflow(mock.Anything, orig, "", SignalDuplicateReported, mock.Anything).
		Return(func(string, string, string, string, any) error {
			calls++
			return errors.New("unknown external workflow execution")
		})
	final := h.run(in)
	require.Equal(t, incident.StatusClosed, final.Status)
	require.Equal(t, []string{"reported", "duplicate"}, types(final))
	require.Equal(t, len(tellOriginalRetries)+1, calls)
}

// The original records each duplicate reported to it, also once closed
// while its workflow still runs, and drops a signal without an id.
func TestOriginalRecordsItsDuplicates(t *testing.T) {
	h := newHarness(t)
	dupAt := start.Add(30 * time.Minute)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDuplicateReported, incident.Duplicate{IncidentID: "inc-2", Grid: "FH-01-02", Reporter: "li", ReportedAt: dupAt})
		h.env.SignalWorkflow(SignalDuplicateReported, incident.Duplicate{})
	}, 30*time.Minute)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDuplicateReported, incident.Duplicate{IncidentID: "inc-3", Grid: "FH-01-01", Reporter: "wang", ReportedAt: start.Add(time.Hour)})
	}, time.Hour)
	final := h.run(input(t, incident.TierStreet),
		step{at: 45 * time.Minute, actor: street, cmd: incident.Resolve{Note: "done"}, check: func(t *testing.T, in *incident.Incident) {
			require.Equal(t, 1, in.Duplicates)
		}},
		step{at: 2 * time.Hour, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}},
	)
	require.Equal(t, incident.StatusClosed, final.Status)
	require.Equal(t, 2, final.Duplicates)
	require.Equal(t, []string{"reported", "routed", "duplicate_reported", "resolved", "duplicate_reported", "feedback", "closed"}, types(final))
	e := final.Timeline[2]
	require.Equal(t, dupAt, e.At)
	require.Equal(t, "grid_worker:FH-01-02:li", e.Actor)
	require.Equal(t, "duplicate inc-2 reported 2026-11-23T01:30:00Z", e.Note)
	require.Equal(t, incident.StatusTriage, e.Status)
}

// A repeat (重复诉求) is flagged and then handled as usual.
func TestRepeatIsFlaggedAndRouted(t *testing.T) {
	h := newHarness(t)
	in := input(t, incident.TierDepartment)
	in.Item.Cooperating = nil
	orig := "inc-old"
	in.Report.RepeatOf = &orig
	final := h.run(in,
		step{at: time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}},
		step{at: 2 * time.Minute, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "moved again"}},
		step{at: 3 * time.Minute, actor: street, cmd: incident.Verify{Passed: true}},
		step{at: 4 * time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}},
	)
	require.Equal(t, &orig, final.RepeatOf)
	require.Nil(t, final.DuplicateOf)
	require.Equal(t, []string{"reported", "repeat", "whistled", "task_created", "acknowledged", "completed",
		"all_completed", "verified", "feedback", "closed"}, types(final))
	require.Equal(t, incident.EventRepeat, h.published[1].Type)
	require.True(t, incident.IsEscalation(h.published[1].Type))
}
