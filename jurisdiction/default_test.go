package jurisdiction

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/incident"
)

func TestDefaultIsValid(t *testing.T) {
	j, err := Parse(DefaultFilename, DefaultYAML())
	if err != nil {
		t.Fatalf("the shipped default.yaml is invalid:\n%v", err)
	}
	if len(j.Items) < 34 {
		t.Fatalf("default has %d items, want at least 34", len(j.Items))
	}
	tiers := map[incident.Tier]int{}
	domains := map[string]bool{}
	for _, it := range j.Items {
		tiers[it.Tier]++
		domains[it.Domain] = true
		if it.Gloss == "" || it.LegalBasis == "" || it.Domain == "" {
			t.Errorf("item %s lacks gloss, legal basis or domain", it.Code)
		}
		if it.SLA.Ack.IsZero() {
			t.Errorf("item %s has no ack SLA", it.Code)
		}
	}
	if tiers[incident.TierCommunity] < 6 || tiers[incident.TierStreet] < 6 || tiers[incident.TierDepartment] == 0 {
		t.Fatalf("tiers = %v, want at least 6 community, 6 street and some department items", tiers)
	}
	if len(domains) < 10 {
		t.Fatalf("%d domains, want about 10", len(domains))
	}
	if len(j.Streets) < 4 {
		t.Fatalf("%d streets, want at least 4", len(j.Streets))
	}
	for _, s := range j.Streets {
		if n := len(s.Communities); n < 2 || n > 3 {
			t.Errorf("street %s has %d communities", s.Code, n)
		}
		for _, c := range s.Communities {
			if n := len(c.Grids); n < 2 || n > 3 {
				t.Errorf("community %s has %d grids", c.Code, n)
			}
		}
	}
	for _, code := range []string{"CG", "SCJG", "ZJ", "STHJ", "YJ", "GA", "SF", "SW", "MZ", "JT", "WJ", "ZYGH", "RS", "ZHZF", "XF"} {
		if _, ok := j.Department(code); !ok {
			t.Errorf("department %s missing", code)
		}
	}
	for code, want := range map[string]bool{"CG": true, "SCJG": true, "STHJ": true, "ZHZF": true, "XF": true, "ZJ": false} {
		if d, _ := j.Department(code); d.Enforcement != want {
			t.Errorf("department %s enforcement = %v, want %v", code, d.Enforcement, want)
		}
	}
	if j.Assessment != (Assessment{Street: 0.5, Public: 0.2, Timeliness: 0.3, SatisfactionTarget: 0.95, RatingWindow: DefaultRatingWindow}) {
		t.Errorf("assessment = %+v", j.Assessment)
	}
	if j.Escalation.WarnAt != 0.8 || !slices.Equal(j.Escalation.Levels, DefaultEscalationLevels()) {
		t.Errorf("escalation = %+v", j.Escalation)
	}
	if j.MaxReopens != 2 {
		t.Errorf("max_reopens = %d", j.MaxReopens)
	}
	if j.Disputes.MaxReturns != 1 || j.Enforcement.Ack != Clock(30*time.Minute) {
		t.Errorf("disputes %+v, enforcement %+v", j.Disputes, j.Enforcement)
	}
	// Street vending is an enforcement matter: CG and SCJG are teams. SR-003
	// (市容环境 too) has ZYGH cooperating, which is no team.
	for code, want := range map[string][]string{"SR-001": {"CG", "SCJG"}, "SR-003": {"CG"}, "SC-002": {"SCJG"}, "ZA-001": nil} {
		it, ok := j.Item(code)
		if !ok {
			t.Fatalf("no item %s", code)
		}
		if got := j.EnforcementTeams(it); !slices.Equal(got, want) {
			t.Errorf("EnforcementTeams(%s) = %v, want %v", code, got, want)
		}
	}
}

// The examples in DESIGN.md and elsewhere rely on these exactly.
func TestDefaultMatchesDesignExample(t *testing.T) {
	j := Default()
	if j.District != (District{Code: "DA", Name: "大安区", Timezone: "Asia/Shanghai"}) {
		t.Fatalf("district = %+v", j.District)
	}
	it, ok := j.Item("SR-001")
	if !ok {
		t.Fatal("SR-001 missing")
	}
	want := Item{
		Code: "SR-001", Name: "占道经营", Gloss: "street vending that blocks the road", Domain: "市容环境",
		Tier: incident.TierDepartment, Lead: "CG", Cooperating: []string{"SCJG"},
		LegalBasis: "《城市市容和环境卫生管理条例》",
		SLA:        SLA{Ack: Clock(time.Hour), Resolve: WorkDays(3), Feedback: WorkDays(3)},
	}
	if !reflect.DeepEqual(it, want) {
		t.Fatalf("SR-001 = %+v\nwant %+v", it, want)
	}
	street, community, ok := j.LocateGrid("FH-01-01")
	if !ok || street != "FH" || community != "FH-01" {
		t.Fatalf("LocateGrid(FH-01-01) = %q, %q, %v", street, community, ok)
	}
	fh, ok := j.Street("FH")
	if !ok || fh.Name != "凤凰街道" || fh.Communities[0].Code != "FH-01" || fh.Communities[0].Name != "凤凰社区" ||
		!slices.Equal(fh.Communities[0].Grids, []string{"FH-01-01", "FH-01-02"}) {
		t.Fatalf("street FH = %+v", fh)
	}
	if _, ok := j.Item("NOPE"); ok {
		t.Fatal("Item(NOPE) found")
	}
	if _, _, ok := j.LocateGrid("NOPE"); ok {
		t.Fatal("LocateGrid(NOPE) found")
	}
	if _, ok := j.Street("NOPE"); ok {
		t.Fatal("Street(NOPE) found")
	}
	c, st, ok := j.Community("FH-02")
	if !ok || st != "FH" || c.Name != "龙湖社区" {
		t.Fatalf("Community(FH-02) = %+v, %q, %v", c, st, ok)
	}
}

func TestDefaultEscalationOverride(t *testing.T) {
	j := Default()
	gas, _ := j.Item("AQ-001")
	e := j.ItemEscalation(gas)
	if e.WarnAt != 0.5 || !slices.Equal(e.Levels, []Duration{{}, Clock(30 * time.Minute), Clock(2 * time.Hour)}) {
		t.Fatalf("AQ-001 escalation = %+v", e)
	}
	sr, _ := j.Item("SR-001")
	if e := j.ItemEscalation(sr); !reflect.DeepEqual(e, j.Escalation) {
		t.Fatalf("SR-001 escalation = %+v, want the district's", e)
	}
}

func TestSnapshot(t *testing.T) {
	it, _ := Default().Item("SR-001")
	got := it.Snapshot()
	want := incident.Item{Code: "SR-001", Name: "占道经营", Domain: "市容环境", Tier: incident.TierDepartment, Lead: "CG", Cooperating: []string{"SCJG"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Snapshot() = %+v, want %+v", got, want)
	}
	got.Cooperating[0] = "XX"
	if it.Cooperating[0] != "SCJG" {
		t.Fatal("Snapshot shares Cooperating with the item")
	}
	if d := it.Departments(); !slices.Equal(d, []string{"CG", "SCJG"}) {
		t.Fatalf("Departments() = %v", d)
	}
}

func TestDefaultYAMLIsACopy(t *testing.T) {
	b := DefaultYAML()
	b[0] = '!'
	if bytes.Equal(b, DefaultYAML()) {
		t.Fatal("DefaultYAML returns shared bytes")
	}
}

// A jurisdiction stored as JSON and read back answers the same lookups.
func TestJurisdictionJSONRoundTrip(t *testing.T) {
	j := Default()
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	var back Jurisdiction
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Items, j.Items) || !reflect.DeepEqual(back.Streets, j.Streets) {
		t.Fatal("items or streets changed in a JSON round trip")
	}
	if it, ok := back.Item("XF-001"); !ok || it.Lead != "XF" {
		t.Fatalf("Item(XF-001) after JSON = %+v, %v", it, ok)
	}
	if s, c, ok := back.LocateGrid("NF-03-03"); !ok || s != "NF" || c != "NF-03" {
		t.Fatalf("LocateGrid after JSON = %q %q %v", s, c, ok)
	}
	if d, ok := back.Department("ZHZF"); !ok || !d.Enforcement {
		t.Fatalf("Department(ZHZF) after JSON = %+v, %v", d, ok)
	}
	if _, ok := back.Street("LJ"); !ok {
		t.Fatal("Street(LJ) after JSON not found")
	}
	if !reflect.DeepEqual(back.Calendar(), j.Calendar()) {
		t.Fatal("calendar changed in a JSON round trip")
	}
}

func TestMissingCalendarYears(t *testing.T) {
	j := Default()
	for _, tt := range []struct {
		now  time.Time
		want []int
	}{
		{time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), nil},
		{time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), []int{2027}},
		{time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC), []int{2027, 2028}}, // already 2027 in Shanghai
		{time.Date(2030, 1, 1, 0, 0, 0, 0, shanghai), []int{2030, 2031}},
	} {
		if got := j.MissingCalendarYears(tt.now); !slices.Equal(got, tt.want) {
			t.Errorf("MissingCalendarYears(%s) = %v, want %v", tt.now, got, tt.want)
		}
	}
}

// The example in docs/jurisdiction.md is a valid file.
func TestDocExampleIsValid(t *testing.T) {
	md, err := os.ReadFile("../docs/jurisdiction.md")
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	_, rest, ok := strings.Cut(string(md), "```yaml\n")
	if !ok {
		t.Fatal("no yaml block in docs/jurisdiction.md")
	}
	example, _, _ := strings.Cut(rest, "```")
	j, err := Parse("docs/jurisdiction.md", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Items) != 2 || j.CalendarOverrides.Holidays[0] != "2026-12-31" {
		t.Fatalf("example parsed as %+v", j)
	}
}

func TestDefaultCounts(t *testing.T) {
	// docs/jurisdiction.md describes the shipped district with these numbers.
	j := Default()
	communities, domains := 0, map[string]bool{}
	for _, s := range j.Streets {
		communities += len(s.Communities)
	}
	for _, it := range j.Items {
		domains[it.Domain] = true
	}
	if len(j.Streets) != 5 || communities != 13 || len(j.Departments) != 16 || len(j.Items) != 49 || len(domains) != 11 {
		t.Fatalf("%d streets, %d communities, %d departments, %d items, %d domains", len(j.Streets), communities, len(j.Departments), len(j.Items), len(domains))
	}
}
