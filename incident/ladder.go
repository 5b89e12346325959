package incident

import "time"

// Rules are what an incident runs by: its deadlines, the escalation ladder
// behind each, and its limits. The workflow builds them from the start
// input, which carries the SLA, calendar, escalation policy and limits the
// incident started with (every default resolved), so neither a later change
// of the jurisdiction nor one of a default in code changes an incident in
// flight (jurisdiction.Rules).
type Rules interface {
	// Due returns the deadline of kind that starts at from.
	Due(kind SLAKind, from time.Time) time.Time
	// Ladder returns, for a deadline of kind running from start to due,
	// when the warning (yellow) is raised — zero for none — and when each
	// escalation level is reached: levels[0] is level 1 (催办), levels[1]
	// level 2 (督办), levels[2] level 3 (district supervision, 通报).
	Ladder(kind SLAKind, start, due time.Time) (warn time.Time, levels []time.Time)
	// Limits bound the returns and reopenings the incident allows; New
	// keeps them in the incident.
	Limits() Limits
}

// Limits bound what may happen to an incident.
type Limits struct {
	// MaxReopens is how often an unsatisfied return visit reopens the
	// incident (重办) before it is closed as it stands.
	MaxReopens int `json:"max_reopens"`
	// MaxReturns is how often a department may return the same task (退单).
	MaxReturns int `json:"max_returns"`
}

// DueFunc returns the deadline of kind that starts at from. As Rules it has
// the simplest ladder (no warning, level 1 at the deadline) and the default
// limits: rules for tests and simulations.
type DueFunc func(kind SLAKind, from time.Time) time.Time

// Due calls f.
func (f DueFunc) Due(kind SLAKind, from time.Time) time.Time { return f(kind, from) }

// Ladder returns no warning and level 1 at due.
func (f DueFunc) Ladder(_ SLAKind, _, due time.Time) (time.Time, []time.Time) {
	return time.Time{}, []time.Time{due}
}

// Limits returns DefaultLimits.
func (f DueFunc) Limits() Limits { return DefaultLimits }

// Level names, for the timeline.
var levelNames = []string{"", "level 1 催办: the department is reminded", "level 2 督办: the street supervisor is called", "level 3 通报: district supervision"}

// Clock is one running deadline of a task (acknowledgement or resolution)
// and the escalation ladder behind it. Its times are computed when the
// clock starts, from the incident's Rules, and fired by Tick.
type Clock struct {
	Start  time.Time   `json:"start"`
	Due    time.Time   `json:"due"`
	WarnAt *time.Time  `json:"warn_at,omitempty"`
	Levels []time.Time `json:"levels,omitempty"` // when level 1, 2, 3 is reached
	Warned bool        `json:"warned,omitempty"`
	Level  int         `json:"level"` // the level reached: 0 none
}

func newClock(r Rules, kind SLAKind, start, due time.Time) Clock {
	c := Clock{Start: start, Due: due}
	warn, levels := r.Ladder(kind, start, due)
	if !warn.IsZero() && warn.Before(due) && warn.After(start) {
		c.WarnAt = &warn
	}
	c.Levels = levels
	return c
}

// next returns the clock's next step still to fire.
func (c *Clock) next() (time.Time, bool) {
	if c.WarnAt != nil && !c.Warned {
		return *c.WarnAt, true
	}
	if c.Level < len(c.Levels) {
		return c.Levels[c.Level], true
	}
	return time.Time{}, false
}

// NextLevel returns the next escalation level the clock will reach and
// when, or ok false when its ladder has no step left (a warning before the
// deadline is not a level and is skipped).
func (c *Clock) NextLevel() (level int, at time.Time, ok bool) {
	if c.Level < len(c.Levels) {
		return c.Level + 1, c.Levels[c.Level], true
	}
	return 0, time.Time{}, false
}

// shift moves every time of the clock that is still ahead of from by d
// (a suspension stopped the clock for d).
func (c *Clock) shift(from time.Time, d time.Duration) {
	move := func(t time.Time) time.Time {
		if t.Before(from) {
			return t
		}
		return t.Add(d)
	}
	c.Due = move(c.Due)
	if c.WarnAt != nil {
		w := move(*c.WarnAt)
		c.WarnAt = &w
	}
	for i := range c.Levels {
		c.Levels[i] = move(c.Levels[i])
	}
}

// tick fires the clock's steps due at now, in order, recording each.
func (in *Incident) tickClock(now time.Time, t *Task, c *Clock, kind SLAKind) {
	warnType, overType := EventAckWarning, EventAckOverdue
	if kind == SLAResolve {
		warnType, overType = EventResolveWarning, EventResolveOverdue
	}
	for {
		at, ok := c.next()
		if !ok || now.Before(at) {
			return
		}
		if c.WarnAt != nil && !c.Warned {
			c.Warned = true
			in.recordTask(now, warnType, SystemActor, "yellow: "+string(kind)+" due "+c.Due.Format(time.RFC3339), t, 0)
			continue
		}
		c.Level++
		name := "level " + itoa(c.Level)
		if c.Level < len(levelNames) {
			name = levelNames[c.Level]
		}
		in.raise(t, c.Level)
		in.recordTask(now, overType, SystemActor, string(kind)+" due "+c.Due.Format(time.RFC3339)+" passed: "+name, t, c.Level)
	}
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
