package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/whistle-city/whistle/store"
)

// metricsCmd groups the metrics subcommands.
type metricsCmd struct {
	Check metricsCheckCmd `cmd:"" help:"Recompute a month's league tables from the timeline and compare them with the rollups; exits 1 on any difference."`
}

type metricsCheckCmd struct {
	seedDB
	Month string `name:"month" required:"" help:"The month to check, YYYY-MM (local days of the rollups' time zone)."`
}

// Run recomputes every league table of the month from the record and
// prints each row where the rollups differ; a difference is an error.
func (c *metricsCheckCmd) Run() error {
	m, err := time.Parse("2006-01", c.Month)
	if err != nil {
		return fmt.Errorf("--month %q is not YYYY-MM", c.Month)
	}
	ctx := context.Background()
	st, j, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	a := j.Assessment
	g := store.Grading{Street: a.Street, Public: a.Public, Timeliness: a.Timeliness, Target: a.SatisfactionTarget, MinCases: a.MinCasesOrDefault()}
	diffs, err := st.CheckRollups(ctx, m, m.AddDate(0, 1, 0), g)
	if err != nil {
		return err
	}
	for _, d := range diffs {
		fmt.Fprintf(os.Stdout, "%s %q:\n  rollups: %s\n  record:  %s\n", d.Dimension, d.Key, describeRow(d.Rollup), describeRow(d.Record))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s: %d rows differ between the rollups and the record", c.Month, len(diffs))
	}
	fmt.Fprintf(os.Stdout, "%s: the rollups equal the recomputation from the record (definition %s)\n", c.Month, store.MetricsDefinitionVersion)
	return nil
}

func describeRow(r *store.LeagueRow) string {
	if r == nil {
		return "(no row)"
	}
	return fmt.Sprintf("%+v", r.Counts)
}
