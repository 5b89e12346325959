package jurisdiction

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

// boundaryDoc has grids with boundaries in every form: flow and block
// style, Polygon and MultiPolygon (one polygon with a hole), a grid without
// one. FH-01-01 and FH-01-02 share an edge; FH-02-01 shares an edge with
// FH-01-01 and only a corner with FH-01-02; FH-02-02 fills FH-02-01's hole.
const boundaryDoc = `district: {code: DA}
streets:
  - code: FH
    communities:
      - code: FH-01
        grids:
          - {code: FH-01-01, boundary: {type: Polygon, coordinates: [[[104.72, 29.30], [104.73, 29.30], [104.73, 29.31], [104.72, 29.31], [104.72, 29.30]]]}}
          - code: FH-01-02
            boundary:
              type: Polygon
              coordinates:
                - - [104.73, 29.30]
                  - [104.74, 29.30]
                  - [104.74, 29.31]
                  - [104.73, 29.31]
                  - [104.73, 29.30]
          - FH-01-03
  - code: MCK
    communities:
      - code: MCK-01
        grids:
          - code: MCK-01-01
            boundary:
              type: MultiPolygon
              coordinates: [
                [[[104.72, 29.31], [104.73, 29.31], [104.73, 29.32], [104.72, 29.32], [104.72, 29.31]]],
                [[[104.75, 29.30], [104.76, 29.30], [104.76, 29.31], [104.75, 29.31], [104.75, 29.30]],
                 [[104.752, 29.302], [104.758, 29.302], [104.758, 29.308], [104.752, 29.308], [104.752, 29.302]]]]
          - code: MCK-01-02   # fills the hole of MCK-01-01
            boundary: {type: Polygon, coordinates: [[[104.752, 29.302], [104.758, 29.302], [104.758, 29.308], [104.752, 29.308], [104.752, 29.302]]]}
items:
  - {code: MS-001, name: 邻里纠纷, tier: community, sla: {resolve: 2wd, feedback: 3wd}}
`

func square(x0, y0, x1, y1 float64) orb.Polygon {
	return orb.Polygon{{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}}
}

func TestParseBoundaries(t *testing.T) {
	j := mustParse(t, boundaryDoc)
	fh01 := j.Streets[0].Communities[0]
	if want := []string{"FH-01-01", "FH-01-02", "FH-01-03"}; !reflect.DeepEqual(fh01.Grids, want) {
		t.Fatalf("grids = %v, want %v", fh01.Grids, want)
	}
	if len(fh01.Boundaries) != 2 {
		t.Fatalf("FH-01 has %d boundaries, want 2 (FH-01-03 has none)", len(fh01.Boundaries))
	}
	if got := fh01.Boundaries["FH-01-01"].Geometry; !reflect.DeepEqual(got, square(104.72, 29.30, 104.73, 29.31)) {
		t.Errorf("FH-01-01 (flow style) = %#v", got)
	}
	if got := fh01.Boundaries["FH-01-02"].Geometry; !reflect.DeepEqual(got, square(104.73, 29.30, 104.74, 29.31)) {
		t.Errorf("FH-01-02 (block style) = %#v", got)
	}
	mp, ok := j.Streets[1].Communities[0].Boundaries["MCK-01-01"].Geometry.(orb.MultiPolygon)
	if !ok || len(mp) != 2 || len(mp[0]) != 1 || len(mp[1]) != 2 || mp[1][1][0] != (orb.Point{104.752, 29.302}) {
		t.Errorf("MCK-01-01 (MultiPolygon) = %#v", j.Streets[1].Communities[0].Boundaries["MCK-01-01"].Geometry)
	}
	if s, c, ok := j.LocateGrid("MCK-01-02"); !ok || s != "MCK" || c != "MCK-01" {
		t.Errorf("LocateGrid(MCK-01-02) = %q %q %v", s, c, ok)
	}
	if s, c, ok := j.LocateGrid("FH-01-03"); !ok || s != "FH" || c != "FH-01" {
		t.Errorf("LocateGrid(FH-01-03) = %q %q %v", s, c, ok)
	}
	if !j.HasBoundaries() {
		t.Error("HasBoundaries = false")
	}
	if mustParse(t, baseDoc).HasBoundaries() {
		t.Error("HasBoundaries = true for a file without any")
	}
	// GeoJSON pasted as it is (JSON is YAML).
	pasted := strings.Replace(boundaryDoc, "- FH-01-03", `- {"code": "FH-01-03", "boundary": {"type": "Polygon", "coordinates": [[[104.74, 29.30], [104.75, 29.30], [104.75, 29.31], [104.74, 29.30]]]}}`, 1)
	if b := mustParse(t, pasted).Streets[0].Communities[0].Boundaries["FH-01-03"]; len(b.MultiPolygon()) != 1 {
		t.Errorf("pasted GeoJSON = %#v", b)
	}
}

// The boundaries are part of the JSON (as GeoJSON geometries, beside the
// grid codes), and Locate works on a jurisdiction read back from it.
func TestBoundariesJSON(t *testing.T) {
	j := mustParse(t, boundaryDoc)
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"grids":["FH-01-01","FH-01-02","FH-01-03"],"boundaries":{"FH-01-01":{"type":"Polygon","coordinates":[[[104.72,29.3],`) {
		t.Fatalf("JSON = %s", b)
	}
	var back Jurisdiction
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Streets, j.Streets) {
		t.Fatal("streets changed in a JSON round trip")
	}
	if g, s, c, ok := back.Locate(29.305, 104.755); !ok || g != "MCK-01-02" || s != "MCK" || c != "MCK-01" {
		t.Fatalf("Locate after JSON = %q %q %q %v", g, s, c, ok)
	}
	var bad Boundary
	if err := json.Unmarshal([]byte(`{"type":"Point","coordinates":[104.7,29.3]}`), &bad); err == nil {
		t.Fatal("a Point boundary was accepted from JSON")
	}
}

func TestBoundaryValidation(t *testing.T) {
	const (
		fh0101 = `{code: FH-01-01, boundary: {type: Polygon, coordinates: [[[104.72, 29.30], [104.73, 29.30], [104.73, 29.31], [104.72, 29.31], [104.72, 29.30]]]}}`
		g0     = "streets[0].communities[0].grids[0]"
		g1     = "streets[0].communities[0].grids[1]"
		g2     = "streets[0].communities[0].grids[2]"
		m0     = "streets[1].communities[0].grids[0]"
		m1     = "streets[1].communities[0].grids[1]"
	)
	flow := func(ring string) string {
		return `{code: FH-01-01, boundary: {type: Polygon, coordinates: [[` + ring + `]]}}`
	}
	tests := []struct {
		name     string
		old, new string // replace old (which must occur once) by new
		want     []want
	}{
		{"ring not closed", fh0101, flow("[104.72, 29.30], [104.73, 29.30], [104.73, 29.31], [104.72, 29.31], [104.72, 29.301]"),
			[]want{{"FH-01-01", g0 + ".boundary.coordinates[0]", "the ring is not closed: its last position [104.72, 29.301] differs from its first [104.72, 29.3]"}}},
		{"bowtie", fh0101, flow("[104.72, 29.30], [104.73, 29.31], [104.73, 29.30], [104.72, 29.31], [104.72, 29.30]"),
			[]want{{"FH-01-01", g0 + ".boundary.coordinates[0]", "the ring intersects itself: its edge from position 0 crosses its edge from position 2"}}},
		{"ring touching itself", fh0101, flow("[104.72, 29.30], [104.73, 29.30], [104.725, 29.305], [104.73, 29.31], [104.72, 29.31], [104.725, 29.305], [104.72, 29.30]"),
			[]want{{"FH-01-01", g0 + ".boundary.coordinates[0]", "the ring intersects itself"}}},
		{"ring folding back", fh0101, flow("[104.72, 29.30], [104.73, 29.30], [104.725, 29.30], [104.725, 29.31], [104.72, 29.30]"),
			[]want{{"FH-01-01", g0 + ".boundary.coordinates[0]", "its edge from position 0 touches its edge from position 1"}}},
		{"too few positions", fh0101, flow("[104.72, 29.30], [104.73, 29.30], [104.72, 29.30]"),
			[]want{{"FH-01-01", g0 + ".boundary.coordinates[0]", "at least 4 positions (3 corners and the first again), got 3"}}},
		{"repeated corner only", fh0101, flow("[104.72, 29.30], [104.73, 29.30], [104.73, 29.30], [104.72, 29.30]"),
			[]want{{"FH-01-01", g0 + ".boundary.coordinates[0]", "fewer than 3 distinct corners"}}},
		{"latitude out of range", "- [104.74, 29.30]", "- [29.30, 104.74]",
			[]want{{"[29.30, 104.74]", g1 + ".boundary.coordinates[0][1]", "latitude 104.74 is outside -90..90"}}},
		{"longitude out of range", "- [104.74, 29.31]", "- [204.74, 29.31]",
			[]want{{"[204.74, 29.31]", g1 + ".boundary.coordinates[0][2]", "longitude 204.74 is outside -180..180"}}},
		{"wrong type", fh0101, strings.Replace(fh0101, "Polygon", "LineString", 1),
			[]want{{"FH-01-01", g0 + ".boundary.type", `want Polygon or MultiPolygon, got "LineString"`}}},
		{"type missing", "              type: Polygon\n", "",
			[]want{{"next:code: FH-01-02", g1 + ".boundary.type", "required (Polygon or MultiPolygon)"}}},
		{"coordinates missing", "              type: MultiPolygon\n              coordinates: [\n", "              type: MultiPolygon\n              coords: [\n",
			[]want{{"next:code: MCK-01-01", m0 + ".boundary.coordinates", "required"}, {"coords:", m0 + ".boundary.coords", `unknown field "coords"`}}},
		{"position not a number", "- [104.73, 29.31]", "- [104.73, north]",
			[]want{{"north", g1 + ".boundary.coordinates[0][3][1]", `want a number, got "north"`}}},
		{"position of one number", "- [104.73, 29.31]", "- [104.73]",
			[]want{{"- [104.73]", g1 + ".boundary.coordinates[0][3]", "a position is [lng, lat] (two numbers), got 1"}}},
		{"Polygon coordinates in a MultiPolygon", "type: Polygon\n              coordinates:\n                - - [104.73, 29.30]", "type: MultiPolygon\n              coordinates:\n                - - [104.73, 29.30]",
			[]want{{"- - [104.73, 29.30]", g1 + ".boundary.coordinates[0][0][0]", `want a position [lng, lat], got "104.73"`}}},
		{"boundary a list", fh0101, `{code: FH-01-01, boundary: [104.72, 29.30]}`,
			[]want{{"FH-01-01", g0 + ".boundary", "want a GeoJSON geometry {type: Polygon or MultiPolygon, coordinates: …}, got a list"}}},
		{"unknown boundary field", fh0101, strings.Replace(fh0101, "type: Polygon", "type: Polygon, bbox: [1, 2, 3, 4]", 1),
			[]want{{"FH-01-01", g0 + ".boundary.bbox", `unknown field "bbox"`}}},
		{"unknown grid field", "- FH-01-03", "- {code: FH-01-03, name: 三号网格}",
			[]want{{"三号网格", g2 + ".name", `unknown field "name"`}}},
		{"grid code missing", "- FH-01-03", "- {boundary: {type: Polygon, coordinates: [[[104.74, 29.30], [104.75, 29.30], [104.745, 29.31], [104.74, 29.30]]]}}",
			[]want{{"[104.745, 29.31]", g2 + ".code", "required"}}},
		{"grid a list", "- FH-01-03", "- [FH-01-03]",
			[]want{{"- [FH-01-03]", g2, "want a string, got a list"}}},
		{"hole outside its shell", "[[104.752, 29.302], [104.758, 29.302], [104.758, 29.308], [104.752, 29.308], [104.752, 29.302]]]]",
			"[[104.752, 29.312], [104.758, 29.312], [104.758, 29.318], [104.752, 29.318], [104.752, 29.312]]]]",
			[]want{{"[[104.752, 29.312]", m0 + ".boundary.coordinates[1][1]", "the hole is not inside the polygon's outer ring"}}},
		{"overlapping grids", "- FH-01-03", "- {code: FH-01-03, boundary: {type: Polygon, coordinates: [[[104.735, 29.30], [104.745, 29.30], [104.745, 29.31], [104.735, 29.31], [104.735, 29.30]]]}}",
			[]want{{"code: FH-01-03", g2 + ".boundary", "grid FH-01-03 overlaps grid FH-01-02 (line %d)"}}},
		{"same boundary twice", "- FH-01-03", "- {code: FH-01-03, boundary: {type: Polygon, coordinates: [[[104.73, 29.31], [104.73, 29.30], [104.74, 29.30], [104.74, 29.31], [104.73, 29.31]]]}}",
			[]want{{"code: FH-01-03", g2 + ".boundary", "grid FH-01-03 overlaps grid FH-01-02 (line %d)"}}},
		{"grid inside another", "- FH-01-03", "- {code: FH-01-03, boundary: {type: Polygon, coordinates: [[[104.73, 29.30], [104.735, 29.30], [104.735, 29.305], [104.73, 29.30]]]}}",
			[]want{{"code: FH-01-03", g2 + ".boundary", "grid FH-01-03 overlaps grid FH-01-02 (line %d)"}}},
		{"polygons of one grid overlap", "[[[104.72, 29.31], [104.73, 29.31], [104.73, 29.32], [104.72, 29.32], [104.72, 29.31]]],",
			"[[[104.755, 29.305], [104.765, 29.305], [104.765, 29.315], [104.755, 29.315], [104.755, 29.305]]],",
			[]want{{"next:code: MCK-01-01", m0 + ".boundary", "polygons 0 and 1 of the boundary overlap"}, {"next:fills the hole", m1 + ".boundary", "grid MCK-01-02 overlaps grid MCK-01-01 (line %d)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := strings.Count(boundaryDoc, tt.old); n != 1 {
				t.Fatalf("%q occurs %d times in boundaryDoc", tt.old, n)
			}
			doc := strings.Replace(boundaryDoc, tt.old, tt.new, 1)
			_, err := Parse("test.yaml", []byte(doc))
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse: err = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ve.Problems), len(tt.want), err)
			}
			for i, w := range tt.want {
				p := ve.Problems[i]
				line := lineAfter(t, doc, w.line)
				message := w.message
				if strings.Contains(message, "%d") {
					// The other grid of an overlapping pair, by the line of its boundary.
					other := "code: FH-01-02"
					if strings.Contains(message, "MCK-01-01") {
						other = "code: MCK-01-01"
					}
					message = fmt.Sprintf(message, lineOf(t, doc, other)+1)
				}
				if p.File != "test.yaml" || p.Line != line || p.Field != w.field || !strings.Contains(p.Message, message) {
					t.Errorf("problem %d = %+v\nwant test.yaml line %d, field %s, message containing %q", i, p, line, w.field, message)
				}
				if prefix := fmt.Sprintf("test.yaml:%d: %s: ", line, w.field); !strings.HasPrefix(p.String(), prefix) {
					t.Errorf("problem %d prints as %q, want it to start with %q", i, p.String(), prefix)
				}
			}
			t.Log(err)
		})
	}
}

// lineAfter is lineOf, or, for "next:needle", the line after needle's.
func lineAfter(t *testing.T, doc, needle string) int {
	t.Helper()
	if n, ok := strings.CutPrefix(needle, "next:"); ok {
		return lineOf(t, doc, n) + 1
	}
	return lineOf(t, doc, needle)
}

// Problems with boundaries are reported with the file's other problems,
// and do not hide the others of their grid.
func TestBoundaryProblemsWithOthers(t *testing.T) {
	doc := strings.Replace(boundaryDoc, "{code: FH-01-01, boundary: {type: Polygon,", "{code: FH.01, boundary: {type: Poly,", 1)
	doc = strings.Replace(doc, "tier: community", "tier: village", 1)
	_, err := Parse("multi.yaml", []byte(doc))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	var fields []string
	for _, p := range ve.Problems {
		fields = append(fields, p.Field)
	}
	want := []string{"streets[0].communities[0].grids[0].boundary.type", "streets[0].communities[0].grids[0].code", "items[0].tier"}
	if !reflect.DeepEqual(fields, want) {
		t.Fatalf("fields = %v, want %v\n%v", fields, want, err)
	}
}

// Grids that share edges or corners, or where one lies in the other's
// hole, are accepted; the checks of each pair are in geometry_test.go.
func TestAdjacentGridsAccepted(t *testing.T) {
	doc := strings.Replace(boundaryDoc, "- FH-01-03", "- {code: FH-01-03, boundary: {type: Polygon, coordinates: [[[104.74, 29.30], [104.75, 29.305], [104.74, 29.31], [104.74, 29.305], [104.74, 29.30]]]}}", 1)
	mustParse(t, doc)
}

// The boundaries shown under "Grid boundaries" in docs/jurisdiction.md
// are valid.
func TestDocBoundaryExampleIsValid(t *testing.T) {
	md, err := os.ReadFile("../docs/jurisdiction.md")
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	_, rest, ok := strings.Cut(string(md), "### Grid boundaries")
	if !ok {
		t.Fatal("no Grid boundaries section in docs/jurisdiction.md")
	}
	_, rest, _ = strings.Cut(rest, "```\n")
	example, _, _ := strings.Cut(rest, "```")
	doc := "district: {code: DA}\nstreets:\n  - code: FH\n    communities:\n      - code: FH-01\n" +
		indent(example, "        ") + "items: []\n"
	j := mustParse(t, doc)
	c := j.Streets[0].Communities[0]
	if len(c.Grids) != 3 || len(c.Boundaries) != 2 || len(c.Boundaries["FH-01-03"].MultiPolygon()) != 2 {
		t.Fatalf("example parsed as %+v", c)
	}
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}

// A problem in one community (here an unknown field and a name that is a
// list) neither drops it nor shifts the fields of the next.
func TestCommunityProblemsKeepPaths(t *testing.T) {
	doc := strings.Replace(boundaryDoc, "      - code: FH-01\n", "      - code: FH-01\n        nmae: 凤凰社区\n        name: [凤凰社区]\n", 1)
	doc = strings.Replace(doc, "code: MCK-01-02 ", "code: MCK.01.02 ", 1)
	_, err := Parse("test.yaml", []byte(doc))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, p := range ve.Problems {
		got = append(got, fmt.Sprintf("%d %s %s", p.Line, p.Field, p.Message))
	}
	want := []string{
		fmt.Sprintf("%d streets[0].communities[0].nmae unknown field \"nmae\"", lineOf(t, doc, "nmae:")),
		fmt.Sprintf("%d streets[0].communities[0].name want a string, got a list", lineOf(t, doc, "name: [凤凰社区]")),
		fmt.Sprintf("%d streets[1].communities[0].grids[1].code code \"MCK.01.02\" may contain only letters, digits, \"-\" and \"_\", and must start with a letter or digit", lineOf(t, doc, "MCK.01.02")),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
