package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/store"
)

// TestMetricsCheckAndRebuild runs the operator's repair path through the
// binary on a seeded database of its own: `metrics check` finds the
// rollups equal to the record; after one daily rollup row is corrupted it
// exits 1 naming the month row that no longer sums its days, and after the
// month is corrupted the same way it names the department, street and item
// whose league rows differ from the record; `metrics rebuild` repairs it
// and the check passes again.
func TestMetricsCheckAndRebuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the whistle binary")
	}
	url := database(t)
	env := childEnv()
	seeded := run(t, env, 5*time.Minute, "seed", "--database-url", url, "--tasks", "3000", "--span", "1440h", "--no-vacuum")
	if seeded.code != 0 {
		t.Fatalf("whistle seed: exit %d\n%s", seeded.code, seeded.stderr)
	}
	// Last month in the district's zone: whole, and well inside the span.
	now := time.Now().In(time.FixedZone("CST", 8*3600))
	first := time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, time.UTC)
	month := first.Format("2006-01")
	check := func() result {
		return run(t, env, 2*time.Minute, "metrics", "check", "--month", month, "--database-url", url)
	}

	if r := check(); r.code != 0 || !strings.Contains(r.stdout, "the rollups equal the recomputation") {
		t.Fatalf("check of the seeded month: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	ctx := context.Background()
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A daily row alone: the league of a whole month reads the monthly
	// rows, so what shows is a month that no longer sums its days.
	var dept, street, item, channel string
	var day time.Time
	if err := st.Pool().QueryRow(ctx, `
UPDATE metrics_daily SET tasks = tasks + 1
WHERE ctid = (SELECT ctid FROM metrics_daily WHERE day >= $1::date AND day < ($1::date + interval '1 month')
              AND department <> '' AND tasks > 0 ORDER BY day, department, street, item, channel LIMIT 1)
RETURNING department, street, item, channel, day`, first.Format("2006-01-02")).Scan(&dept, &street, &item, &channel, &day); err != nil {
		t.Fatalf("corrupt a daily rollup row: %v", err)
	}
	r := check()
	if r.code != 1 || !strings.Contains(r.stdout, `month "`+month+` `+dept+`/`+street+`/`+item+`/`) ||
		strings.Contains(r.stdout, "department ") || !strings.Contains(r.stderr, "1 rows differ between the rollups and the record") {
		t.Fatalf("check after adding a task to a daily row of %s/%s/%s: exit %d, want 1 and that month's row only\nstdout:\n%s\nstderr:\n%s",
			dept, street, item, r.code, r.stdout, r.stderr)
	}

	// The same task in its month too, as a projection counting twice would
	// leave it: the month sums its days again, and the league differs from
	// the record in that department's row (and in its street's, item's and
	// domain's).
	if _, err := st.Pool().Exec(ctx, `
UPDATE metrics_monthly SET tasks = tasks + 1 WHERE month = $1::date AND department = $2 AND street = $3 AND item = $4 AND channel = $5`,
		first.Format("2006-01-02"), dept, street, item, channel); err != nil {
		t.Fatal(err)
	}
	r = check()
	if r.code != 1 || strings.Contains(r.stdout, "month ") {
		t.Fatalf("check after adding the task to the month too: exit %d, want 1 without a month row\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("whistle metrics check after the double count:\n%s", r.stdout)
	// Each differing row says what differs: the task in its department's,
	// street's and item's rows, and the scores and ranks it moved in others.
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if _, changes, ok := strings.Cut(line, "(rollups ≠ record): "); !ok || changes == "" {
			t.Errorf("check printed %q, want a row and what differs in it", line)
		}
	}
	for _, row := range []string{`department "` + dept + `"`, `street "` + street + `"`, `item "` + item + `"`} {
		m := regexp.MustCompile(regexp.QuoteMeta(row) + ` \(rollups ≠ record\): tasks: (\d+) ≠ (\d+)`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Errorf("check output lacks %s with its tasks\n%s", row, r.stdout)
			continue
		}
		if a, _ := strconv.Atoi(m[1]); strconv.Itoa(a-1) != m[2] {
			t.Errorf("%s: rollups count %s tasks and the record %s, want one more in the rollups", row, m[1], m[2])
		}
	}

	if r := run(t, env, 2*time.Minute, "metrics", "rebuild", "--database-url", url); r.code != 0 || !strings.Contains(r.stdout, "rollups rebuilt from the record") {
		t.Fatalf("whistle metrics rebuild: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if r := check(); r.code != 0 {
		t.Fatalf("check after the rebuild: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	metricsCheck(t, env, "--database-url", url)
}
