package seed_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/metrics"
	"github.com/whistle-city/whistle/seed"
	"github.com/whistle-city/whistle/store"
)

// TestMain stops the private PostgreSQL the tests may have started.
func TestMain(m *testing.M) { devtest.Main(m) }

// now is the present of the seeded histories: a Wednesday afternoon.
var now = time.Date(2026, 11, 18, 7, 30, 0, 0, time.UTC)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	url := devtest.Postgres(t)
	require.NoError(t, store.Migrate(ctx, url))
	st, err := store.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	st.SetClock(func() time.Time { return now })
	return st
}

func count(t *testing.T, st *store.Store, table string) int {
	t.Helper()
	var n int
	require.NoError(t, st.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// overdueKey is one row of the overdue board.
type overdueKey struct{ task, kind string }

func TestSeed(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	var progress []seed.Stats
	stats, err := seed.Run(ctx, st, seed.Options{
		Tasks: 2000, Seed: 7, Now: now, Batch: 300, Analyze: true,
		Progress: func(s seed.Stats) { progress = append(progress, s) },
	})
	require.NoError(t, err)
	t.Logf("seeded: %+v", stats)

	// What Run says it wrote is what is there.
	assert.GreaterOrEqual(t, stats.Tasks, 2000)
	assert.Less(t, stats.Tasks, 2000+10)
	assert.Equal(t, stats.Incidents, count(t, st, "incidents"))
	assert.Equal(t, stats.Tasks, count(t, st, "tasks"))
	assert.Equal(t, stats.Timeline, count(t, st, "timeline"))
	assert.Equal(t, stats.Feedback, count(t, st, "feedback"))
	require.NotEmpty(t, progress)
	assert.Equal(t, stats.Incidents, progress[len(progress)-1].Incidents)

	// The rollups, rebuilt once at the end, count every seeded incident
	// exactly as the record says.
	g := metrics.Grading{Street: 0.5, Public: 0.2, Timeliness: 0.3, Target: 0.95, MinCases: 10}
	diffs, err := metrics.New(st.Pool()).CheckRollups(ctx, now.AddDate(-1, 0, -1), now.AddDate(0, 0, 1), g)
	require.NoError(t, err)
	assert.Empty(t, diffs)
	assert.Positive(t, count(t, st, "metrics_daily"))

	// The year has what the league tables grade: street ratings (lower
	// for late work), approved extensions and returns.
	var rated, lateRatedLow, extended, returned int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT
    count(*) FILTER (WHERE rating IS NOT NULL),
    count(*) FILTER (WHERE rating < 75 AND completed_at > resolve_due),
    count(*) FILTER (WHERE extensions > 0),
    count(*) FILTER (WHERE returns > 0)
FROM tasks`).Scan(&rated, &lateRatedLow, &extended, &returned))
	assert.Greater(t, rated, stats.Tasks/2, "rated tasks")
	assert.Positive(t, lateRatedLow, "late tasks rated below 75")
	assert.Positive(t, extended, "extended tasks")
	assert.Positive(t, returned, "returned tasks")

	// Every incident is a valid snapshot, lived through up to now, and the
	// overdue board is what its open tasks say.
	rows, err := st.Pool().Query(ctx, `SELECT doc FROM incidents`)
	require.NoError(t, err)
	docs, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	require.NoError(t, err)
	want := map[overdueKey]int{} // → level
	overdueTasks := 0
	statuses := map[incident.Status]int{}
	reportedFrom := now
	for _, doc := range docs {
		var in incident.Incident
		require.NoError(t, json.Unmarshal(doc, &in))
		statuses[in.Status]++
		if in.ReportedAt.Before(reportedFrom) {
			reportedFrom = in.ReportedAt
		}
		assert.False(t, in.ReportedAt.After(now), "incident %s reported after now", in.ID)
		assert.False(t, in.UpdatedAt.After(now), "incident %s changed after now", in.ID)
		assert.False(t, in.Clone().Tick(now), "incident %s has clock steps left to fire at now", in.ID)
		for i, e := range in.Timeline {
			require.Equal(t, i+1, e.Seq, "incident %s", in.ID)
			if i > 0 {
				assert.False(t, e.At.Before(in.Timeline[i-1].At), "incident %s: entry %d before the previous one", in.ID, e.Seq)
			}
		}
		if in.Status != incident.StatusDispatched {
			continue
		}
		for _, tk := range in.Tasks {
			if tk.Overdue(now) {
				overdueTasks++
			}
			if tk.Status == incident.TaskPendingAck && now.After(tk.AckDue) {
				want[overdueKey{tk.ID, store.KindAck}] = tk.EscalationLevel
			}
			if tk.Open() && now.After(tk.ResolveDue) {
				want[overdueKey{tk.ID, store.KindResolve}] = tk.EscalationLevel
			}
		}
	}
	assert.Equal(t, stats.OverdueTasks, overdueTasks)
	assert.Equal(t, stats.OverdueRows, len(want))
	share := float64(overdueTasks) / float64(stats.Tasks)
	assert.InDelta(t, seed.DefaultOverdue, share, 0.01, "overdue share")
	assert.Greater(t, statuses[incident.StatusClosed], stats.Incidents/2, "most incidents are closed: %v", statuses)
	assert.Less(t, now.Sub(reportedFrom), seed.DefaultSpan+time.Hour)
	assert.Greater(t, now.Sub(reportedFrom), seed.DefaultSpan*9/10)
	levels := map[int]int{}
	for _, l := range want {
		levels[l]++
	}
	for l := 1; l <= 3; l++ {
		assert.Positive(t, levels[l], "overdue rows at level %d: %v", l, levels)
	}

	// The store's overdue board, page by page, has exactly those rows,
	// most overdue first.
	got := map[overdueKey]int{}
	var last time.Time
	f := store.OverdueFilter{Limit: 37}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 100)
		page, next, err := st.OverdueTasks(ctx, store.Everything, f)
		require.NoError(t, err)
		for _, r := range page {
			k := overdueKey{r.TaskID, r.Kind}
			_, dup := got[k]
			require.False(t, dup, "%v twice", k)
			got[k] = r.Level
			assert.False(t, r.Due.Before(last), "not most overdue first")
			last = r.Due
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	assert.Equal(t, want, got)

	t.Run("bench", func(t *testing.T) {
		res, err := seed.Bench(ctx, st, seed.BenchOptions{N: 5, DeepPages: 2, Limit: 10})
		require.NoError(t, err)
		byName := map[string]seed.BenchResult{}
		for _, r := range res {
			byName[r.Name] = r
			assert.Equal(t, 5, r.Latency.Count, r.Name)
			assert.Positive(t, r.Latency.P50, r.Name)
			assert.LessOrEqual(t, r.Latency.P50, r.Latency.Max, r.Name)
		}
		require.Len(t, res, 16)
		assert.Equal(t, 10, byName["none"].Rows)
		deep := res[len(res)-4]
		assert.Equal(t, "none, page 3 (cursor)", deep.Name)
		assert.NotEmpty(t, deep.Filter.Cursor)
		assert.Equal(t, 10, deep.Rows)
		last := res[len(res)-2]
		assert.Contains(t, last.Name, "none, last page: ")
		assert.Positive(t, last.Rows)
		assert.LessOrEqual(t, last.Rows, 10)
		// The rarest department's case names it with its count; nothing is
		// above the highest level.
		assert.Contains(t, res[3].Name, "fewest overdue")
		assert.Equal(t, "min_level=4 (above every level: no rows)", res[8].Name)
		assert.Zero(t, res[8].Rows)
	})
}

func TestSeedIsReproducible(t *testing.T) {
	ctx := context.Background()
	ids := func(seedValue uint64) []string {
		st := newStore(t)
		_, err := seed.Run(ctx, st, seed.Options{Tasks: 150, Seed: seedValue, Now: now})
		require.NoError(t, err)
		rows, err := st.Pool().Query(ctx, `SELECT id || ':' || version || ':' || md5(doc::text) FROM incidents ORDER BY id`)
		require.NoError(t, err)
		var out []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
		return out
	}
	a, b, c := ids(1), ids(1), ids(2)
	assert.Equal(t, a, b)
	assert.False(t, slices.Equal(a, c))

	// The same seed twice into one database fails and adds nothing.
	st := newStore(t)
	_, err := seed.Run(ctx, st, seed.Options{Tasks: 50, Seed: 1, Now: now})
	require.NoError(t, err)
	n := count(t, st, "incidents")
	_, err = seed.Run(ctx, st, seed.Options{Tasks: 50, Seed: 1, Now: now})
	require.Error(t, err)
	assert.Equal(t, n, count(t, st, "incidents"))

	_, err = seed.Run(ctx, st, seed.Options{})
	assert.ErrorIs(t, err, seed.ErrOptions)
}
