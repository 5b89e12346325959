package workflows

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

// Monday 2026-11-23 09:00 in Beijing.
var start = time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)

const incID = "inc-1"

var (
	gridWorker = incident.Actor{Sub: "wang", Role: incident.RoleGridWorker, Org: "FH-01-01"}
	street     = incident.Actor{Sub: "li", Role: incident.RoleStreet, Org: "FH"}
	otherStr   = incident.Actor{Sub: "zhao", Role: incident.RoleStreet, Org: "XS"}
	cg         = incident.Actor{Sub: "cg1", Role: incident.RoleDepartment, Org: "CG"}
	scjg       = incident.Actor{Sub: "sc1", Role: incident.RoleDepartment, Org: "SCJG"}
	zj         = incident.Actor{Sub: "zj1", Role: incident.RoleDepartment, Org: "ZJ"}
)

func mustDur(t *testing.T, s string) jurisdiction.Duration {
	t.Helper()
	d, err := jurisdiction.ParseDuration(s)
	require.NoError(t, err)
	return d
}

func input(t *testing.T, tier incident.Tier) Input {
	item := incident.Item{Code: "SR-001", Name: "占道经营", Tier: tier}
	if tier == incident.TierDepartment {
		item.Lead, item.Cooperating = "CG", []string{"SCJG"}
	}
	return Input{
		Report: incident.Report{
			IncidentID: incID, Category: "SR-001", Street: "FH", Community: "FH-01", Grid: "FH-01-01",
			Description: "vendors block the road", ReportedAt: start, Reporter: "wang",
		},
		Item:       item,
		SLA:        jurisdiction.SLA{Ack: mustDur(t, "1h"), Resolve: mustDur(t, "3wd"), Feedback: mustDur(t, "3wd")},
		Calendar:   jurisdiction.Calendar{Timezone: "Asia/Shanghai"},
		MaxReopens: 2,
	}
}

// step is one Update sent at a point of the test's virtual clock.
type step struct {
	at    time.Duration
	actor incident.Actor
	cmd   incident.Command
	want  incident.Code // "" = accepted
	check func(t *testing.T, in *incident.Incident)
}

type outcome struct {
	err    error
	result *incident.Incident
}

type harness struct {
	t         *testing.T
	env       *testsuite.TestWorkflowEnvironment
	mu        sync.Mutex
	projected []incident.Incident
	published []incident.Entry
	outcomes  []outcome
	// failRecords is how many record attempts fail before one succeeds
	// (the read model's database gone for a while).
	failRecords int
}

func newHarness(t *testing.T) *harness {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	h := &harness{t: t, env: suite.NewTestWorkflowEnvironment()}
	h.env.SetStartTime(start)
	Register(h.env)
	// A stand-in for activities.RecordIncident that records what it was given.
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in RecordInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.failRecords > 0 {
			h.failRecords--
			return errors.New("read model: connection refused")
		}
		h.projected = append(h.projected, *in.Incident.Clone())
		h.published = append(h.published, in.Incident.Timeline[in.FromSeq:]...)
		return nil
	}, activity.RegisterOptions{Name: ActivityRecord})
	return h
}

// updateArg wraps a command in the UpdateInput every handler takes.
func updateArg(a incident.Actor, c incident.Command) any { return UpdateInput{Actor: a, Command: c} }

// run executes the workflow with the steps and returns its final state.
func (h *harness) run(in Input, steps ...step) *incident.Incident {
	h.outcomes = make([]outcome, len(steps))
	for i, s := range steps {
		h.env.RegisterDelayedCallback(func() {
			h.env.UpdateWorkflow(s.cmd.Name(), "", &testsuite.TestUpdateCallback{
				OnAccept: func() {},
				OnReject: func(err error) { h.outcomes[i].err = err },
				OnComplete: func(res any, err error) {
					h.outcomes[i].err = err
					if err != nil {
						return
					}
					// The Update answers once its version is projected: the first
					// projected snapshot at or after that version is the state the
					// command left (a deadline firing right after it, such as a
					// ladder catching up after an overrule, may have been coalesced
					// into the same snapshot).
					h.mu.Lock()
					defer h.mu.Unlock()
					r, ok := res.(Result)
					require.True(h.t, ok, "update result is %T", res)
					var after *incident.Incident
					for k := range h.projected {
						if h.projected[k].Version >= r.Version {
							after = &h.projected[k]
							break
						}
					}
					require.NotNil(h.t, after, "version %d answered before it was projected", r.Version)
					if after.Version == r.Version {
						require.Equal(h.t, after.Status, r.Status)
					}
					h.outcomes[i].result = after.Clone()
				},
			}, updateArg(s.actor, s.cmd))
		}, s.at)
	}
	h.env.ExecuteWorkflow(IncidentWorkflowName, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(h.t, h.env.GetWorkflowError())
	var final incident.Incident
	require.NoError(h.t, h.env.GetWorkflowResult(&final))
	for i, s := range steps {
		o := h.outcomes[i]
		if s.want == "" {
			require.NoError(h.t, o.err, "step %d (%s) refused", i, s.cmd.Name())
			require.NotNil(h.t, o.result, "step %d (%s) returned no incident", i, s.cmd.Name())
			if s.check != nil {
				s.check(h.t, o.result)
			}
			continue
		}
		require.Error(h.t, o.err, "step %d (%s) accepted, want %s", i, s.cmd.Name(), s.want)
		de := AsDomainError(o.err)
		require.NotNil(h.t, de, "step %d: not a domain error: %v", i, o.err)
		require.Equal(h.t, s.want, de.Code, "step %d (%s): %v", i, s.cmd.Name(), o.err)
	}
	h.checkProjectionAndEvents(&final)
	return &final
}

// checkProjectionAndEvents: the last projected snapshot is the final state
// and every timeline entry was published exactly once, in order.
func (h *harness) checkProjectionAndEvents(final *incident.Incident) {
	h.t.Helper()
	require.NotEmpty(h.t, h.projected)
	last := h.projected[len(h.projected)-1]
	require.Equal(h.t, final.Version, last.Version)
	for i := 1; i < len(h.projected); i++ {
		require.Greater(h.t, h.projected[i].Version, h.projected[i-1].Version)
	}
	require.Len(h.t, h.published, len(final.Timeline))
	for i, e := range h.published {
		require.Equal(h.t, i+1, e.Seq)
	}
}

func types(in *incident.Incident) []string {
	var out []string
	for _, e := range in.Timeline {
		out = append(out, e.Type)
	}
	return out
}

func taskStatus(id string, want incident.TaskStatus) func(*testing.T, *incident.Incident) {
	return func(t *testing.T, in *incident.Incident) {
		t.Helper()
		task := in.Task(id)
		require.NotNil(t, task, "no task %s", id)
		require.Equal(t, want, task.Status)
	}
}

func status(want incident.Status) func(*testing.T, *incident.Incident) {
	return func(t *testing.T, in *incident.Incident) { t.Helper(); require.Equal(t, want, in.Status) }
}

const (
	t1 = incID + "-t1"
	t2 = incID + "-t2"
	t3 = incID + "-t3"
	t4 = incID + "-t4"
)

func TestDepartmentTierHappyPath(t *testing.T) {
	h := newHarness(t)
	final := h.run(input(t, incident.TierDepartment),
		step{at: time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}, check: taskStatus(t1, incident.TaskAcknowledged)},
		step{at: 2 * time.Minute, actor: scjg, cmd: incident.Ack{TaskID: t2}},
		step{at: time.Hour, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "vendors moved"}, check: status(incident.StatusDispatched)},
		step{at: 2 * time.Hour, actor: scjg, cmd: incident.Complete{TaskID: t2, Result: "licences checked"}, check: status(incident.StatusVerifying)},
		step{at: 3 * time.Hour, actor: gridWorker, cmd: incident.Verify{Passed: true}, check: status(incident.StatusAwaitingFeedback)},
		step{at: 4 * time.Hour, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}, check: status(incident.StatusClosed)},
	)
	require.Equal(t, incident.StatusClosed, final.Status)
	require.Len(t, final.Tasks, 2)
	require.Equal(t, incident.TaskLead, final.Tasks[0].Role)
	require.Equal(t, "CG", final.Tasks[0].Department)
	require.Equal(t, incident.TaskCooperating, final.Tasks[1].Role)
	require.Equal(t, start.Add(time.Hour), final.Tasks[0].AckDue)
	// 3 working days from Monday 09:00 is Thursday 09:00.
	require.Equal(t, start.Add(72*time.Hour), final.Tasks[0].ResolveDue)
	require.Zero(t, final.EscalationLevel)
	require.Equal(t, []string{"reported", "whistled", "task_created", "task_created", "acknowledged", "acknowledged",
		"completed", "completed", "all_completed", "verified", "feedback", "closed"}, types(final))
}

// TestRecordingOutlastsAnOutage: while the read model cannot be written,
// recording retries, past its attempt's timeout and for longer than one
// attempt's 10 s, and the incident goes on to close with every version
// projected. (Found by deploy/local-cluster.sh chaos: a recording that gave
// up after 10 s stopped the incident's projection for good, and every later
// Update waited for it forever.)
func TestRecordingOutlastsAnOutage(t *testing.T) {
	h := newHarness(t)
	// 0.5+1+2+4+8+16+30 s of backoff: more than a minute of failures.
	h.failRecords = 8
	final := h.run(input(t, incident.TierDepartment),
		step{at: 5 * time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}, check: taskStatus(t1, incident.TaskAcknowledged)},
		step{at: 6 * time.Minute, actor: scjg, cmd: incident.Ack{TaskID: t2}},
		step{at: time.Hour, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "vendors moved"}},
		step{at: 2 * time.Hour, actor: scjg, cmd: incident.Complete{TaskID: t2, Result: "licences checked"}},
		step{at: 3 * time.Hour, actor: gridWorker, cmd: incident.Verify{Passed: true}},
		step{at: 4 * time.Hour, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}, check: status(incident.StatusClosed)},
	)
	require.Equal(t, incident.StatusClosed, final.Status)
	require.Zero(t, h.failRecords, "every failing attempt was made")
}

func TestRefusedCommandsChangeNothing(t *testing.T) {
	h := newHarness(t)
	final := h.run(input(t, incident.TierDepartment),
		// another department acking CG's task
		step{at: time.Minute, actor: zj, cmd: incident.Ack{TaskID: t1}, want: incident.CodeForbidden},
		step{at: time.Minute, actor: scjg, cmd: incident.Ack{TaskID: t1}, want: incident.CodeForbidden},
		// completing before acknowledging
		step{at: 2 * time.Minute, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "x"}, want: incident.CodeConflict},
		step{at: 3 * time.Minute, actor: cg, cmd: incident.Ack{TaskID: "inc-1-t9"}, want: incident.CodeNotFound},
		step{at: 4 * time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}},
		step{at: 5 * time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}, want: incident.CodeConflict},
		step{at: 6 * time.Minute, actor: cg, cmd: incident.Complete{TaskID: t1}, want: incident.CodeInvalid},
		step{at: 7 * time.Minute, actor: otherStr, cmd: incident.Verify{Passed: true}, want: incident.CodeForbidden},
		step{at: 8 * time.Minute, actor: street, cmd: incident.Verify{Passed: true}, want: incident.CodeConflict},
		step{at: 9 * time.Minute, actor: gridWorker, cmd: incident.Resolve{Note: "x"}, want: incident.CodeForbidden},
		step{at: 10 * time.Minute, actor: scjg, cmd: incident.Ack{TaskID: t2}},
		step{at: 11 * time.Minute, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "done"}},
		step{at: 12 * time.Minute, actor: scjg, cmd: incident.Complete{TaskID: t2, Result: "done"}},
		step{at: 13 * time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: "great"}, want: incident.CodeConflict},
		step{at: 14 * time.Minute, actor: street, cmd: incident.Verify{Passed: true}},
		step{at: 15 * time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: "great"}, want: incident.CodeInvalid},
		step{at: 16 * time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingBasicallySatisfied}},
	)
	require.Equal(t, incident.StatusClosed, final.Status)
	// Only accepted commands left a trace.
	require.Equal(t, []string{"reported", "whistled", "task_created", "task_created", "acknowledged", "acknowledged",
		"completed", "completed", "all_completed", "verified", "feedback", "closed"}, types(final))
}

func TestCommunityTierResolvedThenClosedUnrated(t *testing.T) {
	h := newHarness(t)
	in := input(t, incident.TierCommunity)
	final := h.run(in,
		step{at: time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}, want: incident.CodeNotFound},
		step{at: 2 * time.Minute, actor: gridWorker, cmd: incident.Resolve{Note: "talked to the neighbours"}, check: status(incident.StatusAwaitingFeedback)},
	)
	require.Equal(t, incident.StatusClosed, final.Status)
	require.Nil(t, final.Feedback)
	require.Empty(t, final.Tasks)
	last := final.Timeline[len(final.Timeline)-1]
	require.Equal(t, "closed", last.Type)
	require.Contains(t, last.Note, "unrated")
	// Resolved Monday 09:02; 3 working days later is Thursday 09:02.
	require.Equal(t, start.Add(72*time.Hour+2*time.Minute), last.At)
}

func TestCommunityEscalatedStreetWhistlesWithReturnAndReassign(t *testing.T) {
	h := newHarness(t)
	final := h.run(input(t, incident.TierCommunity),
		step{at: time.Minute, actor: street, cmd: incident.Escalate{Note: "x"}, want: incident.CodeForbidden},
		step{at: time.Minute, actor: gridWorker, cmd: incident.Escalate{Note: "too big for us"}, check: status(incident.StatusTriage)},
		step{at: 2 * time.Minute, actor: gridWorker, cmd: incident.Resolve{Note: "x"}, want: incident.CodeForbidden},
		step{at: 3 * time.Minute, actor: street, cmd: incident.Whistle{Note: "x"}, want: incident.CodeInvalid}, // item names no department
		step{at: 4 * time.Minute, actor: street, cmd: incident.Whistle{Departments: []string{"ZJ"}, Note: "building issue"}, check: taskStatus(t1, incident.TaskPendingAck)},
		step{at: 5 * time.Minute, actor: zj, cmd: incident.Return{TaskID: t1}, want: incident.CodeInvalid},
		step{at: 6 * time.Minute, actor: zj, cmd: incident.Return{TaskID: t1, Reason: "this is urban management's"}, check: taskStatus(t1, incident.TaskReturned)},
		step{at: 7 * time.Minute, actor: street, cmd: incident.Reassign{TaskID: t1, Department: "ZJ"}, want: incident.CodeInvalid},
		step{at: 8 * time.Minute, actor: zj, cmd: incident.Reassign{TaskID: t1, Department: "CG"}, want: incident.CodeForbidden},
		step{at: 9 * time.Minute, actor: street, cmd: incident.Reassign{TaskID: t1, Department: "CG"}, check: taskStatus(t2, incident.TaskPendingAck)},
		step{at: 10 * time.Minute, actor: street, cmd: incident.Reassign{TaskID: t1, Department: "SCJG"}, want: incident.CodeConflict},
		step{at: 11 * time.Minute, actor: cg, cmd: incident.Ack{TaskID: t2}},
		step{at: 12 * time.Minute, actor: cg, cmd: incident.Complete{TaskID: t2, Result: "cleared"}, check: status(incident.StatusVerifying)},
		step{at: 13 * time.Minute, actor: street, cmd: incident.Verify{Passed: true}},
		step{at: 14 * time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}},
	)
	require.Equal(t, incident.StatusClosed, final.Status)
	require.Equal(t, "CG", final.Task(t2).Department)
	require.Equal(t, incident.TaskLead, final.Task(t2).Role)
	require.Equal(t, t2, final.Task(t1).ReassignedTo)
}

func TestFailedVerificationAndUnsatisfiedFeedbackReopen(t *testing.T) {
	h := newHarness(t)
	in := input(t, incident.TierDepartment)
	in.Item.Cooperating = nil
	in.MaxReopens = 1
	final := h.run(in,
		step{at: time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}},
		step{at: 2 * time.Minute, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "moved"}},
		step{at: 3 * time.Minute, actor: gridWorker, cmd: incident.Verify{Passed: false, Note: "they are back"}, check: func(t *testing.T, in *incident.Incident) {
			require.Equal(t, incident.StatusDispatched, in.Status)
			require.Equal(t, incident.TaskAcknowledged, in.Task(t1).Status)
			require.Nil(t, in.Task(t1).CompletedAt)
		}},
		step{at: 4 * time.Minute, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "moved for good"}},
		step{at: 5 * time.Minute, actor: gridWorker, cmd: incident.Verify{Passed: true}},
		step{at: 6 * time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: false, Rating: incident.RatingUnsatisfied}, check: func(t *testing.T, in *incident.Incident) {
			require.Equal(t, incident.StatusDispatched, in.Status)
			require.Equal(t, 1, in.ReopenCount)
			require.Equal(t, 2, in.Round)
			require.Equal(t, incident.TaskPendingAck, in.Task(t2).Status)
			require.Equal(t, "CG", in.Task(t2).Department)
		}},
		step{at: 7 * time.Minute, actor: cg, cmd: incident.Ack{TaskID: t2}},
		step{at: 8 * time.Minute, actor: cg, cmd: incident.Complete{TaskID: t2, Result: "again"}},
		step{at: 9 * time.Minute, actor: street, cmd: incident.Verify{Passed: true}},
		// Reopened once already (the maximum here): unsatisfied again closes it.
		step{at: 10 * time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: false, Rating: incident.RatingUnsatisfied}, check: status(incident.StatusClosed)},
	)
	require.Equal(t, 1, final.ReopenCount)
	require.Equal(t, incident.RatingUnsatisfied, final.Feedback.Rating)
	require.Contains(t, types(final), "verification_failed")
	require.Contains(t, types(final), "reopened")
}

func TestStreetTierTriageResolve(t *testing.T) {
	h := newHarness(t)
	final := h.run(input(t, incident.TierStreet),
		step{at: time.Minute, actor: gridWorker, cmd: incident.Resolve{Note: "x"}, want: incident.CodeForbidden},
		step{at: time.Minute, actor: gridWorker, cmd: incident.Escalate{Note: "x"}, want: incident.CodeConflict},
		step{at: 2 * time.Minute, actor: street, cmd: incident.Resolve{Note: "street team fixed it"}, check: status(incident.StatusAwaitingFeedback)},
		step{at: 3 * time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}},
	)
	require.Equal(t, incident.StatusClosed, final.Status)
	require.Equal(t, incident.StatusTriage, final.Timeline[1].Status)
}

func TestDeadlinesRaiseEscalation(t *testing.T) {
	h := newHarness(t)
	in := input(t, incident.TierDepartment)
	in.Item.Cooperating = nil
	final := h.run(in,
		// ack due at 10:00 Monday: acknowledged at 11:00, late
		step{at: 2 * time.Hour, actor: cg, cmd: incident.Ack{TaskID: t1}, check: func(t *testing.T, in *incident.Incident) {
			task := in.Task(t1)
			require.True(t, task.AckOverdue)
			require.Equal(t, 1, task.EscalationLevel)
			require.Equal(t, 1, in.EscalationLevel)
		}},
		// resolve due Thursday 09:00: completed Friday, late
		step{at: 96 * time.Hour, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "late but done"}, check: func(t *testing.T, in *incident.Incident) {
			require.True(t, in.Task(t1).ResolveOverdue)
		}},
		step{at: 97 * time.Hour, actor: street, cmd: incident.Verify{Passed: true}},
		step{at: 98 * time.Hour, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}},
	)
	var overdue []incident.Entry
	for _, e := range final.Timeline {
		if e.Type == incident.EventAckOverdue || e.Type == incident.EventResolveOverdue {
			overdue = append(overdue, e)
		}
	}
	require.Len(t, overdue, 2)
	require.Equal(t, start.Add(time.Hour), overdue[0].At)
	require.Equal(t, start.Add(72*time.Hour), overdue[1].At)
	require.Equal(t, 1, overdue[0].Level)
}
