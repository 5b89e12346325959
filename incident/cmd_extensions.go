package incident

import "time"

// RequestExtension: a department asks, before its deadline, to move its
// resolution deadline to Until (延期).
type RequestExtension struct {
	TaskID string    `json:"task_id" hidden:"true"`
	Until  time.Time `json:"until" doc:"The resolution deadline asked for; later than the current one."`
	Reason string    `json:"reason" minLength:"1" doc:"Why more time is needed (延期)."`
}

// DecideExtension: the street approves or refuses a pending request.
type DecideExtension struct {
	TaskID  string `json:"task_id" hidden:"true"`
	Approve bool   `json:"approve" doc:"true moves the resolution deadline to the date asked for and re-arms its escalation ladder."`
	Note    string `json:"note,omitempty" doc:"Optional note."`
}

// Command names of this file.
const (
	CmdExtend = "extension"
	CmdDecide = "extension_decision"
)

func (RequestExtension) Name() string { return CmdExtend }

func (RequestExtension) Doc() Doc {
	return Doc{Operation: "requestExtension", Summary: "Ask for an extension (延期)",
		Description: "The department asks, before its resolution deadline, for a later one; the street decides. A request after the deadline is refused (409).",
		Roles:       []Role{RoleDepartment}, OnTask: true}
}

func (c RequestExtension) permit(in *Incident, a Actor) error { return in.ownTask(a, c.TaskID) }

func (c RequestExtension) check(in *Incident, _ Actor, now time.Time) error {
	t, err := in.dispatchedTask(c.TaskID)
	if err != nil {
		return err
	}
	if !t.Open() {
		return Conflict(string(t.Status), "task %s is %s: only an open task can be extended", t.ID, t.Status)
	}
	if t.Extension != nil && t.Extension.Decision == "" {
		return Conflict(string(t.Status), "task %s already has an extension request waiting for the street", t.ID)
	}
	if !now.Before(t.ResolveDue) {
		return Conflict(string(t.Status), "the resolution deadline of task %s (%s) has passed: an extension must be asked before it", t.ID, t.ResolveDue.Format(time.RFC3339))
	}
	if !c.Until.After(t.ResolveDue) {
		return Invalid("until", "until must be later than the current deadline %s", t.ResolveDue.Format(time.RFC3339))
	}
	return checkNote("reason", c.Reason, true)
}

func (c RequestExtension) apply(in *Incident, who string, now time.Time, _ Rules) {
	t := in.Task(c.TaskID)
	t.Extension = &Extension{Until: c.Until.UTC(), Reason: c.Reason, RequestedAt: now, RequestedBy: who}
	in.recordTask(now, EventExtensionRequested, who, "until "+c.Until.UTC().Format(time.RFC3339)+": "+c.Reason, t, 0)
}

func (DecideExtension) Name() string { return CmdDecide }

func (DecideExtension) Doc() Doc {
	return Doc{Operation: "decideExtension", Summary: "Approve or refuse an extension",
		Description: "The street decides a pending extension request; approval moves resolve_due and re-arms the ladder.",
		Roles:       []Role{RoleStreet}, OnTask: true}
}

func (c DecideExtension) permit(in *Incident, a Actor) error {
	return in.streetTask(a, c.Name(), c.TaskID)
}

func (c DecideExtension) check(in *Incident, _ Actor, _ time.Time) error {
	t := in.Task(c.TaskID)
	if t.Extension == nil || t.Extension.Decision != "" {
		return Conflict(string(t.Status), "task %s has no pending extension request", t.ID)
	}
	if !t.Open() || in.Status != StatusDispatched {
		return Conflict(string(t.Status), "task %s is %s: its extension can no longer be decided", t.ID, t.Status)
	}
	return checkNote("note", c.Note, false)
}

func (c DecideExtension) apply(in *Incident, who string, now time.Time, rules Rules) {
	t := in.Task(c.TaskID)
	x := t.Extension
	x.DecidedAt, x.DecidedBy, x.Note = &now, who, c.Note
	if !c.Approve {
		x.Decision = ExtensionRefused
		in.recordTask(now, EventExtensionRefused, who, c.Note, t, 0)
		return
	}
	x.Decision = ExtensionApproved
	t.Extensions++
	// The deadline moves and the ladder is re-armed over the longer time:
	// warning and levels count from the new deadline.
	t.Resolve = newClock(rules, SLAResolve, t.Resolve.Start, x.Until)
	t.sync()
	in.recompute()
	in.recordTask(now, EventExtensionApproved, who, "resolve due "+x.Until.Format(time.RFC3339)+noteSuffix(c.Note), t, 0)
}
