package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/loadgen"
	"github.com/whistle-city/whistle/metrics"
	"github.com/whistle-city/whistle/store"
)

// metricsCmd groups the metrics subcommands.
type metricsCmd struct {
	Check   metricsCheckCmd   `cmd:"" help:"Recompute a month's league tables from the timeline and compare them with the rollups; exits 1 on any difference."`
	Bench   metricsBenchCmd   `cmd:"" help:"Measure a month's league tables and monthly report on a (seeded) database and report p50/p95/p99/max."`
	Rebuild metricsRebuildCmd `cmd:"" help:"Recompute the rollups from every incident's stored rows (after a failed check), beside the running projections."`
}

type metricsRebuildCmd struct {
	seedDB
}

// Run rebuilds the rollups and says how long it took.
func (c *metricsRebuildCmd) Run(ctx context.Context) error {
	st, _, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := metrics.New(st.Pool()).RebuildRollups(ctx)
	if err != nil {
		return err
	}
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	fmt.Printf("rollups rebuilt from the record in %s (definition %s): build %s, %d changes projected meanwhile caught up, swap %s (%d attempts)\n",
		ms(r.Total), metrics.DefinitionVersion, ms(r.Build), r.Journal, ms(r.Swap), r.SwapAttempts)
	return nil
}

type metricsBenchCmd struct {
	seedDB
	Month  string `name:"month" required:"" help:"The month to measure, YYYY-MM."`
	N      int    `name:"n" default:"200" help:"Queries per case."`
	Warmup int    `name:"warmup" default:"10" help:"Unmeasured queries before each case."`
}

// Run times, N times each after a warm-up, what a supervisor asks for a
// month: the league tables of departments, streets and items (what
// GET /v1/metrics/* read) and the monthly report of the district and of
// one street (GET /v1/reports/monthly), straight on the store.
func (c *metricsBenchCmd) Run() error {
	ctx := context.Background()
	st, j, m, err := c.openMonth(ctx, c.Month)
	if err != nil {
		return err
	}
	defer st.Close()
	g := metrics.GradingOf(j.Assessment)
	from, to := m, m.AddDate(0, 1, 0)
	league := func(d metrics.Dimension) func() (int, error) {
		return func() (int, error) {
			rows, err := metrics.New(st.Pool()).League(ctx, d, from, to, g)
			return len(rows), err
		}
	}
	report := func(street string) func() (int, error) {
		return func() (int, error) {
			r, err := metrics.New(st.Pool()).MonthlyReport(ctx, metrics.MonthlyReportQuery{Year: m.Year(), Month: m.Month(), Street: street, Grading: g})
			if err != nil {
				return 0, err
			}
			return len(r.Departments), nil
		}
	}
	cases := []struct {
		name string
		run  func() (int, error)
	}{
		{"league: departments", league(metrics.ByDepartment)},
		{"league: streets", league(metrics.ByStreet)},
		{"league: items", league(metrics.ByItem)},
		{"monthly report: district", report("")},
		{"monthly report: street " + j.Streets[0].Code, report(j.Streets[0].Code)},
	}
	var tasks int64
	if err := st.Pool().QueryRow(ctx, "SELECT count(*) FROM tasks").Scan(&tasks); err != nil {
		return err
	}
	fmt.Printf("%s on %d tasks, %d queries per case\n", c.Month, tasks, c.N)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "case\trows\tp50 ms\tp95 ms\tp99 ms\tmax ms\t")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
	for _, k := range cases {
		var rows int
		samples := make([]time.Duration, 0, c.N)
		for i := range c.Warmup + c.N {
			start := time.Now()
			if rows, err = k.run(); err != nil {
				return fmt.Errorf("%s: %w", k.name, err)
			}
			if i >= c.Warmup {
				samples = append(samples, time.Since(start))
			}
		}
		l := loadgen.Summarize(samples)
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t\n", k.name, rows, ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max))
	}
	return w.Flush()
}

type metricsCheckCmd struct {
	seedDB
	Month string `name:"month" xor:"which" required:"" help:"The month to check, YYYY-MM (local days of the rollups' time zone)."`
	All   bool   `name:"all" xor:"which" required:"" help:"Check every month from the first report to the latest change, one at a time."`
}

// Run recomputes every league table of the month (or of every month with
// --all) from the record and prints each row where the rollups differ; a
// difference is an error.
func (c *metricsCheckCmd) Run() error {
	ctx := context.Background()
	month := c.Month
	if c.All {
		month = time.Now().Format("2006-01") // only to open the store
	}
	st, j, m, err := c.openMonth(ctx, month)
	if err != nil {
		return err
	}
	defer st.Close()
	months := []time.Time{m}
	if c.All {
		if months, err = metrics.New(st.Pool()).RecordMonths(ctx); err != nil {
			return err
		}
	}
	differ := 0
	for _, m := range months {
		diffs, err := metrics.New(st.Pool()).CheckRollups(ctx, m, m.AddDate(0, 1, 0), metrics.GradingOf(j.Assessment))
		if err != nil {
			return err
		}
		name, prefix := m.Format("2006-01"), ""
		if c.All {
			prefix = name + " "
		}
		for _, d := range diffs {
			if d.Dimension == metrics.ByMonth {
				fmt.Fprintf(os.Stdout, "month %q: the monthly rollup is not the sum of its days\n", d.Key)
				continue
			}
			of := ""
			if d.Channel != "" {
				of = " of channel " + d.Channel
			}
			fmt.Fprintf(os.Stdout, "%s%s %q%s (rollups ≠ record): %s\n", prefix, d.Dimension, d.Key, of, strings.Join(d.Changes(), "; "))
		}
		if len(diffs) > 0 {
			fmt.Fprintf(os.Stderr, "%s: %d rows differ between the rollups and the record\n", name, len(diffs))
			differ += len(diffs)
			continue
		}
		fmt.Fprintf(os.Stdout, "%s: the rollups equal the recomputation from the record (definition %s)\n", name, metrics.DefinitionVersion)
	}
	if differ > 0 {
		return fmt.Errorf("%d rows differ between the rollups and the record", differ)
	}
	if len(months) == 0 {
		fmt.Fprintln(os.Stdout, "nothing reported yet: nothing to check")
	}
	return nil
}

// openMonth parses month (YYYY-MM) and opens the store and jurisdiction.
func (d seedDB) openMonth(ctx context.Context, month string) (*store.Store, *jurisdiction.Jurisdiction, time.Time, error) {
	m, err := time.Parse("2006-01", month)
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("--month %q is not YYYY-MM", month)
	}
	st, j, err := d.open(ctx)
	return st, j, m, err
}
