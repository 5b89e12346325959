package incident

import (
	"strings"
	"time"
)

// Ack: a department reports in (报到) on its task.
type Ack struct {
	TaskID string `json:"task_id" hidden:"true"`
	Note   string `json:"note,omitempty" doc:"Optional note."`
}

// Complete: a department has done its task.
type Complete struct {
	TaskID string `json:"task_id" hidden:"true"`
	Result string `json:"result" minLength:"1" doc:"What was done; at most 2000 bytes."`
	Note   string `json:"note,omitempty" doc:"Optional note."`
}

// Command names of this file.
const (
	CmdAck      = "ack"
	CmdComplete = "complete"
)

func (Ack) Name() string { return CmdAck }

func (Ack) Doc() Doc {
	return Doc{Operation: "ackTask", Summary: "Acknowledge a task (报到)",
		Description: "The department reports in on its own task. The body is optional.",
		Roles:       []Role{RoleDepartment}, OnTask: true, OptionalBody: true}
}

func (c Ack) permit(in *Incident, a Actor) error { return in.ownTask(a, c.TaskID) }

func (c Ack) check(in *Incident, _ Actor, _ time.Time) error {
	t, err := in.dispatchedTask(c.TaskID)
	if err != nil {
		return err
	}
	if t.Status != TaskPendingAck {
		return Conflict(string(t.Status), "task %s is %s: only a task pending acknowledgement can be acknowledged", t.ID, t.Status)
	}
	return checkNote("note", c.Note, false)
}

func (c Ack) apply(in *Incident, who string, now time.Time, _ Rules) {
	t := in.Task(c.TaskID)
	t.Status, t.AckedAt = TaskAcknowledged, &now
	in.record(now, EventAcknowledged, who, c.Note, t.ID, t.Department)
}

func (Complete) Name() string { return CmdComplete }

func (Complete) Doc() Doc {
	return Doc{Operation: "completeTask", Summary: "Complete a task",
		Description: "The department has done its acknowledged task.",
		Roles:       []Role{RoleDepartment}, OnTask: true}
}

func (c Complete) permit(in *Incident, a Actor) error { return in.ownTask(a, c.TaskID) }

func (c Complete) check(in *Incident, _ Actor, _ time.Time) error {
	t, err := in.dispatchedTask(c.TaskID)
	if err != nil {
		return err
	}
	if t.Status == TaskPendingAck {
		return Conflict(string(t.Status), "task %s is not acknowledged yet: acknowledge (报到) before completing", t.ID)
	}
	if t.Status != TaskAcknowledged {
		return Conflict(string(t.Status), "task %s is %s: only an acknowledged task can be completed", t.ID, t.Status)
	}
	if strings.TrimSpace(c.Result) == "" {
		return Invalid("result", "result is required: say what was done")
	}
	if err := checkNote("result", c.Result, true); err != nil {
		return err
	}
	return checkNote("note", c.Note, false)
}

func (c Complete) apply(in *Incident, who string, now time.Time, _ Rules) {
	t := in.Task(c.TaskID)
	t.Status, t.CompletedAt, t.Result = TaskCompleted, &now, c.Result
	in.record(now, EventCompleted, who, c.Result+noteSuffix(c.Note), t.ID, t.Department)
	if lead := in.RoundLead(); t.Role == TaskCooperating && lead != nil {
		// Joint handling: a cooperating department reports to the lead.
		lead.Contributions = append(lead.Contributions, Contribution{TaskID: t.ID, Department: t.Department, Result: c.Result, At: now})
	}
	in.afterTaskChange(now)
}
