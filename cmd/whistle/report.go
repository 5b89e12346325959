package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/metrics"
)

// reportCmd prints the monthly report, as GET /v1/reports/monthly does.
type reportCmd struct {
	seedDB
	Month    string `name:"month" required:"" help:"The month, YYYY-MM (local days of the district's time zone); not in the future."`
	Format   string `name:"format" enum:"json,csv" default:"json" help:"json or csv (one table with a leading section column; docs/api.md)."`
	Street   string `name:"street" help:"Narrow the report to one street (its departments' work, its row, its items)."`
	Channel  string `name:"channel" help:"Narrow the report to the incidents of one channel (grid, hotline, api, delegation, open311:<client>)."`
	Top      int    `name:"top" default:"10" help:"Items per top list (items tied with the last are kept)."`
	MinRated int    `name:"min-rated" default:"5" help:"Fewest rated return visits an item needs for the lowest-satisfaction list."`
}

// Run builds the report of the month and writes it to stdout.
func (c *reportCmd) Run(ctx context.Context) error {
	return c.write(ctx, os.Stdout)
}

func (c *reportCmd) write(ctx context.Context, w io.Writer) error {
	if c.Top < 1 || c.MinRated < 1 {
		return fmt.Errorf("--top and --min-rated must be at least 1")
	}
	st, j, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	loc, err := time.LoadLocation(j.Timezone())
	if err != nil {
		return fmt.Errorf("time zone %q: %w", j.Timezone(), err)
	}
	m, err := time.ParseInLocation("2006-01", c.Month, loc)
	if err != nil {
		return fmt.Errorf("--month %q is not YYYY-MM", c.Month)
	}
	now := time.Now().In(loc)
	if m.After(time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)) {
		return fmt.Errorf("--month %s is in the future (this month is %s)", c.Month, now.Format("2006-01"))
	}
	if c.Street != "" {
		if _, ok := j.Street(c.Street); !ok {
			return fmt.Errorf("--street %q is not a street of the jurisdiction", c.Street)
		}
	}
	r, err := metrics.New(st.Pool()).MonthlyReport(ctx, metrics.MonthlyReportQuery{Year: m.Year(), Month: m.Month(), Street: c.Street, Channel: c.Channel,
		Grading: metrics.GradingOf(j.Assessment), Top: c.Top, MinRated: c.MinRated})
	if err != nil {
		return err
	}
	nameReport(r, j)
	if c.Format == "csv" {
		return r.WriteCSV(w)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// nameReport names the report's departments and streets after the
// jurisdiction.
func nameReport(r *metrics.MonthlyReport, j *jurisdiction.Jurisdiction) {
	deps, streets := map[string]string{}, map[string]string{}
	for _, d := range j.Departments {
		deps[d.Code] = d.Name
	}
	for _, s := range j.Streets {
		streets[s.Code] = s.Name
	}
	r.NameRows(deps, streets)
}
