package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	httpapi "github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/store"
	"github.com/whistle-city/whistle/whatif"
)

type whatifCmd struct {
	Debug
	DatabaseURL  string `name:"database-url" env:"DATABASE_URL" help:"PostgreSQL URL (default: the database of a running whistle dev, from DATA_DIR/dev.json)."`
	DataDir      string `name:"data-dir" default:".whistle" help:"Where whistle dev keeps dev.json."`
	Jurisdiction string `name:"jurisdiction" env:"WHISTLE_JURISDICTION" type:"existingfile" help:"The jurisdiction the district runs (default: whistle dev's, else the shipped district): the rules the month ran by."`
	Month        string `name:"month" required:"" help:"The month to replay, YYYY-MM (a calendar month of the rollups' time zone)."`
	Rules        string `name:"rules" required:"" type:"existingfile" help:"Jurisdiction file with the proposed rules: SLAs per item, escalation ladder, calendar, enforcement deadline, return and reopen limits, assessment."`
	Format       string `name:"format" enum:"json,csv" default:"json" help:"json (tables, changes, flips, refused steps, identity) or csv (the comparison, one number per line)."`
	AsOf         string `name:"as-of" help:"RFC 3339 instant the clocks tick up to (default: the record's latest change)."`
	Limit        int    `name:"limit" default:"200" help:"Flips and refused steps listed (their totals are always complete); -1 lists none."`
	Workers      int    `name:"workers" help:"Incidents replayed at once (default: the CPUs)."`
	Check        bool   `name:"check" help:"Exit 1 when the replay under the rules the month ran by does not give the record's tables back (the identity check)."`
}

// Run replays the month under the proposed rules and prints the answer.
// It reads the record only: it neither migrates nor writes.
func (c *whatifCmd) Run(ctx context.Context, log *slog.Logger) error {
	if err := c.Debug.start(ctx, log); err != nil {
		return err
	}
	month, err := time.Parse("2006-01", c.Month)
	if err != nil {
		return fmt.Errorf("--month %q is not YYYY-MM", c.Month)
	}
	var asOf time.Time
	if c.AsOf != "" {
		if asOf, err = time.Parse(time.RFC3339, c.AsOf); err != nil {
			return fmt.Errorf("--as-of %q is not an RFC 3339 instant: %v", c.AsOf, err)
		}
	}
	proposed, _, err := jurisdiction.Load(c.Rules)
	if err != nil {
		return fmt.Errorf("--rules: %w", err)
	}
	url, file := c.DatabaseURL, c.Jurisdiction
	if url == "" || file == "" {
		dev, err := readDevEndpoints(c.DataDir)
		if err != nil {
			return err
		}
		if dev != nil {
			url = cmpOr(url, dev.DatabaseURL)
			file = cmpOr(file, dev.Jurisdiction)
		}
	}
	if url == "" {
		return errors.New("no database: pass --database-url, set DATABASE_URL or run `whistle dev`")
	}
	current := jurisdiction.Default()
	if file != "" {
		if current, _, err = jurisdiction.Load(file); err != nil {
			return err
		}
	}
	// The replay allocates fast and keeps little (a batch per worker):
	// collecting less often saves a fifth of its CPU at a cost of some
	// tens of megabytes.
	debug.SetGCPercent(400)
	st, err := store.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	last := time.Now()
	a, err := whatif.Run(ctx, st.Pool(), whatif.Options{Month: month, Current: current, Proposed: proposed,
		AsOf: asOf, Limit: c.Limit, Workers: c.Workers,
		Progress: func(p whatif.Progress) {
			if time.Since(last) >= 5*time.Second {
				last = time.Now()
				log.Info("replayed", "incidents", p.Done, "of", p.Total)
			}
		}})
	if err != nil {
		return err
	}
	log.Info("whatif", "month", a.Month, "incidents", a.Incidents, "seconds", fmt.Sprintf("%.1f", a.Seconds),
		"identity", a.Identity.Holds, "flips", a.Changes.FlipsTotal, "refused", a.Changes.RefusedTotal)
	if c.Format == "csv" {
		err = a.WriteCSV(os.Stdout)
	} else {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(httpapi.WhatifAnswerOf(a)) // the rows of /v1/metrics/*, as the API answers
	}
	if err != nil {
		return err
	}
	if c.Check && !a.Identity.Holds {
		return fmt.Errorf("the replay under the rules %s ran by differs from the record: %d rows, %d incidents", a.Month, len(a.Identity.Differences), a.Identity.Incidents)
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
