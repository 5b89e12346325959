package store

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// metresPerDegree is the length of a degree of latitude on Near's sphere.
const metresPerDegree = earthRadiusM * math.Pi / 180

// defaultNear are the shipped jurisdiction's thresholds.
var defaultNear = NearRules{DistanceM: 50, Window: 24 * time.Hour, RepeatWindow: 30 * 24 * time.Hour}

// place is a point on the map.
type place struct{ lat, lng float64 }

// north and east return the point m metres north or east of p.
func (p place) north(m float64) place { return place{p.lat + m/metresPerDegree, p.lng} }
func (p place) east(m float64) place {
	return place{p.lat, p.lng + m/(metresPerDegree*math.Cos(p.lat*math.Pi/180))}
}

// nearReport is a report of category at p at time at.
func nearReport(id, category string, p place, at time.Time) incident.Report {
	r := report(id, "FH", at)
	r.Category = category
	r.Location = incident.Location{Lat: p.lat, Lng: p.lng, Address: "路口"}
	return r
}

// open projects an incident of category at p, reported and started at at;
// a street-tier item, so it stays open (triage).
func openAt(t *testing.T, s *Store, id, category string, p place, at time.Time) *incident.Incident {
	t.Helper()
	in := incident.New(nearReport(id, category, p, at), incident.Item{Code: category, Name: "事项", Tier: incident.TierStreet}, at, due)
	project(t, s, in)
	return in
}

// closedAt projects an incident of category at p, reported at at and
// closed (resolved by the street, satisfied) at closed.
func closedAt(t *testing.T, s *Store, id, category string, p place, at, closed time.Time) *incident.Incident {
	t.Helper()
	in := openAt(t, s, id, category, p, at)
	step(t, s, in, streetActor("FH"), incident.Resolve{Note: "fixed"}, closed)
	step(t, s, in, streetActor("FH"), incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}, closed)
	if in.Status != incident.StatusClosed || !in.ClosedAt.Equal(closed) {
		t.Fatalf("fixture %s: %s closed at %v", id, in.Status, in.ClosedAt)
	}
	return in
}

// near asks Near about a report and returns its answer as "duplicate:<id>",
// "repeat:<id>" or "".
func near(t *testing.T, s *Store, r incident.Report, rules NearRules) string {
	t.Helper()
	l, err := s.Near(context.Background(), r, rules)
	if err != nil {
		t.Fatalf("Near(%s): %v", r.IncidentID, err)
	}
	switch {
	case l.DuplicateOf != "" && l.RepeatOf != "":
		t.Fatalf("Near(%s) = %+v: both set", r.IncidentID, l)
	case l.DuplicateOf != "":
		return "duplicate:" + l.DuplicateOf
	case l.RepeatOf != "":
		return "repeat:" + l.RepeatOf
	}
	return ""
}

func TestNear(t *testing.T) {
	clock := t0
	s := newStore(t, &clock)
	// Each case has a place of its own, kilometres from the others.
	base := func(n int) place { return place{29.35 + float64(n)*0.05, 104.77} }
	const item = "SR-001"

	t.Run("distance: 49 m is a duplicate, 51 m is not", func(t *testing.T) {
		p := base(1)
		openAt(t, s, "dist-orig", item, p, t0)
		at := t0.Add(time.Hour)
		for _, c := range []struct {
			to   place
			want string
		}{
			{p.north(49), "duplicate:dist-orig"},
			{p.north(51), ""},
			{p.east(49), "duplicate:dist-orig"},
			{p.east(51), ""},
			{p.north(-35).east(-35), "duplicate:dist-orig"}, // 49.5 m south-west
			{p.north(-37).east(-37), ""},                    // 52.3 m
		} {
			if got := near(t, s, nearReport("dist-new", item, c.to, at), defaultNear); got != c.want {
				t.Errorf("report at %+v: %q, want %q", c.to, got, c.want)
			}
		}
		// A district that says 60 m links the 51 m one.
		wide := defaultNear
		wide.DistanceM = 60
		if got := near(t, s, nearReport("dist-new", item, p.north(51), at), wide); got != "duplicate:dist-orig" {
			t.Errorf("51 m with distance_m 60: %q", got)
		}
	})

	t.Run("time: 23h59m is a duplicate, 24h01m is not", func(t *testing.T) {
		p := base(2)
		openAt(t, s, "time-orig", item, p, t0)
		if got := near(t, s, nearReport("time-new", item, p.north(10), t0.Add(23*time.Hour+59*time.Minute)), defaultNear); got != "duplicate:time-orig" {
			t.Errorf("23h59m later: %q", got)
		}
		if got := near(t, s, nearReport("time-new", item, p.north(10), t0.Add(24*time.Hour+time.Minute)), defaultNear); got != "" {
			t.Errorf("24h01m later: %q, want nothing (the original is still open, so no repeat either)", got)
		}
	})

	t.Run("another item at the same place is not linked", func(t *testing.T) {
		p := base(3)
		openAt(t, s, "cat-orig", item, p, t0)
		closedAt(t, s, "cat-closed", item, p.east(5), t0, t0.Add(time.Hour))
		if got := near(t, s, nearReport("cat-new", "SR-009", p, t0.Add(2*time.Hour)), defaultNear); got != "" {
			t.Errorf("other category: %q", got)
		}
	})

	t.Run("an original that closed makes a repeat, not a duplicate", func(t *testing.T) {
		p := base(4)
		closedAt(t, s, "closed-orig", item, p, t0, t0.Add(2*time.Hour))
		if got := near(t, s, nearReport("closed-new", item, p.north(20), t0.Add(3*time.Hour)), defaultNear); got != "repeat:closed-orig" {
			t.Errorf("after the original closed: %q", got)
		}
	})

	t.Run("repeat: 29 days after closing is one, 31 days is not", func(t *testing.T) {
		p := base(5)
		closed := t0.Add(time.Hour)
		closedAt(t, s, "rep-orig", item, p, t0, closed)
		if got := near(t, s, nearReport("rep-new", item, p.east(30), closed.Add(29*24*time.Hour)), defaultNear); got != "repeat:rep-orig" {
			t.Errorf("29 days later: %q", got)
		}
		if got := near(t, s, nearReport("rep-new", item, p.east(30), closed.Add(31*24*time.Hour)), defaultNear); got != "" {
			t.Errorf("31 days later: %q", got)
		}
		if got := near(t, s, nearReport("rep-new", item, p.east(51), closed.Add(24*time.Hour)), defaultNear); got != "" {
			t.Errorf("51 m away: %q", got)
		}
		// The most recently closed one is the one repeated.
		closedAt(t, s, "rep-later", item, p.north(-20), t0.Add(2*time.Hour), t0.Add(5*time.Hour))
		if got := near(t, s, nearReport("rep-new", item, p, t0.Add(48*time.Hour)), defaultNear); got != "repeat:rep-later" {
			t.Errorf("two closed: %q, want the one closed last", got)
		}
	})

	t.Run("a duplicate is never an original", func(t *testing.T) {
		p := base(6)
		openAt(t, s, "chain-a", item, p, t0)
		b := incident.New(withDuplicateOf(nearReport("chain-b", item, p.north(40), t0.Add(time.Hour)), "chain-a"),
			incident.Item{Code: item, Tier: incident.TierStreet}, t0.Add(time.Hour), due)
		project(t, s, b)
		// 80 m from a, 40 m from b: b is no original, a is too far.
		if got := near(t, s, nearReport("chain-c", item, p.north(80), t0.Add(2*time.Hour)), defaultNear); got != "" {
			t.Errorf("near a duplicate only: %q", got)
		}
		// Nor is a closed duplicate ever repeated.
		if got := near(t, s, nearReport("chain-c", item, p.north(80), t0.Add(48*time.Hour)), defaultNear); got != "" {
			t.Errorf("near a closed duplicate only, two days on: %q", got)
		}
		// Near both: the original.
		if got := near(t, s, nearReport("chain-c", item, p.north(30), t0.Add(2*time.Hour)), defaultNear); got != "duplicate:chain-a" {
			t.Errorf("near both: %q", got)
		}
	})

	t.Run("the earliest open incident is the original; later ones are ignored", func(t *testing.T) {
		p := base(7)
		openAt(t, s, "order-2", item, p.east(10), t0.Add(2*time.Hour))
		openAt(t, s, "order-1", item, p.east(-10), t0.Add(time.Hour))
		openAt(t, s, "order-4", item, p, t0.Add(4*time.Hour))
		if got := near(t, s, nearReport("order-3", item, p, t0.Add(3*time.Hour)), defaultNear); got != "duplicate:order-1" {
			t.Errorf("between them: %q, want the earliest", got)
		}
		// Reported before all of them: nothing before it.
		if got := near(t, s, nearReport("order-0", item, p, t0.Add(30*time.Minute)), defaultNear); got != "" {
			t.Errorf("reported first: %q, want nothing (later reports are no originals)", got)
		}
		// The same instant: the lower id came first.
		if got := near(t, s, nearReport("order-1a", item, p, t0.Add(time.Hour)), defaultNear); got != "duplicate:order-1" {
			t.Errorf("same instant, higher id: %q", got)
		}
		if got := near(t, s, nearReport("order-0a", item, p.east(-10), t0.Add(time.Hour)), defaultNear); got != "" {
			t.Errorf("same instant, lower id: %q", got)
		}
		// Its own row is never its original.
		if got := near(t, s, nearReport("order-1", item, p.east(-10), t0.Add(time.Hour)), defaultNear); got != "" {
			t.Errorf("itself: %q", got)
		}
	})

	t.Run("a report still received is an original", func(t *testing.T) {
		p := base(8)
		first := nearReport("recv-1", item, p, t0)
		if _, _, err := s.CreateReceived(context.Background(), first, incident.Item{Code: item, Name: "事项", Tier: incident.TierStreet}, ""); err != nil {
			t.Fatal(err)
		}
		second := nearReport("recv-2", item, p.north(30), t0.Add(time.Millisecond))
		if _, _, err := s.CreateReceived(context.Background(), second, incident.Item{Code: item, Tier: incident.TierStreet}, ""); err != nil {
			t.Fatal(err)
		}
		if got := near(t, s, second, defaultNear); got != "duplicate:recv-1" {
			t.Errorf("second of two received: %q", got)
		}
		if got := near(t, s, first, defaultNear); got != "" {
			t.Errorf("first of two received: %q", got)
		}
	})

	t.Run("closed, rejected and located nowhere are no originals", func(t *testing.T) {
		p := base(9)
		rej := incident.New(nearReport("gone-rej", item, p, t0), incident.Item{Code: item, Tier: incident.TierStreet}, t0, due)
		rej.Status = incident.StatusRejected
		project(t, s, rej)
		if got := near(t, s, nearReport("gone-new", item, p, t0.Add(time.Hour)), defaultNear); got != "" {
			t.Errorf("near a rejected incident: %q", got)
		}
		nowhere := place{0, 0}
		openAt(t, s, "gone-zero", item, nowhere, t0)
		if got := near(t, s, nearReport("gone-new", item, nowhere, t0.Add(time.Hour)), defaultNear); got != "" {
			t.Errorf("a report without a location: %q", got)
		}
		if got := near(t, s, nearReport("gone-new", item, nowhere.north(1), t0.Add(time.Hour)), defaultNear); got != "" {
			t.Errorf("a metre from an incident without a location: %q", got)
		}
	})

	t.Run("zero windows link nothing", func(t *testing.T) {
		p := base(10)
		openAt(t, s, "zero-open", item, p, t0)
		closedAt(t, s, "zero-closed", item, p.east(5), t0, t0.Add(time.Minute))
		r := nearReport("zero-new", item, p, t0.Add(time.Hour))
		if got := near(t, s, r, NearRules{DistanceM: 50, RepeatWindow: time.Hour}); got != "repeat:zero-closed" {
			t.Errorf("no duplicate window: %q", got)
		}
		if got := near(t, s, r, NearRules{DistanceM: 50}); got != "" {
			t.Errorf("no windows: %q", got)
		}
		if got := near(t, s, r, NearRules{Window: time.Hour, RepeatWindow: time.Hour}); got != "" {
			t.Errorf("no distance: %q", got)
		}
	})
}

// The projection keeps the links and the location as columns, which the
// list filters and Near read.
func TestProjectLinks(t *testing.T) {
	clock := t0
	s := newStore(t, &clock)
	p := place{29.35, 104.77}
	orig := openAt(t, s, "link-orig", "SR-001", p, t0)
	dup := incident.New(withDuplicateOf(nearReport("link-dup", "SR-001", p, t0.Add(time.Minute)), orig.ID),
		incident.Item{Code: "SR-001", Tier: incident.TierStreet}, t0.Add(time.Minute), due)
	project(t, s, dup)
	rr := nearReport("link-rep", "SR-002", p, t0.Add(time.Minute))
	rr.RepeatOf = ptr("old")
	project(t, s, incident.New(rr, incident.Item{Code: "SR-002", Tier: incident.TierStreet}, t0.Add(time.Minute), due))
	openAt(t, s, "link-none", "SR-003", place{}, t0)

	if n := count(t, s, `SELECT count(*) FROM incidents WHERE duplicate_of = 'link-orig' AND status = 'closed'`); n != 1 {
		t.Errorf("%d rows duplicate_of link-orig", n)
	}
	if n := count(t, s, `SELECT count(*) FROM incidents WHERE repeat_of = 'old' AND id = 'link-rep'`); n != 1 {
		t.Errorf("%d rows repeat_of old", n)
	}
	if n := count(t, s, `SELECT count(*) FROM incidents WHERE lat = 29.35 AND lng = 104.77`); n != 3 {
		t.Errorf("%d rows located", n)
	}
	if n := count(t, s, `SELECT count(*) FROM incidents WHERE id = 'link-none' AND lat IS NULL AND lng IS NULL`); n != 1 {
		t.Errorf("an incident without a location has lat/lng %d", n)
	}

	list := func(f IncidentFilter) []string {
		t.Helper()
		items, _, err := s.Incidents(context.Background(), Everything, f)
		if err != nil {
			t.Fatal(err)
		}
		return sorted(ids(items))
	}
	if got := fmt.Sprint(list(IncidentFilter{DuplicateOf: "link-orig"})); got != "[link-dup]" {
		t.Errorf("duplicate_of=link-orig lists %s", got)
	}
	if got := fmt.Sprint(list(IncidentFilter{Repeat: ptr(true)})); got != "[link-rep]" {
		t.Errorf("repeat=true lists %s", got)
	}
	if got := fmt.Sprint(list(IncidentFilter{Repeat: ptr(false), Street: "FH"})); got != "[link-dup link-none link-orig]" {
		t.Errorf("repeat=false&street=FH lists %s", got)
	}
}

func TestBoundingBox(t *testing.T) {
	b := boundingBox(29.35, 104.77, 50)
	if d := (b.maxLat - b.minLat) / 2 * metresPerDegree; d < 50 || d > 51 {
		t.Errorf("half-height %v m", d)
	}
	if d := (b.maxLng - b.minLng) / 2 * metresPerDegree * math.Cos(29.35*math.Pi/180); d < 50 || d > 51 {
		t.Errorf("half-width %v m", d)
	}
	// At a pole, or across the antimeridian, every longitude.
	for _, c := range []place{{89.9999, 10}, {10, 179.9999}, {10, -179.9999}} {
		if b := boundingBox(c.lat, c.lng, 50); b.minLng != -180 || b.maxLng != 180 {
			t.Errorf("box at %+v: %+v", c, b)
		}
	}
}
