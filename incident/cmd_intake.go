package incident

import (
	"slices"
	"strings"
	"time"
)

// Resolve: the grid worker (a community-tier incident of its grid) or the
// street handles the incident itself, without departments.
type Resolve struct {
	Note string `json:"note" minLength:"1" doc:"How it was handled; at most 2000 bytes."`
}

// Escalate: the community cannot handle it, up to the street.
type Escalate struct {
	Note string `json:"note" minLength:"1" doc:"Why the community cannot handle it; at most 2000 bytes."`
}

// Whistle: the street calls departments; empty means the item's lead and
// cooperating. Other departments than the list's are a routing override
// and need a reason in Note. With Enforcement the street calls
// enforcement teams directly (执法指挥调度, several at once: 联合执法) on the
// enforcement acknowledgement deadline; it may do so on an incident
// already dispatched, adding the teams to the round.
type Whistle struct {
	Departments []string `json:"departments,omitempty" maxItems:"50" doc:"Department codes to call, the first as lead; default: the item's lead and cooperating departments (with enforcement: the item's enforcement teams). Other departments than the list's are a routing override: give the reason in note."`
	Note        string   `json:"note,omitempty" doc:"Instructions for the departments; required as the reason of a routing override."`
	Enforcement bool     `json:"enforcement,omitempty" doc:"Call enforcement teams directly (执法指挥调度; several: 联合执法): every department must be an enforcement team; their tasks get the enforcement acknowledgement deadline. Allowed on an incident already dispatched, adding the teams to it."`
}

// Command names of this file.
const (
	CmdResolve  = "resolve"
	CmdEscalate = "escalate"
	CmdWhistle  = "whistle"
)

func (Resolve) Name() string { return CmdResolve }

func (Resolve) Doc() Doc {
	return Doc{Operation: "resolveIncident", Summary: "Resolve without departments",
		Description: "The grid worker (community-tier incident of its grid) or the street handles the incident itself; it moves on to the return visit.",
		Roles:       []Role{RoleGridWorker, RoleStreet}}
}

func (c Resolve) permit(in *Incident, a Actor) error {
	return in.allow(a, c.Name(), in.isStreet(a) || a.Role == RoleGridWorker && a.Org == in.Grid && in.Tier == TierCommunity)
}

func (c Resolve) check(in *Incident, a Actor, _ time.Time) error {
	if in.Status != StatusCommunity && in.Status != StatusTriage {
		return in.conflict(c.Name())
	}
	if in.Status == StatusTriage && a.Role != RoleStreet {
		return Errorf(CodeForbidden, "only the street resolves an incident in triage")
	}
	return checkNote("note", c.Note, true)
}

func (c Resolve) apply(in *Incident, who string, now time.Time, rules Rules) {
	in.record(now, EventResolved, who, c.Note, "", "")
	in.awaitFeedback(now, rules)
}

func (Escalate) Name() string { return CmdEscalate }

func (Escalate) Doc() Doc {
	return Doc{Operation: "escalateIncident", Summary: "Escalate to the street",
		Description: "The community cannot handle it: up to the street (triage).",
		Roles:       []Role{RoleGridWorker}}
}

func (c Escalate) permit(in *Incident, a Actor) error {
	return in.allow(a, c.Name(), a.Role == RoleGridWorker && a.Org == in.Grid)
}

func (c Escalate) check(in *Incident, _ Actor, _ time.Time) error {
	if in.Status != StatusCommunity {
		return in.conflict(c.Name())
	}
	return checkNote("note", c.Note, true)
}

func (c Escalate) apply(in *Incident, who string, now time.Time, _ Rules) {
	in.Status = StatusTriage
	in.record(now, EventEscalated, who, c.Note, "", "")
}

func (Whistle) Name() string { return CmdWhistle }

func (Whistle) Doc() Doc {
	return Doc{Operation: "whistleIncident", Summary: "Whistle departments (吹哨)",
		Description: "The street calls departments; each gets a task with acknowledgement and resolution deadlines. " +
			"Departments other than the responsibility list's need a reason in note (a routing override, recorded for the district's review). " +
			"With enforcement the street calls enforcement teams directly, on the shorter enforcement acknowledgement deadline.",
		Roles: []Role{RoleStreet}}
}

func (c Whistle) permit(in *Incident, a Actor) error { return in.allow(a, c.Name(), in.isStreet(a)) }

func (c Whistle) check(in *Incident, _ Actor, _ time.Time) error {
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
}

func (c Whistle) apply(in *Incident, who string, now time.Time, rules Rules) {
	deps := in.whistled(c)
	if in.isOverride(c) {
		in.record(now, EventRoutingOverride, who, strings.Join(in.defaultDepartments(), ",")+" → "+strings.Join(deps, ",")+": "+c.Note, "", "")
	}
	if c.Enforcement {
		in.callEnforcement(now, rules, who, deps, c.Note)
	} else {
		in.whistle(now, rules, who, deps, c.Note)
	}
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
