package jurisdiction

import (
	"math"
	"slices"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// The planar checks behind the validation of boundaries: orb decodes and
// contains points but checks no validity, so segment intersection is done
// here. Coordinates are degrees used as plane coordinates, which is exact
// enough for a district's grids.

// touchEps is how close, in degrees (about 0.1 mm on the ground), a point
// must be to a segment to count as on it. It absorbs the rounding of
// orientation tests on coordinates near 100°, so that grids sharing an edge
// (or a corner lying on a neighbour's edge) touch instead of crossing.
const touchEps = 1e-9

// orient returns 1 when c lies left of the line from a to b, -1 when it
// lies right, and 0 when it is within touchEps of the line (or a == b).
func orient(a, b, c orb.Point) int {
	d := (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
	l := math.Max(math.Abs(b[0]-a[0]), math.Abs(b[1]-a[1]))
	switch {
	case math.Abs(d) <= touchEps*l:
		return 0
	case d > 0:
		return 1
	}
	return -1
}

// inBox reports whether c lies in the bounding box of a and b, widened by
// touchEps.
func inBox(a, b, c orb.Point) bool {
	return c[0] >= math.Min(a[0], b[0])-touchEps && c[0] <= math.Max(a[0], b[0])+touchEps &&
		c[1] >= math.Min(a[1], b[1])-touchEps && c[1] <= math.Max(a[1], b[1])+touchEps
}

// onSegment reports whether c lies on the segment from a to b.
func onSegment(a, b, c orb.Point) bool { return orient(a, b, c) == 0 && inBox(a, b, c) }

// boxesMeet reports whether the bounding boxes of segments ab and cd meet
// (within touchEps).
func boxesMeet(a, b, c, d orb.Point) bool {
	return math.Max(c[0], d[0]) >= math.Min(a[0], b[0])-touchEps && math.Min(c[0], d[0]) <= math.Max(a[0], b[0])+touchEps &&
		math.Max(c[1], d[1]) >= math.Min(a[1], b[1])-touchEps && math.Min(c[1], d[1]) <= math.Max(a[1], b[1])+touchEps
}

// segmentsCross reports whether segments ab and cd cross properly: at one
// point inside both, with the ends of each strictly on either side of the
// other.
func segmentsCross(a, b, c, d orb.Point) bool {
	return orient(a, b, c)*orient(a, b, d) < 0 && orient(c, d, a)*orient(c, d, b) < 0
}

// segmentsMeet reports whether segments ab and cd have any point in common:
// they cross, or an end of one lies on the other (which covers collinear
// overlaps).
func segmentsMeet(a, b, c, d orb.Point) bool {
	if !boxesMeet(a, b, c, d) {
		return false
	}
	return segmentsCross(a, b, c, d) || onSegment(a, b, c) || onSegment(a, b, d) || onSegment(c, d, a) || onSegment(c, d, b)
}

// corners returns the ring's positions without consecutive repeats, and
// for each the index of its first position in r. The ring must be closed;
// the closing position is kept.
func corners(r orb.Ring) (pts []orb.Point, at []int) {
	for i, p := range r {
		if len(pts) > 0 && pts[len(pts)-1] == p {
			continue
		}
		pts = append(pts, p)
		at = append(at, i)
	}
	return pts, at
}

// selfIntersection looks for two edges of the closed ring r that meet other
// than at the corner two neighbouring edges share: non-neighbouring edges
// must not touch or cross, and neighbouring ones must not fold back onto
// each other. It returns the positions (indexes into r) starting the two
// edges, whether they cross (rather than touch), and whether it found any.
// Consecutive repeated positions are ignored. Edges are swept in order of
// their left end, so a ring of n edges costs about n log n.
func selfIntersection(r orb.Ring) (e1, e2 int, cross, found bool) {
	pts, at := corners(r)
	m := len(pts) - 1 // edges
	if m < 3 {
		return 0, 0, false, false
	}
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	left := func(i int) float64 { return math.Min(pts[i][0], pts[i+1][0]) }
	right := func(i int) float64 { return math.Max(pts[i][0], pts[i+1][0]) }
	slices.SortFunc(order, func(a, b int) int { return cmpFloat(left(a), left(b)) })
	for oi, i := range order {
		for _, j := range order[oi+1:] {
			if left(j) > right(i)+touchEps {
				break
			}
			a, b := min(i, j), max(i, j)
			p, q, s, t := pts[a], pts[a+1], pts[b], pts[b+1]
			var bad bool
			switch {
			case b == a+1: // share q == s: t must not lie back on ab, nor p on st
				bad = onSegment(p, q, t) || onSegment(s, t, p)
			case a == 0 && b == m-1: // share p == t
				bad = onSegment(p, q, s) || onSegment(s, t, q)
			default:
				bad = segmentsMeet(p, q, s, t)
			}
			if bad {
				return at[a], at[b], segmentsCross(p, q, s, t), true
			}
		}
	}
	return 0, 0, false, false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// holeInside reports whether the hole lies inside the shell: each of its
// positions inside or on the shell, and no edge of it crossing the shell's.
func holeInside(shell, hole orb.Ring) bool {
	for _, p := range hole {
		if !planar.RingContains(shell, p) {
			return false
		}
	}
	for i := 0; i+1 < len(hole); i++ {
		for k := 0; k+1 < len(shell); k++ {
			if boxesMeet(hole[i], hole[i+1], shell[k], shell[k+1]) && segmentsCross(hole[i], hole[i+1], shell[k], shell[k+1]) {
				return false
			}
		}
	}
	return true
}

// interiorsMeet reports whether the interiors of the polygons p and q
// (each valid: simple rings, holes inside the shell) have a point in
// common. Boundaries that only touch, at corners or along shared edges, do
// not count; a polygon lying in a hole of the other does not either.
func interiorsMeet(p, q orb.Polygon) bool {
	if enters, _ := boundaryEnters(p, q); enters {
		return true
	}
	enters, shellOnShell := boundaryEnters(q, p)
	// With no boundary entering the other's interior, the interiors meet
	// only when the polygons are the same: q's shell lies on p's.
	return enters || shellOnShell
}

// boundaryEnters reports whether some edge of q (shell or hole) crosses an
// edge of p or passes through p's interior, and whether q's shell lies
// entirely on p's shell. Each edge of q is cut where p's corners lie on
// it; every piece then lies along an edge of p, or inside p, or outside,
// and the midpoint of a piece that is along no edge tells which.
func boundaryEnters(q, p orb.Polygon) (enters, shellOnShell bool) {
	const tiny = 1e-12
	type along struct {
		lo, hi float64
		ring   int
	}
	shellOnShell = true
	var cuts []float64
	var alongs []along
	for qr, ring := range q {
		for i := 0; i+1 < len(ring); i++ {
			a, b := ring[i], ring[i+1]
			if a == b {
				continue
			}
			cuts = append(cuts[:0], 0, 1)
			alongs = alongs[:0]
			for pr, pring := range p {
				for k := 0; k+1 < len(pring); k++ {
					c, d := pring[k], pring[k+1]
					if !boxesMeet(a, b, c, d) {
						continue
					}
					oc, od := orient(a, b, c), orient(a, b, d)
					if oc*od < 0 && orient(c, d, a)*orient(c, d, b) < 0 {
						return true, false
					}
					if oc == 0 && inBox(a, b, c) {
						if t := param(a, b, c); t > tiny && t < 1-tiny {
							cuts = append(cuts, t)
						}
					}
					if oc == 0 && od == 0 && c != d {
						lo, hi := param(a, b, c), param(a, b, d)
						if lo > hi {
							lo, hi = hi, lo
						}
						alongs = append(alongs, along{lo, hi, pr})
					}
				}
			}
			slices.Sort(cuts)
			for k := 0; k+1 < len(cuts); k++ {
				t0, t1 := cuts[k], cuts[k+1]
				if t1-t0 <= tiny {
					continue
				}
				onRing := -1
				for _, al := range alongs {
					if t0 >= al.lo-tiny && t1 <= al.hi+tiny {
						onRing = al.ring
						break
					}
				}
				if qr == 0 && onRing != 0 {
					shellOnShell = false
				}
				if onRing >= 0 {
					continue
				}
				t := (t0 + t1) / 2
				mid := orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}
				if planar.PolygonContains(p, mid) {
					return true, false
				}
			}
		}
	}
	return false, shellOnShell
}

// param returns where the projection of c falls on the line from a to b:
// 0 at a, 1 at b.
func param(a, b, c orb.Point) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	return ((c[0]-a[0])*dx + (c[1]-a[1])*dy) / (dx*dx + dy*dy)
}
