package incident

import (
	"slices"
	"strings"
	"time"
)

func (in *Incident) whistle(now time.Time, rules Rules, who string, deps []string, note string) {
	in.Status = StatusDispatched
	in.record(now, EventWhistled, who, strings.TrimSpace(strings.Join(deps, ",")+" "+note), "", "")
	for i, d := range deps {
		role := TaskCooperating
		if i == 0 {
			role = TaskLead
		}
		if slices.Contains(in.Item.Enforcement, d) {
			// An item of an enforcement domain: its teams are called directly.
			t := in.addEnforcementTask(now, rules, d, role)
			in.record(now, EventTaskCreated, who, string(role)+", enforcement", t.ID, t.Department)
			continue
		}
		t := in.addTask(now, rules, d, role)
		in.record(now, EventTaskCreated, who, string(role), t.ID, t.Department)
	}
}

// callEnforcement calls enforcement teams directly (执法指挥调度): each gets
// an enforcement task on the enforcement acknowledgement deadline. On an
// incident not yet dispatched the first team leads; on one already
// dispatched the teams join the round as cooperating.
func (in *Incident) callEnforcement(now time.Time, rules Rules, who string, teams []string, note string) {
	lead := in.Status != StatusDispatched
	in.Status = StatusDispatched
	in.record(now, EventEnforcementCalled, who, strings.TrimSpace(strings.Join(teams, ",")+" "+note), "", "")
	for i, d := range teams {
		role := TaskCooperating
		if lead && i == 0 {
			role = TaskLead
		}
		t := in.addEnforcementTask(now, rules, d, role)
		in.record(now, EventTaskCreated, who, string(role)+", enforcement", t.ID, t.Department)
	}
}

func (in *Incident) addEnforcementTask(now time.Time, rules Rules, dept string, role TaskRole) *Task {
	t := in.addTask(now, rules, dept, role)
	t.Enforcement = true
	t.Ack = newClock(rules, SLAEnforcementAck, now, rules.Due(SLAEnforcementAck, now))
	t.sync()
	return t
}

func (in *Incident) addTask(now time.Time, rules Rules, dept string, role TaskRole) *Task {
	t := &Task{
		ID: TaskID(in.ID, len(in.Tasks)+1), Department: dept, Role: role, Status: TaskPendingAck,
		Round: in.Round, CreatedAt: now,
		Ack:     newClock(rules, SLAAck, now, rules.Due(SLAAck, now)),
		Resolve: newClock(rules, SLAResolve, now, rules.Due(SLAResolve, now)),
	}
	t.sync()
	in.Tasks = append(in.Tasks, t)
	return t
}

// afterTaskChange moves the incident to verification once every task of the
// round is completed, cancelled, or returned and reassigned.
func (in *Incident) afterTaskChange(now time.Time) {
	completed := 0
	for _, t := range in.roundTasks() {
		switch {
		case t.Status == TaskCompleted:
			completed++
		case t.Status == TaskCancelled, t.Status == TaskReturned && t.ReassignedTo != "":
		default:
			return
		}
	}
	if completed > 0 {
		in.Status = StatusVerifying
		in.record(now, EventAllCompleted, SystemActor, "all tasks completed: on-site verification", "", "")
	}
}

func (in *Incident) awaitFeedback(now time.Time, rules Rules) {
	in.Status = StatusAwaitingFeedback
	d := rules.Due(SLAFeedback, now)
	in.FeedbackDue = &d
	in.touch(now)
}

// reopen (重办) starts a new round: the departments that completed the last
// round get new tasks; an incident handled without departments goes back to
// its grid or street.
func (in *Incident) reopen(now time.Time, rules Rules, who string) {
	in.ReopenCount++
	var deps []string
	var roles []TaskRole
	var enforcement []bool
	for _, t := range in.roundTasks() {
		if t.Status == TaskCompleted {
			deps, roles = append(deps, t.Department), append(roles, t.Role)
			enforcement = append(enforcement, t.Enforcement)
		}
	}
	in.Round++
	in.record(now, EventReopened, who, "reopened (重办) "+itoa(in.ReopenCount)+" of the allowed times", "", "")
	if len(deps) == 0 {
		if in.Tier == TierCommunity {
			in.Status = StatusCommunity
		} else {
			in.Status = StatusTriage
		}
		in.touch(now)
		return
	}
	in.Status = StatusDispatched
	for i, d := range deps {
		var t *Task
		if enforcement[i] {
			t = in.addEnforcementTask(now, rules, d, roles[i])
		} else {
			t = in.addTask(now, rules, d, roles[i])
		}
		in.record(now, EventTaskCreated, who, "reopened", t.ID, t.Department)
	}
}

func (in *Incident) close(now time.Time, who, note string) {
	in.Status = StatusClosed
	in.ClosedAt = &now
	in.record(now, EventClosed, who, note, "", "")
}

func (in *Incident) raise(t *Task, level int) {
	t.EscalationLevel = max(t.EscalationLevel, level)
	in.EscalationLevel = max(in.EscalationLevel, t.EscalationLevel)
}

// recompute derives the incident's escalation level from its tasks' (an
// approved extension can bring a task back to level 0).
func (in *Incident) recompute() {
	in.EscalationLevel = 0
	for _, t := range in.Tasks {
		in.EscalationLevel = max(in.EscalationLevel, t.EscalationLevel)
	}
}

func (in *Incident) record(now time.Time, typ, who, note, taskID, dept string) {
	in.Timeline = append(in.Timeline, Entry{Seq: len(in.Timeline) + 1, At: now, Type: typ, Actor: who, Note: note, TaskID: taskID, Department: dept})
	in.touch(now)
}

// recordTask records an entry about task t, at escalation level (0: none).
func (in *Incident) recordTask(now time.Time, typ, who, note string, t *Task, level int) {
	in.record(now, typ, who, note, t.ID, t.Department)
	in.Timeline[len(in.Timeline)-1].Level = level
}

// touch bumps the version and stamps the incident's status on the last entry.
func (in *Incident) touch(now time.Time) {
	in.Version++
	in.UpdatedAt = now
	if n := len(in.Timeline); n > 0 {
		in.Timeline[n-1].Status = in.Status
	}
}

func (in *Incident) roundTasks() []*Task {
	var out []*Task
	for _, t := range in.Tasks {
		if t.Round == in.Round {
			out = append(out, t)
		}
	}
	return out
}

func (in *Incident) defaultDepartments() []string {
	var deps []string
	if in.Item.Lead != "" {
		deps = append(deps, in.Item.Lead)
	}
	for _, d := range in.Item.Cooperating {
		if !slices.Contains(deps, d) {
			deps = append(deps, d)
		}
	}
	return deps
}

// roundTaskOf returns the task of department d in the current round that is
// open or completed, or nil.
func (in *Incident) roundTaskOf(d string) *Task {
	for _, t := range in.roundTasks() {
		if t.Department == d && (t.Open() || t.Status == TaskCompleted) {
			return t
		}
	}
	return nil
}

// RoundLead returns the lead task of the current round that is open or
// completed (after a reassignment, the new one), or nil.
func (in *Incident) RoundLead() *Task {
	var lead *Task
	for _, t := range in.roundTasks() {
		if t.Role == TaskLead && (t.Open() || t.Status == TaskCompleted) {
			lead = t
		}
	}
	return lead
}
