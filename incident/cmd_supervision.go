package incident

import "time"

// Urge: a manual reminder (催办) by the street or the district.
type Urge struct {
	Note string `json:"note" minLength:"1" doc:"The reminder (催办); every department with an open task hears it."`
}

// AddNote: the street (or the district) writes a note on the incident's
// timeline: a phone call with the resident, what a site visit found, a
// hand-over to the next shift. It changes nothing else.
type AddNote struct {
	Note string `json:"note" minLength:"1" doc:"The note; at most 2000 bytes."`
}

// Command names of this file.
const (
	CmdUrge = "urge"
	CmdNote = "note"
)

func (Urge) Name() string { return CmdUrge }

func (Urge) Doc() Doc {
	return Doc{Operation: "urgeIncident", Summary: "Urge (催办)",
		Description: "A manual reminder by the street or the district, recorded on the timeline and published on whistle.escalations.<street> and whistle.tasks.<department> for each open task.",
		Roles:       []Role{RoleStreet, RoleDistrict}}
}

func (c Urge) permit(in *Incident, a Actor) error {
	return in.allow(a, c.Name(), in.isStreet(a) || a.Role == RoleDistrict)
}

func (c Urge) check(_ *Incident, _ Actor, _ time.Time) error {
	return checkNote("note", c.Note, true)
}

func (c Urge) apply(in *Incident, who string, now time.Time, _ Rules) {
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
}

func (AddNote) Name() string { return CmdNote }

func (AddNote) Doc() Doc {
	return Doc{Operation: "addNote", Summary: "Add a note to the timeline",
		Description: "The incident's street (or the district) records a note on the timeline, published as whistle.events.noted; nothing else changes.",
		Roles:       []Role{RoleStreet, RoleDistrict}}
}

func (c AddNote) permit(in *Incident, a Actor) error {
	return in.allow(a, c.Name(), in.isStreet(a) || a.Role == RoleDistrict)
}

func (c AddNote) check(_ *Incident, _ Actor, _ time.Time) error {
	return checkNote("note", c.Note, true)
}

func (c AddNote) apply(in *Incident, who string, now time.Time, _ Rules) {
	in.record(now, EventNoted, who, c.Note, "", "")
}
