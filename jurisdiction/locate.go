package jurisdiction

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Locate returns the grid whose boundary contains the point at latitude
// lat and longitude lng (WGS 84 degrees), with the grid's street and
// community. A point on the edge or corner shared by several grids goes to
// the one whose code sorts first (byte order). A point inside no boundary
// (outside the district, in a gap between grids, or in a grid the file
// gives no boundary) is not placed: ok is false.
//
// A parsed jurisdiction looks the point up in an index built once by
// Parse (only the few grids whose bounding boxes cover the point are
// tested), and is safe for concurrent use. On a value that was not parsed
// (decoded from JSON) every call builds the index anew.
func (j *Jurisdiction) Locate(lat, lng float64) (grid, street, community string, ok bool) {
	return j.locator().locate(orb.Point{lng, lat})
}

// HasBoundaries reports whether any grid of the jurisdiction has a
// boundary, that is whether Locate can place any point at all.
func (j *Jurisdiction) HasBoundaries() bool {
	if j.loc != nil && j.loc.builtFrom(j.Streets) {
		return len(j.loc.parts) > 0
	}
	for _, s := range j.Streets {
		for _, c := range s.Communities {
			if len(c.Boundaries) > 0 {
				return true
			}
		}
	}
	return false
}

// PointIn returns a point (latitude, longitude) inside the boundary of
// grid that Locate places in that grid: the centroid of the grid's largest
// polygon when that is such a point, otherwise the middle of the widest
// stretch of the polygon along one of a series of parallels. ok is false
// when the grid has no boundary (or, for a boundary too thin to hold a
// point off its edges, when none was found). The same grid always gives
// the same point.
func (j *Jurisdiction) PointIn(grid string) (lat, lng float64, ok bool) {
	l := j.locator()
	lo, found := slices.BinarySearchFunc(l.parts, grid, func(p locPart, g string) int { return strings.Compare(p.grid, g) })
	if !found {
		return 0, 0, false
	}
	hi := lo
	for hi < len(l.parts) && l.parts[hi].grid == grid {
		hi++
	}
	polys := make([]orb.Polygon, 0, hi-lo)
	for _, p := range l.parts[lo:hi] {
		polys = append(polys, p.poly)
	}
	slices.SortStableFunc(polys, func(a, b orb.Polygon) int { return cmp.Compare(planar.Area(b), planar.Area(a)) })
	for _, poly := range polys {
		for pt := range candidatePoints(poly) {
			if g, _, _, ok := l.locate(pt); ok && g == grid {
				return pt[1], pt[0], true
			}
		}
	}
	return 0, 0, false
}

// candidatePoints yields points likely inside poly: its centroid, then the
// middles of the stretches inside it along parallels at 1/2, 1/4, 3/4,
// 1/8, … of its height (down to 1/64), widest stretch first on each.
func candidatePoints(poly orb.Polygon) func(yield func(orb.Point) bool) {
	return func(yield func(orb.Point) bool) {
		if c, _ := planar.CentroidArea(poly); !yield(c) {
			return
		}
		b := poly.Bound()
		var xs []float64
		for level := 1; level <= 6; level++ {
			n := 1 << level
			for k := 1; k < n; k += 2 {
				y := b.Min[1] + (b.Max[1]-b.Min[1])*float64(k)/float64(n)
				xs = xs[:0]
				for _, r := range poly {
					for i := 0; i+1 < len(r); i++ {
						a, c := r[i], r[i+1]
						if (a[1] > y) != (c[1] > y) {
							xs = append(xs, a[0]+(y-a[1])*(c[0]-a[0])/(c[1]-a[1]))
						}
					}
				}
				slices.Sort(xs)
				type stretch struct{ x0, x1 float64 }
				var ss []stretch
				for i := 0; i+1 < len(xs); i += 2 {
					ss = append(ss, stretch{xs[i], xs[i+1]})
				}
				slices.SortStableFunc(ss, func(s, t stretch) int { return cmp.Compare(t.x1-t.x0, s.x1-s.x0) })
				for _, s := range ss {
					if !yield(orb.Point{(s.x0 + s.x1) / 2, y}) {
						return
					}
				}
			}
		}
	}
}

// locator finds grids by location. It holds every polygon of every grid
// boundary, sorted by grid code, and a uniform grid of cells over their
// joint bounding box (about one cell per polygon) listing, for each cell,
// the polygons whose bounding boxes reach into it. A lookup computes its
// cell and tests only that cell's polygons, in code order. It is never
// changed after newLocator returns.
type locator struct {
	streets []Street // the streets it was built from
	parts   []locPart
	box     orb.Bound // of all parts
	nx, ny  int       // cells across and down
	cw, ch  float64   // cell width and height, in degrees
	start   []int32   // the parts of cell c are items[start[c]:start[c+1]]
	items   []int32   // indexes into parts, ascending within a cell
}

// locPart is one polygon of a grid's boundary.
type locPart struct {
	grid, street, community string
	poly                    orb.Polygon
	b                       orb.Bound
}

// maxCellsAcross bounds the locator's cells along each axis.
const maxCellsAcross = 1024

// newLocator indexes the boundaries of the grids of streets. A grid listed
// twice counts where it is first listed, as in LocateGrid.
func newLocator(streets []Street) *locator {
	l := &locator{streets: streets}
	seen := map[string]bool{}
	for _, s := range streets {
		for _, c := range s.Communities {
			for _, g := range c.Grids {
				if seen[g] {
					continue
				}
				seen[g] = true
				b, ok := c.Boundaries[g]
				if !ok {
					continue
				}
				for _, poly := range b.MultiPolygon() {
					if len(poly) == 0 || len(poly[0]) == 0 {
						continue
					}
					l.parts = append(l.parts, locPart{grid: g, street: s.Code, community: c.Code, poly: poly, b: poly.Bound()})
				}
			}
		}
	}
	if len(l.parts) == 0 {
		return l
	}
	slices.SortStableFunc(l.parts, func(a, b locPart) int { return strings.Compare(a.grid, b.grid) })
	l.box = l.parts[0].b
	for _, p := range l.parts[1:] {
		l.box = l.box.Union(p.b)
	}

	n := float64(len(l.parts))
	w, h := l.box.Max[0]-l.box.Min[0], l.box.Max[1]-l.box.Min[1]
	nx, ny := 1.0, 1.0
	if w > 0 && h > 0 {
		nx = min(max(math.Ceil(math.Sqrt(n*w/h)), 1), maxCellsAcross)
		ny = min(max(math.Ceil(n/nx), 1), maxCellsAcross)
	}
	l.nx, l.ny = int(nx), int(ny)
	l.cw, l.ch = w/float64(l.nx), h/float64(l.ny)
	if l.cw <= 0 {
		l.cw = 1
	}
	if l.ch <= 0 {
		l.ch = 1
	}

	// Count, then fill: items of cell c start at start[c].
	l.start = make([]int32, l.nx*l.ny+1)
	each := func(p locPart, f func(c int)) {
		x0, x1 := l.col(p.b.Min[0]), l.col(p.b.Max[0])
		y0, y1 := l.row(p.b.Min[1]), l.row(p.b.Max[1])
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				f(y*l.nx + x)
			}
		}
	}
	for _, p := range l.parts {
		each(p, func(c int) { l.start[c+1]++ })
	}
	for c := 1; c < len(l.start); c++ {
		l.start[c] += l.start[c-1]
	}
	l.items = make([]int32, l.start[len(l.start)-1])
	next := slices.Clone(l.start[:len(l.start)-1])
	for i, p := range l.parts {
		each(p, func(c int) {
			l.items[next[c]] = int32(i)
			next[c]++
		})
	}
	return l
}

// col returns the column of cells longitude x falls in, clamped to the grid.
func (l *locator) col(x float64) int {
	return min(max(int((x-l.box.Min[0])/l.cw), 0), l.nx-1)
}

// row returns the row of cells latitude y falls in, clamped to the grid.
func (l *locator) row(y float64) int {
	return min(max(int((y-l.box.Min[1])/l.ch), 0), l.ny-1)
}

// builtFrom reports whether l was built from these very streets (the same
// backing array), as the copies WithItems and WithItem make share them.
func (l *locator) builtFrom(streets []Street) bool {
	if len(l.streets) != len(streets) {
		return false
	}
	return len(streets) == 0 || &l.streets[0] == &streets[0]
}

// locate returns the grid of lowest code whose boundary contains p.
func (l *locator) locate(p orb.Point) (grid, street, community string, ok bool) {
	if len(l.parts) == 0 || !l.box.Contains(p) {
		return "", "", "", false
	}
	c := l.row(p[1])*l.nx + l.col(p[0])
	for _, i := range l.items[l.start[c]:l.start[c+1]] {
		pt := &l.parts[i]
		if pt.b.Contains(p) && planar.PolygonContains(pt.poly, p) {
			return pt.grid, pt.street, pt.community, true
		}
	}
	return "", "", "", false
}

// locator returns the locator index built, or a new one for a value that
// was not indexed (decoded from JSON, or built in Go).
func (j *Jurisdiction) locator() *locator {
	if j.loc != nil && j.loc.builtFrom(j.Streets) {
		return j.loc
	}
	return newLocator(j.Streets)
}
