package seed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/loadgen"
	"github.com/whistle-city/whistle/store"
)

// Defaults of BenchOptions.
const (
	DefaultBenchN     = 2000
	DefaultDeepPages  = 20
	DefaultBenchWarm  = 20
	defaultBenchLevel = 2
)

// BenchOptions says how Bench measures the overdue board.
type BenchOptions struct {
	// N is how many times each case is queried; DefaultBenchN when 0.
	N int
	// Warmup queries of each case are run first and not measured;
	// DefaultBenchWarm when 0, none when negative.
	Warmup int
	// Limit is the page size; store.DefaultLimit when 0.
	Limit int
	// Street and Department are the filter values; "" picks the street
	// and the department with the most overdue rows now.
	Street, Department string
	// DeepPages is how many pages the deep-page case skips (by cursor)
	// before the page it measures; DefaultDeepPages when 0.
	DeepPages int
	// Jurisdiction lists the departments among which the one with the
	// fewest overdue rows is picked; jurisdiction.Default() when nil.
	Jurisdiction *jurisdiction.Jurisdiction
}

// BenchCase is one filter combination of the overdue board.
type BenchCase struct {
	Name   string              `json:"name"`
	Filter store.OverdueFilter `json:"filter"`
}

// BenchResult is how long one case took.
type BenchResult struct {
	BenchCase
	// Rows is how many rows the case's page had (the last time).
	Rows    int             `json:"rows"`
	Latency loadgen.Latency `json:"latency"`
}

// ErrNoOverdue is returned by Bench when nothing is overdue: there would be
// nothing to measure.
var ErrNoOverdue = errors.New("seed: nothing is overdue: seed the database first")

// BenchCases returns the filter combinations Bench measures, with the
// values picked as BenchOptions say: none; street; department; the
// department with the fewest overdue rows (the one a due-ordered scan finds
// last), alone and with the street; kind ack and resolve; min_level 2 and 3,
// and one above every level on the board (nothing matches: the worst case,
// every running deadline is read); street and kind; every filter at once;
// a deep page (by cursor) without filters and of a street; and the last
// page without filters and of the department at min_level 3 (the level is
// checked on every deadline of the department up to now).
func BenchCases(ctx context.Context, st *store.Store, o BenchOptions) ([]BenchCase, error) {
	o = o.withDefaults()
	counts, err := overdueCounts(ctx, st)
	if err != nil {
		return nil, err
	}
	if len(counts.street) == 0 {
		return nil, ErrNoOverdue
	}
	street, dept := o.Street, o.Department
	if street == "" {
		street = most(counts.street)
	}
	if dept == "" {
		dept = most(counts.department)
	}
	// The rarest department, counting those with nothing overdue.
	rare, rareN := "", -1
	for _, d := range o.Jurisdiction.Departments {
		if n := counts.department[d.Code]; rareN < 0 || n < rareN {
			rare, rareN = d.Code, n
		}
	}
	lim := o.Limit
	cases := []BenchCase{
		{"none", store.OverdueFilter{Limit: lim}},
		{"street=" + street, store.OverdueFilter{Street: street, Limit: lim}},
		{"department=" + dept, store.OverdueFilter{Department: dept, Limit: lim}},
		{fmt.Sprintf("department=%s (fewest overdue: %d rows)", rare, rareN), store.OverdueFilter{Department: rare, Limit: lim}},
		{"kind=ack", store.OverdueFilter{Kind: store.KindAck, Limit: lim}},
		{"kind=resolve", store.OverdueFilter{Kind: store.KindResolve, Limit: lim}},
		{"min_level=2", store.OverdueFilter{MinLevel: defaultBenchLevel, Limit: lim}},
		{"min_level=3", store.OverdueFilter{MinLevel: 3, Limit: lim}},
		{fmt.Sprintf("min_level=%d (above every level: no rows)", counts.maxLevel+1), store.OverdueFilter{MinLevel: counts.maxLevel + 1, Limit: lim}},
		{"street=" + street + " department=" + rare, store.OverdueFilter{Street: street, Department: rare, Limit: lim}},
		{"street=" + street + " kind=ack", store.OverdueFilter{Street: street, Kind: store.KindAck, Limit: lim}},
		{"street=" + street + " department=" + dept + " kind=resolve min_level=2",
			store.OverdueFilter{Street: street, Department: dept, Kind: store.KindResolve, MinLevel: defaultBenchLevel, Limit: lim}},
	}
	// Deep pages: the page after DeepPages pages, and the last page (which
	// reads to the end of the filter's range of deadlines).
	levelled := BenchCase{"department=" + dept + " min_level=3", store.OverdueFilter{Department: dept, MinLevel: 3, Limit: lim}}
	for _, d := range []struct {
		base  BenchCase
		pages int // -1: the last page
	}{{cases[0], o.DeepPages}, {cases[1], o.DeepPages}, {cases[0], -1}, {levelled, -1}} {
		f := d.base.Filter
		skipped := 0
		for ; d.pages < 0 || skipped < d.pages; skipped++ {
			_, next, err := st.OverdueTasks(ctx, store.Everything, f)
			if err != nil {
				return nil, fmt.Errorf("seed: page through %s: %w", d.base.Name, err)
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
		name := fmt.Sprintf("%s, page %d (cursor)", d.base.Name, skipped+1)
		if d.pages < 0 {
			name = fmt.Sprintf("%s, last page: %d (cursor)", d.base.Name, skipped+1)
		}
		cases = append(cases, BenchCase{name, f})
	}
	return cases, nil
}

// Bench measures the overdue board (store.OverdueTasks, as the API calls
// it) on the cases of BenchCases: each is queried N times in a row, one
// query at a time, after Warmup unmeasured ones.
func Bench(ctx context.Context, st *store.Store, o BenchOptions) ([]BenchResult, error) {
	o = o.withDefaults()
	cases, err := BenchCases(ctx, st, o)
	if err != nil {
		return nil, err
	}
	out := make([]BenchResult, 0, len(cases))
	for _, c := range cases {
		res := BenchResult{BenchCase: c}
		for range max(o.Warmup, 0) {
			if _, _, err := st.OverdueTasks(ctx, store.Everything, c.Filter); err != nil {
				return nil, fmt.Errorf("seed: bench %s: %w", c.Name, err)
			}
		}
		samples := make([]time.Duration, 0, o.N)
		for range o.N {
			start := time.Now()
			rows, _, err := st.OverdueTasks(ctx, store.Everything, c.Filter)
			if err != nil {
				return nil, fmt.Errorf("seed: bench %s: %w", c.Name, err)
			}
			samples = append(samples, time.Since(start))
			res.Rows = len(rows)
		}
		res.Latency = loadgen.Summarize(samples)
		out = append(out, res)
	}
	return out, nil
}

func (o BenchOptions) withDefaults() BenchOptions {
	if o.N <= 0 {
		o.N = DefaultBenchN
	}
	if o.Warmup == 0 {
		o.Warmup = DefaultBenchWarm
	}
	if o.Limit <= 0 {
		o.Limit = store.DefaultLimit
	}
	if o.DeepPages <= 0 {
		o.DeepPages = DefaultDeepPages
	}
	if o.Jurisdiction == nil {
		o.Jurisdiction = jurisdiction.Default()
	}
	return o
}

// overdueSummary counts the overdue board's rows by street and by
// department.
type overdueSummary struct {
	street, department map[string]int
	maxLevel           int
}

// overdueCounts reads the whole overdue board, as the store sees it now.
func overdueCounts(ctx context.Context, st *store.Store) (overdueSummary, error) {
	s := overdueSummary{street: map[string]int{}, department: map[string]int{}}
	f := store.OverdueFilter{Limit: store.MaxLimit}
	for {
		rows, next, err := st.OverdueTasks(ctx, store.Everything, f)
		if err != nil {
			return s, fmt.Errorf("seed: read the overdue board: %w", err)
		}
		for _, r := range rows {
			s.street[r.Street]++
			s.department[r.Department]++
			s.maxLevel = max(s.maxLevel, r.Level)
		}
		if next == "" {
			return s, nil
		}
		f.Cursor = next
	}
}

// most returns the key with the highest count (the first in order on ties).
func most(m map[string]int) string {
	best, bestN := "", -1
	for k, n := range m {
		if n > bestN || (n == bestN && k < best) {
			best, bestN = k, n
		}
	}
	return best
}
