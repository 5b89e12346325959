package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/metrics"
)

// TestReportCommand runs `whistle report` on a database of its own: it
// migrates it, prints the report as JSON and as CSV, and refuses a bad or
// future month.
func TestReportCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the whistle binary")
	}
	url := database(t)
	env := childEnv()
	first := run(t, env, time.Minute, "report", "--month", "2026-03", "--database-url", url)
	if first.code != 0 {
		t.Fatalf("whistle report on an empty database: exit %d\n%s", first.code, first.stderr)
	}
	var empty metrics.MonthlyReport
	if err := json.Unmarshal([]byte(first.stdout), &empty); err != nil {
		t.Fatalf("stdout is not the report: %v\n%s", err, first.stdout)
	}
	if empty.Month != "2026-03" || empty.DefinitionVersion != metrics.DefinitionVersion || len(empty.Departments) != 0 {
		t.Fatalf("empty report %+v", empty)
	}

	// Two months of a seeded district: last month is whole.
	if r := run(t, env, 5*time.Minute, "seed", "--database-url", url, "--tasks", "1500", "--span", "1440h", "--no-vacuum"); r.code != 0 {
		t.Fatalf("whistle seed: exit %d\n%s", r.code, r.stderr)
	}
	now := time.Now().In(time.FixedZone("CST", 8*3600))
	month := time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
	r := run(t, env, time.Minute, "report", "--month", month, "--format", "csv", "--database-url", url)
	if r.code != 0 {
		t.Fatalf("whistle report --format csv: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "\ufeff") {
		t.Errorf("the CSV does not start with a byte order mark")
	}
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(r.stdout, "\ufeff")), "\n")
	if lines[0] != strings.Join(metrics.ReportCSVColumns, ",") {
		t.Fatalf("CSV header %q", lines[0])
	}
	sections := map[string]int{}
	for _, l := range lines[1:] {
		section, rest, _ := strings.Cut(l, ",")
		if !strings.HasPrefix(rest, month+",") {
			t.Errorf("row of another month: %q", l)
		}
		if n := strings.Count(l, ","); n != len(metrics.ReportCSVColumns)-1 {
			t.Errorf("row with %d columns, want %d: %q", n+1, len(metrics.ReportCSVColumns), l)
		}
		sections[section]++
	}
	for _, s := range []string{metrics.SectionDepartments, metrics.SectionStreets, metrics.SectionMostCases} {
		if sections[s] == 0 {
			t.Errorf("no %s rows in\n%s", s, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "\ndepartments,"+month+",1,") {
		t.Errorf("no department ranked first:\n%s", r.stdout)
	}

	next := time.Now().In(time.FixedZone("CST", 8*3600)).AddDate(0, 1, 0).Format("2006-01")
	for month, want := range map[string]string{"2026-3": "is not YYYY-MM", next: "is in the future"} {
		bad := run(t, env, time.Minute, "report", "--month", month, "--database-url", url)
		if bad.code == 0 || !strings.Contains(bad.stderr, want) {
			t.Errorf("--month %s: exit %d, stderr %q, want an error saying %q", month, bad.code, bad.stderr, want)
		}
	}

	metricsCheck(t, env, "--database-url", url)
}
