package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/whistle-city/whistle/activities"
	"github.com/whistle-city/whistle/app"
	"github.com/whistle-city/whistle/repair"
)

// reprojectCmd compares every incident workflow with the read model and,
// with --apply, records the newer state (repair.Reproject).
type reprojectCmd struct {
	Services
	Jurisdiction string `name:"jurisdiction" env:"WHISTLE_JURISDICTION" type:"existingfile" help:"Jurisdiction YAML (default: the shipped district)."`
	Apply        bool   `name:"apply" help:"Record each incident found behind its workflow; without it, only list them."`
	Concurrency  int    `name:"concurrency" default:"4" help:"Workflows asked at once (each answer may replay one on a worker)."`
	JSON         bool   `name:"json" help:"Print the result as JSON."`
}

func (c *reprojectCmd) Run(ctx context.Context, log *slog.Logger) error {
	s, err := app.Open(ctx, c.Services.config(log, nil, "", c.Jurisdiction))
	if err != nil {
		return err
	}
	defer s.Close()
	rec := &activities.Activities{Store: s.Store, Bus: s.Bus}
	res, err := repair.Reproject(ctx, s.Temporal, s.Store, rec, repair.Options{Apply: c.Apply, Concurrency: c.Concurrency})
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(res); jerr != nil {
			return jerr
		}
	} else {
		for _, b := range res.Behind {
			fmt.Printf("%s  read model v%d, workflow v%d (%s)\n", b.ID, b.Stored, b.Workflow, b.Status)
		}
		verb := "behind (run with --apply to record them)"
		if c.Apply {
			verb = fmt.Sprintf("behind, %d recorded", res.Recorded)
		}
		fmt.Printf("%d incident workflows, %d %s\n", res.Workflows, len(res.Behind), verb)
	}
	return err
}
