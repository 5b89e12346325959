package jurisdiction

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"gopkg.in/yaml.v3"
)

// Boundary is the area of a grid: a GeoJSON Polygon or MultiPolygon
// geometry, positions in [lng, lat] order (WGS 84 degrees). In JSON it is
// the GeoJSON geometry object ({"type": "Polygon", "coordinates": …}).
type Boundary struct {
	// Geometry is an orb.Polygon or an orb.MultiPolygon, as the file wrote
	// it; nil for the zero Boundary.
	Geometry orb.Geometry
}

// MultiPolygon returns the boundary's polygons: the polygon of a Polygon
// boundary as a MultiPolygon of one, those of a MultiPolygon as they are,
// nil for any other geometry.
func (b Boundary) MultiPolygon() orb.MultiPolygon {
	switch g := b.Geometry.(type) {
	case orb.Polygon:
		return orb.MultiPolygon{g}
	case orb.MultiPolygon:
		return g
	}
	return nil
}

// MarshalJSON writes the boundary as a GeoJSON geometry object, or null
// for the zero Boundary.
func (b Boundary) MarshalJSON() ([]byte, error) {
	if b.Geometry == nil {
		return []byte("null"), nil
	}
	return geojson.NewGeometry(b.Geometry).MarshalJSON()
}

// UnmarshalJSON reads a GeoJSON Polygon or MultiPolygon geometry object;
// null leaves the boundary zero, and any other geometry type is an error.
func (b *Boundary) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*b = Boundary{}
		return nil
	}
	g, err := geojson.UnmarshalGeometry(data)
	if err != nil {
		return fmt.Errorf("jurisdiction: boundary: %w", err)
	}
	switch g.Coordinates.(type) {
	case orb.Polygon, orb.MultiPolygon:
		b.Geometry = g.Coordinates
		return nil
	}
	return fmt.Errorf("jurisdiction: boundary: want a Polygon or MultiPolygon, got %s", g.Type)
}

// communityFile is a community as the file writes it: its grids are codes
// or {code, boundary} mappings.
type communityFile struct {
	Code  string      `yaml:"code"`
	Name  string      `yaml:"name"`
	Grids []gridEntry `yaml:"grids"`
}

// decodeNotes are the problems found while decoding one community. They
// are kept on the Community until Parse reports them: returning them from
// UnmarshalYAML would make the YAML decoder drop the whole community (and
// shift the paths of every later one).
type decodeNotes struct {
	typeErrs []string  // messages of a *yaml.TypeError ("line 12: field x not found in type …")
	problems []Problem // fields relative to the community ("grids[1].boundary.type")
}

// UnmarshalYAML reads a community whose grids are each either a grid code
// or a mapping {code, boundary} (see Boundary). It fills Grids with the
// codes in order and Boundaries with the boundaries given. Problems in
// the community are not returned: Parse reports them with their lines and
// fields, and a community decoded outside Parse keeps what could be read.
func (c *Community) UnmarshalYAML(unmarshal func(any) error) error {
	var f communityFile
	err := unmarshal(&f)
	*c = Community{Code: f.Code, Name: f.Name}
	var notes decodeNotes
	if err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return err
		}
		notes.typeErrs = slices.Clone(te.Errors) // the decoder reuses the array
	}
	if f.Grids != nil {
		c.Grids = make([]string, 0, len(f.Grids))
	}
	for g, e := range f.Grids {
		c.Grids = append(c.Grids, e.Code)
		notes.typeErrs = append(notes.typeErrs, e.typeErrs...)
		for _, p := range e.problems {
			p.Field = strings.TrimSuffix(join(idx("grids", g), p.Field), ".")
			notes.problems = append(notes.problems, p)
		}
		if e.Boundary == nil {
			continue
		}
		if c.Boundaries == nil {
			c.Boundaries = map[string]Boundary{}
		}
		if _, dup := c.Boundaries[e.Code]; !dup {
			c.Boundaries[e.Code] = *e.Boundary
		}
	}
	if len(notes.typeErrs) > 0 || len(notes.problems) > 0 {
		c.notes = &notes
	}
	return nil
}

// gridEntry is one entry of a community's grids: a code, or a mapping with
// a code and a boundary. Like Community, it keeps its problems instead of
// returning them, so that no entry is dropped.
type gridEntry struct {
	Code     string
	Boundary *Boundary
	typeErrs []string
	problems []Problem // fields relative to the entry ("boundary.coordinates[0]")
}

// gridMapping is the mapping form of a grid entry.
type gridMapping struct {
	Code     string    `yaml:"code"`
	Boundary yaml.Node `yaml:"boundary"`
}

// UnmarshalYAML reads a grid code or a {code, boundary} mapping.
func (g *gridEntry) UnmarshalYAML(unmarshal func(any) error) error {
	err := unmarshal(&g.Code)
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	if !slices.ContainsFunc(te.Errors, func(m string) bool { return strings.Contains(m, "cannot unmarshal !!map into") }) {
		// Neither a code nor a mapping: "want a string, got a list".
		g.typeErrs = slices.Clone(te.Errors)
		return nil
	}
	var m gridMapping
	err = unmarshal(&m)
	g.Code = m.Code
	if m.Boundary.Kind != 0 {
		b, problems := decodeBoundary(&m.Boundary)
		g.problems = problems
		if len(problems) == 0 {
			g.Boundary = &b
		}
	}
	if errors.As(err, &te) {
		g.typeErrs = slices.Clone(te.Errors)
		return nil
	}
	return err
}

// resolveAlias returns the node an alias stands for (n itself otherwise).
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// nodeWord describes a node's kind the way a file's author thinks of it.
func nodeWord(n *yaml.Node) string {
	switch resolveAlias(n).Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return strconv.Quote(n.Value)
}

// decodeBoundary reads a boundary written as a GeoJSON geometry object
// {type, coordinates}. It checks the shape of the coordinates itself (to
// name the line of what is wrong), then decodes them with orb/geojson. The
// problems' fields are relative to the grid entry ("boundary.type").
// Geometric validity is checked later (validator.boundaries).
func decodeBoundary(n *yaml.Node) (Boundary, []Problem) {
	var problems []Problem
	add := func(n *yaml.Node, field, format string, args ...any) {
		problems = append(problems, Problem{Line: n.Line, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		add(n, "boundary", "want a GeoJSON geometry {type: Polygon or MultiPolygon, coordinates: …}, got %s", nodeWord(n))
		return Boundary{}, problems
	}
	// A field that is missing is reported without a line, so Parse reports
	// it where it should have been: at the boundary key.
	missing := func(field, msg string) { problems = append(problems, Problem{Field: field, Message: msg}) }
	var typ, coords *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		field := "boundary." + k.Value
		switch {
		case k.Value != "type" && k.Value != "coordinates":
			add(k, field, "unknown field %q (a boundary has type and coordinates)", k.Value)
		case (k.Value == "type" && typ != nil) || (k.Value == "coordinates" && coords != nil):
			add(k, field, "duplicate key %q", k.Value)
		case k.Value == "type":
			typ = v
		default:
			coords = v
		}
	}
	depth := 0
	switch {
	case typ == nil:
		missing("boundary.type", "required (Polygon or MultiPolygon)")
	case typ.Kind == yaml.ScalarNode && typ.Value == "Polygon":
		depth = 3
	case typ.Kind == yaml.ScalarNode && typ.Value == "MultiPolygon":
		depth = 4
	default:
		add(typ, "boundary.type", "want Polygon or MultiPolygon, got %s", nodeWord(typ))
	}
	if coords == nil {
		missing("boundary.coordinates", "required")
	}
	if len(problems) > 0 {
		return Boundary{}, problems
	}
	value, ok := readCoordinates(coords, depth, "boundary.coordinates", add)
	if !ok {
		return Boundary{}, problems
	}
	data, err := json.Marshal(map[string]any{"type": typ.Value, "coordinates": value})
	if err == nil {
		var g *geojson.Geometry
		if g, err = geojson.UnmarshalGeometry(data); err == nil {
			return Boundary{Geometry: g.Coordinates}, nil
		}
	}
	add(coords, "boundary.coordinates", "cannot read the coordinates: %v", err)
	return Boundary{}, problems
}

// readCoordinates checks that n is a list nested depth deep whose innermost
// lists (positions) hold two or three numbers ([lng, lat] or [lng, lat,
// altitude]), and returns it as nested []any of float64. Only the first
// problem is reported (one misplaced bracket would otherwise report every
// position), under field.
func readCoordinates(n *yaml.Node, depth int, field string, add func(*yaml.Node, string, string, ...any)) (any, bool) {
	n = resolveAlias(n)
	if n.Kind != yaml.SequenceNode {
		if depth == 1 {
			add(n, field, "want a position [lng, lat], got %s", nodeWord(n))
		} else {
			add(n, field, "want a list, got %s", nodeWord(n))
		}
		return nil, false
	}
	if depth == 1 {
		if len(n.Content) != 2 && len(n.Content) != 3 {
			add(n, field, "a position is [lng, lat] (two numbers), got %d", len(n.Content))
			return nil, false
		}
		pos := make([]any, len(n.Content))
		for i, c := range n.Content {
			c = resolveAlias(c)
			x, ok := number(c)
			if !ok {
				add(c, idx(field, i), "want a number, got %s", nodeWord(c))
				return nil, false
			}
			if math.IsInf(x, 0) || math.IsNaN(x) {
				add(c, idx(field, i), "want a finite number, got %s", c.Value)
				return nil, false
			}
			pos[i] = x
		}
		return pos, true
	}
	out := make([]any, len(n.Content))
	for i, c := range n.Content {
		v, ok := readCoordinates(c, depth-1, idx(field, i), add)
		if !ok {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// number returns the value of a YAML number: strconv reads the common
// forms, and the YAML decoder the rest (.inf, 0x1F, 1_000).
func number(n *yaml.Node) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		return 0, false
	}
	if x, err := strconv.ParseFloat(n.Value, 64); err == nil {
		return x, true
	}
	var x float64
	return x, n.Decode(&x) == nil
}
