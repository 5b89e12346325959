package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

// Tests of the rules the responsibility list sets: joint handling,
// disputes (退单) and their arbitration, enforcement command and routing
// overrides.

var (
	district = incident.Actor{Sub: "chen", Role: incident.RoleDistrict, Org: "DA"}
	zhzf     = incident.Actor{Sub: "z1", Role: incident.RoleDepartment, Org: "ZHZF"}
)

func entriesOf(in *incident.Incident, typ string) []incident.Entry {
	var out []incident.Entry
	for _, e := range in.Timeline {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestJointHandlingCooperatingReportsToLead(t *testing.T) {
	h := newHarness(t)
	steps := []step{
		{at: time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}},
		{at: 2 * time.Minute, actor: scjg, cmd: incident.Ack{TaskID: t2}},
		// The cooperating department finishes first: its result goes to the
		// lead's task, and the incident waits for the lead.
		{at: time.Hour, actor: scjg, cmd: incident.Complete{TaskID: t2, Result: "licences checked"}, check: func(t *testing.T, in *incident.Incident) {
			require.Equal(t, incident.StatusDispatched, in.Status)
			lead := in.Task(t1)
			require.Len(t, lead.Contributions, 1)
			require.Equal(t, incident.Contribution{TaskID: t2, Department: "SCJG", Result: "licences checked", At: start.Add(time.Hour)}, lead.Contributions[0])
		}},
		{at: 2 * time.Hour, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "vendors moved"}, check: status(incident.StatusVerifying)},
	}
	final := h.run(input(t, incident.TierDepartment), append(steps, closeSteps(3*time.Hour)...)...)
	// The timeline says who did what.
	done := entriesOf(final, incident.EventCompleted)
	require.Len(t, done, 2)
	require.Equal(t, "SCJG", done[0].Department)
	require.Equal(t, "CG", done[1].Department)
	require.Empty(t, final.Task(t2).Contributions)
}

func TestOverruledReturnKeepsItsDeadlines(t *testing.T) {
	h := newHarness(t)
	steps := []step{
		{at: 30 * time.Minute, actor: cg, cmd: incident.Return{TaskID: t1, Reason: "a housing matter"}, check: func(t *testing.T, in *incident.Incident) {
			task := in.Task(t1)
			require.Equal(t, incident.TaskReturned, task.Status)
			require.Equal(t, 1, task.Returns)
			require.Equal(t, "a housing matter", task.Dispute.Reason)
		}},
		// Arbitration is the street's: not the department's, not the district's before a referral.
		{at: time.Hour, actor: cg, cmd: incident.Overrule{TaskID: t1, Note: "mine after all"}, want: incident.CodeForbidden},
		{at: time.Hour, actor: district, cmd: incident.Overrule{TaskID: t1, Note: "x"}, want: incident.CodeForbidden},
		{at: time.Hour, actor: street, cmd: incident.Overrule{TaskID: t1}, want: incident.CodeInvalid}, // a note is required
		{at: 2 * time.Hour, actor: street, cmd: incident.Overrule{TaskID: t1, Note: "vending is CG's: see item SR-001"}, check: func(t *testing.T, in *incident.Incident) {
			task := in.Task(t1)
			require.Equal(t, incident.TaskPendingAck, task.Status)
			require.Equal(t, incident.DisputeOverruled, task.Dispute.Decision)
			require.Equal(t, start.Add(time.Hour), task.AckDue, "the deadline it had")
		}},
		{at: 2*time.Hour + time.Minute, actor: street, cmd: incident.Overrule{TaskID: t1, Note: "again"}, want: incident.CodeConflict},
		// Once overruled, the same task cannot be returned again (max_returns 1).
		{at: 2*time.Hour + time.Minute, actor: cg, cmd: incident.Return{TaskID: t1, Reason: "still not ours"}, want: incident.CodeConflict},
		// The ack deadline passed while the task was disputed: the ladder
		// caught up at once; nothing was gained by returning.
		{at: 2*time.Hour + 2*time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}, check: func(t *testing.T, in *incident.Incident) {
			require.Equal(t, 1, in.Task(t1).Ack.Level)
			require.True(t, in.Task(t1).AckOverdue)
		}},
		{at: 3 * time.Hour, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "vendors moved"}},
	}
	final := h.run(withLadder(t), append(steps, closeSteps(4*time.Hour)...)...)
	over := entriesOf(final, incident.EventAckOverdue)
	require.Len(t, over, 1, "level 1 only: acknowledged before level 2 at 3h")
	require.Equal(t, start.Add(2*time.Hour), over[0].At, "fired when the task came back")
	require.Len(t, entriesOf(final, incident.EventOverruled), 1)
	require.Equal(t, incident.StatusClosed, final.Status)
}

func TestReferredDisputeIsTheDistrictsToSettle(t *testing.T) {
	h := newHarness(t)
	final := h.run(withLadder(t),
		step{at: time.Minute, actor: cg, cmd: incident.Return{TaskID: t1, Reason: "not ours"}},
		step{at: 2 * time.Minute, actor: otherStr, cmd: incident.Refer{TaskID: t1, Note: "x"}, want: incident.CodeForbidden},
		step{at: 2 * time.Minute, actor: street, cmd: incident.Refer{TaskID: t1}, want: incident.CodeInvalid},
		step{at: 3 * time.Minute, actor: street, cmd: incident.Refer{TaskID: t1, Note: "CG and ZJ both refuse"}, check: func(t *testing.T, in *incident.Incident) {
			require.NotNil(t, in.Task(t1).Dispute.ReferredAt)
		}},
		step{at: 4 * time.Minute, actor: street, cmd: incident.Refer{TaskID: t1, Note: "again"}, want: incident.CodeConflict},
		// Referred: the street no longer decides; the district does.
		step{at: 5 * time.Minute, actor: street, cmd: incident.Reassign{TaskID: t1, Department: "ZJ"}, want: incident.CodeForbidden},
		step{at: 6 * time.Minute, actor: district, cmd: incident.Reassign{TaskID: t1, Department: "ZJ", Note: "structural: ZJ leads"}, check: func(t *testing.T, in *incident.Incident) {
			require.Equal(t, incident.DisputeReassigned, in.Task(t1).Dispute.Decision)
			require.Equal(t, "district:DA:chen", in.Task(t1).Dispute.DecidedBy)
			require.Equal(t, "ZJ", in.Task(t2).Department)
			require.Equal(t, incident.TaskLead, in.Task(t2).Role)
		}},
		step{at: 7 * time.Minute, actor: zj, cmd: incident.Ack{TaskID: t2}},
		step{at: 8 * time.Minute, actor: zj, cmd: incident.Complete{TaskID: t2, Result: "shored up"}},
		step{at: 9 * time.Minute, actor: street, cmd: incident.Verify{Passed: true}},
		step{at: 10 * time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}},
	)
	ref := entriesOf(final, incident.EventDisputeReferred)
	require.Len(t, ref, 1)
	require.True(t, incident.IsEscalation(ref[0].Type), "the referral reaches the escalation subject")
}

func TestMaxReturnsIsConfigurable(t *testing.T) {
	h := newHarness(t)
	in := withLadder(t)
	in.MaxReturns = 2
	h.run(in,
		step{at: time.Minute, actor: cg, cmd: incident.Return{TaskID: t1, Reason: "not ours"}},
		step{at: 2 * time.Minute, actor: street, cmd: incident.Overrule{TaskID: t1, Note: "it is"}},
		step{at: 3 * time.Minute, actor: cg, cmd: incident.Return{TaskID: t1, Reason: "really not ours"}},
		step{at: 4 * time.Minute, actor: street, cmd: incident.Overrule{TaskID: t1, Note: "it really is"}},
		step{at: 5 * time.Minute, actor: cg, cmd: incident.Return{TaskID: t1, Reason: "third time"}, want: incident.CodeConflict},
		step{at: 6 * time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}},
		step{at: 7 * time.Minute, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "done"}},
		step{at: 8 * time.Minute, actor: street, cmd: incident.Verify{Passed: true}},
		step{at: 9 * time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}, check: func(t *testing.T, in *incident.Incident) {
			require.Equal(t, 2, in.Task(t1).Returns)
		}},
	)
}

func TestEnforcementItemCallsItsTeamsOnTheShortDeadline(t *testing.T) {
	h := newHarness(t)
	in := input(t, incident.TierDepartment)
	in.Item.Cooperating = []string{"SCJG", "ZJ"}
	in.Item.Enforcement = []string{"CG", "SCJG"} // ZJ is no enforcement team
	in.EnforcementAck = mustDur(t, "20m")
	final := h.run(in,
		step{at: time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}},
		step{at: 2 * time.Minute, actor: scjg, cmd: incident.Ack{TaskID: t2}},
		step{at: 3 * time.Minute, actor: zj, cmd: incident.Ack{TaskID: t3}},
		step{at: time.Hour, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "stall removed"}},
		step{at: time.Hour + time.Minute, actor: scjg, cmd: incident.Complete{TaskID: t2, Result: "fined"}},
		step{at: time.Hour + 2*time.Minute, actor: zj, cmd: incident.Complete{TaskID: t3, Result: "n/a"}},
		step{at: 2 * time.Hour, actor: street, cmd: incident.Verify{Passed: true}},
		step{at: 3 * time.Hour, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}},
	)
	for _, id := range []string{t1, t2} {
		task := final.Task(id)
		require.True(t, task.Enforcement, id)
		require.Equal(t, start.Add(20*time.Minute), task.AckDue, id)
		require.Equal(t, start.Add(72*time.Hour), task.ResolveDue, "the resolution deadline is the item's")
	}
	require.False(t, final.Task(t3).Enforcement)
	require.Equal(t, start.Add(time.Hour), final.Task(t3).AckDue)
}

func TestStreetCallsEnforcementTeamsDirectly(t *testing.T) {
	h := newHarness(t)
	in := input(t, incident.TierStreet)
	in.Item.Lead = "CG"
	final := h.run(in,
		// Joint enforcement (联合执法): two teams at once, on the default 30m.
		step{at: time.Minute, actor: street, cmd: incident.Whistle{Departments: []string{"CG", "SCJG"}, Enforcement: true, Note: "joint sweep"}, check: func(t *testing.T, in *incident.Incident) {
			require.Equal(t, incident.StatusDispatched, in.Status)
			require.Len(t, in.Tasks, 2)
			for _, task := range in.Tasks {
				require.True(t, task.Enforcement)
				require.Equal(t, start.Add(31*time.Minute), task.AckDue)
			}
			require.Empty(t, entriesOf(in, incident.EventRoutingOverride), "calling teams is no override")
		}},
		// On a dispatched incident the street may add a team, not whistle departments.
		step{at: 2 * time.Minute, actor: street, cmd: incident.Whistle{Departments: []string{"ZJ"}, Note: "x"}, want: incident.CodeConflict},
		step{at: 2*time.Minute + time.Second, actor: street, cmd: incident.Whistle{Departments: []string{"CG"}, Enforcement: true}, want: incident.CodeInvalid},
		step{at: 3 * time.Minute, actor: street, cmd: incident.Whistle{Departments: []string{"ZHZF"}, Enforcement: true}, check: func(t *testing.T, in *incident.Incident) {
			task := in.Task(t3)
			require.Equal(t, incident.TaskCooperating, task.Role)
			require.True(t, task.Enforcement)
		}},
		step{at: 4 * time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}},
		step{at: 5 * time.Minute, actor: scjg, cmd: incident.Ack{TaskID: t2}},
		step{at: 6 * time.Minute, actor: zhzf, cmd: incident.Ack{TaskID: t3}},
		step{at: 7 * time.Minute, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "stall removed"}},
		step{at: 8 * time.Minute, actor: scjg, cmd: incident.Complete{TaskID: t2, Result: "fined"}},
		step{at: 9 * time.Minute, actor: zhzf, cmd: incident.Complete{TaskID: t3, Result: "goods held"}},
		step{at: 10 * time.Minute, actor: street, cmd: incident.Verify{Passed: true}},
		step{at: 11 * time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}},
	)
	require.Len(t, entriesOf(final, incident.EventEnforcementCalled), 2)
}

func TestRoutingOverrideNeedsAReasonAndIsRecorded(t *testing.T) {
	h := newHarness(t)
	in := input(t, incident.TierStreet)
	in.Item.Lead, in.Item.Cooperating = "CG", []string{"SCJG"}
	final := h.run(in,
		step{at: time.Minute, actor: street, cmd: incident.Whistle{Departments: []string{"ZJ"}}, want: incident.CodeInvalid},
		// The list's own departments in another order is an override too: the lead changes.
		step{at: time.Minute, actor: street, cmd: incident.Whistle{Departments: []string{"SCJG", "CG"}}, want: incident.CodeInvalid},
		step{at: 2 * time.Minute, actor: street, cmd: incident.Whistle{Departments: []string{"ZJ", "CG"}, Note: "the stall blocks a building site"}, check: func(t *testing.T, in *incident.Incident) {
			o := entriesOf(in, incident.EventRoutingOverride)
			require.Len(t, o, 1)
			require.Equal(t, "street:FH:li", o[0].Actor)
			require.True(t, strings.HasPrefix(o[0].Note, "CG,SCJG → ZJ,CG: the stall blocks"), o[0].Note)
			require.Equal(t, "ZJ", in.Task(t1).Department)
		}},
		step{at: 3 * time.Minute, actor: zj, cmd: incident.Ack{TaskID: t1}},
		step{at: 4 * time.Minute, actor: cg, cmd: incident.Ack{TaskID: t2}},
		step{at: 5 * time.Minute, actor: zj, cmd: incident.Complete{TaskID: t1, Result: "site fenced"}},
		step{at: 6 * time.Minute, actor: cg, cmd: incident.Complete{TaskID: t2, Result: "stall removed"}},
		step{at: 7 * time.Minute, actor: street, cmd: incident.Verify{Passed: true}},
		step{at: 8 * time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}},
	)
	require.Len(t, entriesOf(final, incident.EventRoutingOverride), 1)
}
