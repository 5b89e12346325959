package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/whistle-city/whistle/store"
)

// monthsCmd lists the month partitions of the read model (migration 00014).
type monthsCmd struct {
	DatabaseURL string `name:"database-url" env:"DATABASE_URL" required:"" help:"PostgreSQL URL."`
	JSON        bool   `name:"json" help:"Print the months as JSON."`
}

func (c *monthsCmd) Run(ctx context.Context) error {
	st, err := store.Open(ctx, c.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	months, err := st.Months(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(months)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "month\treceived from\tincidents\topen\tMB\t")
	for _, m := range months {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%.1f\t\n", m.Month.Format("2006-01"), m.From.Format("2006-01-02 15:04Z07:00"),
			m.Incidents, m.Open, float64(m.Bytes)/(1<<20))
	}
	return w.Flush()
}
