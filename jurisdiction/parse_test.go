package jurisdiction

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// baseDoc is a small valid file; the validation cases each break it in one place.
const baseDoc = `district: {code: DA, name: 大安区, timezone: Asia/Shanghai}
departments:
  - {code: CG, name: 区城市管理局, enforcement: true}
  - {code: SCJG, name: 区市场监管局}
  - {code: ZJ, name: 区住建局}
streets:
  - code: FH
    name: 凤凰街道
    communities:
      - code: FH-01
        name: 凤凰社区
        grids: [FH-01-01, FH-01-02]
      - code: FH-02
        name: 龙湖社区
        grids: [FH-02-01]
  - code: MCK
    name: 马冲口街道
    communities:
      - code: MCK-01
        name: 马冲口社区
        grids: [MCK-01-01]
assessment:
  street: 0.5
  public: 0.2
  timeliness: 0.3
  satisfaction_target: 0.95
escalation:
  warn_at: 0.8
  levels: [0s, 2h, 1wd]
calendar:
  holidays: [2026-12-31]
  workdays: []
max_reopens: 2
items:
  - code: SR-001
    name: 占道经营
    gloss: street vending
    domain: 市容环境
    tier: department
    lead: CG
    cooperating: [SCJG]
    legal_basis: 《城市市容和环境卫生管理条例》
    sla: {ack: 1h, resolve: 3wd, feedback: 3wd}
  - code: MS-001
    name: 邻里纠纷
    tier: community
    sla:
      resolve: 2wd
      feedback: 3wd
`

func mustParse(t *testing.T, doc string) *Jurisdiction {
	t.Helper()
	j, err := Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return j
}

// lineOf returns the 1-based line of the only line of doc containing needle.
func lineOf(t *testing.T, doc, needle string) int {
	t.Helper()
	found := 0
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, needle) {
			if found != 0 {
				t.Fatalf("%q occurs on lines %d and %d", needle, found, i+1)
			}
			found = i + 1
		}
	}
	if found == 0 {
		t.Fatalf("%q not in the document", needle)
	}
	return found
}

func TestBaseDocIsValid(t *testing.T) {
	j := mustParse(t, baseDoc)
	if len(j.Items) != 2 || j.Items[1].SLA.Ack != (Duration{}) || j.Items[1].Tier != incident.TierCommunity {
		t.Fatalf("items = %+v", j.Items)
	}
}

type want struct {
	line    string // a substring of the line the problem must be reported on
	field   string
	message string // a substring of the message
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replace old (which must occur once) by new
		want     []want
	}{
		// required fields
		{"district code missing", "{code: DA, name: 大安区", "{name: 大安区",
			[]want{{"district:", "district.code", "required"}}},
		{"department code missing", "{code: ZJ, name: 区住建局}", "{name: 区住建局}",
			[]want{{"区住建局", "departments[2].code", "required"}}},
		{"department name missing", "{code: ZJ, name: 区住建局}", "{code: ZJ}",
			[]want{{"{code: ZJ}", "departments[2].name", "required"}}},
		{"street code missing", "- code: MCK\n    name: 马冲口街道", "- name: 马冲口街道",
			[]want{{"- name: 马冲口街道", "streets[1].code", "required"}}},
		{"community code missing", "- code: FH-02\n        name: 龙湖社区", "- name: 龙湖社区",
			[]want{{"- name: 龙湖社区", "streets[0].communities[1].code", "required"}}},
		{"item code missing", "- code: MS-001\n    name: 邻里纠纷", "- name: 邻里纠纷",
			[]want{{"- name: 邻里纠纷", "items[1].code", "required"}}},
		{"item name missing", "    name: 邻里纠纷\n", "",
			[]want{{"- code: MS-001", "items[1].name", "required"}}},
		{"item tier missing", "    tier: community\n", "",
			[]want{{"- code: MS-001", "items[1].tier", "required"}}},
		{"item sla missing", "    sla:\n      resolve: 2wd\n      feedback: 3wd\n", "",
			[]want{{"- code: MS-001", "items[1].sla", "required"}}},

		// duplicates
		{"duplicate department", "{code: ZJ, name: 区住建局}", "{code: CG, name: 区住建局}",
			[]want{{"区住建局", "departments[2].code", `duplicate department code "CG" (first at line 3)`}}},
		{"duplicate street", "- code: MCK\n", "- code: FH # again\n",
			[]want{{"# again", "streets[1].code", `duplicate street code "FH" (first at line 7)`}}},
		{"duplicate community", "code: MCK-01", "code: FH-01 # again",
			[]want{{"# again", "streets[1].communities[0].code", `duplicate community code "FH-01" (first at line 10)`}}},
		{"duplicate item", "code: MS-001", "code: SR-001 # again",
			[]want{{"# again", "items[1].code", `duplicate item code "SR-001" (first at line 35)`}}},
		{"grid in two communities", "grids: [MCK-01-01]", "grids: [FH-01-02] # again",
			[]want{{"# again", "streets[1].communities[0].grids[0]", `grid "FH-01-02" is already in community FH-01 (line 10)`}}},
		{"grid twice in a community", "[FH-02-01]", "[FH-02-01, FH-02-01]",
			[]want{{"FH-02-01, FH-02-01", "streets[0].communities[1].grids[1]", `duplicate grid "FH-02-01"`}}},
		{"bad code characters", "code: FH-02", "code: FH.02",
			[]want{{"FH.02", "streets[0].communities[1].code", `code "FH.02" may contain only`}}},
		{"duplicate YAML key", "    name: 邻里纠纷\n", "    name: 邻里纠纷\n    name: again\n",
			[]want{{"name: again", "items[1].name", `duplicate key "name"`}}},

		// departments in items
		{"unknown lead", "lead: CG", "lead: XX",
			[]want{{"lead: XX", "items[0].lead", `unknown department "XX"`}}},
		{"unknown cooperating", "cooperating: [SCJG]", "cooperating: [SCJG, YY]",
			[]want{{"cooperating:", "items[0].cooperating[1]", `unknown department "YY"`}}},
		{"lead listed as cooperating", "cooperating: [SCJG]", "cooperating: [SCJG, CG]",
			[]want{{"cooperating:", "items[0].cooperating[1]", "lead CG is also listed as cooperating"}}},
		{"cooperating twice", "cooperating: [SCJG]", "cooperating: [SCJG, SCJG]",
			[]want{{"cooperating:", "items[0].cooperating[1]", "listed twice"}}},
		{"department tier without lead", "    lead: CG\n", "",
			[]want{{"- code: SR-001", "items[0].lead", "required for a department-tier item"}}},
		{"unknown tier", "tier: community", "tier: village",
			[]want{{"tier: village", "items[1].tier", `unknown tier "village"`}}},

		// durations
		{"bad duration", "resolve: 3wd", "resolve: 3days",
			[]want{{"3days", "items[0].sla.resolve", `invalid duration "3days"`}}},
		{"bad escalation level", "levels: [0s, 2h, 1wd]", "levels: [0s, 2x, 1wd]",
			[]want{{"levels:", "escalation.levels[1]", `invalid duration "2x"`}}},
		{"only bad level", "levels: [0s, 2h, 1wd]", "levels: [soon]",
			[]want{{"levels:", "escalation.levels[0]", `invalid duration "soon"`}}},
		{"bad required ack", "ack: 1h", "ack: soon",
			[]want{{"ack: soon", "items[0].sla.ack", `invalid duration "soon"`}}},
		{"duration as a list", "      resolve: 2wd", "      resolve: [2wd]",
			[]want{{"resolve: [2wd]", "items[1].sla.resolve", "invalid duration"}}},
		{"ack zero", "ack: 1h", "ack: 0s",
			[]want{{"ack: 0s", "items[0].sla.ack", "must be positive, got 0s"}}},
		{"ack negative", "ack: 1h", "ack: -1h",
			[]want{{"ack: -1h", "items[0].sla.ack", "must be positive, got -1h0m0s"}}},
		{"ack missing on department tier", "{ack: 1h, resolve", "{resolve",
			[]want{{"sla: {resolve", "items[0].sla.ack", "required"}}},
		{"resolve missing on community tier", "    sla:\n      resolve: 2wd\n", "    sla: # here\n",
			[]want{{"# here", "items[1].sla.resolve", "required"}}},
		{"feedback zero on community tier", "      feedback: 3wd", "      feedback: 0wd",
			[]want{{"feedback: 0wd", "items[1].sla.feedback", "must be positive"}}},
		{"resolve negative on department tier", "resolve: 3wd", "resolve: -3wd",
			[]want{{"resolve: -3wd", "items[0].sla.resolve", "must be positive, got -3wd"}}},
		{"ack negative on community tier", "      resolve: 2wd\n", "      ack: -5m\n      resolve: 2wd\n",
			[]want{{"ack: -5m", "items[1].sla.ack", "must be positive"}}},

		// assessment
		{"weights do not sum to 1", "public: 0.2", "public: 0.3",
			[]want{{"assessment:", "assessment", "sum to 1.1, want 1"}}},
		{"negative weight", "street: 0.5\n  public: 0.2", "street: -0.2\n  public: 0.9",
			[]want{{"street: -0.2", "assessment.street", "must not be negative"}}},
		{"satisfaction target zero", "satisfaction_target: 0.95", "satisfaction_target: 0",
			[]want{{"satisfaction_target", "assessment.satisfaction_target", "must be in (0, 1]"}}},
		{"satisfaction target above 1", "satisfaction_target: 0.95", "satisfaction_target: 95",
			[]want{{"satisfaction_target", "assessment.satisfaction_target", "must be in (0, 1], got 95"}}},
		{"response target above 1", "satisfaction_target: 0.95", "satisfaction_target: 0.95\n  targets: {response: 1.5}",
			[]want{{"targets:", "assessment.targets.response", "must be in (0, 1]"}}},
		{"resolution target negative", "satisfaction_target: 0.95", "satisfaction_target: 0.95\n  targets:\n    resolution: -0.9",
			[]want{{"resolution: -0.9", "assessment.targets.resolution", "got -0.9"}}},
		{"weight not a number", "street: 0.5", "street: half",
			[]want{{"street: half", "assessment.street", `want a number, got "half"`}}},

		// escalation
		{"warn_at 1", "warn_at: 0.8", "warn_at: 1",
			[]want{{"warn_at", "escalation.warn_at", "between 0 and 1"}}},
		{"warn_at 0", "warn_at: 0.8", "warn_at: 0",
			[]want{{"warn_at", "escalation.warn_at", "between 0 and 1"}}},
		{"levels not increasing", "levels: [0s, 2h, 1wd]", "levels: [0s, 2h, 1h]",
			[]want{{"levels:", "escalation.levels[2]", "levels must increase"}}},
		{"levels equal", "levels: [0s, 2h, 1wd]", "levels: [0s, 0s]",
			[]want{{"levels:", "escalation.levels[1]", "levels must increase"}}},
		{"level negative", "levels: [0s, 2h, 1wd]", "levels: [-1h, 2h]",
			[]want{{"levels:", "escalation.levels[0]", "must not be negative"}}},
		{"levels empty", "levels: [0s, 2h, 1wd]", "levels: []",
			[]want{{"levels:", "escalation.levels", "at least one level"}}},
		{"item escalation warn_at", "    legal_basis: 《城市市容和环境卫生管理条例》\n", "    legal_basis: 《城市市容和环境卫生管理条例》\n    escalation: {warn_at: 1.5}\n",
			[]want{{"escalation: {warn_at: 1.5}", "items[0].escalation.warn_at", "between 0 and 1"}}},
		{"item escalation levels", "    legal_basis: 《城市市容和环境卫生管理条例》\n", "    legal_basis: 《城市市容和环境卫生管理条例》\n    escalation:\n      levels: [1h, 30m]\n",
			[]want{{"levels: [1h, 30m]", "items[0].escalation.levels[1]", "levels must increase"}}},

		// calendar, time zone, reopens
		{"holiday not a date", "holidays: [2026-12-31]", "holidays: [2026-13-01]",
			[]want{{"holidays:", "calendar.holidays[0]", `"2026-13-01" is not a date (want YYYY-MM-DD)`}}},
		{"workday not a date", "workdays: []", "workdays: [2026/10/10]",
			[]want{{"workdays:", "calendar.workdays[0]", "is not a date"}}},
		{"date not zero-padded", "workdays: []", "workdays: [2026-1-4]",
			[]want{{"workdays:", "calendar.workdays[0]", "is not a date"}}},
		{"workday also a holiday", "workdays: []", "workdays: [2026-12-31]",
			[]want{{"workdays:", "calendar.workdays[0]", "also listed under holidays"}}},
		{"unknown time zone", "timezone: Asia/Shanghai", "timezone: Mars/Olympus",
			[]want{{"district:", "district.timezone", `unknown time zone "Mars/Olympus"`}}},
		{"Local time zone", "timezone: Asia/Shanghai", "timezone: Local",
			[]want{{"district:", "district.timezone", "unknown time zone"}}},
		{"max_reopens negative", "max_reopens: 2", "max_reopens: -1",
			[]want{{"max_reopens", "max_reopens", "must not be negative"}}},
		{"max_returns zero", "max_reopens: 2", "max_reopens: 2\ndisputes: {max_returns: 0}",
			[]want{{"disputes:", "disputes.max_returns", "must be at least 1"}}},
		{"enforcement ack zero", "max_reopens: 2", "max_reopens: 2\nenforcement: {ack: 0s}",
			[]want{{"enforcement: {ack", "enforcement.ack", "must be a positive duration"}}},
		{"enforcement domain empty", "max_reopens: 2", "max_reopens: 2\nenforcement: {domains: [\"\"]}",
			[]want{{"enforcement: {domains", "enforcement.domains[0]", "must not be empty"}}},

		// duplicates
		{"duplicate distance zero", "max_reopens: 2\n", "max_reopens: 2\nduplicates: {distance_m: 0}\n",
			[]want{{"duplicates:", "duplicates.distance_m", "must be more than 0 and at most 5000 metres, got 0"}}},
		{"duplicate distance too far", "max_reopens: 2\n", "max_reopens: 2\nduplicates:\n  distance_m: 5001\n",
			[]want{{"distance_m: 5001", "duplicates.distance_m", "at most 5000 metres, got 5001"}}},
		{"duplicate distance not a number", "max_reopens: 2\n", "max_reopens: 2\nduplicates:\n  distance_m: near\n",
			[]want{{"distance_m: near", "duplicates.distance_m", `want a number, got "near"`}}},
		{"duplicate window in working days", "max_reopens: 2\n", "max_reopens: 2\nduplicates:\n  window: 1wd\n",
			[]want{{"window: 1wd", "duplicates.window", "must be clock time"}}},
		{"repeat window negative", "max_reopens: 2\n", "max_reopens: 2\nduplicates:\n  repeat_window: -720h\n",
			[]want{{"repeat_window: -720h", "duplicates.repeat_window", "must be positive, got -720h0m0s"}}},
		{"repeat window zero", "max_reopens: 2\n", "max_reopens: 2\nduplicates:\n  repeat_window: 0s\n",
			[]want{{"repeat_window: 0s", "duplicates.repeat_window", "must be positive, got 0s"}}},
		{"duplicate window unreadable", "max_reopens: 2\n", "max_reopens: 2\nduplicates:\n  window: a day\n",
			[]want{{"window: a day", "duplicates.window", `invalid duration "a day"`}}},
		{"unknown duplicates field", "max_reopens: 2\n", "max_reopens: 2\nduplicates: {distance: 50}\n",
			[]want{{"duplicates:", "duplicates.distance", `unknown field "distance"`}}},

		// structure
		{"unknown item field", "gloss: street vending", "glos: street vending",
			[]want{{"glos:", "items[0].glos", `unknown field "glos"`}}},
		{"unknown top-level field", "max_reopens: 2\n", "max_reopens: 2\nmax_reopen: 3\n",
			[]want{{"max_reopen: 3", "max_reopen", `unknown field "max_reopen"`}}},
		{"unknown district field", "timezone: Asia/Shanghai}", "timezone: Asia/Shanghai, tz: UTC}",
			[]want{{"district:", "district.tz", `unknown field "tz"`}}},
		{"list where a string belongs", "    lead: CG\n", "    lead: [CG]\n",
			[]want{{"lead: [CG]", "items[0].lead", "want a string, got a list"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := strings.Count(baseDoc, tt.old); n != 1 {
				t.Fatalf("%q occurs %d times in baseDoc", tt.old, n)
			}
			doc := strings.Replace(baseDoc, tt.old, tt.new, 1)
			_, err := Parse("test.yaml", []byte(doc))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse: err = %v, want a *ValidationError", err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatal("errors.Is(err, ErrInvalid) is false")
			}
			if len(ve.Problems) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ve.Problems), len(tt.want), err)
			}
			for i, w := range tt.want {
				p := ve.Problems[i]
				line := lineOf(t, doc, w.line)
				if p.File != "test.yaml" || p.Line != line || p.Field != w.field || !strings.Contains(p.Message, w.message) {
					t.Errorf("problem %d = %+v\nwant test.yaml line %d, field %s, message containing %q", i, p, line, w.field, w.message)
				}
				prefix := fmt.Sprintf("test.yaml:%d: %s: ", line, w.field)
				if !strings.HasPrefix(p.String(), prefix) {
					t.Errorf("problem %d prints as %q, want it to start with %q", i, p.String(), prefix)
				}
			}
		})
	}
}

// Every problem of a file is reported at once, in line order.
func TestValidationCollectsEveryProblem(t *testing.T) {
	doc := baseDoc
	for _, r := range [][2]string{
		{"lead: CG", "lead: XX"},
		{"resolve: 3wd", "resolve: soon"},
		{"public: 0.2", "public: 0.3"},
		{"{code: ZJ, name: 区住建局}", "{code: CG, name: 区住建局}"},
		{"gloss: street vending", "glos: street vending"},
		{"warn_at: 0.8", "warn_at: 2"},
		{"tier: community", "tier: village"},
	} {
		doc = strings.Replace(doc, r[0], r[1], 1)
	}
	_, err := Parse("multi.yaml", []byte(doc))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	fields := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		fields[i] = p.Field
	}
	wantFields := []string{"departments[2].code", "assessment", "escalation.warn_at", "items[0].glos", "items[0].lead", "items[0].sla.resolve", "items[1].tier"}
	if !slices.Equal(fields, wantFields) {
		t.Fatalf("fields = %v\nwant %v\n%v", fields, wantFields, err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(wantFields) {
		t.Fatalf("Error() has %d lines, want %d:\n%v", len(lines), len(wantFields), err)
	}
	if want := fmt.Sprintf("multi.yaml:%d: items[0].lead: unknown department \"XX\"", lineOf(t, doc, "lead: XX")); lines[4] != want {
		t.Fatalf("line 5 of Error() = %q, want %q", lines[4], want)
	}
}

func TestParseBrokenFiles(t *testing.T) {
	for _, tt := range []struct {
		name, doc, message string
		line               int
	}{
		{"empty", "  \n", "empty", 0},
		{"syntax", "district: {code: DA\nitems: [\n", "did not find expected", 1},
		{"tab indentation", "district:\n\tcode: DA\n", "cannot start any token", 2},
		{"not a mapping", "- a\n- b\n", "want a mapping", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("broken.yaml", []byte(tt.doc))
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 {
				t.Fatalf("err = %v, want one problem", err)
			}
			p := ve.Problems[0]
			if p.File != "broken.yaml" || !strings.Contains(p.Message, tt.message) || p.Line != tt.line {
				t.Fatalf("problem = %+v", p)
			}
			t.Log(p)
		})
	}
}

func TestDefaults(t *testing.T) {
	doc := `district: {code: X}
departments: [{code: A, name: a}]
streets: [{code: S, communities: [{code: S-1, grids: [S-1-1]}]}]
items:
  - code: I-1
    name: i
    tier: department
    lead: A
    sla: {ack: 1h, resolve: 3wd, feedback: 3wd}
    escalation: {warn_at: 0.5}
  - code: I-2
    name: j
    tier: street
    sla: {resolve: 3wd, feedback: 3wd}
    escalation: {levels: [1h]}
`
	j := mustParse(t, doc)
	if j.District.Timezone != "Asia/Shanghai" || j.Timezone() != "Asia/Shanghai" {
		t.Errorf("timezone = %q", j.District.Timezone)
	}
	if j.Assessment != DefaultAssessment {
		t.Errorf("assessment = %+v", j.Assessment)
	}
	if j.Escalation.WarnAt != 0.8 || !slices.Equal(j.Escalation.Levels, DefaultEscalationLevels()) {
		t.Errorf("escalation = %+v", j.Escalation)
	}
	if j.MaxReopens != incident.DefaultLimits.MaxReopens {
		t.Errorf("max_reopens = %d", j.MaxReopens)
	}
	if j.Disputes.MaxReturns != incident.DefaultLimits.MaxReturns || j.Enforcement.Ack != DefaultEnforcementAck || len(j.Enforcement.Domains) != 0 {
		t.Errorf("disputes %+v, enforcement %+v: want the defaults", j.Disputes, j.Enforcement)
	}
	if want := (Duplicates{DistanceM: 50, Window: Clock(24 * time.Hour), RepeatWindow: Clock(720 * time.Hour)}); j.Duplicates != want {
		t.Errorf("duplicates = %+v, want %+v", j.Duplicates, want)
	}
	// A field left out of the section gets its default; given ones are kept.
	j = mustParse(t, strings.Replace(doc, "items:", "duplicates: {distance_m: 30.5, repeat_window: 168h}\nitems:", 1))
	if want := (Duplicates{DistanceM: 30.5, Window: Clock(24 * time.Hour), RepeatWindow: Clock(168 * time.Hour)}); j.Duplicates != want {
		t.Errorf("duplicates = %+v, want %+v", j.Duplicates, want)
	}
	// A document saved before the section existed decodes with zeros.
	if got := (Duplicates{Window: Clock(time.Hour)}).Effective(); got != (Duplicates{DistanceM: 50, Window: Clock(time.Hour), RepeatWindow: Clock(720 * time.Hour)}) {
		t.Errorf("Effective() = %+v", got)
	}
	if e := j.Items[0].Escalation; e.WarnAt != 0.5 || !slices.Equal(e.Levels, DefaultEscalationLevels()) {
		t.Errorf("item I-1 escalation = %+v, want warn_at 0.5 and the district's levels", e)
	}
	if e := j.Items[1].Escalation; e.WarnAt != 0.8 || !slices.Equal(e.Levels, []Duration{Clock(time.Hour)}) {
		t.Errorf("item I-2 escalation = %+v, want the district's warn_at and [1h]", e)
	}

	// Explicit values are kept, including a zero max_reopens.
	j = mustParse(t, strings.Replace(doc, "items:", "max_reopens: 0\nassessment: {street: 1, public: 0, timeliness: 0, satisfaction_target: 0.9}\nitems:", 1))
	if j.MaxReopens != 0 || j.Assessment != (Assessment{Street: 1, SatisfactionTarget: 0.9, RatingWindow: DefaultRatingWindow}) {
		t.Errorf("explicit values lost: max_reopens %d, assessment %+v", j.MaxReopens, j.Assessment)
	}
	// Setting one weight means setting all of them.
	_, err := Parse("w.yaml", []byte(strings.Replace(doc, "items:", "assessment: {street: 0.6}\nitems:", 1)))
	if err == nil || !strings.Contains(err.Error(), "assessment: weights street + public + timeliness sum to 0.6") {
		t.Errorf("one weight: err = %v", err)
	}
}

func TestCalendarOverrides(t *testing.T) {
	doc := strings.Replace(baseDoc, "workdays: []", "workdays: [2026-10-03, 2026-12-26]", 1)
	doc = strings.Replace(doc, "holidays: [2026-12-31]", "holidays: [2026-12-31, 2026-10-10]", 1)
	j := mustParse(t, doc)
	cal := j.Calendar()
	for day, want := range map[string]bool{
		"2026-12-31": false, // Thursday, local closure
		"2026-10-10": false, // official 调休 Saturday, overridden to a holiday
		"2026-10-03": true,  // Saturday inside National Day, overridden to a working day
		"2026-12-26": true,  // an ordinary Saturday made a working day
		"2026-10-02": false, // Friday inside National Day, still off
	} {
		if got := cal.IsWorkday(local(day + " 09:00")); got != want {
			t.Errorf("IsWorkday(%s) = %v, want %v", day, got, want)
		}
	}
	if slices.Contains(cal.Off, "2026-10-03") || slices.Contains(cal.Work, "2026-10-10") {
		t.Errorf("override left the day in the other list: off %v work %v", cal.Off, cal.Work)
	}
	// 3wd from Wednesday 30 Sep: Sat 3 Oct (working), Thu 8, Fri 9 — and Sat 10 is now off.
	if got, want := cal.Add(local("2026-09-30 10:00"), WorkDays(3)), local("2026-10-09 10:00"); !got.Equal(want) {
		t.Errorf("Add = %s, want %s", got.In(shanghai), want)
	}
	if got, want := cal.Add(local("2026-12-30 10:00"), WorkDays(1)), local("2027-01-01 10:00"); !got.Equal(want) {
		t.Errorf("Add over the closure = %s, want %s", got.In(shanghai), want)
	}
	// The official calendar itself is unchanged.
	if !Official("Asia/Shanghai").IsWorkday(local("2026-10-10 09:00")) {
		t.Error("overrides leaked into Official")
	}
	if got := cal.Years(); !slices.Equal(got, []int{2025, 2026}) {
		t.Errorf("Years() = %v: overrides must not count as official data", got)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.yaml")
	if err := os.WriteFile(path, []byte(baseDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	j, raw, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != baseDoc || j.District.Code != "DA" {
		t.Fatalf("Load returned %q, %+v", raw, j.District)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(baseDoc, "lead: CG", "lead: XX", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = Load(bad)
	if want := bad + ":" + fmt.Sprint(lineOf(t, baseDoc, "lead: CG")) + ": items[0].lead: unknown department \"XX\""; err == nil || err.Error() != want {
		t.Fatalf("Load(bad) = %v, want %s", err, want)
	}

	if _, _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestValidateAndWithItem(t *testing.T) {
	j := mustParse(t, baseDoc)
	it := Item{Code: "SR-009", Name: "新事项", Tier: incident.TierDepartment, Lead: "ZJ", Cooperating: []string{"ZJ", "QQ"},
		SLA: SLA{Resolve: WorkDays(3), Feedback: WorkDays(3)}}
	_, err := j.ValidateItem(it)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("ValidateItem = %v", err)
	}
	var fields []string
	for _, p := range ve.Problems {
		fields = append(fields, p.Field)
	}
	if !slices.Equal(fields, []string{"cooperating[0]", "cooperating[1]", "sla.ack"}) {
		t.Fatalf("fields = %v (%v)", fields, err)
	}

	it.Cooperating = []string{"CG"}
	it.SLA.Ack = Clock(time.Hour)
	it.Escalation = &Escalation{WarnAt: 0.6}
	j2, err := j.WithItem(it)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := j2.Item("SR-009")
	if !ok || got.Escalation.WarnAt != 0.6 || !slices.Equal(got.Escalation.Levels, j.Escalation.Levels) {
		t.Fatalf("Item(SR-009) = %+v, %v", got, ok)
	}
	if _, ok := j.Item("SR-009"); ok {
		t.Fatal("WithItem changed the original")
	}
	it.Name = "改名"
	j3, err := j2.WithItem(it)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := j3.Item("SR-009"); got.Name != "改名" || len(j3.Items) != len(j2.Items) {
		t.Fatalf("replacing an item: %+v, %d items", got, len(j3.Items))
	}
	j4 := j3.WithoutItem("SR-009")
	if _, ok := j4.Item("SR-009"); ok || len(j4.Items) != 2 {
		t.Fatal("WithoutItem kept the item")
	}
	if _, ok := j3.Item("SR-009"); !ok {
		t.Fatal("WithoutItem changed the original")
	}
}

func TestWithItems(t *testing.T) {
	j := mustParse(t, baseDoc)
	good := Item{Code: "SR-009", Name: "新事项", Tier: incident.TierDepartment, Lead: "ZJ", Version: 4,
		SLA: SLA{Ack: Clock(time.Hour), Resolve: WorkDays(3), Feedback: WorkDays(3)}, Escalation: &Escalation{WarnAt: 0.5}}
	bad := Item{Code: "SR-010", Name: "坏事项", Tier: "city", Lead: "QQ", SLA: SLA{Resolve: Clock(-time.Hour), Feedback: WorkDays(1)}}

	_, err := j.WithItems([]Item{good, bad, good})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("WithItems = %v", err)
	}
	var fields []string
	for _, p := range ve.Problems {
		fields = append(fields, p.Field)
	}
	if want := []string{"items[1].tier", "items[1].lead", "items[1].sla.resolve", "items[2].code"}; !slices.Equal(fields, want) {
		t.Fatalf("fields = %v, want %v (%v)", fields, want, err)
	}

	j2, err := j.WithItems([]Item{good})
	if err != nil {
		t.Fatal(err)
	}
	if len(j2.Items) != 1 || j2.District != j.District || len(j2.Departments) != len(j.Departments) {
		t.Fatalf("WithItems kept the organisation badly: %+v", j2)
	}
	got, ok := j2.Item("SR-009")
	if !ok || got.Version != 4 || got.Escalation.WarnAt != 0.5 || !slices.Equal(got.Escalation.Levels, j.Escalation.Levels) {
		t.Fatalf("Item(SR-009) = %+v, %v", got, ok)
	}
	if _, ok := j2.Item(j.Items[0].Code); ok {
		t.Fatal("WithItems kept an item of the file")
	}
	if _, ok := j.Item("SR-009"); ok || good.Escalation.Levels != nil {
		t.Fatal("WithItems changed its inputs")
	}
	if s := got.Snapshot(); s.Version != 4 || s.Lead != "ZJ" {
		t.Fatalf("Snapshot = %+v", s)
	}
}
