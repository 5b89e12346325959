// Package seed fills a Whistle read model with a synthetic district's year:
// incidents reported across the jurisdiction's grids and items, each lived
// through with the real domain (incident.New, Apply, Tick) — acknowledged
// and completed mostly on time, sometimes late, returned and reassigned,
// sent back at verification, reopened after an unsatisfied return visit,
// closed unrated when no visit came — up to a chosen present, and stored
// with store.Load, so every row is what projecting that history would have
// written. A chosen share of tasks is left open past a deadline, overdue by
// anything from a minute to months and escalated up the jurisdiction's
// ladder accordingly, which is what the overdue board is measured against
// (Bench).
//
// `whistle seed` and `whistle bench-overdue` are thin wrappers around Run
// and Bench.
package seed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/metrics"
	"github.com/whistle-city/whistle/store"
)

// Defaults of Options.
const (
	DefaultOverdue = 0.04
	DefaultSpan    = 365 * 24 * time.Hour
	DefaultBatch   = 2000
	DefaultWriters = 2
)

// ErrOptions is wrapped by the error Run returns for options it cannot use.
var ErrOptions = errors.New("seed: invalid options")

// Options says what Run seeds.
type Options struct {
	// Tasks is how many tasks to seed at least (required): incidents are
	// generated until their tasks reach it, so the last one may add a few
	// more. Community- and street-tier incidents handled without
	// departments add none but are seeded too.
	Tasks int
	// Seed seeds the pseudo-random generator: the same Seed, Now,
	// Jurisdiction and Tasks give the same data.
	Seed uint64
	// Overdue is the share of tasks left open past a running deadline at
	// Now; DefaultOverdue when 0, none when negative.
	Overdue float64
	// Now is the present of the generated history: nothing happens after
	// it. time.Now() when zero.
	Now time.Time
	// Span is how far before Now incidents are reported; DefaultSpan when 0.
	Span time.Duration
	// Jurisdiction is the district; jurisdiction.Default() when nil.
	Jurisdiction *jurisdiction.Jurisdiction
	// Batch is how many incidents go into one store.Load transaction;
	// DefaultBatch when 0.
	Batch int
	// Writers is how many batches are written at once, each on a
	// connection of its own; DefaultWriters when 0.
	Writers int
	// Analyze runs VACUUM ANALYZE on the read model's tables at the end, so
	// that the planner's statistics and the visibility map describe the
	// seeded data, as autovacuum would after a while.
	Analyze bool
	// Progress, when set, is called after each batch is stored with the
	// totals so far.
	Progress func(Stats)
}

// Stats counts what Run seeded.
type Stats struct {
	Incidents int `json:"incidents"`
	Tasks     int `json:"tasks"`
	Timeline  int `json:"timeline"`
	Feedback  int `json:"feedback"`
	// OpenTasks are tasks pending acknowledgement or acknowledged on
	// dispatched incidents at Now.
	OpenTasks int `json:"open_tasks"`
	// OverdueTasks are the open tasks past a running deadline at Now.
	OverdueTasks int `json:"overdue_tasks"`
	// OverdueRows are the rows of the overdue board at Now: a task past
	// both its deadlines counts twice.
	OverdueRows int `json:"overdue_rows"`
	// OverdueByLevel counts overdue tasks by escalation level (index 0 is
	// level 0: past a deadline whose timer has not fired, which does not
	// happen in seeded data).
	OverdueByLevel []int `json:"overdue_by_level"`
	// ByStatus counts incidents by status.
	ByStatus map[string]int `json:"by_status"`
	// Now is the present of the history.
	Now time.Time `json:"now"`
	// Took is how long generating and storing took (without Analyze).
	Took time.Duration `json:"took"`
}

// Run generates incidents as Options say and stores them in st, batch by
// batch (store.Load), Writers batches at a time, generating the next ones
// meanwhile. The incidents' ids are UUID v7 of their report time with
// random bits from Seed, so seeding the same Seed twice into one database
// fails on the first batch (and writes nothing of it). On error, the
// batches already stored stay.
func Run(ctx context.Context, st *store.Store, o Options) (Stats, error) {
	if o.Tasks <= 0 {
		return Stats{}, fmt.Errorf("%w: tasks must be positive, not %d", ErrOptions, o.Tasks)
	}
	if o.Overdue >= 1 {
		return Stats{}, fmt.Errorf("%w: overdue must be a share below 1, not %v", ErrOptions, o.Overdue)
	}
	if o.Overdue == 0 {
		o.Overdue = DefaultOverdue
	}
	if o.Overdue < 0 {
		o.Overdue = 0
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC().Truncate(time.Millisecond)
	if o.Span <= 0 {
		o.Span = DefaultSpan
	}
	if o.Jurisdiction == nil {
		o.Jurisdiction = jurisdiction.Default()
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Writers <= 0 {
		o.Writers = DefaultWriters
	}
	g, err := newGenerator(o)
	if err != nil {
		return Stats{}, err
	}
	// The rollups count on the district's calendar days under this
	// version's definitions, as app.Open sets.
	if _, err := metrics.New(st.Pool()).SyncRollups(ctx, o.Jurisdiction.Timezone()); err != nil {
		return Stats{}, fmt.Errorf("seed: %w", err)
	}
	start := time.Now()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type batch struct {
		n     int // batches are numbered from 0 as generated
		items []store.LoadIncident
		stats Stats // totals after this batch
	}
	batches := make(chan batch, o.Writers)
	genErr := make(chan error, 1)
	go func() {
		defer close(batches)
		for n := 0; g.stats.Tasks < o.Tasks; n++ {
			items := make([]store.LoadIncident, 0, o.Batch)
			for len(items) < o.Batch && g.stats.Tasks < o.Tasks {
				it, err := g.next()
				if err != nil {
					genErr <- err
					return
				}
				items = append(items, it)
			}
			select {
			case batches <- batch{n: n, items: items, stats: g.snapshot()}:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Writers store batches concurrently; the totals reported are those
	// of the latest batch stored whose predecessors are all stored too.
	var (
		mu       sync.Mutex
		total    Stats
		done     = map[int]Stats{}
		next     int
		writeErr error
		wg       sync.WaitGroup
	)
	for range o.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				n, err := st.Load(ctx, b.items, store.DeferRollups())
				if err == nil && n.Incidents != int64(len(b.items)) {
					err = fmt.Errorf("stored %d incidents of a batch of %d", n.Incidents, len(b.items))
				}
				mu.Lock()
				if err != nil {
					if writeErr == nil {
						writeErr = fmt.Errorf("seed: %w", err)
					}
					mu.Unlock()
					cancel()
					return
				}
				done[b.n] = b.stats
				advanced := false
				for {
					s, ok := done[next]
					if !ok {
						break
					}
					delete(done, next)
					total, next, advanced = s, next+1, true
				}
				total.Took = time.Since(start)
				if advanced && o.Progress != nil {
					o.Progress(total)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if writeErr != nil {
		return total, writeErr
	}
	select {
	case err := <-genErr:
		return total, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return total, err
	}
	// The rollups once for the whole load: about twice as fast as per
	// batch. An interrupted seed leaves them without its incidents. The
	// planner first learns how big the tables have grown: with the
	// statistics of empty tables it reads every task for each batch.
	if _, err := st.Pool().Exec(ctx, "ANALYZE incidents, tasks, timeline, feedback"); err != nil {
		return total, fmt.Errorf("seed: analyze: %w", err)
	}
	if _, err := metrics.New(st.Pool()).RebuildRollups(ctx); err != nil {
		return total, fmt.Errorf("seed: %w", err)
	}
	total.Took = time.Since(start)
	if o.Analyze {
		for _, table := range []string{"incidents", "tasks", "timeline", "feedback"} {
			if _, err := st.Pool().Exec(ctx, "VACUUM ANALYZE "+table); err != nil {
				return total, fmt.Errorf("seed: vacuum analyze %s: %w", table, err)
			}
		}
	}
	return total, nil
}
