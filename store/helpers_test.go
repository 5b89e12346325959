package store

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/whistle-city/whistle/devstack/devtest"

	"github.com/whistle-city/whistle/incident"
)

// TestMain stops the private PostgreSQL the tests may have started.
func TestMain(m *testing.M) { devtest.Main(m) }

// freshDB returns the URL of an empty database of its own for this test,
// dropped when the test ends (DATABASE_URL's server, else a private one).
func freshDB(t testing.TB) string {
	return devtest.Postgres(t)
}

// newStore returns a Store on a fresh, migrated database whose clock reads
// *clock.
func newStore(t testing.TB, clock *time.Time) *Store {
	t.Helper()
	ctx := context.Background()
	dbURL := freshDB(t)
	if err := Migrate(ctx, dbURL); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s, err := Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(s.Close)
	s.SetClock(func() time.Time { return *clock })
	return s
}

// t0 is a Monday morning in the district's time zone.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))

// due gives every test incident the same SLA: acknowledge within 1h,
// resolve within 72h, return visit within 72h.
var due = incident.DueFunc(dueAt)

func dueAt(kind incident.SLAKind, from time.Time) time.Time {
	switch kind {
	case incident.SLAAck:
		return from.Add(time.Hour)
	default:
		return from.Add(72 * time.Hour)
	}
}

var (
	// itemCG is a department-tier item: 占道经营, led by CG with SCJG.
	itemCG = incident.Item{Code: "SR-001", Name: "占道经营", Domain: "市容环境", Tier: incident.TierDepartment, Lead: "CG", Cooperating: []string{"SCJG"}}
	// itemStreet is a street-tier item: the street handles it.
	itemStreet = incident.Item{Code: "ST-002", Name: "邻里纠纷", Tier: incident.TierStreet}
)

// lead returns a department-tier item led by dept alone.
func lead(dept string) incident.Item {
	return incident.Item{Code: "D-" + dept, Name: "事项 " + dept, Tier: incident.TierDepartment, Lead: dept}
}

// report is a grid worker's report of id in street (grid street-01-01) at at.
func report(id, street string, at time.Time) incident.Report {
	return incident.Report{
		IncidentID: id, Street: street, Community: street + "-01", Grid: street + "-01-01",
		Description: "report " + id, Location: incident.Location{Lat: 29.35, Lng: 104.77, Address: "路口"},
		ReportedAt: at, Reporter: "gw-" + street,
	}
}

// newIncident starts an incident with the real domain.
func newIncident(id, street string, item incident.Item, at time.Time) *incident.Incident {
	r := report(id, street, at)
	r.Category = item.Code
	return incident.New(r, item, at, due)
}

func streetActor(street string) incident.Actor {
	return incident.Actor{Sub: "officer", Role: incident.RoleStreet, Org: street}
}

func deptActor(dept string) incident.Actor {
	return incident.Actor{Sub: "clerk", Role: incident.RoleDepartment, Org: dept}
}

// clone deep-copies a snapshot, as the workflow's activity input would be.
func clone(t testing.TB, in *incident.Incident) *incident.Incident {
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

// project stores a copy of in, failing the test on error.
func project(t testing.TB, s *Store, in *incident.Incident) {
	t.Helper()
	if err := s.Project(context.Background(), clone(t, in)); err != nil {
		t.Fatalf("project %s v%d: %v", in.ID, in.Version, err)
	}
}

// step applies cmd by a at at and projects the result, like one workflow
// Update followed by its projection activity.
func step(t testing.TB, s *Store, in *incident.Incident, a incident.Actor, cmd incident.Command, at time.Time) {
	t.Helper()
	if err := in.Apply(a, cmd, at, due); err != nil {
		t.Fatalf("%s on %s by %s: %v", cmd.Name(), in.ID, a, err)
	}
	project(t, s, in)
}

// taskOf returns the id of in's latest task of dept.
func taskOf(t testing.TB, in *incident.Incident, dept string) string {
	t.Helper()
	for i := len(in.Tasks) - 1; i >= 0; i-- {
		if in.Tasks[i].Department == dept {
			return in.Tasks[i].ID
		}
	}
	t.Fatalf("incident %s has no task of %s", in.ID, dept)
	return ""
}

func ids(items []*incident.Incident) []string {
	out := make([]string, len(items))
	for i, in := range items {
		out[i] = in.ID
	}
	return out
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func count(t testing.TB, s *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func ptr[T any](v T) *T { return &v }

// mustJSON is v as JSON, for comparing snapshots independently of time
// zones and pointer identity.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
