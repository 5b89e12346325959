// Package whatif answers the reform office's question "what if the rules
// had been different?": it replays every incident of a month from the
// record — its report and the steps people took, each at its recorded time
// (incident.StepsOf) — through the domain under proposed rules, and sets
// the month's league tables under them beside the ones the month was
// graded on, with what changed and why.
//
// It is a pure, streaming read of the record: no Temporal, no writes, one
// batch of incidents in memory per worker. People are assumed to act when
// they did; a step the proposed rules refuse is counted and listed, and the
// replay goes on without it. The same replay under the rules the month ran
// by must reproduce the graded tables exactly (Answer.Identity): that is
// what makes the proposed figures believable. docs/whatif.md explains the
// assumptions and how to read the answer.
package whatif

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/metrics"
)

// Defaults of Options.
const (
	DefaultLimit = 200
	DefaultBatch = 500
)

// ErrOptions is wrapped by every error about the options.
var ErrOptions = errors.New("whatif: bad options")

// Options say which month to replay under which rules.
type Options struct {
	// Month names the month by its year and month (its other fields are
	// ignored): a calendar month of the rollups' time zone.
	Month time.Time
	// Current is the jurisdiction the district runs (required): its
	// district-wide rules, and each item's as the catalogue version the
	// incident started with says (or the file's, for a version the
	// catalogue does not have), are the rules the month ran by. Its
	// assessment grades the current tables.
	Current *jurisdiction.Jurisdiction
	// Proposed is the jurisdiction file with the proposed rules (required):
	// its items' SLAs and ladders, calendar, enforcement deadline, limits,
	// rating window and assessment. An item it does not have keeps the
	// rules it ran by (Answer.Changes.UnchangedItems).
	Proposed *jurisdiction.Jurisdiction
	// AsOf is the present of the replay: the clocks tick up to it. Zero:
	// the record's latest change (when the timers that had come had
	// fired).
	AsOf time.Time
	// Limit is how many flips and refused steps are listed (the first by
	// incident id; their totals are always complete); DefaultLimit when 0,
	// none when negative.
	Limit int
	// Workers replay at once; runtime.GOMAXPROCS(0) when 0. Batch is how
	// many incidents are read at a time; DefaultBatch when 0.
	Workers, Batch int
	// Progress, when set, is called after each batch is replayed.
	Progress func(Progress)
}

// Progress is how far a replay is.
type Progress struct {
	// Done incidents of Total replayed.
	Done  int `json:"done"`
	Total int `json:"total"`
}

// Answer is what whatif answers.
type Answer struct {
	Month string    `json:"month"`
	AsOf  time.Time `json:"as_of"`
	// Incidents are the incidents replayed: every one reported in the
	// month, and every earlier one with something counted in it.
	Incidents int `json:"incidents"`
	// Current are the month's tables as the record has them (what metrics
	// check recomputes, and the month was graded on); Proposed the tables
	// of the replay under the proposed rules, graded by the proposed
	// assessment.
	Current  Tables  `json:"current"`
	Proposed Tables  `json:"proposed"`
	Changes  Changes `json:"changes"`
	// Identity says whether the replay under the rules the month ran by
	// gives Current back, row for row.
	Identity Identity `json:"identity"`
	// Seconds the replay took.
	Seconds float64 `json:"seconds"`
}

// Tables are a month's league tables, rows shaped as /v1/metrics/* rows.
type Tables struct {
	Departments []metrics.LeagueRow `json:"departments"`
	Streets     []metrics.LeagueRow `json:"streets"`
	Items       []metrics.LeagueRow `json:"items"`
}

// Identity is the check of the replay itself: the month replayed under
// the rules it ran by, against the record.
type Identity struct {
	// Holds when every table of the replay equals the record's.
	Holds bool `json:"holds"`
	// Differences are the rows that differ ("dimension key: field:
	// record ≠ replay; …").
	Differences []string `json:"differences,omitempty"`
	// Incidents whose replayed timeline differs from the recorded one (in
	// an entry's type, time, task or level), the first of them listed.
	Incidents      int      `json:"incidents"`
	FirstIncidents []string `json:"first_incidents,omitempty"`
}

var dims = []metrics.Dimension{metrics.ByDepartment, metrics.ByStreet, metrics.ByItem}

// Run replays the month of o on the record in pool and answers.
func Run(ctx context.Context, pool *pgxpool.Pool, o Options) (*Answer, error) {
	began := time.Now()
	if o.Current == nil || o.Proposed == nil {
		return nil, fmt.Errorf("%w: the current and the proposed jurisdiction are both required", ErrOptions)
	}
	if o.Limit == 0 {
		o.Limit = DefaultLimit
	}
	o.Limit = max(o.Limit, 0)
	o.Workers = cmp.Or(o.Workers, runtime.GOMAXPROCS(0))
	o.Batch = cmp.Or(o.Batch, DefaultBatch)

	loc, err := metrics.New(pool).MetricsTimezone(ctx)
	if err != nil {
		return nil, err
	}
	from := time.Date(o.Month.Year(), o.Month.Month(), 1, 0, 0, 0, 0, loc)
	to := from.AddDate(0, 1, 0)
	rd, err := newReader(ctx, pool, from, to, o.Batch)
	if err != nil {
		return nil, err
	}
	if o.AsOf.IsZero() {
		o.AsOf = rd.latest
	}
	rules, err := newRulebook(ctx, pool, o.Current, o.Proposed)
	if err != nil {
		return nil, err
	}

	batches := make(chan []*record, 2)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- rd.each(ctx, func(b []*record) error {
			select {
			case batches <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()

	var mu sync.Mutex
	done := 0
	workers := make([]*worker, o.Workers)
	var wg sync.WaitGroup
	for i := range workers {
		w := newWorker(from, to, loc, o, rules)
		workers[i] = w
		wg.Go(func() {
			for b := range batches {
				if w.err != nil {
					continue // drain, so the reader ends
				}
				for _, r := range b {
					if w.err = w.replay(r); w.err != nil {
						break
					}
				}
				if o.Progress != nil {
					mu.Lock()
					done += len(b)
					o.Progress(Progress{Done: done, Total: rd.total})
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if err := <-readErr; err != nil {
		return nil, err
	}
	for _, w := range workers {
		if w.err != nil {
			return nil, w.err
		}
	}
	a := answer(from, o, workers)
	a.Seconds = time.Since(began).Seconds()
	return a, nil
}

// answer merges the workers' tallies and lists into the answer.
func answer(month time.Time, o Options, ws []*worker) *Answer {
	rec, cur, prop := ws[0].record, ws[0].current, ws[0].proposed
	for _, w := range ws[1:] {
		rec.Add(w.record)
		cur.Add(w.current)
		prop.Add(w.proposed)
	}
	gCur, gProp := metrics.GradingOf(o.Current.Assessment), metrics.GradingOf(o.Proposed.Assessment)
	tables := func(t *metrics.Tally, g metrics.Grading) Tables {
		return Tables{Departments: t.League(metrics.ByDepartment, g), Streets: t.League(metrics.ByStreet, g), Items: t.League(metrics.ByItem, g)}
	}
	a := &Answer{Month: month.Format("2006-01"), AsOf: o.AsOf,
		Current: tables(rec, gCur), Proposed: tables(prop, gProp)}
	ident := tables(cur, gCur)
	a.Identity.Holds = true
	for _, d := range dims {
		for _, diff := range metrics.CompareLeagues(d, a.Current.Of(d), ident.Of(d)) {
			a.Identity.Holds = false
			a.Identity.Differences = append(a.Identity.Differences, fmt.Sprintf("%s %s: %v", d, diff.Key, diff.Changes()))
		}
	}
	slices.Sort(a.Identity.Differences)

	c := &a.Changes
	c.Departments = rowChanges(a.Current.Departments, a.Proposed.Departments)
	c.Streets = rowChanges(a.Current.Streets, a.Proposed.Streets)
	c.Items = rowChanges(a.Current.Items, a.Proposed.Items)
	c.Levels = levelChanges(a.Current.Streets, a.Proposed.Streets)
	c.FlipsByKind, c.RefusedByCommand = map[string]int{}, map[string]int{}
	unchanged := map[string]bool{}
	for _, w := range ws {
		a.Incidents += w.n
		a.Identity.Incidents += w.unfaithful
		a.Identity.FirstIncidents = append(a.Identity.FirstIncidents, w.firstUnfaithful...)
		c.Flips = append(c.Flips, w.flips...)
		c.Refused = append(c.Refused, w.refused...)
		c.FlipsTotal += w.flipsTotal
		c.RefusedTotal += w.refusedTotal
		for k, n := range w.flipsByKind {
			c.FlipsByKind[k] += n
		}
		for k, n := range w.refusedByCommand {
			c.RefusedByCommand[k] += n
		}
		for k := range w.unchanged {
			unchanged[k] = true
		}
	}
	c.UnchangedItems = slices.Sorted(maps.Keys(unchanged))
	slices.Sort(a.Identity.FirstIncidents)
	a.Identity.FirstIncidents = a.Identity.FirstIncidents[:min(len(a.Identity.FirstIncidents), max(o.Limit, 10))]
	slices.SortFunc(c.Flips, func(x, y Flip) int {
		return cmp.Or(cmp.Compare(x.Incident, y.Incident), cmp.Compare(x.Task, y.Task), cmp.Compare(x.What, y.What))
	})
	c.Flips = c.Flips[:min(len(c.Flips), o.Limit)]
	slices.SortFunc(c.Refused, func(x, y Refused) int {
		return cmp.Or(cmp.Compare(x.Incident, y.Incident), cmp.Compare(x.Seq, y.Seq))
	})
	c.Refused = c.Refused[:min(len(c.Refused), o.Limit)]
	return a
}

// Of returns the table of dimension d (departments, streets or items).
func (t Tables) Of(d metrics.Dimension) []metrics.LeagueRow {
	switch d {
	case metrics.ByStreet:
		return t.Streets
	case metrics.ByItem:
		return t.Items
	}
	return t.Departments
}

// rulebook gives an incident the rules it ran by and the proposed ones.
type rulebook struct {
	cur, prop       *jurisdiction.Jurisdiction
	curCal, propCal jurisdiction.Calendar
	// versions are the catalogue's versions of each item, by code and
	// version: an incident's item as it started.
	versions map[string]map[int]jurisdiction.Item
	mu       sync.Mutex
	ran      map[itemVersion]*incident.Replay
	proposed map[string]*incident.Replay
}

type itemVersion struct {
	code    string
	version int
}

func newRulebook(ctx context.Context, pool *pgxpool.Pool, cur, prop *jurisdiction.Jurisdiction) (*rulebook, error) {
	b := &rulebook{cur: cur, prop: prop, curCal: cur.Calendar(), propCal: prop.Calendar(),
		versions: map[string]map[int]jurisdiction.Item{}, ran: map[itemVersion]*incident.Replay{}, proposed: map[string]*incident.Replay{}}
	rows, err := pool.Query(ctx, `SELECT code, version, body FROM catalogue_items WHERE NOT retired`)
	if err != nil {
		return nil, fmt.Errorf("whatif: read the catalogue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		var v int
		var body []byte
		if err := rows.Scan(&code, &v, &body); err != nil {
			return nil, fmt.Errorf("whatif: read the catalogue: %w", err)
		}
		var it jurisdiction.Item
		if err := json.Unmarshal(body, &it); err != nil {
			continue // not an item this release reads: the file's is used
		}
		if it, err = cur.ValidateItem(it); err != nil {
			continue
		}
		if b.versions[code] == nil {
			b.versions[code] = map[int]jurisdiction.Item{}
		}
		b.versions[code][v] = it
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("whatif: read the catalogue: %w", err)
	}
	return b, nil
}

// asRan returns the replay of an incident of item it under the rules it
// ran by, and whether the item is known at all.
func (b *rulebook) asRan(it incident.Item) (*incident.Replay, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := itemVersion{it.Code, it.Version}
	if r, ok := b.ran[k]; ok {
		return r, r != nil
	}
	item, ok := b.versions[it.Code][it.Version]
	if !ok {
		item, ok = b.cur.Item(it.Code)
	}
	var r *incident.Replay
	if ok {
		r = replayOf(b.cur, item, b.curCal)
	}
	b.ran[k] = r
	return r, ok
}

// proposedFor returns the replay of an incident of item it under the
// proposed rules, and false when the proposed file has no such item (then
// it is the rules it ran by).
func (b *rulebook) proposedFor(it incident.Item) (*incident.Replay, bool) {
	b.mu.Lock()
	r, ok := b.proposed[it.Code]
	if !ok {
		if item, has := b.prop.Item(it.Code); has {
			r = replayOf(b.prop, item, b.propCal)
		}
		b.proposed[it.Code] = r
	}
	b.mu.Unlock()
	if r != nil {
		return r, true
	}
	ran, _ := b.asRan(it)
	return ran, false
}

func replayOf(j *jurisdiction.Jurisdiction, it jurisdiction.Item, cal jurisdiction.Calendar) *incident.Replay {
	window := cmp.Or(j.Assessment.RatingWindow, jurisdiction.DefaultRatingWindow)
	return &incident.Replay{Rules: j.RulesFor(it, cal), RatingEnd: func(closed time.Time) time.Time { return cal.Add(closed, window) }}
}
