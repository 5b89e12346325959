package incident

import "time"

// Rules computes an incident's deadlines and the escalation ladder behind
// each. The workflow builds one from the SLA, calendar and escalation policy
// the incident started with, so a later change of the rules never changes an
// incident in flight.
type Rules interface {
	// Due returns the deadline of kind that starts at from.
	Due(kind SLAKind, from time.Time) time.Time
	// Ladder returns, for a deadline of kind running from start to due,
	// when the warning (yellow) is raised — zero for none — and when each
	// escalation level is reached: levels[0] is level 1 (催办), levels[1]
	// level 2 (督办), levels[2] level 3 (district supervision, 通报).
	Ladder(kind SLAKind, start, due time.Time) (warn time.Time, levels []time.Time)
}

// DueFunc returns the deadline of kind that starts at from. As Rules it has
// the simplest ladder: no warning, and level 1 at the deadline.
type DueFunc func(kind SLAKind, from time.Time) time.Time

// Due calls f.
func (f DueFunc) Due(kind SLAKind, from time.Time) time.Time { return f(kind, from) }

// Ladder returns no warning and level 1 at due.
func (f DueFunc) Ladder(_ SLAKind, _, due time.Time) (time.Time, []time.Time) {
	return time.Time{}, []time.Time{due}
}

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
