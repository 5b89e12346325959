package jurisdiction

import (
	"slices"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// Defaults applied by Parse to fields a file leaves out.
const (
	DefaultTimezone           = "Asia/Shanghai"
	DefaultSatisfactionTarget = 0.95
	DefaultWarnAt             = 0.8
)

// Defaults of the duplicates section (see Duplicates).
const (
	// DefaultDuplicateDistanceM is how close, in metres, a report must be to
	// an earlier incident of the same item to be linked to it.
	DefaultDuplicateDistanceM = 50
	// MaxDuplicateDistanceM bounds distance_m: further apart is not "the
	// same place", and a wide circle would make the look-up scan a street.
	MaxDuplicateDistanceM = 5000
)

// DefaultDuplicates is what a file that leaves out the duplicates section,
// or one of its fields, gets: 50 m, 24 h for duplicates, 30 days for repeats.
var DefaultDuplicates = Duplicates{
	DistanceM:    DefaultDuplicateDistanceM,
	Window:       Clock(24 * time.Hour),
	RepeatWindow: Clock(30 * 24 * time.Hour),
}

// DefaultAssessment is used when a file sets none of the assessment weights.
var DefaultAssessment = Assessment{Street: 0.5, Public: 0.2, Timeliness: 0.3, SatisfactionTarget: DefaultSatisfactionTarget, RatingWindow: DefaultRatingWindow}

// DefaultEscalationLevels is used when a file's escalation has no levels:
// 催办 at the deadline, 督办 two hours later, the district one working day later.
func DefaultEscalationLevels() []Duration {
	return []Duration{{}, Clock(2 * time.Hour), WorkDays(1)}
}

// Jurisdiction is a parsed and validated jurisdiction file: the district's
// organisation and responsibility list (DESIGN.md §3). Build it with Parse,
// Load or Default; its lookup methods also work on a value decoded from JSON.
type Jurisdiction struct {
	District    District     `yaml:"district" json:"district"`
	Departments []Department `yaml:"departments" json:"departments"`
	Streets     []Street     `yaml:"streets" json:"streets"`
	Assessment  Assessment   `yaml:"assessment" json:"assessment"`
	Escalation  Escalation   `yaml:"escalation" json:"escalation"`
	// CalendarOverrides is the file's `calendar:` section. (It cannot be
	// named Calendar: that is the method returning the effective calendar.)
	CalendarOverrides CalendarOverrides `yaml:"calendar" json:"calendar"`
	// MaxReopens is how often an unsatisfied return visit reopens an
	// incident; incident.DefaultLimits.MaxReopens when the file leaves it out.
	MaxReopens int `yaml:"max_reopens" json:"max_reopens"`
	// Enforcement is how the street commands enforcement teams (执法指挥调度).
	Enforcement Enforcement `yaml:"enforcement" json:"enforcement"`
	// Disputes bounds returns of tasks (退单).
	Disputes Disputes `yaml:"disputes" json:"disputes"`
	// Duplicates says when a report is linked to an earlier incident at the
	// same place: as a duplicate of an open one, or a repeat of a closed one.
	Duplicates Duplicates `yaml:"duplicates" json:"duplicates"`
	Items      []Item     `yaml:"items" json:"items"`

	items       map[string]int
	departments map[string]int
	streets     map[string]int
	grids       map[string]gridPlace
	loc         *locator // grids by location; built by index, read-only after
}

type gridPlace struct{ street, community string }

// District is the area the file describes.
type District struct {
	Code string `yaml:"code" json:"code"`
	Name string `yaml:"name" json:"name"`
	// Timezone is the IANA zone of deadlines and working days; Asia/Shanghai
	// when left out.
	Timezone string `yaml:"timezone" json:"timezone"`
}

// Department is a district department (职能部门) or stationed agency.
type Department struct {
	Code string `yaml:"code" json:"code"`
	Name string `yaml:"name" json:"name"`
	// Enforcement marks an enforcement team the street commands directly
	// (执法指挥调度权), without asking its department.
	Enforcement bool `yaml:"enforcement,omitempty" json:"enforcement"`
}

// Street is a street office (街道) or town (镇).
type Street struct {
	Code        string      `yaml:"code" json:"code"`
	Name        string      `yaml:"name" json:"name"`
	Communities []Community `yaml:"communities" json:"communities"`
}

// Community is a community (社区) or village (村) in a street. In the file
// each of its grids is a code or a mapping {code, boundary} (see
// UnmarshalYAML).
type Community struct {
	Code string `yaml:"code" json:"code"`
	Name string `yaml:"name" json:"name"`
	// Grids are the codes of the community's grids, in the file's order.
	Grids []string `yaml:"grids" json:"grids"`
	// Boundaries holds the boundary of each grid the file gives one, by
	// grid code; a grid without one is not in it (nil when none has one).
	// Only grids with a boundary can be found by location (Locate).
	Boundaries map[string]Boundary `yaml:"-" json:"boundaries,omitempty"`

	notes *decodeNotes // problems met while decoding; Parse reports them and clears this
}

// Assessment holds the weights of a department's score (they sum to 1) and
// the satisfaction line it is measured against.
type Assessment struct {
	Street             float64 `yaml:"street" json:"street"`         // the street's rating of each completed task
	Public             float64 `yaml:"public" json:"public"`         // public satisfaction (return visits)
	Timeliness         float64 `yaml:"timeliness" json:"timeliness"` // on-time acknowledgement and resolution
	SatisfactionTarget float64 `yaml:"satisfaction_target" json:"satisfaction_target"`
	// RatingWindow is how long after an incident closes the street may
	// still rate its completed tasks; DefaultRatingWindow when left out.
	RatingWindow Duration `yaml:"rating_window,omitempty" json:"rating_window,omitzero"`
	// MinCases is the fewest tasks dispatched in a period for a row of a
	// league table to be ranked; DefaultMinCases when left out (0).
	MinCases int `yaml:"min_cases,omitempty" json:"min_cases,omitempty"`
	// Targets are the lines the other rates are measured against; each
	// one left out is SatisfactionTarget (RateTargets).
	Targets Targets `yaml:"targets,omitempty" json:"targets,omitzero"`
}

// Targets are the lines of the response, on-time resolution and
// resolution rates (the 三率 beside satisfaction); 0 is "the satisfaction
// target".
type Targets struct {
	Response         float64 `yaml:"response,omitempty" json:"response,omitempty"`
	OnTimeResolution float64 `yaml:"on_time_resolution,omitempty" json:"on_time_resolution,omitempty"`
	Resolution       float64 `yaml:"resolution,omitempty" json:"resolution,omitempty"`
}

// RateTargets is the line of each rate: Targets with every one left out
// set to SatisfactionTarget.
func (a Assessment) RateTargets() Targets {
	t := a.Targets
	for _, x := range []*float64{&t.Response, &t.OnTimeResolution, &t.Resolution} {
		if *x == 0 {
			*x = a.SatisfactionTarget
		}
	}
	return t
}

// DefaultMinCases is the fewest dispatched tasks a ranked row needs when
// the file sets no assessment.min_cases.
const DefaultMinCases = 10

// MinCasesOrDefault is MinCases, or DefaultMinCases when it is 0 or less.
func (a Assessment) MinCasesOrDefault() int {
	if a.MinCases <= 0 {
		return DefaultMinCases
	}
	return a.MinCases
}

// DefaultRatingWindow is the rating window when a file sets none.
var DefaultRatingWindow = Clock(7 * 24 * time.Hour)

// Escalation is the escalation ladder for overdue tasks.
type Escalation struct {
	// WarnAt is the share of an SLA after which a warning (yellow) is raised.
	WarnAt float64 `yaml:"warn_at" json:"warn_at"`
	// Levels are the delays after a missed deadline at which level 1, 2, …
	// are reached (催办, 督办, district), strictly increasing.
	Levels []Duration `yaml:"levels" json:"levels"`
}

// Enforcement is the street's command of the enforcement teams stationed
// with it (departments with enforcement: true).
type Enforcement struct {
	// Ack is the acknowledgement deadline of an enforcement task, shorter
	// than an item's; DefaultEnforcementAck when left out.
	Ack Duration `yaml:"ack" json:"ack"`
	// Domains are the item domains whose items are enforcement matters: when
	// whistled by default, the item's enforcement teams are called directly.
	Domains []string `yaml:"domains" json:"domains"`
}

// DefaultAck is the acknowledgement deadline of a task whose item names
// none (community- and street-tier items the street whistles).
var DefaultAck = Clock(time.Hour)

// DefaultEnforcementAck is the enforcement acknowledgement deadline when a
// file sets none.
var DefaultEnforcementAck = Clock(30 * time.Minute)

// Disputes are the rules of returns (退单).
type Disputes struct {
	// MaxReturns is how often a department may return the same task;
	// incident.DefaultLimits.MaxReturns when left out.
	MaxReturns int `yaml:"max_returns" json:"max_returns"`
}

// Duplicates says when a report of an item is linked to an earlier incident
// of the same item at the same place (DESIGN.md, issue 4): within DistanceM
// metres of one still open and reported at most Window before it, it is a
// duplicate (no new tasks; its reporter follows the original); within
// DistanceM of one closed at most RepeatWindow before it, it is a repeat
// (重复诉求), handled as usual and shown to the street. The windows are clock
// time (working days are refused).
type Duplicates struct {
	DistanceM    float64  `yaml:"distance_m" json:"distance_m"`
	Window       Duration `yaml:"window" json:"window"`
	RepeatWindow Duration `yaml:"repeat_window" json:"repeat_window"`
}

// Effective returns d with every zero field replaced by its default
// (DefaultDuplicates): a jurisdiction decoded from JSON saved before the
// section existed carries zeros, which Parse never leaves.
func (d Duplicates) Effective() Duplicates {
	if d.DistanceM == 0 {
		d.DistanceM = DefaultDuplicates.DistanceM
	}
	if d.Window.IsZero() {
		d.Window = DefaultDuplicates.Window
	}
	if d.RepeatWindow.IsZero() {
		d.RepeatWindow = DefaultDuplicates.RepeatWindow
	}
	return d
}

// CalendarOverrides adjust the official calendar for the district.
type CalendarOverrides struct {
	Holidays []string `yaml:"holidays" json:"holidays"` // extra days off (YYYY-MM-DD), e.g. a local closure
	Workdays []string `yaml:"workdays" json:"workdays"` // extra working days (YYYY-MM-DD), e.g. 调休 not in the official calendar
}

// SLA is an item's deadlines.
type SLA struct {
	Ack      Duration `json:"ack" yaml:"ack"`           // department must acknowledge (报到); required for department tier
	Resolve  Duration `json:"resolve" yaml:"resolve"`   // the matter must be handled
	Feedback Duration `json:"feedback" yaml:"feedback"` // return-visit window, then closed as unrated
}

// Item is one entry of the responsibility list (属地管理事项).
type Item struct {
	Code        string        `yaml:"code" json:"code"`
	Name        string        `yaml:"name" json:"name"`
	Gloss       string        `yaml:"gloss,omitempty" json:"gloss,omitempty"`
	Domain      string        `yaml:"domain,omitempty" json:"domain,omitempty"`
	Tier        incident.Tier `yaml:"tier" json:"tier"`
	Lead        string        `yaml:"lead,omitempty" json:"lead,omitempty"`
	Cooperating []string      `yaml:"cooperating,omitempty" json:"cooperating,omitempty"`
	LegalBasis  string        `yaml:"legal_basis,omitempty" json:"legal_basis,omitempty"`
	SLA         SLA           `yaml:"sla" json:"sla"`
	// Escalation overrides the district's escalation for this item; fields
	// it leaves out are taken from the district's.
	Escalation *Escalation `yaml:"escalation,omitempty" json:"escalation,omitempty"`
	// Attributes are the questions a report of the item answers beyond
	// its description (Open311 service attributes), in order.
	Attributes []Attribute `yaml:"attributes,omitempty" json:"attributes,omitempty"`
	// Version is the item's version in the living catalogue (1, 2, …; see
	// package catalogue); 0 for an item read straight from a file. It is
	// not part of the item's content: neither the file nor its JSON carry it.
	Version int `yaml:"-" json:"-"`
}

// Snapshot returns the part of the item an incident keeps for its lifetime,
// with the item's version.
func (it Item) Snapshot() incident.Item {
	return incident.Item{
		Code: it.Code, Name: it.Name, Domain: it.Domain, Tier: it.Tier,
		Lead: it.Lead, Cooperating: slices.Clone(it.Cooperating), Version: it.Version,
	}
}

// Departments returns the lead followed by the cooperating departments: the
// default departments a street whistles.
func (it Item) Departments() []string {
	var ds []string
	if it.Lead != "" {
		ds = append(ds, it.Lead)
	}
	return append(ds, it.Cooperating...)
}

// Item returns the item with the given code.
func (j *Jurisdiction) Item(code string) (Item, bool) {
	if j.items != nil {
		i, ok := j.items[code]
		if !ok {
			return Item{}, false
		}
		return j.Items[i], true
	}
	for _, it := range j.Items {
		if it.Code == code {
			return it, true
		}
	}
	return Item{}, false
}

// Department returns the department with the given code.
func (j *Jurisdiction) Department(code string) (Department, bool) {
	if j.departments != nil {
		i, ok := j.departments[code]
		if !ok {
			return Department{}, false
		}
		return j.Departments[i], true
	}
	for _, d := range j.Departments {
		if d.Code == code {
			return d, true
		}
	}
	return Department{}, false
}

// Street returns the street with the given code.
func (j *Jurisdiction) Street(code string) (Street, bool) {
	if j.streets != nil {
		i, ok := j.streets[code]
		if !ok {
			return Street{}, false
		}
		return j.Streets[i], true
	}
	for _, s := range j.Streets {
		if s.Code == code {
			return s, true
		}
	}
	return Street{}, false
}

// Community returns the community with the given code and the code of its street.
func (j *Jurisdiction) Community(code string) (c Community, street string, ok bool) {
	for _, s := range j.Streets {
		for _, c := range s.Communities {
			if c.Code == code {
				return c, s.Code, true
			}
		}
	}
	return Community{}, "", false
}

// LocateGrid returns the street and community a grid belongs to.
func (j *Jurisdiction) LocateGrid(grid string) (street, community string, ok bool) {
	if j.grids != nil {
		p, ok := j.grids[grid]
		return p.street, p.community, ok
	}
	for _, s := range j.Streets {
		for _, c := range s.Communities {
			if slices.Contains(c.Grids, grid) {
				return s.Code, c.Code, true
			}
		}
	}
	return "", "", false
}

// ItemEscalation returns the escalation that applies to it: its own
// override, or the district's.
func (j *Jurisdiction) ItemEscalation(it Item) Escalation {
	if it.Escalation != nil {
		return *it.Escalation
	}
	return j.Escalation
}

// EnforcementTeams returns, for an item in one of the district's
// enforcement domains, its departments (lead, then cooperating) that are
// enforcement teams; nil for any other item.
func (j *Jurisdiction) EnforcementTeams(it Item) []string {
	if !slices.Contains(j.Enforcement.Domains, it.Domain) {
		return nil
	}
	var teams []string
	for _, d := range it.Departments() {
		if dep, ok := j.Department(d); ok && dep.Enforcement && !slices.Contains(teams, d) {
			teams = append(teams, d)
		}
	}
	return teams
}

// Location returns the district's time zone (loaded once per name; UTC for
// a name that cannot be loaded, which validation refuses).
func (j *Jurisdiction) Location() *time.Location {
	return Calendar{Timezone: j.Timezone()}.Location()
}

// Timezone returns the district's time zone name.
func (j *Jurisdiction) Timezone() string {
	if j.District.Timezone == "" {
		return DefaultTimezone
	}
	return j.District.Timezone
}

// Calendar returns the district's working-day calendar: the official
// calendar (Official) in the district's time zone, with the file's holidays
// added to Off (and removed from Work) and its workdays added to Work (and
// removed from Off).
func (j *Jurisdiction) Calendar() Calendar {
	c := Official(j.Timezone())
	for _, d := range j.CalendarOverrides.Holidays {
		c.Work = slices.DeleteFunc(c.Work, func(s string) bool { return s == d })
		c.Off = append(c.Off, d)
	}
	for _, d := range j.CalendarOverrides.Workdays {
		c.Off = slices.DeleteFunc(c.Off, func(s string) bool { return s == d })
		c.Work = append(c.Work, d)
	}
	c.normalise()
	return c
}

// MissingCalendarYears returns the years among now's (in the district's
// time zone) and the next one that the official calendar has no data for;
// Whistle warns about them at start, since working days in those years only
// skip weekends and the file's own holidays.
func (j *Jurisdiction) MissingCalendarYears(now time.Time) []int {
	c := j.Calendar()
	y := now.In(c.Location()).Year()
	var missing []int
	for _, year := range []int{y, y + 1} {
		if !c.Covers(year) {
			missing = append(missing, year)
		}
	}
	return missing
}

// index builds the lookup maps and the locator; Parse calls it after
// validation.
func (j *Jurisdiction) index() {
	j.items = make(map[string]int, len(j.Items))
	for i, it := range j.Items {
		if _, dup := j.items[it.Code]; !dup {
			j.items[it.Code] = i
		}
	}
	j.departments = make(map[string]int, len(j.Departments))
	for i, d := range j.Departments {
		if _, dup := j.departments[d.Code]; !dup {
			j.departments[d.Code] = i
		}
	}
	j.streets = make(map[string]int, len(j.Streets))
	j.grids = map[string]gridPlace{}
	for i, s := range j.Streets {
		if _, dup := j.streets[s.Code]; !dup {
			j.streets[s.Code] = i
		}
		for _, c := range s.Communities {
			for _, g := range c.Grids {
				if _, dup := j.grids[g]; !dup {
					j.grids[g] = gridPlace{s.Code, c.Code}
				}
			}
		}
	}
	// A copy sharing the streets (WithItems, WithItem) keeps the locator.
	if j.loc == nil || !j.loc.builtFrom(j.Streets) {
		j.loc = newLocator(j.Streets)
	}
}

// Admit decides whether a department may hand the matter of item down to
// street (准入制度): only when the list makes the street responsible, that is
// for a community- or street-tier item. It returns the item, or a
// *incident.Error (CodeInvalid, naming the field) saying why not.
func (j *Jurisdiction) Admit(item, street string) (Item, error) {
	if _, ok := j.Street(street); !ok {
		return Item{}, incident.Invalid("street", "unknown street %q", street)
	}
	it, ok := j.Item(item)
	if !ok {
		return Item{}, incident.Invalid("item", "item %q is not on the responsibility list", item)
	}
	if it.Tier == incident.TierDepartment {
		return it, incident.Invalid("item", "item %s (%s) is department-tier: the list makes %s responsible (主体责任), not the street; it cannot be handed down", it.Code, it.Name, it.Lead)
	}
	return it, nil
}
