package incident

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// SLAKind names one of an item's deadlines.
type SLAKind string

// SLA kinds (DESIGN.md §3 `sla:`).
const (
	SLAAck      SLAKind = "ack"
	SLAResolve  SLAKind = "resolve"
	SLAFeedback SLAKind = "feedback"
	// SLAEnforcementAck is the acknowledgement deadline of an enforcement
	// task (执法指挥调度), shorter than an item's.
	SLAEnforcementAck SLAKind = "enforcement_ack"
)

// Command is a human step on an incident. Each is a Temporal Update of the
// incident's workflow, named by Name.
type Command interface {
	// Name is the command's name, which is also its Update name.
	Name() string
}

// Commands on incidents and tasks (DESIGN.md §4).
type (
	// Resolve: handled without departments (community or street tier).
	Resolve struct {
		Note string `json:"note"`
	}
	// Escalate: the community cannot handle it, up to the street.
	Escalate struct {
		Note string `json:"note"`
	}
	// Whistle: the street calls departments; empty means the item's lead
	// and cooperating. Other departments than the list's are a routing
	// override and need a reason in Note. With Enforcement the street calls
	// enforcement teams directly (执法指挥调度, several at once: 联合执法) on
	// the enforcement acknowledgement deadline; it may do so on an incident
	// already dispatched, adding the teams to the round.
	Whistle struct {
		Departments []string `json:"departments,omitempty"`
		Note        string   `json:"note"`
		Enforcement bool     `json:"enforcement,omitempty"`
	}
	// Ack: a department reports in (报到) on its task.
	Ack struct {
		TaskID string `json:"task_id"`
		Note   string `json:"note,omitempty"`
	}
	// Complete: a department has done its task.
	Complete struct {
		TaskID string `json:"task_id"`
		Result string `json:"result"`
		Note   string `json:"note,omitempty"`
	}
	// Return: a department disputes responsibility (退单).
	Return struct {
		TaskID string `json:"task_id"`
		Reason string `json:"reason"`
	}
	// Reassign: the street (the district, once the dispute is referred)
	// settles a return by giving the task to another department.
	Reassign struct {
		TaskID     string `json:"task_id"`
		Department string `json:"department"`
		Note       string `json:"note,omitempty"`
	}
	// Overrule: the street (the district, once the dispute is referred)
	// settles a return by sending the task back to its department, which
	// must then take it: its deadlines are the ones it had.
	Overrule struct {
		TaskID string `json:"task_id"`
		Note   string `json:"note"`
	}
	// Refer: the street cannot settle a return and refers it to the district.
	Refer struct {
		TaskID string `json:"task_id"`
		Note   string `json:"note"`
	}
	// Verify: the on-site check (核查) of the departments' work.
	Verify struct {
		Passed bool   `json:"passed"`
		Note   string `json:"note,omitempty"`
	}
	// GiveFeedback: the return visit (回访).
	GiveFeedback struct {
		Resolved bool   `json:"resolved"`
		Rating   Rating `json:"rating"`
		Comment  string `json:"comment,omitempty"`
	}
	// Urge: a manual reminder (催办) by the street or the district.
	Urge struct {
		Note string `json:"note"`
	}
	// RequestExtension: a department asks, before its deadline, to move its
	// resolution deadline to Until (延期).
	RequestExtension struct {
		TaskID string    `json:"task_id"`
		Until  time.Time `json:"until"`
		Reason string    `json:"reason"`
	}
	// DecideExtension: the street approves or refuses a pending request.
	DecideExtension struct {
		TaskID  string `json:"task_id"`
		Approve bool   `json:"approve"`
		Note    string `json:"note,omitempty"`
	}
	// Suspend: the street parks an incident that cannot be solved now
	// (挂账: budget, planning); its clocks stop until Resume, and ReviewAt
	// is watched.
	Suspend struct {
		Reason   string    `json:"reason"`
		ReviewAt time.Time `json:"review_at"`
	}
	// Resume: the street takes a suspended incident up again; its clocks
	// restart where they stopped.
	Resume struct {
		Note string `json:"note"`
	}
	// Rate: the street's assessment of a completed task, 0..100 (考核). It
	// may be given once per task, also after the incident closed, within
	// the rating window.
	Rate struct {
		TaskID string `json:"task_id"`
		Score  int    `json:"score"`
		Note   string `json:"note,omitempty"`
	}
)

// Names of the commands; they are the Update names of IncidentWorkflow.
const (
	CmdResolve  = "resolve"
	CmdEscalate = "escalate"
	CmdWhistle  = "whistle"
	CmdAck      = "ack"
	CmdComplete = "complete"
	CmdReturn   = "return"
	CmdReassign = "reassign"
	CmdVerify   = "verify"
	CmdFeedback = "feedback"
	CmdUrge     = "urge"
	CmdExtend   = "extension"
	CmdDecide   = "extension_decision"
	CmdSuspend  = "suspend"
	CmdResume   = "resume"
	CmdOverrule = "overrule"
	CmdRefer    = "refer"
	CmdRate     = "rate"
)

func (Resolve) Name() string          { return CmdResolve }
func (Escalate) Name() string         { return CmdEscalate }
func (Whistle) Name() string          { return CmdWhistle }
func (Ack) Name() string              { return CmdAck }
func (Complete) Name() string         { return CmdComplete }
func (Return) Name() string           { return CmdReturn }
func (Reassign) Name() string         { return CmdReassign }
func (Verify) Name() string           { return CmdVerify }
func (GiveFeedback) Name() string     { return CmdFeedback }
func (Urge) Name() string             { return CmdUrge }
func (RequestExtension) Name() string { return CmdExtend }
func (DecideExtension) Name() string  { return CmdDecide }
func (Suspend) Name() string          { return CmdSuspend }
func (Resume) Name() string           { return CmdResume }
func (Overrule) Name() string         { return CmdOverrule }
func (Refer) Name() string            { return CmdRefer }
func (Rate) Name() string             { return CmdRate }

// DefaultMaxReopens is how often an unsatisfied return visit reopens an
// incident before it is closed as it stands.
const DefaultMaxReopens = 2

// DefaultMaxReturns is how often a department may return the same task
// (退单) when the jurisdiction does not say.
const DefaultMaxReturns = 1

// Limits on free text, so a bad client cannot bloat a workflow history.
const (
	MaxNoteLen        = 2000
	MaxDescriptionLen = 4000
	MaxPhotos         = 20
)

// New starts an incident from a checked report: community- and street-tier
// items go to the grid or the street; department-tier items are whistled at
// once to the item's lead and cooperating departments.
//
// A report that duplicates an open incident (r.DuplicateOf) is linked to it
// and closed at once, without tasks: the matter is already being handled,
// and its reporter follows the original. A report that repeats a closed one
// (r.RepeatOf) is marked so, with a repeat entry for the street, and then
// routed as usual.
func New(r Report, item Item, now time.Time, rules Rules) *Incident {
	in := &Incident{
		ID: r.IncidentID, Status: StatusReceived, Category: r.Category, Item: item, Tier: item.Tier,
		Street: r.Street, Community: r.Community, Grid: r.Grid, Description: r.Description,
		Location: r.Location, Photos: r.Photos, OccurredAt: r.OccurredAt, ReportedAt: r.ReportedAt,
		Reporter: r.Reporter, Round: 1, Tasks: []*Task{},
	}
	if in.Photos == nil {
		in.Photos = []string{}
	}
	reporter := "grid_worker:" + r.Grid + ":" + r.Reporter
	if r.Delegation != "" {
		in.Delegation, reporter = r.Delegation, r.Reporter // "department:CG:sub"
	}
	in.record(now, EventReported, reporter, r.Description, "", "")
	if r.DuplicateOf != nil {
		orig := *r.DuplicateOf
		in.DuplicateOf = &orig
		in.Status, in.ClosedAt = StatusClosed, &now
		in.record(now, EventDuplicate, SystemActor, "duplicate of "+orig, "", "")
		return in
	}
	if r.RepeatOf != nil {
		orig := *r.RepeatOf
		in.RepeatOf = &orig
		in.record(now, EventRepeat, SystemActor, "repeat (重复诉求) of "+orig, "", "")
	}
	if r.Delegation != "" {
		// A department handed the matter down (准入): the street has it,
		// also for a community-tier item (there is no grid to send it to).
		in.Status = StatusTriage
		in.record(now, EventRouted, SystemActor, "delegated by "+r.Reporter+" (准入): with street "+r.Street, "", "")
		return in
	}
	switch item.Tier {
	case TierCommunity:
		in.Status = StatusCommunity
		in.record(now, EventRouted, SystemActor, "community tier: with grid "+r.Grid, "", "")
	case TierStreet:
		in.Status = StatusTriage
		in.record(now, EventRouted, SystemActor, "street tier: with street "+r.Street, "", "")
	default:
		in.whistle(now, rules, SystemActor, in.defaultDepartments(), "department tier: whistled to the responsibility list's departments")
	}
	return in
}

// RecordDuplicate notes that d, a later report, was linked to the incident
// as its duplicate: one more in Duplicates and a duplicate_reported entry by
// d's reporter. It is recorded in any status, closed included: the
// duplicate was linked while the incident was still open.
func (in *Incident) RecordDuplicate(d Duplicate, now time.Time) {
	in.Duplicates++
	note := "duplicate " + d.IncidentID + " reported " + d.ReportedAt.UTC().Format(time.RFC3339)
	in.record(now, EventDuplicateReported, "grid_worker:"+d.Grid+":"+d.Reporter, note, "", "")
}

// Check reports whether actor may run cmd at now on the incident as it
// stands, without changing anything: a *Error with CodeForbidden,
// CodeNotFound, CodeConflict or CodeInvalid, or nil.
func (in *Incident) Check(a Actor, cmd Command, now time.Time) error {
	if _, rate := cmd.(Rate); in.Status.Terminal() && !(rate && in.Status == StatusClosed) {
		return Conflict(string(in.Status), "incident %s is %s", in.ID, in.Status)
	}
	switch c := cmd.(type) {
	case Rate:
		if err := in.allow(a, c.Name(), in.isStreet(a)); err != nil {
			return err
		}
		t := in.Task(c.TaskID)
		if t == nil {
			return Errorf(CodeNotFound, "incident %s has no task %s", in.ID, c.TaskID)
		}
		if t.Status != TaskCompleted {
			return Conflict(string(t.Status), "task %s is %s: only a completed task is rated", t.ID, t.Status)
		}
		if r := t.Rating; r != nil {
			return Conflict(string(t.Status), "task %s was rated %d by %s at %s: a task is rated once", t.ID, r.Score, r.By, r.At.Format(time.RFC3339))
		}
		if c.Score < 0 || c.Score > 100 {
			return Invalid("score", "score must be between 0 and 100, not %d", c.Score)
		}
		return checkNote("note", c.Note, false)
	case Resolve:
		if err := in.allow(a, c.Name(), in.mayResolve(a)); err != nil {
			return err
		}
		if in.Status != StatusCommunity && in.Status != StatusTriage {
			return in.conflict(c.Name())
		}
		if in.Status == StatusTriage && a.Role != RoleStreet {
			return Errorf(CodeForbidden, "only the street resolves an incident in triage")
		}
		return checkNote("note", c.Note, true)
	case Escalate:
		if err := in.allow(a, c.Name(), a.Role == RoleGridWorker && a.Org == in.Grid); err != nil {
			return err
		}
		if in.Status != StatusCommunity {
			return in.conflict(c.Name())
		}
		return checkNote("note", c.Note, true)
	case Whistle:
		if err := in.allow(a, c.Name(), in.isStreet(a)); err != nil {
			return err
		}
		switch {
		case in.Status == StatusCommunity, in.Status == StatusTriage:
		case in.Status == StatusDispatched && c.Enforcement:
		default:
			return in.conflict(c.Name())
		}
		deps := in.whistled(c)
		if len(deps) == 0 {
			if c.Enforcement {
				return Invalid("departments", "item %s names no enforcement team: list the teams to call", in.Category)
			}
			return Invalid("departments", "item %s names no department: list the departments to whistle", in.Category)
		}
		for i, d := range deps {
			if strings.TrimSpace(d) == "" {
				return Invalid("departments", "department %d is empty", i)
			}
			if slices.Contains(deps[:i], d) {
				return Invalid("departments", "department %s is listed twice", d)
			}
			if in.Status == StatusDispatched {
				if o := in.roundTaskOf(d); o != nil {
					return Invalid("departments", "department %s already has task %s on this incident", d, o.ID)
				}
			}
		}
		if in.isOverride(c) && strings.TrimSpace(c.Note) == "" {
			return Invalid("note", "departments %s are not the responsibility list's (%s): give the reason for the override in note",
				strings.Join(deps, ","), strings.Join(in.defaultDepartments(), ","))
		}
		return checkNote("note", c.Note, false)
	case Urge:
		if err := in.allow(a, c.Name(), in.isStreet(a) || a.Role == RoleDistrict); err != nil {
			return err
		}
		return checkNote("note", c.Note, true)
	case Suspend:
		if err := in.allow(a, c.Name(), in.isStreet(a)); err != nil {
			return err
		}
		switch in.Status {
		case StatusCommunity, StatusTriage, StatusDispatched:
		default:
			return in.conflict(c.Name())
		}
		if !c.ReviewAt.After(now) {
			return Invalid("review_at", "review_at must be in the future")
		}
		return checkNote("reason", c.Reason, true)
	case Resume:
		if err := in.allow(a, c.Name(), in.isStreet(a)); err != nil {
			return err
		}
		if in.Status != StatusSuspended {
			return in.conflict(c.Name())
		}
		return checkNote("note", c.Note, false)
	case DecideExtension:
		if err := in.allow(a, c.Name(), in.isStreet(a)); err != nil {
			return err
		}
		t := in.Task(c.TaskID)
		if t == nil {
			return Errorf(CodeNotFound, "incident %s has no task %s", in.ID, c.TaskID)
		}
		if t.Extension == nil || t.Extension.Decision != "" {
			return Conflict(string(t.Status), "task %s has no pending extension request", t.ID)
		}
		if !t.Open() || in.Status != StatusDispatched {
			return Conflict(string(t.Status), "task %s is %s: its extension can no longer be decided", t.ID, t.Status)
		}
		return checkNote("note", c.Note, false)
	case RequestExtension:
		t, err := in.ownTask(a, c.TaskID)
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
	case Ack, Complete, Return:
		t, err := in.ownTask(a, taskIDOf(c))
		if err != nil {
			return err
		}
		switch c := c.(type) {
		case Ack:
			if t.Status != TaskPendingAck {
				return Conflict(string(t.Status), "task %s is %s: only a task pending acknowledgement can be acknowledged", t.ID, t.Status)
			}
			return checkNote("note", c.Note, false)
		case Complete:
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
		case Return:
			if !t.Open() {
				return Conflict(string(t.Status), "task %s is %s: only an open task can be returned", t.ID, t.Status)
			}
			if t.Returns >= in.maxReturns() {
				return Conflict(string(t.Status), "task %s was returned %d time(s) already, the most allowed, and the return was overruled: the department must handle it", t.ID, t.Returns)
			}
			return checkNote("reason", c.Reason, true)
		}
	case Reassign, Overrule, Refer:
		t, err := in.disputed(a, cmd)
		if err != nil {
			return err
		}
		switch oc := cmd.(type) {
		case Overrule:
			return checkNote("note", oc.Note, true)
		case Refer:
			return checkNote("note", oc.Note, true)
		}
		rc := cmd.(Reassign)
		if err := checkNote("note", rc.Note, false); err != nil {
			return err
		}
		if strings.TrimSpace(rc.Department) == "" {
			return Invalid("department", "department is required")
		}
		if rc.Department == t.Department {
			return Invalid("department", "task %s was returned by %s: reassign it to another department", t.ID, t.Department)
		}
		for _, o := range in.Tasks {
			if o.Round == in.Round && o.Department == rc.Department && (o.Open() || o.Status == TaskCompleted) {
				return Invalid("department", "department %s already has task %s on this incident", rc.Department, o.ID)
			}
		}
		return nil
	case Verify:
		if err := in.allow(a, c.Name(), in.isStreet(a) || (a.Role == RoleGridWorker && a.Org == in.Grid)); err != nil {
			return err
		}
		if in.Status != StatusVerifying {
			return in.conflict(c.Name())
		}
		return checkNote("note", c.Note, false)
	case GiveFeedback:
		if err := in.allow(a, c.Name(), in.isStreet(a)); err != nil {
			return err
		}
		if in.Status != StatusAwaitingFeedback {
			return in.conflict(c.Name())
		}
		if !c.Rating.Valid() {
			return Invalid("rating", "rating must be satisfied, basically_satisfied or unsatisfied, not %q", c.Rating)
		}
		return checkNote("comment", c.Comment, false)
	default:
		return Errorf(CodeInvalid, "unknown command %T", cmd)
	}
	return nil
}

// Apply runs cmd for actor at now: it checks it (see Check), then changes the
// incident and appends its timeline entries. On error nothing has changed.
// maxReopens bounds how often unsatisfied feedback reopens the incident.
func (in *Incident) Apply(a Actor, cmd Command, now time.Time, rules Rules, maxReopens int) error {
	if err := in.Check(a, cmd, now); err != nil {
		return err
	}
	who := a.String()
	switch c := cmd.(type) {
	case Resolve:
		in.record(now, EventResolved, who, c.Note, "", "")
		in.awaitFeedback(now, rules)
	case Escalate:
		in.Status = StatusTriage
		in.record(now, EventEscalated, who, c.Note, "", "")
	case Whistle:
		deps := in.whistled(c)
		if in.isOverride(c) {
			in.record(now, EventRoutingOverride, who, strings.Join(in.defaultDepartments(), ",")+" → "+strings.Join(deps, ",")+": "+c.Note, "", "")
		}
		if c.Enforcement {
			in.callEnforcement(now, rules, who, deps, c.Note)
		} else {
			in.whistle(now, rules, who, deps, c.Note)
		}
	case Ack:
		t := in.Task(c.TaskID)
		t.Status, t.AckedAt = TaskAcknowledged, &now
		in.record(now, EventAcknowledged, who, c.Note, t.ID, t.Department)
	case Complete:
		t := in.Task(c.TaskID)
		t.Status, t.CompletedAt, t.Result = TaskCompleted, &now, c.Result
		note := c.Result
		if c.Note != "" {
			note += " — " + c.Note
		}
		in.record(now, EventCompleted, who, note, t.ID, t.Department)
		if lead := in.roundLead(); t.Role == TaskCooperating && lead != nil {
			// Joint handling: a cooperating department reports to the lead.
			lead.Contributions = append(lead.Contributions, Contribution{TaskID: t.ID, Department: t.Department, Result: c.Result, At: now})
		}
		in.afterTaskChange(now)
	case Return:
		t := in.Task(c.TaskID)
		t.Status, t.ReturnReason = TaskReturned, c.Reason
		t.Returns++
		t.Dispute = &Dispute{Reason: c.Reason, ReturnedAt: now, ReturnedBy: who}
		in.record(now, EventReturned, who, c.Reason, t.ID, t.Department)
	case Reassign:
		old := in.Task(c.TaskID)
		nt := in.addTask(now, rules, c.Department, old.Role)
		old.ReassignedTo = nt.ID
		in.decide(old, DisputeReassigned, now, who, c.Note)
		in.record(now, EventReassigned, who, old.Department+" → "+c.Department+noteSuffix(c.Note), old.ID, old.Department)
		in.record(now, EventTaskCreated, who, "reassigned from "+old.ID, nt.ID, nt.Department)
	case Overrule:
		t := in.Task(c.TaskID)
		// Back to the department with the deadlines it had: the time spent
		// disputing is its own, and any level passed meanwhile fires now.
		t.Status = TaskPendingAck
		if t.AckedAt != nil {
			t.Status = TaskAcknowledged
		}
		in.decide(t, DisputeOverruled, now, who, c.Note)
		in.record(now, EventOverruled, who, c.Note, t.ID, t.Department)
	case Refer:
		t := in.Task(c.TaskID)
		t.Dispute.ReferredAt, t.Dispute.ReferredBy, t.Dispute.ReferNote = &now, who, c.Note
		in.record(now, EventDisputeReferred, who, c.Note, t.ID, t.Department)
	case Verify:
		if c.Passed {
			in.record(now, EventVerified, who, c.Note, "", "")
			in.awaitFeedback(now, rules)
		} else {
			in.Status = StatusDispatched
			for _, t := range in.roundTasks() {
				if t.Status == TaskCompleted {
					// Rework: a fresh resolution clock from now.
					t.Status, t.CompletedAt, t.Result = TaskAcknowledged, nil, ""
					t.Resolve = newClock(rules, SLAResolve, now, rules.Due(SLAResolve, now))
					t.sync()
				}
			}
			in.record(now, EventVerificationFailed, who, c.Note, "", "")
		}
	case GiveFeedback:
		fb := &Feedback{Round: in.Round, Resolved: c.Resolved, Rating: c.Rating, Comment: c.Comment, At: now, By: who}
		in.Feedback, in.FeedbackDue = fb, nil
		in.record(now, EventFeedback, who, string(c.Rating)+feedbackNote(c), "", "")
		if (c.Rating == RatingUnsatisfied || !c.Resolved) && in.ReopenCount < maxReopens {
			in.reopen(now, rules, who)
		} else {
			in.close(now, who, "")
		}
	case Rate:
		t := in.Task(c.TaskID)
		t.Rating = &TaskRating{Score: c.Score, Note: c.Note, At: now, By: who}
		in.recordTask(now, EventRated, who, strconv.Itoa(c.Score)+noteSuffix(c.Note), t, 0)
	case Urge:
		open := 0
		for _, t := range in.roundTasks() {
			if t.Open() {
				in.recordTask(now, EventUrged, who, c.Note, t, 0)
				open++
			}
		}
		if open == 0 {
			in.record(now, EventUrged, who, c.Note, "", "")
		}
	case RequestExtension:
		t := in.Task(c.TaskID)
		t.Extension = &Extension{Until: c.Until.UTC(), Reason: c.Reason, RequestedAt: now, RequestedBy: who}
		in.recordTask(now, EventExtensionRequested, who, "until "+c.Until.UTC().Format(time.RFC3339)+": "+c.Reason, t, 0)
	case DecideExtension:
		t := in.Task(c.TaskID)
		x := t.Extension
		x.DecidedAt, x.DecidedBy, x.Note = &now, who, c.Note
		if c.Approve {
			x.Decision = ExtensionApproved
			t.Extensions++
			// The deadline moves and the ladder is re-armed over the longer
			// time: warning and levels count from the new deadline.
			t.Resolve = newClock(rules, SLAResolve, t.Resolve.Start, x.Until)
			t.sync()
			in.recompute()
			in.recordTask(now, EventExtensionApproved, who, "resolve due "+x.Until.Format(time.RFC3339)+noteSuffix(c.Note), t, 0)
		} else {
			x.Decision = ExtensionRefused
			in.recordTask(now, EventExtensionRefused, who, c.Note, t, 0)
		}
	case Suspend:
		in.Suspension = &Suspension{From: in.Status, At: now, ReviewAt: c.ReviewAt.UTC(), Reason: c.Reason, By: who}
		in.Status = StatusSuspended
		in.record(now, EventSuspended, who, c.Reason+" (review "+c.ReviewAt.UTC().Format(time.RFC3339)+")", "", "")
	case Resume:
		sp := in.Suspension
		paused := now.Sub(sp.At)
		// The clocks stopped while the incident was suspended: every time
		// still ahead when it was suspended moves by the pause.
		for _, t := range in.roundTasks() {
			if t.Open() {
				t.Ack.shift(sp.At, paused)
				t.Resolve.shift(sp.At, paused)
				t.sync()
			}
		}
		in.Status, in.Suspension = sp.From, nil
		in.record(now, EventResumed, who, "after "+paused.Round(time.Second).String()+noteSuffix(c.Note), "", "")
	}
	return nil
}

// NextDeadline returns the earliest step of any running clock that has not
// fired yet — a warning, an escalation level, the end of the return-visit
// window, the review date of a suspension — and false when nothing is
// waiting on the clock.
func (in *Incident) NextDeadline() (time.Time, bool) {
	var next time.Time
	consider := func(t time.Time, ok bool) {
		if ok && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	switch in.Status {
	case StatusDispatched:
		for _, t := range in.roundTasks() {
			if t.Status == TaskPendingAck {
				consider(t.Ack.next())
			}
			if t.Open() {
				consider(t.Resolve.next())
			}
		}
	case StatusAwaitingFeedback:
		if in.FeedbackDue != nil {
			consider(*in.FeedbackDue, true)
		}
	case StatusSuspended:
		if sp := in.Suspension; sp != nil && !sp.ReviewFired {
			consider(sp.ReviewAt, true)
		}
	}
	return next, !next.IsZero()
}

// Tick fires every step that has come at now: a task's warning (yellow)
// and escalation levels — acknowledging stops the acknowledgement ladder,
// completing the resolution ladder —, the end of the return-visit window
// (the incident closes unrated) and a suspension's review date. It returns
// whether anything changed.
func (in *Incident) Tick(now time.Time) bool {
	before := in.Version
	switch in.Status {
	case StatusDispatched:
		for _, t := range in.roundTasks() {
			if t.Status == TaskPendingAck {
				in.tickClock(now, t, &t.Ack, SLAAck)
			}
			if t.Open() {
				in.tickClock(now, t, &t.Resolve, SLAResolve)
			}
			t.sync()
		}
	case StatusAwaitingFeedback:
		if in.FeedbackDue != nil && !now.Before(*in.FeedbackDue) {
			in.FeedbackDue = nil
			in.close(now, SystemActor, "no return visit within the window: closed unrated")
		}
	case StatusSuspended:
		if sp := in.Suspension; sp != nil && !sp.ReviewFired && !now.Before(sp.ReviewAt) {
			sp.ReviewFired = true
			in.record(now, EventReviewDue, SystemActor, "suspended since "+sp.At.Format(time.RFC3339)+": "+sp.Reason, "", "")
		}
	}
	return in.Version != before
}

// ---- transitions ----

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

// ---- helpers ----

func (in *Incident) record(now time.Time, typ, who, note, taskID, dept string) {
	in.Timeline = append(in.Timeline, Entry{Seq: len(in.Timeline) + 1, At: now, Type: typ, Actor: who, Note: note, TaskID: taskID, Department: dept})
	in.touch(now)
}

// recordTask records an entry about task t, at escalation level (0: none).
func (in *Incident) recordTask(now time.Time, typ, who, note string, t *Task, level int) {
	in.record(now, typ, who, note, t.ID, t.Department)
	in.Timeline[len(in.Timeline)-1].Level = level
}

func noteSuffix(note string) string {
	if note == "" {
		return ""
	}
	return " — " + note
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

// whistled returns the departments a Whistle calls: those it names, or by
// default the item's enforcement teams (with Enforcement) or its lead and
// cooperating departments.
func (in *Incident) whistled(c Whistle) []string {
	switch {
	case len(c.Departments) > 0:
		return c.Departments
	case c.Enforcement:
		return in.Item.Enforcement
	}
	return in.defaultDepartments()
}

// isOverride reports whether c whistles other departments than the
// responsibility list's (a routing override, which needs a reason). Calling
// enforcement teams is the street's own power, not an override.
func (in *Incident) isOverride(c Whistle) bool {
	return !c.Enforcement && len(c.Departments) > 0 && !slices.Equal(c.Departments, in.defaultDepartments())
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

// roundLead returns the lead task of the current round that is open or
// completed (after a reassignment, the new one), or nil.
func (in *Incident) roundLead() *Task {
	var lead *Task
	for _, t := range in.roundTasks() {
		if t.Role == TaskLead && (t.Open() || t.Status == TaskCompleted) {
			lead = t
		}
	}
	return lead
}

func (in *Incident) maxReturns() int {
	if in.MaxReturns > 0 {
		return in.MaxReturns
	}
	return DefaultMaxReturns
}

// disputed returns the returned task a Reassign, Overrule or Refer settles,
// checking that a may settle it: the street, or the district once the
// street referred the dispute.
func (in *Incident) disputed(a Actor, cmd Command) (*Task, error) {
	var id string
	switch c := cmd.(type) {
	case Reassign:
		id = c.TaskID
	case Overrule:
		id = c.TaskID
	case Refer:
		id = c.TaskID
	}
	t := in.Task(id)
	if t == nil {
		return nil, Errorf(CodeNotFound, "incident %s has no task %s", in.ID, id)
	}
	referred := t.Dispute != nil && t.Dispute.ReferredAt != nil && t.Dispute.Decision == ""
	switch {
	case referred && cmd.Name() == CmdRefer:
		if err := in.allow(a, cmd.Name(), in.isStreet(a)); err != nil {
			return nil, err
		}
		return nil, Conflict(string(t.Status), "the return of task %s is already referred to the district", t.ID)
	case referred:
		if a.Role != RoleDistrict {
			return nil, Errorf(CodeForbidden, "the return of task %s was referred to the district: only the district may %s it", t.ID, cmd.Name())
		}
	default:
		if err := in.allow(a, cmd.Name(), in.isStreet(a)); err != nil {
			return nil, err
		}
	}
	if t.Status != TaskReturned || t.ReassignedTo != "" {
		return nil, Conflict(string(t.Status), "task %s is %s: only a returned task can be arbitrated (%s)", t.ID, t.Status, cmd.Name())
	}
	if in.Status != StatusDispatched {
		return nil, in.conflict(cmd.Name())
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

func (in *Incident) isStreet(a Actor) bool { return a.Role == RoleStreet && a.Org == in.Street }

func (in *Incident) mayResolve(a Actor) bool {
	if in.isStreet(a) {
		return true
	}
	return a.Role == RoleGridWorker && a.Org == in.Grid && in.Tier == TierCommunity
}

func (in *Incident) allow(a Actor, cmd string, ok bool) error {
	if ok {
		return nil
	}
	return Errorf(CodeForbidden, "%s %s may not %s incident %s", a.Role, a.Org, cmd, in.ID)
}

func (in *Incident) conflict(cmd string) error {
	return Conflict(string(in.Status), "incident %s is %s: cannot %s", in.ID, in.Status, cmd)
}

func (in *Incident) ownTask(a Actor, id string) (*Task, error) {
	t := in.Task(id)
	if t == nil {
		return nil, Errorf(CodeNotFound, "incident %s has no task %s", in.ID, id)
	}
	if a.Role != RoleDepartment || a.Org != t.Department {
		return nil, Errorf(CodeForbidden, "task %s is assigned to %s, not to %s %s", t.ID, t.Department, a.Role, a.Org)
	}
	if in.Status != StatusDispatched {
		return nil, Conflict(string(t.Status), "incident %s is %s: its tasks take no commands now", in.ID, in.Status)
	}
	return t, nil
}

func taskIDOf(c Command) string {
	switch c := c.(type) {
	case Ack:
		return c.TaskID
	case Complete:
		return c.TaskID
	case Return:
		return c.TaskID
	}
	return ""
}

func checkNote(field, s string, required bool) error {
	if required && strings.TrimSpace(s) == "" {
		return Invalid(field, "%s is required", field)
	}
	if len(s) > MaxNoteLen {
		return Invalid(field, "%s is longer than %d bytes", field, MaxNoteLen)
	}
	return nil
}

func feedbackNote(c GiveFeedback) string {
	s := "; resolved"
	if !c.Resolved {
		s = "; not resolved"
	}
	if c.Comment != "" {
		s += ": " + c.Comment
	}
	return s
}
