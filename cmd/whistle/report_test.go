package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/store"
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
	var empty store.MonthlyReport
	if err := json.Unmarshal([]byte(first.stdout), &empty); err != nil {
		t.Fatalf("stdout is not the report: %v\n%s", err, first.stdout)
	}
	if empty.Month != "2026-03" || empty.DefinitionVersion != store.MetricsDefinitionVersion || len(empty.Departments) != 0 {
		t.Fatalf("empty report %+v", empty)
	}

	// One department's March in the rollups (migrated by the first run).
	ctx := context.Background()
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Pool().Exec(ctx, `INSERT INTO metrics_daily (day, department, street, item, domain, tasks, acked_on_time,
completed, completed_on_time) VALUES ('2026-03-05', 'CG', 'FH', 'SR-001', '', 12, 12, 12, 12);
INSERT INTO metrics_monthly (month, department, street, item, domain, tasks, acked_on_time,
completed, completed_on_time) VALUES ('2026-03-01', 'CG', 'FH', 'SR-001', '', 12, 12, 12, 12)`); err != nil {
		t.Fatal(err)
	}
	r := run(t, env, time.Minute, "report", "--month", "2026-03", "--format", "csv", "--database-url", url)
	if r.code != 0 {
		t.Fatalf("whistle report --format csv: exit %d\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(r.stdout, "\ufeff")), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "section,month,rank,key,name,score") ||
		!strings.HasPrefix(lines[1], "departments,2026-03,1,CG,区城市管理局,1,") || !strings.HasPrefix(lines[2], "streets,2026-03,1,FH,") {
		t.Fatalf("CSV:\n%s", r.stdout)
	}

	next := time.Now().In(time.FixedZone("CST", 8*3600)).AddDate(0, 1, 0).Format("2006-01")
	for month, want := range map[string]string{"2026-3": "is not YYYY-MM", next: "is in the future"} {
		bad := run(t, env, time.Minute, "report", "--month", month, "--database-url", url)
		if bad.code == 0 || !strings.Contains(bad.stderr, want) {
			t.Errorf("--month %s: exit %d, stderr %q, want an error saying %q", month, bad.code, bad.stderr, want)
		}
	}
}
