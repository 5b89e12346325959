package incident

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Step is one thing done to an incident from outside its clock, as its
// timeline records it: a command by a person, or a later report linked to
// it as a duplicate (Duplicate set, Command nil).
type Step struct {
	// At is when it was done; Seq the timeline entry it was read from.
	At  time.Time `json:"at"`
	Seq int       `json:"seq"`
	// Actor is who sent the command (the entry's actor, parsed).
	Actor     Actor      `json:"actor"`
	Command   Command    `json:"-"`
	Duplicate *Duplicate `json:"duplicate,omitempty"`
}

// Name is the step's command name, or "duplicate_reported".
func (s Step) Name() string {
	if s.Command == nil {
		return EventDuplicateReported
	}
	return s.Command.Name()
}

// StepsOf reads back, from an incident's timeline in seq order, the steps
// that wrote it: each command with the fields it was sent with, as far as
// the timeline keeps them, in the order they were applied. It is the
// inverse of the commands' apply: each command's first entry gives the
// command (its type, actor, time, task and note, and what the note says:
// an extension's date, a suspension's review date, a rating's score, a
// return visit's answer), the entries the command wrote after it (the
// tasks a whistle made, the closing a return visit made) give the rest,
// and the entries the incident writes itself (routing, clock steps) are
// left out. What the timeline does not keep (a completion's result apart
// from its note, a command's free text) comes back as the note it wrote,
// so replaying the steps under the same rules writes the same timeline.
func StepsOf(tl []Entry) ([]Step, error) {
	var out []Step
	for i := 0; i < len(tl); i++ {
		e := tl[i]
		if e.Actor == SystemActor {
			continue
		}
		bad := func(format string, a ...any) error {
			return fmt.Errorf("incident: timeline entry %d (%s by %s): %s", e.Seq, e.Type, e.Actor, fmt.Sprintf(format, a...))
		}
		step := Step{At: e.At, Seq: e.Seq}
		var err error
		if step.Actor, err = ParseActor(e.Actor); err != nil && e.Type != EventReported {
			return nil, bad("%v", err)
		}
		// tasksAfter returns the departments of the task_created entries
		// right after entry j, and the index of the last of them.
		tasksAfter := func(j int) ([]string, int) {
			var deps []string
			for j+1 < len(tl) && tl[j+1].Type == EventTaskCreated && tl[j+1].At.Equal(e.At) {
				j++
				deps = append(deps, tl[j].Department)
			}
			return deps, j
		}
		switch e.Type {
		case EventReported, EventTaskCreated, EventClosed, EventReopened:
			// Written by New, or after the entry of the command that made
			// them (a whistle, a reassignment, a return visit).
			continue
		case EventResolved:
			step.Command = Resolve{Note: e.Note}
		case EventEscalated:
			step.Command = Escalate{Note: e.Note}
		case EventRoutingOverride:
			// "<list's> → <called>: <reason>", then the whistle's entries.
			_, reason, ok := strings.Cut(e.Note, ": ")
			if !ok || i+1 >= len(tl) || tl[i+1].Type != EventWhistled {
				return nil, bad("a routing override without its reason or its whistle")
			}
			deps, j := tasksAfter(i + 1)
			step.Command, i = Whistle{Departments: deps, Note: reason}, j
		case EventWhistled, EventEnforcementCalled:
			deps, j := tasksAfter(i)
			if len(deps) == 0 {
				return nil, bad("no task created with it")
			}
			note := strings.TrimSpace(strings.TrimPrefix(e.Note, strings.Join(deps, ",")))
			step.Command, i = Whistle{Departments: deps, Note: note, Enforcement: e.Type == EventEnforcementCalled}, j
		case EventAcknowledged:
			step.Command = Ack{TaskID: e.TaskID, Note: e.Note}
		case EventCompleted:
			step.Command = Complete{TaskID: e.TaskID, Result: e.Note}
		case EventReturned:
			step.Command = Return{TaskID: e.TaskID, Reason: e.Note}
		case EventReassigned:
			// "<from> → <to>[ — note]", then the new task's entry.
			deps, j := tasksAfter(i)
			if len(deps) != 1 {
				return nil, bad("not followed by the new task")
			}
			rest := strings.TrimPrefix(e.Note, e.Department+" → "+deps[0])
			step.Command, i = Reassign{TaskID: e.TaskID, Department: deps[0], Note: strings.TrimPrefix(rest, " — ")}, j
		case EventOverruled:
			step.Command = Overrule{TaskID: e.TaskID, Note: e.Note}
		case EventDisputeReferred:
			step.Command = Refer{TaskID: e.TaskID, Note: e.Note}
		case EventVerified, EventVerificationFailed:
			step.Command = Verify{Passed: e.Type == EventVerified, Note: e.Note}
		case EventFeedback:
			// "<rating>; resolved|not resolved[: comment]"
			rating, rest, ok := strings.Cut(e.Note, "; ")
			if !ok || !Rating(rating).Valid() {
				return nil, bad("no rating in %q", e.Note)
			}
			verdict, comment, _ := strings.Cut(rest, ": ")
			if verdict != "resolved" && verdict != "not resolved" {
				return nil, bad("no verdict in %q", e.Note)
			}
			step.Command = GiveFeedback{Resolved: verdict == "resolved", Rating: Rating(rating), Comment: comment}
		case EventRated:
			// "<score>[ — note]"
			score, note, _ := strings.Cut(e.Note, " — ")
			n, err := strconv.Atoi(score)
			if err != nil {
				return nil, bad("no score in %q", e.Note)
			}
			step.Command = Rate{TaskID: e.TaskID, Score: n, Note: note}
		case EventUrged:
			// One urge writes an entry per open task, all at once.
			for i+1 < len(tl) && tl[i+1].Type == EventUrged && tl[i+1].At.Equal(e.At) && tl[i+1].Actor == e.Actor && tl[i+1].Note == e.Note && tl[i+1].TaskID != "" {
				i++
			}
			step.Command = Urge{Note: e.Note}
		case EventNoted:
			step.Command = AddNote{Note: e.Note}
		case EventSuspended:
			// "<reason> (review <RFC 3339>)"
			k := strings.LastIndex(e.Note, " (review ")
			if k < 0 || !strings.HasSuffix(e.Note, ")") {
				return nil, bad("no review date in %q", e.Note)
			}
			review, err := time.Parse(time.RFC3339, e.Note[k+len(" (review "):len(e.Note)-1])
			if err != nil {
				return nil, bad("review date: %v", err)
			}
			step.Command = Suspend{Reason: e.Note[:k], ReviewAt: review}
		case EventResumed:
			// "after <duration>[ — note]"
			_, note, _ := strings.Cut(e.Note, " — ")
			step.Command = Resume{Note: note}
		case EventExtensionRequested:
			// "until <RFC 3339>: <reason>"
			until, reason, ok := strings.Cut(strings.TrimPrefix(e.Note, "until "), ": ")
			t, err := time.Parse(time.RFC3339, until)
			if !ok || err != nil {
				return nil, bad("no date in %q", e.Note)
			}
			step.Command = RequestExtension{TaskID: e.TaskID, Until: t, Reason: reason}
		case EventExtensionApproved:
			// "resolve due <RFC 3339>[ — note]"
			_, note, _ := strings.Cut(e.Note, " — ")
			step.Command = DecideExtension{TaskID: e.TaskID, Approve: true, Note: note}
		case EventExtensionRefused:
			step.Command = DecideExtension{TaskID: e.TaskID, Note: e.Note}
		case EventDuplicateReported:
			// "duplicate <id> reported <RFC 3339>", by the duplicate's reporter.
			var id, at string
			if _, err := fmt.Sscanf(e.Note, "duplicate %s reported %s", &id, &at); err != nil {
				return nil, bad("%q: %v", e.Note, err)
			}
			reported, err := time.Parse(time.RFC3339, at)
			if err != nil {
				return nil, bad("reported: %v", err)
			}
			step.Duplicate = &Duplicate{IncidentID: id, Grid: step.Actor.Org, Reporter: step.Actor.Sub, ReportedAt: reported}
		default:
			return nil, bad("no command writes it")
		}
		out = append(out, step)
	}
	return out, nil
}

// ParseActor reads an actor as the timeline writes it ("role:org:sub",
// Actor.String); the subject may contain colons.
func ParseActor(s string) (Actor, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || !Role(parts[0]).Valid() {
		return Actor{}, fmt.Errorf("incident: %q is not an actor (role:org:sub)", s)
	}
	return Actor{Role: Role(parts[0]), Org: parts[1], Sub: parts[2]}, nil
}

// Refusal is a step that the rules of a replay refused: the command and
// why (a *Error, as Apply answers).
type Refusal struct {
	Step Step
	Err  error
}

// Replay runs an incident again from its report and its steps under a set
// of rules, as its workflow would have: no I/O, no clock but the steps'.
type Replay struct {
	Rules Rules
	// RatingEnd returns when the rating window of an incident closed at
	// closed ends: its workflow ends then, so a rating after it is
	// refused. Nil: the window never ends.
	RatingEnd func(closed time.Time) time.Time
}

// Run starts the incident from report r with item at start (when its
// workflow started: the time of its first timeline entry), then applies
// each step at its time, after the clock steps that came by then have
// fired (Tick, as the workflow's timers would, a step at the very instant
// of a deadline after it), and finally fires the clock steps that come
// by until. A step the rules refuse changes nothing and is returned in
// refused, and the replay goes on with the next. visits are the return
// visits recorded, in order (the incident keeps only the latest).
func (p Replay) Run(r Report, item Item, start time.Time, steps []Step, until time.Time) (in *Incident, visits []Feedback, refused []Refusal) {
	in = New(r, item, start, p.Rules)
	for _, s := range steps {
		in.advance(s.At)
		if s.Duplicate != nil {
			in.RecordDuplicate(*s.Duplicate, s.At)
			continue
		}
		if err := p.apply(in, s); err != nil {
			refused = append(refused, Refusal{Step: s, Err: err})
			continue
		}
		if _, ok := s.Command.(GiveFeedback); ok {
			visits = append(visits, *in.Feedback)
		}
	}
	in.advance(until)
	return in, visits, refused
}

func (p Replay) apply(in *Incident, s Step) error {
	if _, ok := s.Command.(Rate); ok && in.Status == StatusClosed && p.RatingEnd != nil && in.ClosedAt != nil {
		if end := p.RatingEnd(*in.ClosedAt); !s.At.Before(end) {
			return Conflict(string(in.Status), "incident %s closed at %s: its rating window ended at %s",
				in.ID, in.ClosedAt.Format(time.RFC3339), end.Format(time.RFC3339))
		}
	}
	return in.Apply(s.Actor, s.Command, s.At, p.Rules)
}

// advance fires, in time order, every clock step that comes by to.
func (in *Incident) advance(to time.Time) {
	for {
		d, ok := in.NextDeadline()
		if !ok || d.After(to) || !in.Tick(d) {
			return
		}
	}
}
