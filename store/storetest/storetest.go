// Package storetest builds incidents with the real domain and projects
// them, for the tests of the read model (store) and of the metrics built
// on it (metrics): one set of fixtures for both.
package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// Durations of the fixtures.
const (
	Minute = time.Minute
	Hour   = time.Hour
	Day    = 24 * time.Hour
)

// T0 is a Monday morning in the district's time zone: 2026-03-02 09:00 in
// Shanghai.
var T0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))

// Due gives every test incident the same SLA: acknowledge within 1h,
// resolve within 72h, return visit within 72h.
var Due = incident.DueFunc(DueAt)

// DueAt is Due's deadline of kind from from.
func DueAt(kind incident.SLAKind, from time.Time) time.Time {
	switch kind {
	case incident.SLAAck:
		return from.Add(time.Hour)
	default:
		return from.Add(72 * time.Hour)
	}
}

// LadderRules are Due's SLAs with a district's ladder: level 1 (催办) at
// the deadline, level 2 (督办) two hours later, level 3 a day later.
type LadderRules struct{}

// Due is DueAt.
func (LadderRules) Due(kind incident.SLAKind, from time.Time) time.Time { return DueAt(kind, from) }

// Ladder returns the three levels.
func (LadderRules) Ladder(_ incident.SLAKind, _, due time.Time) (time.Time, []time.Time) {
	return time.Time{}, []time.Time{due, due.Add(2 * time.Hour), due.Add(24 * time.Hour)}
}

// Limits returns the default limits.
func (LadderRules) Limits() incident.Limits { return incident.DefaultLimits }

var (
	// ItemCG is a department-tier item: 占道经营, led by CG with SCJG.
	ItemCG = incident.Item{Code: "SR-001", Name: "占道经营", Domain: "市容环境", Tier: incident.TierDepartment, Lead: "CG", Cooperating: []string{"SCJG"}}
	// ItemStreet is a street-tier item: the street handles it.
	ItemStreet = incident.Item{Code: "ST-002", Name: "邻里纠纷", Tier: incident.TierStreet}
)

// Lead returns a department-tier item led by dept alone.
func Lead(dept string) incident.Item {
	return incident.Item{Code: "D-" + dept, Name: "事项 " + dept, Tier: incident.TierDepartment, Lead: dept}
}

// Report is a grid worker's report of id in street (grid street-01-01) at at.
func Report(id, street string, at time.Time) incident.Report {
	return incident.Report{
		IncidentID: id, Street: street, Community: street + "-01", Grid: street + "-01-01",
		Description: "report " + id, Location: incident.Location{Lat: 29.35, Lng: 104.77, Address: "路口"},
		ReportedAt: at, Reporter: "gw-" + street,
	}
}

// WithDuplicateOf is r linked as a duplicate of incident id.
func WithDuplicateOf(r incident.Report, id string) incident.Report {
	r.DuplicateOf = &id
	return r
}

// NewIncident starts an incident with the real domain.
func NewIncident(id, street string, item incident.Item, at time.Time) *incident.Incident {
	r := Report(id, street, at)
	r.Category = item.Code
	return incident.New(r, item, at, Due)
}

// StreetActor is an officer of street.
func StreetActor(street string) incident.Actor {
	return incident.Actor{Sub: "officer", Role: incident.RoleStreet, Org: street}
}

// DeptActor is a clerk of dept.
func DeptActor(dept string) incident.Actor {
	return incident.Actor{Sub: "clerk", Role: incident.RoleDepartment, Org: dept}
}

// Clone deep-copies a snapshot as JSON, as the workflow's activity input
// would be.
func Clone(t testing.TB, in *incident.Incident) *incident.Incident {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := new(incident.Incident)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Projector is what projects a snapshot: *store.Store.
type Projector interface {
	Project(ctx context.Context, in *incident.Incident) error
}

// Project stores a copy of in, failing the test on error.
func Project(t testing.TB, p Projector, in *incident.Incident) {
	t.Helper()
	if err := p.Project(context.Background(), Clone(t, in)); err != nil {
		t.Fatalf("project %s v%d: %v", in.ID, in.Version, err)
	}
}

// Step applies cmd by a at at under Due and projects the result, like one
// workflow Update followed by its projection activity.
func Step(t testing.TB, p Projector, in *incident.Incident, a incident.Actor, cmd incident.Command, at time.Time) {
	t.Helper()
	if err := in.Apply(a, cmd, at, Due); err != nil {
		t.Fatalf("%s on %s by %s: %v", cmd.Name(), in.ID, a, err)
	}
	Project(t, p, in)
}

// TaskOf returns the id of in's latest task of dept.
func TaskOf(t testing.TB, in *incident.Incident, dept string) string {
	t.Helper()
	for i := len(in.Tasks) - 1; i >= 0; i-- {
		if in.Tasks[i].Department == dept {
			return in.Tasks[i].ID
		}
	}
	t.Fatalf("incident %s has no task of %s", in.ID, dept)
	return ""
}
