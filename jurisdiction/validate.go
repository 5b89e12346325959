package jurisdiction

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"gopkg.in/yaml.v3"

	"github.com/whistle-city/whistle/incident"
)

// codeRE is what codes may look like: they appear in NATS subjects
// (whistle.tasks.<department>), URLs and tokens.
var codeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// validator collects problems. ix is nil when validating a value that did
// not come from a file (ValidateItem); then a field counts as present when
// it is not zero.
type validator struct {
	file     string
	ix       *nodeIndex
	skip     []Problem // decode problems: no second report at, above or below their fields
	problems []Problem
}

func (v *validator) addf(field, format string, args ...any) {
	for _, s := range v.skip {
		if s.Field != "" && (within(field, s.Field) || within(s.Field, field)) {
			return
		}
	}
	p := Problem{File: v.file, Field: field, Message: fmt.Sprintf(format, args...)}
	if v.ix != nil {
		p.Line = v.ix.line(field)
	}
	v.problems = append(v.problems, p)
}

// within reports whether path is base or lies below it.
func within(path, base string) bool {
	return path == base || strings.HasPrefix(path, base+".") || strings.HasPrefix(path, base+"[")
}

// present reports whether field was in the file (or, outside a file, set).
func (v *validator) present(field string, set bool) bool {
	if v.ix != nil {
		return v.ix.has(field)
	}
	return set
}

// line returns the line of field, for "first at line N" hints.
func (v *validator) line(field string) int {
	if v.ix == nil {
		return 0
	}
	return v.ix.line(field)
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

func idx(prefix string, i int) string { return prefix + "[" + strconv.Itoa(i) + "]" }

// code checks a required code's presence and shape.
func (v *validator) code(field, code string) bool {
	if code == "" {
		v.addf(field, "required")
		return false
	}
	if !codeRE.MatchString(code) {
		v.addf(field, "code %q may contain only letters, digits, \"-\" and \"_\", and must start with a letter or digit", code)
		return false
	}
	return true
}

// seen records where each code was first defined, to report duplicates.
type seen map[string]string // code → field path of its first definition

func (v *validator) unique(s seen, what, field, code string) {
	if code == "" {
		return
	}
	if first, dup := s[code]; dup {
		v.addf(field, "duplicate %s code %q (first at line %d)", what, code, v.line(first))
		return
	}
	s[code] = field
}

func (v *validator) jurisdiction(j *Jurisdiction) {
	v.code("district.code", j.District.Code)
	if _, err := time.LoadLocation(j.District.Timezone); err != nil || j.District.Timezone == "Local" {
		v.addf("district.timezone", "unknown time zone %q (want an IANA name such as Asia/Shanghai)", j.District.Timezone)
	}

	depts := seen{}
	for i, d := range j.Departments {
		p := idx("departments", i)
		if v.code(p+".code", d.Code) {
			v.unique(depts, "department", p+".code", d.Code)
		}
		if d.Name == "" {
			v.addf(p+".name", "required")
		}
	}

	streets, communities := seen{}, seen{}
	grids := map[string]string{} // grid → field path of its community's code
	for i, s := range j.Streets {
		p := idx("streets", i)
		if v.code(p+".code", s.Code) {
			v.unique(streets, "street", p+".code", s.Code)
		}
		for k, c := range s.Communities {
			cp := idx(p+".communities", k)
			if v.code(cp+".code", c.Code) {
				v.unique(communities, "community", cp+".code", c.Code)
			}
			for g, grid := range c.Grids {
				gp := v.gridField(idx(cp+".grids", g))
				if !v.code(gp, grid) {
					continue
				}
				first, dup := grids[grid]
				switch {
				case !dup:
					grids[grid] = cp + ".code"
				case first == cp+".code":
					v.addf(gp, "duplicate grid %q", grid)
				default:
					owner := "another community"
					if n := v.communityAt(j, first); n != "" {
						owner = "community " + n
					}
					v.addf(gp, "grid %q is already in %s (line %d)", grid, owner, v.line(first))
				}
			}
		}
	}

	v.boundaries(j)

	v.assessment(j.Assessment)
	if !j.Assessment.RatingWindow.Positive() {
		v.addf("assessment.rating_window", "must be a positive duration (\"168h\", \"5wd\"), got %s", j.Assessment.RatingWindow)
	}
	v.escalation("escalation", j.Escalation)
	v.calendar(j.CalendarOverrides)
	if j.MaxReopens < 0 {
		v.addf("max_reopens", "must not be negative, got %d", j.MaxReopens)
	}
	if !j.Enforcement.Ack.Positive() {
		v.addf("enforcement.ack", "must be a positive duration (\"30m\", \"1wd\"), got %s", j.Enforcement.Ack)
	}
	for i, d := range j.Enforcement.Domains {
		if strings.TrimSpace(d) == "" {
			v.addf(idx("enforcement.domains", i), "must not be empty")
		}
	}
	if j.Disputes.MaxReturns < 1 {
		v.addf("disputes.max_returns", "must be at least 1 (a department may return a task once), got %d", j.Disputes.MaxReturns)
	}
	v.duplicates(j.Duplicates)

	items := seen{}
	for i, it := range j.Items {
		p := idx("items", i)
		v.item(j, p, it)
		if it.Code != "" && codeRE.MatchString(it.Code) {
			v.unique(items, "item", p+".code", it.Code)
		}
	}
}

// gridField returns the field of the grid code of the grid entry at path:
// path itself for a plain code, path.code for a {code, boundary} mapping.
func (v *validator) gridField(path string) string {
	if v.ix != nil && v.ix.kind(path) == yaml.MappingNode {
		return path + ".code"
	}
	return path
}

// communityAt returns the code of the community whose code field is at path
// (streets[i].communities[k].code).
func (v *validator) communityAt(j *Jurisdiction, path string) string {
	var i, k int
	if _, err := fmt.Sscanf(path, "streets[%d].communities[%d].code", &i, &k); err != nil {
		return ""
	}
	return j.Streets[i].Communities[k].Code
}

func (v *validator) assessment(a Assessment) {
	weights := []struct {
		name string
		w    float64
	}{{"street", a.Street}, {"public", a.Public}, {"timeliness", a.Timeliness}}
	negative := false
	for _, w := range weights {
		if w.w < 0 || math.IsNaN(w.w) {
			v.addf("assessment."+w.name, "must not be negative, got %v", w.w)
			negative = true
		}
	}
	if sum := a.Street + a.Public + a.Timeliness; !negative && !(math.Abs(sum-1) <= 1e-9) {
		v.addf("assessment", "weights street + public + timeliness sum to %.6g, want 1", sum)
	}
	if !(a.SatisfactionTarget > 0 && a.SatisfactionTarget <= 1) {
		v.addf("assessment.satisfaction_target", "must be in (0, 1], got %v", a.SatisfactionTarget)
	}
	for _, t := range []struct {
		name string
		x    float64
	}{{"response", a.Targets.Response}, {"on_time_resolution", a.Targets.OnTimeResolution}, {"resolution", a.Targets.Resolution}} {
		if !(t.x >= 0 && t.x <= 1) {
			v.addf("assessment.targets."+t.name, "must be in (0, 1] (or left out for satisfaction_target), got %v", t.x)
		}
	}
}

func (v *validator) escalation(p string, e Escalation) {
	if !(e.WarnAt > 0 && e.WarnAt < 1) {
		v.addf(p+".warn_at", "must be between 0 and 1 (exclusive), got %v", e.WarnAt)
	}
	if len(e.Levels) == 0 {
		v.addf(p+".levels", "at least one level is required")
	}
	for i, l := range e.Levels {
		lp := idx(p+".levels", i)
		if l.Negative() {
			v.addf(lp, "must not be negative, got %v", l)
			continue
		}
		if i > 0 && !e.Levels[i-1].Negative() && l.approx() <= e.Levels[i-1].approx() {
			v.addf(lp, "%v must come after the previous level (%v): levels must increase", l, e.Levels[i-1])
		}
	}
}

func (v *validator) calendar(c CalendarOverrides) {
	dates := func(field string, list []string) {
		for i, d := range list {
			if _, err := time.Parse(DateLayout, d); err != nil {
				v.addf(idx(field, i), "%q is not a date (want YYYY-MM-DD)", d)
			}
		}
	}
	dates("calendar.holidays", c.Holidays)
	dates("calendar.workdays", c.Workdays)
	for i, d := range c.Workdays {
		if slices.Contains(c.Holidays, d) {
			v.addf(idx("calendar.workdays", i), "%s is also listed under holidays", d)
		}
	}
}

// duplicates checks the duplicates section: a distance in (0, Max] metres
// and two positive clock-time windows.
func (v *validator) duplicates(d Duplicates) {
	if !(d.DistanceM > 0 && d.DistanceM <= MaxDuplicateDistanceM) {
		v.addf("duplicates.distance_m", "must be more than 0 and at most %d metres, got %v", MaxDuplicateDistanceM, d.DistanceM)
	}
	for _, w := range []struct {
		field string
		d     Duration
	}{{"duplicates.window", d.Window}, {"duplicates.repeat_window", d.RepeatWindow}} {
		switch {
		case w.d.WorkDays != 0:
			v.addf(w.field, "must be clock time such as \"24h\" or \"720h\", not working days (%v)", w.d)
		case !w.d.Positive():
			v.addf(w.field, "must be positive, got %v", w.d)
		}
	}
}

// item checks one responsibility-list item; p is its path ("items[3]", or
// "" outside a file).
func (v *validator) item(j *Jurisdiction, p string, it Item) {
	v.code(join(p, "code"), it.Code)
	if it.Name == "" {
		v.addf(join(p, "name"), "required")
	}
	switch {
	case it.Tier == "":
		v.addf(join(p, "tier"), "required (community, street or department)")
	case !it.Tier.Valid():
		v.addf(join(p, "tier"), "unknown tier %q (want community, street or department)", it.Tier)
	}
	known := func(code string) bool { _, ok := j.Department(code); return ok }
	switch {
	case it.Lead == "" && it.Tier == incident.TierDepartment:
		v.addf(join(p, "lead"), "required for a department-tier item")
	case it.Lead != "" && !known(it.Lead):
		v.addf(join(p, "lead"), "unknown department %q", it.Lead)
	}
	for i, c := range it.Cooperating {
		cp := idx(join(p, "cooperating"), i)
		switch {
		case c == "":
			v.addf(cp, "empty department code")
		case c == it.Lead:
			v.addf(cp, "lead %s is also listed as cooperating", c)
		case !known(c):
			v.addf(cp, "unknown department %q", c)
		case slices.Contains(it.Cooperating[:i], c):
			v.addf(cp, "department %s is listed twice", c)
		}
	}

	sp := join(p, "sla")
	if !v.present(sp, it.SLA != SLA{}) {
		v.addf(sp, "required (ack, resolve, feedback)")
	} else {
		v.duration(join(sp, "ack"), it.SLA.Ack, it.Tier == incident.TierDepartment)
		v.duration(join(sp, "resolve"), it.SLA.Resolve, true)
		v.duration(join(sp, "feedback"), it.SLA.Feedback, true)
	}
	if it.Escalation != nil {
		v.escalation(join(p, "escalation"), *it.Escalation)
	}
	ap := join(p, "attributes")
	for i, a := range it.Attributes {
		for _, msg := range a.check() {
			v.addf(idx(ap, i), "%s", msg)
		}
		if slices.ContainsFunc(it.Attributes[:i], func(b Attribute) bool { return b.Code == a.Code }) {
			v.addf(idx(ap, i), "attribute code %q twice", a.Code)
		}
	}
}

// duration checks an SLA duration: required ones must be present, and any
// present one must be positive.
func (v *validator) duration(field string, d Duration, required bool) {
	if !v.present(field, !d.IsZero()) {
		if required {
			v.addf(field, "required")
		}
		return
	}
	if !d.Positive() {
		v.addf(field, "must be positive, got %v", d)
	}
}

// gridShape is a grid boundary that passed the checks of one boundary and
// takes part in the overlap check.
type gridShape struct {
	code  string
	field string // the boundary's path, "streets[0].communities[1].grids[2].boundary"
	polys orb.MultiPolygon
}

// boundaries checks every grid boundary of the file: each on its own
// (boundary), then that no two overlap (overlaps).
func (v *validator) boundaries(j *Jurisdiction) {
	var shapes []gridShape
	seen := map[string]bool{}
	for i, s := range j.Streets {
		for k, c := range s.Communities {
			cp := idx(idx("streets", i)+".communities", k)
			for g, code := range c.Grids {
				b, ok := c.Boundaries[code]
				if !ok || seen[code] {
					continue
				}
				seen[code] = true
				bp := idx(cp+".grids", g) + ".boundary"
				if v.boundary(bp, b) {
					shapes = append(shapes, gridShape{code, bp, b.MultiPolygon()})
				}
			}
		}
	}
	v.overlaps(shapes)
}

// boundary checks one grid's boundary, at path bp: a Polygon or
// MultiPolygon with at least one polygon, each polygon with an outer ring,
// each ring valid (ring), and each hole inside its polygon's outer ring.
// It reports whether the boundary passed.
func (v *validator) boundary(bp string, b Boundary) bool {
	_, multi := b.Geometry.(orb.MultiPolygon)
	polys := b.MultiPolygon()
	if polys == nil {
		v.addf(bp, "want a Polygon or MultiPolygon")
		return false
	}
	if len(polys) == 0 {
		v.addf(bp+".coordinates", "a MultiPolygon needs at least one polygon")
		return false
	}
	good := true
	for k, poly := range polys {
		pp := bp + ".coordinates"
		if multi {
			pp = idx(pp, k)
		}
		if len(poly) == 0 {
			v.addf(pp, "a polygon needs at least its outer ring")
			good = false
			continue
		}
		rings := true
		for r, ring := range poly {
			rings = v.ring(idx(pp, r), ring) && rings
		}
		if !rings {
			good = false
			continue
		}
		for r := 1; r < len(poly); r++ {
			if !holeInside(poly[0], poly[r]) {
				v.addf(idx(pp, r), "the hole is not inside the polygon's outer ring (ring 0)")
				good = false
			}
		}
	}
	return good
}

// ring checks one ring at path rp: at least 4 positions, each [lng, lat]
// in range, closed (the last position is the first), at least 3 distinct
// corners, and not intersecting itself. It reports the first problem and
// whether there was none.
func (v *validator) ring(rp string, r orb.Ring) bool {
	if len(r) < 4 {
		v.addf(rp, "a ring needs at least 4 positions (3 corners and the first again), got %d", len(r))
		return false
	}
	for p, pt := range r {
		if !(pt[0] >= -180 && pt[0] <= 180) {
			v.addf(idx(rp, p), "longitude %v is outside -180..180 (a position is [lng, lat])", pt[0])
			return false
		}
		if !(pt[1] >= -90 && pt[1] <= 90) {
			v.addf(idx(rp, p), "latitude %v is outside -90..90 (a position is [lng, lat]: are they swapped?)", pt[1])
			return false
		}
	}
	if first, last := r[0], r[len(r)-1]; first != last {
		v.addf(rp, "the ring is not closed: its last position %s differs from its first %s", position(last), position(first))
		return false
	}
	if pts, _ := corners(r); len(pts) < 4 {
		v.addf(rp, "the ring has fewer than 3 distinct corners")
		return false
	}
	if a, b, cross, found := selfIntersection(r); found {
		how := "touches"
		if cross {
			how = "crosses"
		}
		v.addf(rp, "the ring intersects itself: its edge from position %d %s its edge from position %d", a, how, b)
		return false
	}
	return true
}

// position formats a point as the file writes it, [lng, lat].
func position(p orb.Point) string { return fmt.Sprintf("[%v, %v]", p[0], p[1]) }

// overlaps reports every pair of grids whose boundaries overlap (their
// interiors meet; sharing edges or corners is fine), at the boundary that
// comes later in the file and naming the other with its line, and every
// grid whose own polygons overlap. Polygons are swept in order of their
// west edge and only those whose bounding boxes overlap are compared
// edge by edge, so 10,000 grids cost about as many comparisons as
// neighbours.
func (v *validator) overlaps(shapes []gridShape) {
	type part struct {
		shape, poly int
		b           orb.Bound
	}
	var parts []part
	for s, sh := range shapes {
		for k, poly := range sh.polys {
			parts = append(parts, part{s, k, poly.Bound()})
		}
	}
	slices.SortFunc(parts, func(a, b part) int { return cmpFloat(a.b.Min[0], b.b.Min[0]) })
	reported := map[[2]int]bool{}
	for i, a := range parts {
		for _, b := range parts[i+1:] {
			if b.b.Min[0] >= a.b.Max[0] {
				break
			}
			if b.b.Min[1] >= a.b.Max[1] || a.b.Min[1] >= b.b.Max[1] {
				continue
			}
			pair := [2]int{min(a.shape, b.shape), max(a.shape, b.shape)}
			if reported[pair] || !interiorsMeet(shapes[a.shape].polys[a.poly], shapes[b.shape].polys[b.poly]) {
				continue
			}
			reported[pair] = true
			first, second := shapes[pair[0]], shapes[pair[1]]
			if pair[0] == pair[1] {
				v.addf(first.field, "polygons %d and %d of the boundary overlap", min(a.poly, b.poly), max(a.poly, b.poly))
				continue
			}
			v.addf(second.field, "grid %s overlaps grid %s (line %d): neighbouring grids may share edges and corners, not area",
				second.code, first.code, v.line(first.field))
		}
	}
}
