package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

// withLadder is a single-department incident with the district's default
// ladder: yellow at 80 % of an SLA, level 1 at the deadline, level 2 two
// hours later, level 3 one working day later.
func withLadder(t *testing.T) Input {
	in := input(t, incident.TierDepartment)
	in.Item.Cooperating = nil
	in.Escalation = &jurisdiction.Escalation{WarnAt: 0.8, Levels: []jurisdiction.Duration{mustDur(t, "0s"), mustDur(t, "2h"), mustDur(t, "1wd")}}
	return in
}

// ladderEntries returns the warning and escalation entries of the timeline.
func ladderEntries(in *incident.Incident) []incident.Entry {
	var out []incident.Entry
	for _, e := range in.Timeline {
		switch e.Type {
		case incident.EventAckWarning, incident.EventResolveWarning, incident.EventAckOverdue, incident.EventResolveOverdue:
			out = append(out, e)
		}
	}
	return out
}

// closeSteps finishes an incident from a completed task, starting at.
func closeSteps(at time.Duration) []step {
	return []step{
		{at: at, actor: street, cmd: incident.Verify{Passed: true}},
		{at: at + time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}},
	}
}

func TestAckOnTimeRaisesNothing(t *testing.T) {
	h := newHarness(t)
	steps := []step{
		{at: 30 * time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}},
		{at: 2 * time.Hour, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "done"}},
	}
	final := h.run(withLadder(t), append(steps, closeSteps(3*time.Hour)...)...)
	require.Empty(t, ladderEntries(final))
	require.Zero(t, final.EscalationLevel)
}

func TestAckLateClimbsLevelsOneTwoThree(t *testing.T) {
	h := newHarness(t)
	steps := []step{
		// Monday 09:00 Beijing: ack due 10:00; yellow 09:48; level 2 12:00;
		// level 3 one working day after the deadline, Tuesday 10:00.
		{at: 25 * time.Hour, actor: cg, cmd: incident.Ack{TaskID: t1}, check: func(t *testing.T, in *incident.Incident) {
			task := in.Task(t1)
			require.Equal(t, 3, task.Ack.Level)
			require.Equal(t, 3, task.EscalationLevel)
			require.Equal(t, 3, in.EscalationLevel)
		}},
		{at: 26 * time.Hour, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "done"}},
	}
	final := h.run(withLadder(t), append(steps, closeSteps(27*time.Hour)...)...)
	got := ladderEntries(final)
	require.Len(t, got, 4, "%+v", got)
	want := []struct {
		typ   string
		at    time.Duration
		level int
	}{
		{incident.EventAckWarning, 48 * time.Minute, 0},
		{incident.EventAckOverdue, time.Hour, 1},
		{incident.EventAckOverdue, 3 * time.Hour, 2},
		{incident.EventAckOverdue, 25 * time.Hour, 3},
	}
	for i, w := range want {
		require.Equal(t, w.typ, got[i].Type, "entry %d", i)
		require.Equal(t, start.Add(w.at), got[i].At, "entry %d", i)
		require.Equal(t, w.level, got[i].Level, "entry %d", i)
		require.Equal(t, "CG", got[i].Department)
	}
}

// Acknowledging stops the acknowledgement ladder; the resolution ladder
// runs on and stops at completion.
func TestResolutionLateAndLaddersStop(t *testing.T) {
	h := newHarness(t)
	// resolve due Thursday 09:00 (72h); yellow at 80 % = +57h36m; level 2
	// at +74h; completed at +75h, before level 3 (Friday 09:00).
	steps := []step{
		{at: 30 * time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}},
		{at: 75 * time.Hour, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "late"}},
	}
	final := h.run(withLadder(t), append(steps, closeSteps(100*time.Hour)...)...)
	got := ladderEntries(final)
	require.Len(t, got, 3, "%+v", got)
	require.Equal(t, incident.EventResolveWarning, got[0].Type)
	require.Equal(t, start.Add(57*time.Hour+36*time.Minute), got[0].At)
	require.Equal(t, incident.EventResolveOverdue, got[1].Type)
	require.Equal(t, start.Add(72*time.Hour), got[1].At)
	require.Equal(t, 2, got[2].Level)
	require.Equal(t, start.Add(74*time.Hour), got[2].At)
}

func TestExtensionApprovedRefusedAndTooLate(t *testing.T) {
	h := newHarness(t)
	in := withLadder(t)
	in.Item.Cooperating = []string{"SCJG"}
	until := start.Add(7 * 24 * time.Hour) // next Monday
	steps := []step{
		{at: time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}},
		{at: 2 * time.Minute, actor: scjg, cmd: incident.Ack{TaskID: t2}},
		// Asking for an earlier date, or for another department's task, is refused.
		{at: 3 * time.Minute, actor: cg, cmd: incident.RequestExtension{TaskID: t1, Until: start.Add(time.Hour), Reason: "x"}, want: incident.CodeInvalid},
		{at: 3 * time.Minute, actor: scjg, cmd: incident.RequestExtension{TaskID: t1, Until: until, Reason: "x"}, want: incident.CodeForbidden},
		{at: time.Hour, actor: cg, cmd: incident.RequestExtension{TaskID: t1, Until: until, Reason: "waiting for a permit"}},
		{at: time.Hour, actor: cg, cmd: incident.RequestExtension{TaskID: t1, Until: until, Reason: "again"}, want: incident.CodeConflict},
		{at: 2 * time.Hour, actor: cg, cmd: incident.DecideExtension{TaskID: t1, Approve: true}, want: incident.CodeForbidden},
		{at: 2 * time.Hour, actor: street, cmd: incident.DecideExtension{TaskID: t1, Approve: true, Note: "ok"}, check: func(t *testing.T, in *incident.Incident) {
			task := in.Task(t1)
			require.Equal(t, until, task.ResolveDue)
			require.Equal(t, 1, task.Extensions)
			require.Equal(t, incident.ExtensionApproved, task.Extension.Decision)
		}},
		{at: 3 * time.Hour, actor: scjg, cmd: incident.RequestExtension{TaskID: t2, Until: until, Reason: "busy"}},
		{at: 4 * time.Hour, actor: street, cmd: incident.DecideExtension{TaskID: t2, Approve: false, Note: "no"}, check: func(t *testing.T, in *incident.Incident) {
			require.Equal(t, start.Add(72*time.Hour), in.Task(t2).ResolveDue)
		}},
		// After its deadline (Thursday 09:00) SCJG can no longer ask.
		{at: 73 * time.Hour, actor: scjg, cmd: incident.RequestExtension{TaskID: t2, Until: until, Reason: "late"}, want: incident.CodeConflict},
		{at: 74 * time.Hour, actor: scjg, cmd: incident.Complete{TaskID: t2, Result: "done"}},
		// CG, extended to next Monday, is not overdue on Thursday.
		{at: 97 * time.Hour, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "done"}, check: func(t *testing.T, in *incident.Incident) {
			require.False(t, in.Task(t1).ResolveOverdue)
			require.Zero(t, in.Task(t1).Resolve.Level)
		}},
	}
	final := h.run(in, append(steps, closeSteps(98*time.Hour)...)...)
	var types []string
	for _, e := range final.Timeline {
		switch e.Type {
		case incident.EventExtensionRequested, incident.EventExtensionApproved, incident.EventExtensionRefused:
			types = append(types, e.Type)
		}
	}
	require.Equal(t, []string{"extension_requested", "extension_approved", "extension_requested", "extension_refused"}, types)
	// SCJG's refused extension left it overdue on Thursday 09:00.
	require.True(t, final.Task(t2).ResolveOverdue)
}

func TestSuspensionStopsTheClocksAndWatchesTheReview(t *testing.T) {
	h := newHarness(t)
	in := withLadder(t)
	steps := []step{
		// Suspended at 09:30 with half an hour of the ack time left, review at 12:00.
		{at: 30 * time.Minute, actor: cg, cmd: incident.Suspend{Reason: "x", ReviewAt: start.Add(3 * time.Hour)}, want: incident.CodeForbidden},
		{at: 30 * time.Minute, actor: street, cmd: incident.Suspend{Reason: "budget next quarter", ReviewAt: start.Add(-time.Hour)}, want: incident.CodeInvalid},
		{at: 30 * time.Minute, actor: street, cmd: incident.Suspend{Reason: "budget next quarter", ReviewAt: start.Add(3 * time.Hour)}, check: status(incident.StatusSuspended)},
		{at: time.Hour, actor: cg, cmd: incident.Ack{TaskID: t1}, want: incident.CodeConflict},
		// Resumed at 14:00 after 4h30m: the ack is now due at 14:30.
		{at: 5 * time.Hour, actor: street, cmd: incident.Resume{Note: "funded"}, check: func(t *testing.T, in *incident.Incident) {
			require.Equal(t, incident.StatusDispatched, in.Status)
			require.Equal(t, start.Add(5*time.Hour+30*time.Minute), in.Task(t1).AckDue)
			require.Zero(t, in.Task(t1).Ack.Level)
		}},
		{at: 5*time.Hour + 20*time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}},
		{at: 6 * time.Hour, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "done"}},
	}
	final := h.run(in, append(steps, closeSteps(7*time.Hour)...)...)
	var review, overdue int
	for _, e := range final.Timeline {
		switch e.Type {
		case incident.EventReviewDue:
			review++
			require.Equal(t, start.Add(3*time.Hour), e.At)
		case incident.EventAckOverdue:
			overdue++
		}
	}
	require.Equal(t, 1, review)
	require.Zero(t, overdue, "no ack escalation: the clock was stopped")
	// The yellow warning (80 % of the hour, 09:48 before the pause) came after the resumption.
	got := ladderEntries(final)
	require.Len(t, got, 1)
	require.Equal(t, start.Add(5*time.Hour+18*time.Minute), got[0].At)
}

func TestUrgeByStreetAndDistrict(t *testing.T) {
	h := newHarness(t)
	in := withLadder(t)
	in.Item.Cooperating = []string{"SCJG"}
	district := incident.Actor{Sub: "d", Role: incident.RoleDistrict, Org: "DA"}
	steps := []step{
		{at: time.Minute, actor: cg, cmd: incident.Urge{Note: "x"}, want: incident.CodeForbidden},
		{at: time.Minute, actor: otherStr, cmd: incident.Urge{Note: "x"}, want: incident.CodeForbidden},
		{at: time.Minute, actor: street, cmd: incident.Urge{}, want: incident.CodeInvalid},
		{at: 2 * time.Minute, actor: street, cmd: incident.Urge{Note: "please report in"}},
		{at: 3 * time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}},
		{at: 4 * time.Minute, actor: district, cmd: incident.Urge{Note: "district asks"}},
		{at: 5 * time.Minute, actor: scjg, cmd: incident.Ack{TaskID: t2}},
		{at: 6 * time.Minute, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "done"}},
		{at: 7 * time.Minute, actor: scjg, cmd: incident.Complete{TaskID: t2, Result: "done"}},
	}
	final := h.run(in, append(steps, closeSteps(time.Hour)...)...)
	var urged []string
	for _, e := range final.Timeline {
		if e.Type == incident.EventUrged {
			urged = append(urged, e.Department)
		}
	}
	// One entry per open task, so each department hears it.
	require.Equal(t, []string{"CG", "SCJG", "CG", "SCJG"}, urged)
}

// Working days skip the weekend and the National Day break and count the
// adjusted working day (Saturday 2026-10-10).
func TestWorkingDayDeadlineAcrossHolidays(t *testing.T) {
	h := newHarness(t)
	in := withLadder(t)
	in.Calendar = jurisdiction.Official("Asia/Shanghai")
	wed := time.Date(2026, 9, 30, 2, 0, 0, 0, time.UTC) // Wednesday 10:00 Beijing, eve of the break
	h.env.SetStartTime(wed)
	in.Report.ReportedAt = wed
	steps := []step{
		{at: time.Minute, actor: cg, cmd: incident.Ack{TaskID: t1}, check: func(t *testing.T, in *incident.Incident) {
			// 10-01..10-07 off; 10-08 Thu, 10-09 Fri, 10-10 Sat (调休) → 3wd.
			require.Equal(t, time.Date(2026, 10, 10, 2, 0, 0, 0, time.UTC), in.Task(t1).ResolveDue)
		}},
		{at: 2 * time.Minute, actor: cg, cmd: incident.Complete{TaskID: t1, Result: "done"}},
	}
	h.run(in, append(steps, closeSteps(time.Hour)...)...)
}
