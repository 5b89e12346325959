package jurisdiction

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

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
				gp := idx(cp+".grids", g)
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
