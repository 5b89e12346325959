package jurisdiction

import (
	"cmp"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// Rules are an incident's rules (incident.Rules) as its workflow's start
// input fixed them: every deadline, ladder and limit it runs by, with no
// default left to fill in, so that nothing in the rules reads a package
// default and a later release's defaults never change a running incident.
type Rules struct {
	SLA SLA
	// Ack is the acknowledgement deadline of a task when SLA.Ack is zero
	// (only in the inputs of incidents started before RulesFor resolved
	// SLA.Ack), and EnforcementAck that of an enforcement task (执法指挥调度).
	Ack, EnforcementAck Duration
	Calendar            Calendar
	// Escalation is the ladder after each deadline (warning share, level
	// offsets); nil or Flat: level 1 at the deadline, nothing more.
	Escalation *Escalation
	// Flat keeps the ladder of incidents started before it existed.
	Flat bool
	// Bounds are the incident's limits (returns, reopenings).
	Bounds incident.Limits
}

var _ incident.Rules = Rules{}

// RulesFor returns the rules an incident of item it starts with, on the
// working days of cal (j.Calendar(), passed in because computing it is not
// free): the item's SLA and escalation ladder and the district's limits,
// every default of the file and of this release resolved.
func (j *Jurisdiction) RulesFor(it Item, cal Calendar) Rules {
	esc := j.ItemEscalation(it)
	r := Rules{
		SLA: it.SLA, EnforcementAck: cmp.Or(j.Enforcement.Ack, DefaultEnforcementAck),
		Calendar: cal, Escalation: &esc,
		Bounds: incident.Limits{MaxReopens: j.MaxReopens, MaxReturns: cmp.Or(j.Disputes.MaxReturns, incident.DefaultLimits.MaxReturns)},
	}
	r.SLA.Ack = cmp.Or(r.SLA.Ack, DefaultAck)
	return r
}

// Due returns the deadline of kind that starts at from.
func (r Rules) Due(kind incident.SLAKind, from time.Time) time.Time {
	d := r.SLA.Resolve
	switch kind {
	case incident.SLAAck:
		d = r.SLA.Ack
		if d.IsZero() {
			d = r.Ack
		}
	case incident.SLAEnforcementAck:
		d = r.EnforcementAck
	case incident.SLAFeedback:
		d = r.SLA.Feedback
	}
	return r.Calendar.Add(from, d).UTC()
}

// Ladder returns the warning time — WarnAt of the way from start to due —
// and the times of the escalation levels: due plus each level's offset
// (working-day offsets count on the calendar).
func (r Rules) Ladder(_ incident.SLAKind, start, due time.Time) (time.Time, []time.Time) {
	e := r.Escalation
	if r.Flat || e == nil || len(e.Levels) == 0 {
		return time.Time{}, []time.Time{due}
	}
	var warn time.Time
	if e.WarnAt > 0 && e.WarnAt < 1 {
		warn = start.Add(time.Duration(float64(due.Sub(start)) * e.WarnAt)).UTC()
	}
	levels := make([]time.Time, len(e.Levels))
	for i, off := range e.Levels {
		levels[i] = r.Calendar.Add(due, off).UTC()
	}
	return warn, levels
}

// Limits returns r.Bounds.
func (r Rules) Limits() incident.Limits { return r.Bounds }
