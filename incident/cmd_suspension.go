package incident

import "time"

// Suspend: the street parks an incident that cannot be solved now (挂账:
// budget, planning); its clocks stop until Resume, and ReviewAt is watched.
type Suspend struct {
	Reason   string    `json:"reason" minLength:"1" doc:"Why it cannot be solved now (挂账: budget, planning)."`
	ReviewAt time.Time `json:"review_at" doc:"When the street must look at it again; watched like a deadline."`
}

// Resume: the street takes a suspended incident up again; its clocks
// restart where they stopped.
type Resume struct {
	Note string `json:"note,omitempty" doc:"Optional note."`
}

// Command names of this file.
const (
	CmdSuspend = "suspend"
	CmdResume  = "resume"
)

func (Suspend) Name() string { return CmdSuspend }

func (Suspend) Doc() Doc {
	return Doc{Operation: "suspendIncident", Summary: "Suspend (挂账)",
		Description: "The street parks an incident that cannot be solved now; its clocks stop until it is resumed, and the review date is watched.",
		Roles:       []Role{RoleStreet}}
}

func (c Suspend) permit(in *Incident, a Actor) error { return in.allow(a, c.Name(), in.isStreet(a)) }

func (c Suspend) check(in *Incident, _ Actor, now time.Time) error {
	switch in.Status {
	case StatusCommunity, StatusTriage, StatusDispatched:
	default:
		return in.conflict(c.Name())
	}
	if !c.ReviewAt.After(now) {
		return Invalid("review_at", "review_at must be in the future")
	}
	return checkNote("reason", c.Reason, true)
}

func (c Suspend) apply(in *Incident, who string, now time.Time, _ Rules) {
	in.Suspension = &Suspension{From: in.Status, At: now, ReviewAt: c.ReviewAt.UTC(), Reason: c.Reason, By: who}
	in.Status = StatusSuspended
	in.record(now, EventSuspended, who, c.Reason+" (review "+c.ReviewAt.UTC().Format(time.RFC3339)+")", "", "")
}

func (Resume) Name() string { return CmdResume }

func (Resume) Doc() Doc {
	return Doc{Operation: "resumeIncident", Summary: "Resume a suspended incident",
		Description: "The clocks restart where they stopped: every deadline still ahead moves by the time the incident was suspended.",
		Roles:       []Role{RoleStreet}, OptionalBody: true}
}

func (c Resume) permit(in *Incident, a Actor) error { return in.allow(a, c.Name(), in.isStreet(a)) }

func (c Resume) check(in *Incident, _ Actor, _ time.Time) error {
	if in.Status != StatusSuspended {
		return in.conflict(c.Name())
	}
	return checkNote("note", c.Note, false)
}

func (c Resume) apply(in *Incident, who string, now time.Time, _ Rules) {
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
