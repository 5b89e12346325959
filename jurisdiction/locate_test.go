package jurisdiction

import (
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

func TestLocate(t *testing.T) {
	j := mustParse(t, boundaryDoc)
	for _, tt := range []struct {
		name     string
		lat, lng float64
		grid     string // "" for not placed
	}{
		{"inside", 29.305, 104.725, "FH-01-01"},
		{"inside the neighbour", 29.305, 104.735, "FH-01-02"},
		{"on the shared edge: lowest code", 29.305, 104.73, "FH-01-01"},
		{"on the corner of three: lowest code", 29.31, 104.73, "FH-01-01"},
		{"on an outer edge", 29.30, 104.735, "FH-01-02"},
		{"in the first polygon of a MultiPolygon", 29.315, 104.725, "MCK-01-01"},
		{"in the ring around a hole", 29.301, 104.751, "MCK-01-01"},
		{"in the hole: the grid filling it", 29.305, 104.755, "MCK-01-02"},
		{"on the hole's edge: the grid filling it", 29.302, 104.755, "MCK-01-02"},
		{"in a gap between grids", 29.305, 104.745, ""},
		{"beyond every grid", 29.35, 104.80, ""},
		{"nowhere", 0, 0, ""},
		{"not a number", math.NaN(), 104.725, ""},
	} {
		grid, street, community, ok := j.Locate(tt.lat, tt.lng)
		if grid != tt.grid || ok != (tt.grid != "") {
			t.Errorf("%s: Locate(%v, %v) = %q, %v; want %q", tt.name, tt.lat, tt.lng, grid, ok, tt.grid)
			continue
		}
		if ok {
			if s, c, _ := j.LocateGrid(grid); street != s || community != c {
				t.Errorf("%s: Locate gives street %q, community %q; LocateGrid(%s) %q, %q", tt.name, street, community, grid, s, c)
			}
		}
	}
	// The shared edge goes to the lowest code whichever grid comes first.
	swapped := strings.Replace(boundaryDoc, "code: FH-01-01,", "code: FH-01-09,", 1)
	if g, _, _, _ := mustParse(t, swapped).Locate(29.305, 104.73); g != "FH-01-02" {
		t.Errorf("on the edge of FH-01-09 and FH-01-02: %q, want FH-01-02", g)
	}
}

func TestPointIn(t *testing.T) {
	j := mustParse(t, boundaryDoc)
	for _, grid := range []string{"FH-01-01", "FH-01-02", "MCK-01-01", "MCK-01-02"} {
		lat, lng, ok := j.PointIn(grid)
		if g, _, _, found := j.Locate(lat, lng); !ok || !found || g != grid {
			t.Errorf("PointIn(%s) = %v, %v, %v, which Locate places in %q", grid, lat, lng, ok, g)
		}
	}
	// MCK-01-01's larger polygon has its centroid in its hole (MCK-01-02).
	if lat, lng, _ := j.PointIn("MCK-01-01"); lat > 29.30 && lat < 29.31 && lng > 104.752 && lng < 104.758 {
		t.Errorf("PointIn(MCK-01-01) = %v, %v: in the hole", lat, lng)
	}
	for _, grid := range []string{"FH-01-03", "NOPE"} {
		if _, _, ok := j.PointIn(grid); ok {
			t.Errorf("PointIn(%s) found a point", grid)
		}
	}
	// A C-shaped grid whose centroid lies outside it.
	c := strings.Replace(boundaryDoc, "- FH-01-03", "- {code: FH-01-03, boundary: {type: Polygon, coordinates: [[[104.80, 29.30], [104.81, 29.30], [104.81, 29.301], [104.801, 29.301], [104.801, 29.309], [104.81, 29.309], [104.81, 29.31], [104.80, 29.31], [104.80, 29.30]]]}}", 1)
	j = mustParse(t, c)
	lat, lng, ok := j.PointIn("FH-01-03")
	if g, _, _, _ := j.Locate(lat, lng); !ok || g != "FH-01-03" {
		t.Errorf("PointIn(C-shaped FH-01-03) = %v, %v, %v, placed in %q", lat, lng, ok, g)
	}
}

// Every grid of the shipped district has a boundary, within the district's
// box, and together they cover it without gaps or overlaps; PointIn gives
// a point of each grid that Locate places back in it.
func TestDefaultBoundaries(t *testing.T) {
	j := Default()
	if !j.HasBoundaries() {
		t.Fatal("the shipped district has no boundaries")
	}
	area, grids := 0.0, 0
	district := orb.Bound{Min: orb.Point{104.72, 29.30}, Max: orb.Point{104.82, 29.40}}
	for _, s := range j.Streets {
		for _, c := range s.Communities {
			for _, g := range c.Grids {
				grids++
				b, ok := c.Boundaries[g]
				if !ok {
					t.Errorf("grid %s has no boundary", g)
					continue
				}
				area += planar.Area(b.Geometry)
				if bd := b.Geometry.Bound(); !district.Contains(bd.Min) || !district.Contains(bd.Max) {
					t.Errorf("grid %s reaches beyond the district: %v", g, bd)
				}
				lat, lng, ok := j.PointIn(g)
				if gg, ss, cc, found := j.Locate(lat, lng); !ok || !found || gg != g || ss != s.Code || cc != c.Code {
					t.Errorf("PointIn(%s) = %v, %v, %v; Locate gives %q %q %q", g, lat, lng, ok, gg, ss, cc)
				}
			}
		}
	}
	if grids != 31 {
		t.Errorf("%d grids, want 31", grids)
	}
	if math.Abs(area-0.01) > 1e-9 {
		t.Errorf("the grids cover %.9f square degrees, want the district's 0.01", area)
	}
	// The corners of the district and a few points across it.
	for _, p := range [][2]float64{{29.30, 104.72}, {29.40, 104.82}, {29.3501, 104.7001}, {29.35, 104.77}, {29.399, 104.819}} {
		_, _, _, ok := j.Locate(p[0], p[1])
		if want := district.Contains(orb.Point{p[1], p[0]}); ok != want {
			t.Errorf("Locate(%v) placed = %v, want %v", p, ok, want)
		}
	}
}

// The locator finds what a scan of every grid finds, the lowest code
// among those containing the point, also on the edges and corners of a
// tiling.
func TestLocateMatchesScan(t *testing.T) {
	const n = 30
	streets := tiling(n)
	j := &Jurisdiction{Streets: streets}
	j.index()
	type part struct {
		code string
		poly orb.Polygon
	}
	var parts []part
	for _, s := range streets {
		for _, c := range s.Communities {
			for _, g := range c.Grids {
				parts = append(parts, part{g, c.Boundaries[g].Geometry.(orb.Polygon)})
			}
		}
	}
	scan := func(p orb.Point) string {
		best := ""
		for _, pt := range parts {
			if (best == "" || pt.code < best) && planar.PolygonContains(pt.poly, p) {
				best = pt.code
			}
		}
		return best
	}
	var pts []orb.Point
	for _, p := range randomPoints(3000, n+1) {
		pts = append(pts, orb.Point{p[1], p[0]})
	}
	corners := tilingCorners(n)
	for i := range corners {
		for k := range corners[i] {
			pts = append(pts, corners[i][k])
			if i < n {
				a, b := corners[i][k], corners[i+1][k]
				pts = append(pts, orb.Point{(a[0] + b[0]) / 2, (a[1] + b[1]) / 2})
			}
		}
	}
	placed := 0
	for _, p := range pts {
		g, _, _, ok := j.Locate(p[1], p[0])
		if want := scan(p); g != want || ok != (want != "") {
			t.Fatalf("Locate(%v, %v) = %q, %v; a scan finds %q", p[1], p[0], g, ok, want)
		}
		if ok {
			placed++
		}
	}
	if placed < len(pts)*3/4 {
		t.Fatalf("only %d of %d points placed", placed, len(pts))
	}
}

// A tiling of 10,000 irregular quads sharing edges is valid; moving one
// corner into the neighbouring tile makes an overlap, reported by code.
func TestTilingValidation(t *testing.T) {
	if testing.Short() {
		t.Skip("parses 10,000 grids")
	}
	if _, err := Parse("tiling.yaml", tilingYAML(100)); err != nil {
		t.Fatal(err)
	}
	// Move the south-west corner of tile (5, 5) into tile (4, 4), leaving
	// the other tiles sharing it as they are.
	small := string(tilingYAML(10))
	c := tilingCorners(10)
	line := "{code: " + tilingCode(5, 5) + ","
	i := strings.Index(small, line)
	end := i + strings.Index(small[i:], "\n")
	moved := orb.Point{c[5][5][0] - 0.0004, c[5][5][1] - 0.0004}
	doc := small[:i] + strings.ReplaceAll(small[i:end], position(c[5][5]), position(moved)) + small[end:]
	_, err := Parse("tiling.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "grid G-005-005 overlaps grid G-004-004") {
		t.Fatalf("a moved corner: err = %v", err)
	}
	t.Log(err)
}

// Locate and PointIn may be called from many goroutines at once (run with
// -race).
func TestLocateConcurrent(t *testing.T) {
	j := Default()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, s := range j.Streets {
				for _, c := range s.Communities {
					for _, g := range c.Grids {
						lat, lng, _ := j.PointIn(g)
						if got, _, _, _ := j.Locate(lat, lng); got != g {
							t.Errorf("PointIn(%s) is placed in %q", g, got)
						}
					}
				}
			}
		})
	}
	wg.Wait()
}

// The copies WithItems and WithItem make share the locator.
func TestLocatorShared(t *testing.T) {
	j := Default()
	c, err := j.WithItems(j.Items)
	if err != nil {
		t.Fatal(err)
	}
	if c.loc != j.loc {
		t.Error("WithItems built a new locator")
	}
	if g, _, _, ok := c.Locate(29.395, 104.725); !ok || g != "FH-01-01" {
		t.Errorf("Locate on the copy = %q, %v", g, ok)
	}
}
