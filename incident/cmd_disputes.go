package incident

import (
	"strings"
	"time"
)

// Return: a department disputes responsibility (退单).
type Return struct {
	TaskID string `json:"task_id" hidden:"true"`
	Reason string `json:"reason" minLength:"1" doc:"Why this is not the department's responsibility (退单)."`
}

// Reassign: the street (the district, once the dispute is referred)
// settles a return by giving the task to another department.
type Reassign struct {
	TaskID     string `json:"task_id" hidden:"true"`
	Department string `json:"department" minLength:"1" maxLength:"64" doc:"Code of the department that takes the returned task over."`
	Note       string `json:"note,omitempty" doc:"Optional note on the arbitration."`
}

// Overrule: the street (the district, once the dispute is referred)
// settles a return by sending the task back to its department, which must
// then take it: its deadlines are the ones it had.
type Overrule struct {
	TaskID string `json:"task_id" hidden:"true"`
	Note   string `json:"note" minLength:"1" doc:"Why the return is overruled: the department must take the task."`
}

// Refer: the street cannot settle a return and refers it to the district.
type Refer struct {
	TaskID string `json:"task_id" hidden:"true"`
	Note   string `json:"note" minLength:"1" doc:"Why the street cannot settle the dispute."`
}

// Command names of this file.
const (
	CmdReturn   = "return"
	CmdReassign = "reassign"
	CmdOverrule = "overrule"
	CmdRefer    = "refer"
)

func (Return) Name() string { return CmdReturn }

func (Return) Doc() Doc {
	return Doc{Operation: "returnTask", Summary: "Return a task (退单)",
		Description: "The department disputes responsibility; the street arbitrates (reassign, overrule, or refer to the district). A department may return the same task only as often as the jurisdiction allows (disputes.max_returns, default once): after an overrule a second return is refused (409).",
		Roles:       []Role{RoleDepartment}, OnTask: true}
}

func (c Return) permit(in *Incident, a Actor) error { return in.ownTask(a, c.TaskID) }

func (c Return) check(in *Incident, _ Actor, _ time.Time) error {
	t, err := in.dispatchedTask(c.TaskID)
	if err != nil {
		return err
	}
	if !t.Open() {
		return Conflict(string(t.Status), "task %s is %s: only an open task can be returned", t.ID, t.Status)
	}
	if t.Returns >= in.MaxReturns {
		return Conflict(string(t.Status), "task %s was returned %d time(s) already, the most allowed, and the return was overruled: the department must handle it", t.ID, t.Returns)
	}
	return checkNote("reason", c.Reason, true)
}

func (c Return) apply(in *Incident, who string, now time.Time, _ Rules) {
	t := in.Task(c.TaskID)
	t.Status, t.ReturnReason = TaskReturned, c.Reason
	t.Returns++
	t.Dispute = &Dispute{Reason: c.Reason, ReturnedAt: now, ReturnedBy: who}
	in.record(now, EventReturned, who, c.Reason, t.ID, t.Department)
}

func (Reassign) Name() string { return CmdReassign }

func (Reassign) Doc() Doc {
	return Doc{Operation: "reassignTask", Summary: "Reassign a returned task",
		Description: "The street (the district, once the dispute is referred to it) gives a returned task to another department.",
		Roles:       []Role{RoleStreet, RoleDistrict}, OnTask: true}
}

func (c Reassign) permit(in *Incident, a Actor) error { return in.arbiter(a, c.Name(), c.TaskID) }

func (c Reassign) check(in *Incident, _ Actor, _ time.Time) error {
	t, err := in.disputed(c.Name(), c.TaskID)
	if err != nil {
		return err
	}
	if err := checkNote("note", c.Note, false); err != nil {
		return err
	}
	if strings.TrimSpace(c.Department) == "" {
		return Invalid("department", "department is required")
	}
	if c.Department == t.Department {
		return Invalid("department", "task %s was returned by %s: reassign it to another department", t.ID, t.Department)
	}
	if o := in.roundTaskOf(c.Department); o != nil {
		return Invalid("department", "department %s already has task %s on this incident", c.Department, o.ID)
	}
	return nil
}

func (c Reassign) apply(in *Incident, who string, now time.Time, rules Rules) {
	old := in.Task(c.TaskID)
	nt := in.addTask(now, rules, c.Department, old.Role)
	old.ReassignedTo = nt.ID
	in.decide(old, DisputeReassigned, now, who, c.Note)
	in.record(now, EventReassigned, who, old.Department+" → "+c.Department+noteSuffix(c.Note), old.ID, old.Department)
	in.record(now, EventTaskCreated, who, "reassigned from "+old.ID, nt.ID, nt.Department)
}

func (Overrule) Name() string { return CmdOverrule }

func (Overrule) Doc() Doc {
	return Doc{Operation: "overruleReturn", Summary: "Overrule a return",
		Description: "The street (the district, once the dispute is referred to it) sends a returned task back to its department, which must take it: the task keeps the deadlines it had, and any escalation step passed meanwhile fires at once.",
		Roles:       []Role{RoleStreet, RoleDistrict}, OnTask: true}
}

func (c Overrule) permit(in *Incident, a Actor) error { return in.arbiter(a, c.Name(), c.TaskID) }

func (c Overrule) check(in *Incident, _ Actor, _ time.Time) error {
	if _, err := in.disputed(c.Name(), c.TaskID); err != nil {
		return err
	}
	return checkNote("note", c.Note, true)
}

func (c Overrule) apply(in *Incident, who string, now time.Time, _ Rules) {
	t := in.Task(c.TaskID)
	// Back to the department with the deadlines it had: the time spent
	// disputing is its own, and any level passed meanwhile fires now.
	t.Status = TaskPendingAck
	if t.AckedAt != nil {
		t.Status = TaskAcknowledged
	}
	in.decide(t, DisputeOverruled, now, who, c.Note)
	in.record(now, EventOverruled, who, c.Note, t.ID, t.Department)
}

func (Refer) Name() string { return CmdRefer }

func (Refer) Doc() Doc {
	return Doc{Operation: "referDispute", Summary: "Refer a dispute to the district",
		Description: "The street cannot settle a return; the district decides it (reassign or overrule). Published on whistle.escalations.<street>.",
		Roles:       []Role{RoleStreet}, OnTask: true}
}

func (c Refer) permit(in *Incident, a Actor) error {
	if err := in.allow(a, c.Name(), in.isStreet(a)); err != nil {
		return err
	}
	if in.Task(c.TaskID) == nil {
		return Errorf(CodeNotFound, "incident %s has no task %s", in.ID, c.TaskID)
	}
	return nil
}

func (c Refer) check(in *Incident, _ Actor, _ time.Time) error {
	if t := in.Task(c.TaskID); referred(t) {
		return Conflict(string(t.Status), "the return of task %s is already referred to the district", t.ID)
	}
	if _, err := in.disputed(c.Name(), c.TaskID); err != nil {
		return err
	}
	return checkNote("note", c.Note, true)
}

func (c Refer) apply(in *Incident, who string, now time.Time, _ Rules) {
	t := in.Task(c.TaskID)
	t.Dispute.ReferredAt, t.Dispute.ReferredBy, t.Dispute.ReferNote = &now, who, c.Note
	in.record(now, EventDisputeReferred, who, c.Note, t.ID, t.Department)
}

// arbiter permits the settling of the return of task id (reassign,
// overrule) to the street, or to the district once the street referred
// the dispute to it.
func (in *Incident) arbiter(a Actor, cmd, id string) error {
	t := in.Task(id)
	if t == nil {
		return Errorf(CodeNotFound, "incident %s has no task %s", in.ID, id)
	}
	if referred(t) && a.Role != RoleDistrict {
		return Errorf(CodeForbidden, "the return of task %s was referred to the district: only the district may %s it", t.ID, cmd)
	}
	if !referred(t) {
		return in.allow(a, cmd, in.isStreet(a))
	}
	return nil
}

// referred reports whether t's return is referred to the district and not
// decided yet.
func referred(t *Task) bool {
	return t.Dispute != nil && t.Dispute.ReferredAt != nil && t.Dispute.Decision == ""
}

// disputed returns the returned task id that a permitted command cmd
// (reassign, overrule, refer) settles, checking that it is still open.
func (in *Incident) disputed(cmd, id string) (*Task, error) {
	t := in.Task(id)
	if t.Status != TaskReturned || t.ReassignedTo != "" {
		return nil, Conflict(string(t.Status), "task %s is %s: only a returned task can be arbitrated (%s)", t.ID, t.Status, cmd)
	}
	if in.Status != StatusDispatched {
		return nil, in.conflict(cmd)
	}
	return t, nil
}

// decide records how the dispute over t was settled.
func (in *Incident) decide(t *Task, decision string, now time.Time, who, note string) {
	if t.Dispute == nil {
		t.Dispute = &Dispute{Reason: t.ReturnReason}
	}
	t.Dispute.Decision, t.Dispute.DecidedAt, t.Dispute.DecidedBy, t.Dispute.Note = decision, &now, who, note
}
