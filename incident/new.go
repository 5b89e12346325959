package incident

import "time"

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

// DefaultLimits are the limits of a jurisdiction that sets none: two
// reopenings, one return. The start input resolves them
// (workflows.NewInput); an incident keeps the ones it started with.
var DefaultLimits = Limits{MaxReopens: 2, MaxReturns: 1}

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
		Reporter: r.Reporter, Round: 1, Tasks: []*Task{}, Channel: r.Channel, ExternalRef: r.ExternalRef,
		Attributes: r.Attributes,
	}
	lim := rules.Limits()
	in.MaxReopens, in.MaxReturns = lim.MaxReopens, lim.MaxReturns
	if in.Photos == nil {
		in.Photos = []string{}
	}
	reporter := "grid_worker:" + r.Grid + ":" + r.Reporter
	if r.Channel != "" && r.Channel != ChannelGrid {
		reporter = string(RoleIntake) + ":" + r.Channel + ":" + r.Reporter
	}
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
