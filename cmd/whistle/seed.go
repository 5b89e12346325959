package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/seed"
	"github.com/whistle-city/whistle/store"
)

// seedDB says which database seed and bench-overdue use.
type seedDB struct {
	DatabaseURL  string `name:"database-url" env:"DATABASE_URL" help:"PostgreSQL URL (default: the database of a running whistle dev, from DATA_DIR/dev.json)."`
	DataDir      string `name:"data-dir" default:".whistle" help:"Where whistle dev keeps dev.json."`
	Jurisdiction string `name:"jurisdiction" env:"WHISTLE_JURISDICTION" type:"existingfile" help:"Jurisdiction YAML (default: the shipped district)."`
}

// open migrates and opens the database, and loads the jurisdiction.
func (d seedDB) open(ctx context.Context) (*store.Store, *jurisdiction.Jurisdiction, error) {
	j := jurisdiction.Default()
	if d.Jurisdiction != "" {
		var err error
		if j, _, err = jurisdiction.Load(d.Jurisdiction); err != nil {
			return nil, nil, err
		}
	}
	url := d.DatabaseURL
	if url == "" {
		dev, err := readDevEndpoints(d.DataDir)
		if err != nil {
			return nil, nil, err
		}
		if dev == nil || dev.DatabaseURL == "" {
			return nil, nil, errors.New("no database: pass --database-url, set DATABASE_URL or run `whistle dev`")
		}
		url = dev.DatabaseURL
	}
	if err := store.Migrate(ctx, url); err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	return st, j, nil
}

type seedCmd struct {
	seedDB
	Tasks    int           `name:"tasks" default:"1000000" help:"Tasks to seed (at least)."`
	Seed     uint64        `name:"seed" default:"1" help:"Seed of the pseudo-random generator; seeding the same seed twice into one database fails."`
	Overdue  float64       `name:"overdue" default:"0.04" help:"Share of tasks left open past a deadline now (0 < x < 1)."`
	Span     time.Duration `name:"span" default:"8760h" help:"How far back incidents are reported."`
	Batch    int           `name:"batch" default:"2000" help:"Incidents per COPY transaction."`
	Writers  int           `name:"writers" default:"2" help:"Transactions writing at once."`
	NoVacuum bool          `name:"no-vacuum" help:"Skip the VACUUM ANALYZE of the read model's tables at the end."`
	JSON     bool          `name:"json" help:"Print the summary as JSON."`
}

func (c *seedCmd) Run(ctx context.Context, log *slog.Logger) error {
	if c.Overdue <= 0 || c.Overdue >= 1 {
		return fmt.Errorf("--overdue must be a share between 0 and 1, not %v", c.Overdue)
	}
	if c.DatabaseURL == "" {
		// Unlike bench-overdue, seed never falls back to whistle dev's
		// database: its rows have no workflows behind them.
		return errors.New("seed writes synthetic incidents with no workflows behind them: name a database of its own with --database-url or DATABASE_URL")
	}
	st, j, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("seeding", "tasks", c.Tasks, "seed", c.Seed, "overdue", c.Overdue, "span", c.Span)
	var last time.Time
	stats, err := seed.Run(ctx, st, seed.Options{
		Tasks: c.Tasks, Seed: c.Seed, Overdue: c.Overdue, Span: c.Span, Jurisdiction: j, Batch: c.Batch, Writers: c.Writers,
		Analyze: !c.NoVacuum,
		Progress: func(s seed.Stats) {
			if time.Since(last) >= 5*time.Second {
				last = time.Now()
				log.Info("seeded", "incidents", s.Incidents, "tasks", s.Tasks, "timeline", s.Timeline, "took", s.Took.Round(time.Second))
			}
		},
	})
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(stats)
	}
	fmt.Printf("seeded %d incidents, %d tasks, %d timeline entries, %d return visits in %s (now = %s)\n",
		stats.Incidents, stats.Tasks, stats.Timeline, stats.Feedback, stats.Took.Round(100*time.Millisecond), stats.Now.Format(time.RFC3339))
	fmt.Printf("open tasks %d; overdue tasks %d (%.2f%% of tasks), %d rows on the overdue board; by level %v\n",
		stats.OpenTasks, stats.OverdueTasks, 100*float64(stats.OverdueTasks)/float64(max(stats.Tasks, 1)), stats.OverdueRows, stats.OverdueByLevel)
	fmt.Printf("incidents by status %v\n", stats.ByStatus)
	return nil
}

type benchOverdueCmd struct {
	seedDB
	N          int    `name:"n" default:"2000" help:"Queries per filter combination."`
	Warmup     int    `name:"warmup" default:"20" help:"Unmeasured queries before each combination."`
	Limit      int    `name:"limit" default:"50" help:"Page size."`
	Street     string `name:"street" help:"Street filter (default: the street with the most overdue rows)."`
	Department string `name:"department" help:"Department filter (default: the department with the most overdue rows)."`
	DeepPages  int    `name:"deep-pages" default:"20" help:"Pages the deep-page cases skip by cursor."`
	JSON       bool   `name:"json" help:"Print the results as JSON."`
}

func (c *benchOverdueCmd) Run(ctx context.Context, log *slog.Logger) error {
	st, j, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := seed.Bench(ctx, st, seed.BenchOptions{
		N: c.N, Warmup: c.Warmup, Limit: c.Limit, Street: c.Street, Department: c.Department,
		DeepPages: c.DeepPages, Jurisdiction: j,
	})
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	var tasks int64
	if err := st.Pool().QueryRow(ctx, "SELECT count(*) FROM tasks").Scan(&tasks); err != nil {
		return err
	}
	fmt.Printf("GET /v1/supervision/overdue through store.OverdueTasks: %d tasks, %d queries per case, limit %d\n", tasks, c.N, c.Limit)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "case\trows\tp50 ms\tp95 ms\tp99 ms\tmax ms\t")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }
	for _, r := range res {
		l := r.Latency
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t\n", r.Name, r.Rows, ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max))
	}
	return w.Flush()
}
