package jurisdiction

import (
	"testing"

	"github.com/paulmach/orb"
)

func TestSegments(t *testing.T) {
	p := func(x, y float64) orb.Point { return orb.Point{x, y} }
	for _, tt := range []struct {
		name         string
		a, b, c, d   orb.Point
		cross, meets bool
	}{
		{"crossing", p(0, 0), p(2, 2), p(0, 2), p(2, 0), true, true},
		{"apart", p(0, 0), p(1, 0), p(0, 1), p(1, 1), false, false},
		{"on one line, apart", p(0, 0), p(1, 0), p(2, 0), p(3, 0), false, false},
		{"on one line, overlapping", p(0, 0), p(2, 0), p(1, 0), p(3, 0), false, true},
		{"end on the other", p(0, 0), p(2, 0), p(1, 0), p(1, 1), false, true},
		{"sharing an end", p(0, 0), p(1, 0), p(1, 0), p(1, 1), false, true},
		{"end near but off", p(0, 0), p(2, 0), p(1, 1e-6), p(1, 1), false, false},
		{"T-junction at real coordinates", p(104.72, 29.30), p(104.74, 29.32), p(104.73, 29.31), p(104.73, 29.30), false, true},
	} {
		if got := segmentsCross(tt.a, tt.b, tt.c, tt.d); got != tt.cross {
			t.Errorf("%s: segmentsCross = %v", tt.name, got)
		}
		if got := segmentsCross(tt.c, tt.d, tt.a, tt.b); got != tt.cross {
			t.Errorf("%s: segmentsCross (swapped) = %v", tt.name, got)
		}
		if got := segmentsMeet(tt.a, tt.b, tt.c, tt.d); got != tt.meets {
			t.Errorf("%s: segmentsMeet = %v", tt.name, got)
		}
		if got := segmentsMeet(tt.c, tt.d, tt.a, tt.b); got != tt.meets {
			t.Errorf("%s: segmentsMeet (swapped) = %v", tt.name, got)
		}
	}
}

func TestSelfIntersection(t *testing.T) {
	for _, tt := range []struct {
		name   string
		ring   orb.Ring
		e1, e2 int
		cross  bool
		found  bool
	}{
		{"square", orb.Ring{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}, 0, 0, false, false},
		{"concave", orb.Ring{{0, 0}, {2, 0}, {2, 2}, {1, 1}, {0, 2}, {0, 0}}, 0, 0, false, false},
		{"straight corner", orb.Ring{{0, 0}, {1, 0}, {2, 0}, {2, 1}, {0, 1}, {0, 0}}, 0, 0, false, false},
		{"repeated position", orb.Ring{{0, 0}, {1, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}, 0, 0, false, false},
		{"bowtie", orb.Ring{{0, 0}, {1, 1}, {1, 0}, {0, 1}, {0, 0}}, 0, 2, true, true},
		{"figure eight at a corner", orb.Ring{{0, 0}, {1, 1}, {2, 0}, {2, 2}, {1, 1}, {0, 2}, {0, 0}}, 0, 4, false, true},
		{"spike", orb.Ring{{0, 0}, {2, 0}, {1, 0}, {1, 1}, {0, 0}}, 0, 1, false, true},
		{"flat triangle", orb.Ring{{0, 0}, {2, 0}, {1, 0}, {0, 0}}, 0, 2, false, true},
		{"closing edge folds back", orb.Ring{{0, 0}, {1, 1}, {0, 1}, {0, 2}, {0, 0}}, 1, 3, false, true},
	} {
		e1, e2, cross, found := selfIntersection(tt.ring)
		if found != tt.found || (found && (e1 != tt.e1 || e2 != tt.e2 || cross != tt.cross)) {
			t.Errorf("%s: selfIntersection = %d, %d, cross %v, found %v; want %d, %d, %v, %v", tt.name, e1, e2, cross, found, tt.e1, tt.e2, tt.cross, tt.found)
		}
	}
}

func TestInteriorsMeet(t *testing.T) {
	holed := orb.Polygon{square(0, 0, 3, 3)[0], square(1, 1, 2, 2)[0]}
	for _, tt := range []struct {
		name string
		p, q orb.Polygon
		want bool
	}{
		{"apart", square(0, 0, 1, 1), square(2, 0, 3, 1), false},
		{"sharing an edge", square(0, 0, 1, 1), square(1, 0, 2, 1), false},
		{"sharing part of an edge", square(0, 0, 1, 1), square(1, 0.5, 2, 2), false},
		{"sharing a corner", square(0, 0, 1, 1), square(1, 1, 2, 2), false},
		{"corner on an edge", square(0, 0, 2, 2), orb.Polygon{{{2, 1}, {3, 0}, {3, 2}, {2, 1}}}, false},
		{"crossing", square(0, 0, 2, 2), square(1, 1, 3, 3), true},
		{"same", square(0, 0, 1, 1), square(0, 0, 1, 1), true},
		{"same, starting elsewhere", square(0, 0, 1, 1), orb.Polygon{{{1, 1}, {0, 1}, {0, 0}, {1, 0}, {1, 1}}}, true},
		{"inside, touching nothing", square(0, 0, 3, 3), square(1, 1, 2, 2), true},
		{"inside, sharing two edges", square(0, 0, 2, 2), square(0, 0, 1, 1), true},
		{"half of it", square(0, 0, 2, 2), orb.Polygon{{{0, 0}, {2, 0}, {2, 2}, {0, 0}}}, true},
		{"crossing at corners only", square(0, 0, 2, 2), orb.Polygon{{{1, -1}, {2, 0}, {1, 3}, {0, 2}, {1, -1}}}, true},
		{"filling the hole", holed, square(1, 1, 2, 2), false},
		{"inside the hole", holed, square(1.2, 1.2, 1.8, 1.8), false},
		{"reaching out of the hole", holed, square(1.5, 1.5, 2.5, 2.5), true},
		{"the hole's shell", holed, square(0, 0, 3, 3), true},
	} {
		if got := interiorsMeet(tt.p, tt.q); got != tt.want {
			t.Errorf("%s: interiorsMeet(p, q) = %v, want %v", tt.name, got, tt.want)
		}
		if got := interiorsMeet(tt.q, tt.p); got != tt.want {
			t.Errorf("%s: interiorsMeet(q, p) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHoleInside(t *testing.T) {
	shell := orb.Ring{{0, 0}, {4, 0}, {4, 4}, {2, 1}, {0, 4}, {0, 0}} // a notch from the top down to (2, 1)
	if !holeInside(shell, square(0.5, 0.2, 1, 0.8)[0]) {
		t.Error("a hole inside was refused")
	}
	if holeInside(shell, square(5, 5, 6, 6)[0]) {
		t.Error("a hole outside was accepted")
	}
	// Every corner inside (in the notch's two arms), an edge across the notch.
	if holeInside(shell, orb.Ring{{1, 2}, {3, 2}, {3, 2.2}, {1, 2.2}, {1, 2}}) {
		t.Error("a hole crossing the shell was accepted")
	}
}
