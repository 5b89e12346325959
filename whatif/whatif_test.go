package whatif_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/metrics"
	"github.com/whistle-city/whistle/seed"
	"github.com/whistle-city/whistle/store"
	"github.com/whistle-city/whistle/whatif"
)

func TestMain(m *testing.M) { devtest.Main(m) }

// now is the present of the seeded history: a Wednesday afternoon.
var now = time.Date(2026, 11, 18, 7, 30, 0, 0, time.UTC)

// october is the month replayed: whole, and followed by November's days.
var october = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// seeded returns a store holding the seeds' last ninety days.
func seeded(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	url := devtest.Postgres(t)
	require.NoError(t, store.Migrate(ctx, url))
	st, err := store.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	_, err = seed.Run(ctx, st, seed.Options{Tasks: 6000, Seed: 5, Now: now, Span: 90 * 24 * time.Hour})
	require.NoError(t, err)
	return st
}

// proposed returns the shipped district with its file's text changed by
// each pair of a pattern and its replacement.
func proposed(t *testing.T, pairs ...string) *jurisdiction.Jurisdiction {
	t.Helper()
	text := string(jurisdiction.DefaultYAML())
	for i := 0; i < len(pairs); i += 2 {
		re := regexp.MustCompile(pairs[i])
		require.True(t, re.MatchString(text), "%s is not in the shipped file", pairs[i])
		text = re.ReplaceAllString(text, pairs[i+1])
	}
	j, err := jurisdiction.Parse("proposed.yaml", []byte(text))
	require.NoError(t, err)
	return j
}

func TestWhatif(t *testing.T) {
	ctx := context.Background()
	st := seeded(t)
	cur := jurisdiction.Default()
	g := metrics.GradingOf(cur.Assessment)

	// The identity: under the rules it ran by, the month comes back as
	// recorded, incident by incident and row for row, and its tables are
	// Recompute's (what metrics check compares the rollups with).
	same, err := whatif.Run(ctx, st.Pool(), whatif.Options{Month: october, Current: cur, Proposed: cur, Workers: 2, Batch: 97})
	require.NoError(t, err)
	require.True(t, same.Identity.Holds, "%v", same.Identity.Differences)
	require.Zero(t, same.Identity.Incidents, "%v", same.Identity.FirstIncidents)
	require.Zero(t, same.Changes.FlipsTotal)
	require.Zero(t, same.Changes.RefusedTotal)
	require.Positive(t, same.Incidents)
	for _, d := range []metrics.Dimension{metrics.ByDepartment, metrics.ByStreet, metrics.ByItem} {
		want, err := metrics.New(st.Pool()).Recompute(ctx, d, october, october.AddDate(0, 1, 0), g)
		require.NoError(t, err)
		require.NotEmpty(t, want)
		require.Empty(t, metrics.CompareLeagues(d, same.Current.Of(d), want), "%s", d)
		require.Equal(t, same.Current.Of(d), same.Proposed.Of(d))
	}
	// The record's present is its latest change, no later than the seeds'.
	require.False(t, same.AsOf.After(now))
	require.True(t, same.AsOf.After(now.Add(-time.Hour)), "as of %s", same.AsOf)

	// Every acknowledgement deadline halved: acknowledgements only turn
	// late, the ladder only climbs, and nothing people did is refused.
	half, err := whatif.Run(ctx, st.Pool(), whatif.Options{Month: october, Current: cur,
		Proposed: proposed(t, `ack: 30m`, `ack: 15m`, `ack: 1h\b`, `ack: 30m`), Limit: 5})
	require.NoError(t, err)
	require.True(t, half.Identity.Holds)
	require.Equal(t, same.Current, half.Current)
	require.Positive(t, half.Changes.FlipsByKind["ack: on_time → late"])
	for kind := range half.Changes.FlipsByKind {
		require.Regexp(t, `^(ack: (on_time|open|none) → late|level: (\d) → (\d))$`, kind)
	}
	require.Len(t, half.Changes.Flips, 5)
	require.Contains(t, half.Changes.Flips[0].Why, "under the proposed rules")
	require.Zero(t, half.Changes.RefusedTotal)
	require.Empty(t, half.Changes.UnchangedItems)
	lv := half.Changes.Levels["overdue_level1"]
	require.Greater(t, *lv.Proposed, *lv.Current)
	dropped := 0
	for _, r := range half.Changes.Departments {
		rate := r.Rates["response_rate"]
		if rate.Change != nil {
			require.LessOrEqual(t, *rate.Change, 0.0, "department %s", r.Key)
			if *rate.Change < 0 {
				dropped++
			}
		}
		require.Equal(t, r.Rates["satisfaction_rate"].Current, r.Rates["satisfaction_rate"].Proposed)
	}
	require.Positive(t, dropped)
	var sum int64
	for _, r := range half.Proposed.Departments {
		sum += r.AckedOnTime
	}
	var before int64
	for _, r := range half.Current.Departments {
		before += r.AckedOnTime
	}
	require.Less(t, sum, before)

	// A return-visit window of an hour: most visits come later, after the
	// clock closed the incident unrated; they are refused and listed, and
	// the unrated share rises.
	short, err := whatif.Run(ctx, st.Pool(), whatif.Options{Month: october, Current: cur,
		Proposed: proposed(t, `feedback: 3wd`, `feedback: 1h`)})
	require.NoError(t, err)
	require.Positive(t, short.Changes.RefusedByCommand["feedback"])
	require.Equal(t, short.Changes.RefusedTotal, sumOf(short.Changes.RefusedByCommand))
	r := short.Changes.Refused[0]
	require.Equal(t, "feedback", r.Command)
	require.Contains(t, r.Reason, "closed")
	rose := 0
	for _, s := range short.Changes.Streets {
		if u, ok := s.Counts["unrated"]; ok && *u.Change > 0 {
			rose++
		}
	}
	require.Positive(t, rose)
	for _, s := range short.Changes.Streets {
		share := s.Rates["unrated_share"]
		if share.Change != nil {
			require.GreaterOrEqual(t, *share.Change, 0.0)
		}
	}

	// CSV: one number per line, the header first.
	var b strings.Builder
	require.NoError(t, half.WriteCSV(&b))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Equal(t, "month,dimension,key,measure,current,proposed,change", lines[0])
	require.Contains(t, b.String(), "2026-10,departments,")
	require.Contains(t, b.String(), "2026-10,district,,overdue_level1,")
}

func sumOf(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
