package incident

import (
	"strconv"
	"time"
)

// Verify: the on-site check (核查) of the departments' work.
type Verify struct {
	Passed bool   `json:"passed" doc:"Whether the on-site check (核查) found the work done; false sends the tasks back for rework."`
	Note   string `json:"note,omitempty" doc:"Optional note."`
}

// GiveFeedback: the return visit (回访).
type GiveFeedback struct {
	Resolved bool   `json:"resolved" doc:"Whether the resident says the problem is solved."`
	Rating   Rating `json:"rating" enum:"satisfied,basically_satisfied,unsatisfied" doc:"The resident's satisfaction; unsatisfied (or not resolved) reopens the incident (重办)."`
	Comment  string `json:"comment,omitempty" doc:"The resident's words."`
}

// Rate: the street's assessment of a completed task, 0..100 (考核). It may
// be given once per task, also after the incident closed, within the
// rating window.
type Rate struct {
	TaskID string `json:"task_id" hidden:"true"`
	Score  int    `json:"score" minimum:"0" maximum:"100" doc:"The street's assessment of the completed task, 0..100 (考核)."`
	Note   string `json:"note,omitempty" doc:"Optional note."`
}

// Command names of this file.
const (
	CmdVerify   = "verify"
	CmdFeedback = "feedback"
	CmdRate     = "rate"
)

func (Verify) Name() string { return CmdVerify }

func (Verify) Doc() Doc {
	return Doc{Operation: "verifyIncident", Summary: "Verify on site (核查)",
		Description: "After every task is completed: passed moves on to the return visit, failed sends the tasks back for rework.",
		Roles:       []Role{RoleGridWorker, RoleStreet}}
}

func (c Verify) permit(in *Incident, a Actor) error {
	return in.allow(a, c.Name(), in.isStreet(a) || (a.Role == RoleGridWorker && a.Org == in.Grid))
}

func (c Verify) check(in *Incident, _ Actor, _ time.Time) error {
	if in.Status != StatusVerifying {
		return in.conflict(c.Name())
	}
	return checkNote("note", c.Note, false)
}

func (c Verify) apply(in *Incident, who string, now time.Time, rules Rules) {
	if c.Passed {
		in.record(now, EventVerified, who, c.Note, "", "")
		in.awaitFeedback(now, rules)
		return
	}
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

func (GiveFeedback) Name() string { return CmdFeedback }

func (GiveFeedback) Doc() Doc {
	return Doc{Operation: "recordFeedback", Summary: "Record the return visit (回访)",
		Description: "Satisfied or basically satisfied and resolved closes the incident; otherwise it is reopened (重办) up to the district's limit.",
		Roles:       []Role{RoleStreet}}
}

func (c GiveFeedback) permit(in *Incident, a Actor) error {
	return in.allow(a, c.Name(), in.isStreet(a))
}

func (c GiveFeedback) check(in *Incident, _ Actor, _ time.Time) error {
	if in.Status != StatusAwaitingFeedback {
		return in.conflict(c.Name())
	}
	if !c.Rating.Valid() {
		return Invalid("rating", "rating must be satisfied, basically_satisfied or unsatisfied, not %q", c.Rating)
	}
	return checkNote("comment", c.Comment, false)
}

func (c GiveFeedback) apply(in *Incident, who string, now time.Time, rules Rules) {
	fb := &Feedback{Round: in.Round, Resolved: c.Resolved, Rating: c.Rating, Comment: c.Comment, At: now, By: who}
	in.Feedback, in.FeedbackDue = fb, nil
	note := string(c.Rating) + "; resolved"
	if !c.Resolved {
		note = string(c.Rating) + "; not resolved"
	}
	if c.Comment != "" {
		note += ": " + c.Comment
	}
	in.record(now, EventFeedback, who, note, "", "")
	if (c.Rating == RatingUnsatisfied || !c.Resolved) && in.ReopenCount < in.MaxReopens {
		in.reopen(now, rules, who)
	} else {
		in.close(now, who, "")
	}
}

func (Rate) Name() string { return CmdRate }

func (Rate) Doc() Doc {
	return Doc{Operation: "rateTask", Summary: "Rate a completed task (考核)",
		Description: "The street scores a completed task of its own street, 0..100, once. Allowed while the incident runs and, after it closed, for the jurisdiction's assessment.rating_window (default 7 days). The score feeds the department's weighted score.",
		Roles:       []Role{RoleStreet}, OnTask: true, AfterClosing: true}
}

func (c Rate) permit(in *Incident, a Actor) error { return in.streetTask(a, c.Name(), c.TaskID) }

func (c Rate) check(in *Incident, _ Actor, _ time.Time) error {
	t := in.Task(c.TaskID)
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
}

func (c Rate) apply(in *Incident, who string, now time.Time, _ Rules) {
	t := in.Task(c.TaskID)
	t.Rating = &TaskRating{Score: c.Score, Note: c.Note, At: now, By: who}
	in.recordTask(now, EventRated, who, strconv.Itoa(c.Score)+noteSuffix(c.Note), t, 0)
}
