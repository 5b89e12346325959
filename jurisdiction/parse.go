package jurisdiction

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/whistle-city/whistle/incident"
)

// Load reads the jurisdiction file at path and parses it (see Parse). It
// also returns the file's bytes, so the caller can store exactly what was
// loaded. Problems in the file are reported as a *ValidationError naming
// path; a file that cannot be read is reported as the os error.
func Load(path string) (*Jurisdiction, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("jurisdiction: read %s: %w", path, err)
	}
	j, err := Parse(path, data)
	if err != nil {
		return nil, data, err
	}
	return j, data, nil
}

// Parse decodes and validates a jurisdiction file; filename is only used in
// problem reports. Unknown fields are errors. Fields left out get their
// defaults: district.timezone Asia/Shanghai; assessment weights 0.5/0.2/0.3
// when none is given; assessment.satisfaction_target 0.95; escalation.warn_at
// 0.8 and escalation.levels [0s, 2h, 1wd]; an item's escalation override
// takes what it leaves out from the district's; max_reopens
// incident.DefaultLimits.MaxReopens; duplicates.distance_m 50, duplicates.window 24h
// and duplicates.repeat_window 720h (DefaultDuplicates).
//
// A grid may be given as a mapping {code, boundary} with a GeoJSON Polygon
// or MultiPolygon (see Community.UnmarshalYAML); Parse checks each boundary
// and that no two overlap, and indexes them for Locate.
//
// When anything is wrong, Parse returns a *ValidationError listing every
// problem found (not just the first), each with file, line and field path.
func Parse(filename string, data []byte) (*Jurisdiction, error) {
	fail := func(line int, field, msg string) error {
		return &ValidationError{Problems: []Problem{{File: filename, Line: line, Field: field, Message: msg}}}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fail(0, "", "the file is empty")
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line, msg := syntaxError(err)
		return nil, fail(line, "", msg)
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return nil, fail(doc.Line, "", "want a mapping with district, departments, streets, … at the top")
	}
	ix := newNodeIndex(&root)

	var j Jurisdiction
	var problems []Problem
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&j); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			line, msg := syntaxError(err)
			return nil, fail(line, "", msg)
		}
		for _, m := range te.Errors {
			problems = append(problems, ix.decodeProblem(filename, m))
		}
	}
	problems = append(problems, j.takeDecodeNotes(filename, ix)...)
	j.applyDefaults(ix)

	v := &validator{file: filename, ix: ix, skip: problems}
	v.jurisdiction(&j)
	problems = append(problems, v.problems...)
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
		return nil, &ValidationError{Problems: problems}
	}
	j.index()
	return &j, nil
}

// takeDecodeNotes returns the problems the communities met while decoding
// (see Community.UnmarshalYAML), with their files and full fields, and
// clears them from the communities.
func (j *Jurisdiction) takeDecodeNotes(filename string, ix *nodeIndex) []Problem {
	var problems []Problem
	for i := range j.Streets {
		for k := range j.Streets[i].Communities {
			c := &j.Streets[i].Communities[k]
			if c.notes == nil {
				continue
			}
			cp := idx(idx("streets", i)+".communities", k)
			for _, m := range c.notes.typeErrs {
				problems = append(problems, ix.decodeProblem(filename, m))
			}
			for _, p := range c.notes.problems {
				p.File, p.Field = filename, join(cp, p.Field)
				if p.Line == 0 {
					p.Line = ix.line(p.Field) // a missing field: where it should have been
				}
				problems = append(problems, p)
			}
			c.notes = nil
		}
	}
	return problems
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError extracts the line from a yaml.v3 syntax error.
func syntaxError(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, m[2]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// applyDefaults fills in what the file left out (see Parse).
func (j *Jurisdiction) applyDefaults(ix *nodeIndex) {
	if j.District.Timezone == "" {
		j.District.Timezone = DefaultTimezone
	}
	if !ix.has("assessment.street") && !ix.has("assessment.public") && !ix.has("assessment.timeliness") {
		j.Assessment.Street = DefaultAssessment.Street
		j.Assessment.Public = DefaultAssessment.Public
		j.Assessment.Timeliness = DefaultAssessment.Timeliness
	}
	if !ix.has("assessment.satisfaction_target") {
		j.Assessment.SatisfactionTarget = DefaultSatisfactionTarget
	}
	if !ix.has("assessment.rating_window") {
		j.Assessment.RatingWindow = DefaultRatingWindow
	}
	if !ix.has("escalation.warn_at") {
		j.Escalation.WarnAt = DefaultWarnAt
	}
	if !ix.has("escalation.levels") {
		j.Escalation.Levels = DefaultEscalationLevels()
	}
	if !ix.has("max_reopens") {
		j.MaxReopens = incident.DefaultLimits.MaxReopens
	}
	if !ix.has("enforcement.ack") {
		j.Enforcement.Ack = DefaultEnforcementAck
	}
	if !ix.has("disputes.max_returns") {
		j.Disputes.MaxReturns = incident.DefaultLimits.MaxReturns
	}
	if !ix.has("duplicates.distance_m") {
		j.Duplicates.DistanceM = DefaultDuplicates.DistanceM
	}
	if !ix.has("duplicates.window") {
		j.Duplicates.Window = DefaultDuplicates.Window
	}
	if !ix.has("duplicates.repeat_window") {
		j.Duplicates.RepeatWindow = DefaultDuplicates.RepeatWindow
	}
	for i := range j.Items {
		e := j.Items[i].Escalation
		if e == nil {
			continue
		}
		p := "items[" + strconv.Itoa(i) + "].escalation."
		if !ix.has(p + "warn_at") {
			e.WarnAt = j.Escalation.WarnAt
		}
		if !ix.has(p + "levels") {
			e.Levels = slices.Clone(j.Escalation.Levels)
		}
	}
}

// ValidateItem checks an item against j (its departments and the rules Parse
// applies to items) as the catalogue API receives it, outside a file. It
// returns the item with an escalation override completed from the
// district's (a zero warn_at or no levels are taken from j.Escalation), and
// a *ValidationError whose field paths are relative to the item
// ("lead", "sla.ack").
func (j *Jurisdiction) ValidateItem(it Item) (Item, error) {
	it = j.completeEscalation(it)
	v := &validator{}
	v.item(j, "", it)
	if len(v.problems) > 0 {
		return it, &ValidationError{Problems: v.problems}
	}
	return it, nil
}

// completeEscalation returns it with its escalation override (if any)
// completed from the district's: a zero warn_at or no levels are taken from
// j.Escalation. The override is copied, never changed in place.
func (j *Jurisdiction) completeEscalation(it Item) Item {
	if it.Escalation == nil {
		return it
	}
	e := *it.Escalation
	if e.WarnAt == 0 {
		e.WarnAt = j.Escalation.WarnAt
	}
	if len(e.Levels) == 0 {
		e.Levels = slices.Clone(j.Escalation.Levels)
	} else {
		e.Levels = slices.Clone(e.Levels)
	}
	it.Escalation = &e
	return it
}

// WithItems returns j's organisation (district, departments, streets,
// assessment, escalation, calendar, max_reopens) with items as its whole
// responsibility list, validated and indexed: each item is checked as
// ValidateItem checks it (and its escalation override completed the same
// way), and item codes must be unique. Problems name an item by its index
// in items ("items[2].lead"). This is how a list kept outside the file (the
// living catalogue) becomes a Jurisdiction; j itself is not changed.
func (j *Jurisdiction) WithItems(items []Item) (*Jurisdiction, error) {
	c := *j
	c.Items = make([]Item, len(items))
	v := &validator{}
	first := map[string]int{}
	for i, it := range items {
		it = j.completeEscalation(it)
		p := idx("items", i)
		v.item(j, p, it)
		if k, dup := first[it.Code]; dup && it.Code != "" {
			v.addf(p+".code", "duplicate item code %q (also items[%d])", it.Code, k)
		} else {
			first[it.Code] = i
		}
		c.Items[i] = it
	}
	if len(v.problems) > 0 {
		return nil, &ValidationError{Problems: v.problems}
	}
	c.index()
	return &c, nil
}

// WithItem returns a copy of j in which it replaces the item with the same
// code, or is appended when there is none. The item is validated first (see
// ValidateItem). j itself is not changed.
func (j *Jurisdiction) WithItem(it Item) (*Jurisdiction, error) {
	it, err := j.ValidateItem(it)
	if err != nil {
		return nil, err
	}
	c := j.clone()
	if i := slices.IndexFunc(c.Items, func(x Item) bool { return x.Code == it.Code }); i >= 0 {
		c.Items[i] = it
	} else {
		c.Items = append(c.Items, it)
	}
	c.index()
	return c, nil
}

// WithoutItem returns a copy of j without the item with the given code (the
// copy equals j when there is none). j itself is not changed.
func (j *Jurisdiction) WithoutItem(code string) *Jurisdiction {
	c := j.clone()
	c.Items = slices.DeleteFunc(c.Items, func(x Item) bool { return x.Code == code })
	c.index()
	return c
}

// clone copies j with its own Items slice; the rest is shared and read-only.
func (j *Jurisdiction) clone() *Jurisdiction {
	c := *j
	c.Items = slices.Clone(j.Items)
	return &c
}
