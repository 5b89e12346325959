package jurisdiction

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// tilingStep is the side of a tile of tiling, in degrees (about 100 m).
const tilingStep = 0.001

// tilingCorners returns the (n+1)×(n+1) corners of an n×n tiling from
// (104.72, 29.30): a square lattice whose points are moved by up to 30% of
// a step each way (the outer ones only along the outline) and rounded to
// 6 decimals, so the tiles are irregular quads sharing their edges
// exactly. corners[i][k] is column i (west to east), row k (south to north).
func tilingCorners(n int) [][]orb.Point {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	round := func(x float64) float64 { return math.Round(x*1e6) / 1e6 }
	corners := make([][]orb.Point, n+1)
	for i := range corners {
		corners[i] = make([]orb.Point, n+1)
		for k := range corners[i] {
			dx, dy := (r.Float64()-0.5)*0.6*tilingStep, (r.Float64()-0.5)*0.6*tilingStep
			if i == 0 || i == n {
				dx = 0
			}
			if k == 0 || k == n {
				dy = 0
			}
			corners[i][k] = orb.Point{round(104.72 + float64(i)*tilingStep + dx), round(29.30 + float64(k)*tilingStep + dy)}
		}
	}
	return corners
}

// tilingCode is the code of the tile in column i, row k.
func tilingCode(i, k int) string { return fmt.Sprintf("G-%03d-%03d", k, i) }

// tiling returns the streets of a district of n×n grids (see
// tilingCorners): n/10 streets (at least one) of equal numbers of
// communities of n grids each (one row of tiles per community).
func tiling(n int) []Street {
	corners := tilingCorners(n)
	perStreet := max(n/max(n/10, 1), 1)
	var streets []Street
	for k := range n {
		if k%perStreet == 0 {
			streets = append(streets, Street{Code: fmt.Sprintf("S%02d", len(streets)), Name: "street"})
		}
		s := &streets[len(streets)-1]
		c := Community{Code: fmt.Sprintf("%s-%03d", s.Code, k), Name: "community", Boundaries: map[string]Boundary{}}
		for i := range n {
			code := tilingCode(i, k)
			c.Grids = append(c.Grids, code)
			c.Boundaries[code] = Boundary{Geometry: orb.Polygon{{corners[i][k], corners[i+1][k], corners[i+1][k+1], corners[i][k+1], corners[i][k]}}}
		}
		s.Communities = append(s.Communities, c)
	}
	return streets
}

// tilingYAML is tiling(n) as a jurisdiction file, boundaries in flow style.
func tilingYAML(n int) []byte {
	var b strings.Builder
	b.WriteString("district: {code: T}\nstreets:\n")
	for _, s := range tiling(n) {
		fmt.Fprintf(&b, "  - code: %s\n    communities:\n", s.Code)
		for _, c := range s.Communities {
			fmt.Fprintf(&b, "      - code: %s\n        grids:\n", c.Code)
			for _, g := range c.Grids {
				fmt.Fprintf(&b, "          - {code: %s, boundary: {type: Polygon, coordinates: [[", g)
				for i, p := range c.Boundaries[g].Geometry.(orb.Polygon)[0] {
					if i > 0 {
						b.WriteString(", ")
					}
					fmt.Fprintf(&b, "[%v, %v]", p[0], p[1])
				}
				b.WriteString("]]}}\n")
			}
		}
	}
	b.WriteString("items:\n  - {code: I-1, name: i, tier: community, sla: {resolve: 2wd, feedback: 3wd}}\n")
	return []byte(b.String())
}

// randomPoints returns n points in the box of tiling: lat, lng pairs.
func randomPoints(n, tiles int) [][2]float64 {
	r := rand.New(rand.NewPCG(1, 2))
	pts := make([][2]float64, n)
	for i := range pts {
		pts[i] = [2]float64{29.30 + r.Float64()*float64(tiles)*tilingStep, 104.72 + r.Float64()*float64(tiles)*tilingStep}
	}
	return pts
}

// BenchmarkLocate places random points in a district of 10,000 grids.
func BenchmarkLocate(b *testing.B) {
	j := &Jurisdiction{Streets: tiling(100)}
	j.index()
	pts := randomPoints(1<<12, 100)
	found := 0
	i := 0
	for b.Loop() {
		p := pts[i&(len(pts)-1)]
		if _, _, _, ok := j.Locate(p[0], p[1]); ok {
			found++
		}
		i++
	}
	if found != i {
		b.Fatalf("%d of %d points placed", found, i)
	}
}

// BenchmarkLocateScan places the same points by testing every grid's
// boundary in turn (orb's planar containment, no index): the cost the
// index saves, side by side with BenchmarkLocate.
func BenchmarkLocateScan(b *testing.B) {
	streets := tiling(100)
	type shape struct {
		code string
		mp   orb.MultiPolygon
	}
	var shapes []shape
	for _, s := range streets {
		for _, c := range s.Communities {
			for _, g := range c.Grids {
				shapes = append(shapes, shape{g, c.Boundaries[g].MultiPolygon()})
			}
		}
	}
	pts := randomPoints(1<<12, 100)
	found, i := 0, 0
	for b.Loop() {
		p := orb.Point{pts[i&(len(pts)-1)][1], pts[i&(len(pts)-1)][0]}
		for _, sh := range shapes {
			if planar.MultiPolygonContains(sh.mp, p) {
				found++
				break
			}
		}
		i++
	}
	if found != i {
		b.Fatalf("%d of %d points placed", found, i)
	}
}

// BenchmarkLocateParallel is BenchmarkLocate from every core at once.
func BenchmarkLocateParallel(b *testing.B) {
	j := &Jurisdiction{Streets: tiling(100)}
	j.index()
	pts := randomPoints(1<<12, 100)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			p := pts[i&(len(pts)-1)]
			if _, _, _, ok := j.Locate(p[0], p[1]); !ok {
				b.Errorf("point %v not placed", p)
			}
			i++
		}
	})
}

// BenchmarkLocateIndex10k builds the locator of 10,000 grids (what Parse
// adds to the index).
func BenchmarkLocateIndex10k(b *testing.B) {
	streets := tiling(100)
	for b.Loop() {
		newLocator(streets)
	}
}

// BenchmarkLocateValidate10k checks the boundaries of 10,000 grids: each
// ring, then the overlap sweep.
func BenchmarkLocateValidate10k(b *testing.B) {
	j := &Jurisdiction{Streets: tiling(100)}
	for b.Loop() {
		v := &validator{}
		v.boundaries(j)
		if len(v.problems) > 0 {
			b.Fatal(v.problems[0])
		}
	}
}

// BenchmarkLocateParse10k parses a file of 10,000 grids with boundaries:
// YAML, validation and index.
func BenchmarkLocateParse10k(b *testing.B) {
	data := tilingYAML(100)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("tiling.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
