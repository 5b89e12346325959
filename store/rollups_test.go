package store

import (
	"context"
	"math/rand"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

var testGrading = Grading{Street: 0.5, Public: 0.2, Timeliness: 0.3, Target: 0.95, MinCases: 2}

// After a random sequence of commands and ticks on a few incidents, every
// snapshot projected and older snapshots re-projected out of order, the
// rollups equal the recomputation from the timeline, for the whole time and
// for single days.
func TestRollupsEqualRecomputationAfterRandomEvents(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)
	rng := rand.New(rand.NewSource(5))
	items := []incident.Item{itemCG, lead("ZJ"), lead("GA")}
	var incs []*incident.Incident
	var history []*incident.Incident
	for i := range 5 {
		in := newIncident("R"+string(rune('A'+i)), []string{"FH", "XY"}[i%2], items[i%len(items)], now)
		project(t, s, in)
		incs = append(incs, in)
	}
	ratings := []incident.Rating{incident.RatingSatisfied, incident.RatingBasicallySatisfied, incident.RatingUnsatisfied, ""}
	for range 1500 {
		now = now.Add(time.Duration(rng.Intn(120)) * time.Minute)
		in := incs[rng.Intn(len(incs))]
		var tk *incident.Task
		if len(in.Tasks) > 0 {
			tk = in.Tasks[rng.Intn(len(in.Tasks))]
		}
		var a incident.Actor
		var cmd incident.Command
		switch k := rng.Intn(11); {
		case k == 0 || tk == nil:
			if in.Tick(now) {
				project(t, s, in)
				history = append(history, clone(t, in))
			}
			continue
		case k == 1:
			a, cmd = deptActor(tk.Department), incident.Ack{TaskID: tk.ID}
		case k == 2:
			a, cmd = deptActor(tk.Department), incident.Complete{TaskID: tk.ID, Result: "done"}
		case k == 3:
			a, cmd = deptActor(tk.Department), incident.Return{TaskID: tk.ID, Reason: "not ours"}
		case k == 4:
			a, cmd = streetActor(in.Street), incident.Overrule{TaskID: tk.ID, Note: "yours"}
		case k == 5:
			a, cmd = streetActor(in.Street), incident.Reassign{TaskID: tk.ID, Department: []string{"SW", "CG", "ZJ"}[rng.Intn(3)]}
		case k == 6:
			a, cmd = deptActor(tk.Department), incident.RequestExtension{TaskID: tk.ID, Until: tk.ResolveDue.Add(48 * time.Hour), Reason: "permit"}
		case k == 7:
			a, cmd = streetActor(in.Street), incident.DecideExtension{TaskID: tk.ID, Approve: rng.Intn(2) == 0}
		case k == 8:
			a, cmd = streetActor(in.Street), incident.Verify{Passed: rng.Intn(3) > 0}
		case k == 9:
			a, cmd = streetActor(in.Street), incident.GiveFeedback{Resolved: rng.Intn(2) == 0, Rating: ratings[rng.Intn(len(ratings))]}
		default:
			a, cmd = streetActor(in.Street), incident.Rate{TaskID: tk.ID, Score: rng.Intn(101)}
		}
		if err := in.Apply(a, cmd, now, due, incident.DefaultMaxReopens); err != nil {
			continue // not valid in this state: nothing happened
		}
		project(t, s, in)
		history = append(history, clone(t, in))
		if len(history) > 3 && rng.Intn(3) == 0 {
			// A late activity: an older snapshot again, then the newest.
			project(t, s, history[rng.Intn(len(history))])
			project(t, s, in)
		}
	}
	require.Greater(t, len(history), 100, "enough commands were accepted")
	var n int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM metrics_daily WHERE returns > 0 OR rated_tasks > 0 OR reopened > 0`).Scan(&n))
	require.Positive(t, n, "the sequence exercised returns, ratings and reopenings")

	check := func(from, to time.Time) {
		t.Helper()
		diffs, err := s.CheckRollups(ctx, from, to, testGrading)
		require.NoError(t, err)
		for _, d := range diffs {
			var a, b any
			if d.Rollup != nil {
				a = []any{d.Rollup.Counts, d.Rollup.ack, d.Rollup.complete}
			}
			if d.Record != nil {
				b = []any{d.Record.Counts, d.Record.ack, d.Record.complete}
			}
			t.Errorf("%s %s %s..%s:\nrollup %+v\nrecord %+v", d.Dimension, d.Key, from.Format(time.DateOnly), to.Format(time.DateOnly), a, b)
		}
	}
	check(t0.AddDate(0, 0, -1), now.AddDate(0, 0, 2))
	for d := t0; d.Before(now); d = d.AddDate(0, 0, 3) {
		check(d, d.AddDate(0, 0, 1))
	}

	// Loading the final snapshots (with the visits of earlier rounds) into
	// an empty database leaves the same rollups as projecting every step.
	loaded := newStore(t, &now)
	var batch []LoadIncident
	for _, in := range incs {
		rounds := map[int]incident.Feedback{}
		for _, h := range history {
			if h.ID == in.ID && h.Feedback != nil {
				rounds[h.Feedback.Round] = *h.Feedback
			}
		}
		it := LoadIncident{Snapshot: clone(t, in)}
		for _, fb := range rounds {
			it.EarlierFeedback = append(it.EarlierFeedback, fb)
		}
		batch = append(batch, it)
	}
	_, err := loaded.Load(ctx, batch)
	require.NoError(t, err)
	for _, d := range []Dimension{ByDepartment, ByStreet, ByItem, ByDomain} {
		want, err := s.League(ctx, d, t0.AddDate(0, 0, -1), now.AddDate(0, 0, 2), testGrading)
		require.NoError(t, err)
		got, err := loaded.League(ctx, d, t0.AddDate(0, 0, -1), now.AddDate(0, 0, 2), testGrading)
		require.NoError(t, err)
		require.Equal(t, want, got, "%s after Load", d)
	}

	// A rebuild from the stored rows leaves the same rollups.
	before, err := s.League(ctx, ByDepartment, t0.AddDate(0, 0, -1), now.AddDate(0, 0, 2), testGrading)
	require.NoError(t, err)
	require.NoError(t, s.RebuildRollups(ctx))
	after, err := s.League(ctx, ByDepartment, t0.AddDate(0, 0, -1), now.AddDate(0, 0, 2), testGrading)
	require.NoError(t, err)
	require.Equal(t, before, after)
}

// The rollups count on the district's calendar days: a new time zone
// moves every count to its local day, by a rebuild in batches, and setting
// the same zone again writes nothing.
func TestSyncRollupsRebuildsOnTheNewDays(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(10 * day)
	s := newStore(t, &now)
	defer func(n int) { rebuildBatch = n }(rebuildBatch)
	rebuildBatch = 2 // three incidents: two batches

	// Dispatched 2026-03-02 23:30, 03-03 07:00 and 03-03 09:00 in
	// Shanghai, that is 15:30, 23:00 on 03-02 and 01:00 on 03-03 in UTC.
	day2 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for i, at := range []time.Duration{14*hour + 30*minute, 22 * hour, 24 * hour} {
		project(t, s, newIncident("TZ"+string(rune('A'+i)), "FH", lead("CG"), t0.Add(at)))
	}
	tasksOn := func(d time.Time) int64 {
		t.Helper()
		rows, err := s.League(ctx, ByDepartment, d, d.AddDate(0, 0, 1), testGrading)
		require.NoError(t, err)
		if r := find(rows, "CG"); r != nil {
			return r.Tasks
		}
		return 0
	}
	require.Equal(t, []int64{1, 2}, []int64{tasksOn(day2), tasksOn(day2.AddDate(0, 0, 1))})

	changed, err := s.SyncRollups(ctx, "UTC")
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, []int64{2, 1}, []int64{tasksOn(day2), tasksOn(day2.AddDate(0, 0, 1))})
	loc, err := s.MetricsTimezone(ctx)
	require.NoError(t, err)
	require.Equal(t, "UTC", loc.String())
	diffs, err := s.CheckRollups(ctx, day2, day2.AddDate(0, 0, 2), testGrading)
	require.NoError(t, err)
	require.Empty(t, diffs)

	changed, err = s.SyncRollups(ctx, "UTC")
	require.NoError(t, err)
	require.False(t, changed)

	_, err = s.SyncRollups(ctx, "Mars/Olympus_Mons")
	var ie *incident.Error
	require.ErrorAs(t, err, &ie)
	require.Equal(t, incident.CodeInvalid, ie.Code)
	loc, err = s.MetricsTimezone(ctx)
	require.NoError(t, err)
	require.Equal(t, "UTC", loc.String())
}

// Projections that run while the rollups are rebuilt are counted exactly
// once: they wait for the rebuild at their rollup step and then add their
// difference to the rebuilt rows.
func TestRebuildRollupsUnderProjection(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)
	defer func(n int) { rebuildBatch = n }(rebuildBatch)
	rebuildBatch = 3

	var incs []*incident.Incident
	for i := range 12 {
		in := newIncident("RB"+string(rune('A'+i)), []string{"FH", "XY"}[i%2], itemCG, t0.Add(time.Duration(i)*hour))
		project(t, s, in)
		incs = append(incs, in)
	}
	stop := make(chan struct{})
	rebuilt := make(chan error, 1)
	go func() {
		for {
			if err := s.RebuildRollups(ctx); err != nil {
				rebuilt <- err
				return
			}
			select {
			case <-stop:
				rebuilt <- nil
				return
			default:
			}
		}
	}()
	for i, in := range incs {
		at := t0.Add(time.Duration(i)*hour + 20*minute)
		step(t, s, in, deptActor("CG"), incident.Ack{TaskID: taskOf(t, in, "CG")}, at)
		step(t, s, in, deptActor("SCJG"), incident.Ack{TaskID: taskOf(t, in, "SCJG")}, at.Add(time.Duration(i)*10*minute))
		step(t, s, in, deptActor("CG"), incident.Complete{TaskID: taskOf(t, in, "CG"), Result: "done"}, at.Add(day))
	}
	close(stop)
	require.NoError(t, <-rebuilt)

	diffs, err := s.CheckRollups(ctx, t0, t0.AddDate(0, 0, 3), testGrading)
	require.NoError(t, err)
	require.Empty(t, diffs)
	rows, err := s.League(ctx, ByDepartment, t0, t0.AddDate(0, 0, 3), testGrading)
	require.NoError(t, err)
	require.Equal(t, int64(12), find(rows, "CG").Completed)
	// SCJG acknowledges 20 + 10·i minutes after dispatch: on time for i ≤ 4.
	require.Equal(t, int64(5), find(rows, "SCJG").AckedOnTime)
}

// Upgrading a database whose rollups were built under v2: migration 00009
// marks them as built under no definition, and the next start
// (SyncRollups) rebuilds them with v3's counters. Going down and up again
// works on a database with data.
func TestUpgradeToV3RebuildsTheRollupsOnce(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(40 * day)
	s := newStore(t, &now)
	metricsFixture(t, s)
	march := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	want, err := s.League(ctx, ByStreet, march, march.AddDate(0, 1, 0), testGrading)
	require.NoError(t, err)

	p, err := goose.NewProvider(goose.DialectPostgres, stdlib.OpenDBFromPool(s.Pool()), Migrations(),
		goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = p.DownTo(ctx, 8)
	require.NoError(t, err)
	_, err = p.Up(ctx)
	require.NoError(t, err)

	// The v2 rows are there, without the new counters and months, until
	// the rollups are synced.
	require.Zero(t, count(t, s, "SELECT count(*) FROM metrics_monthly"))
	rebuilt, err := s.SyncRollups(ctx, "Asia/Shanghai")
	require.NoError(t, err)
	require.True(t, rebuilt)
	got, err := s.League(ctx, ByStreet, march, march.AddDate(0, 1, 0), testGrading)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, int64(6), find(got, "FH").Incidents)
	diffs, err := s.CheckRollups(ctx, march, march.AddDate(0, 2, 0), testGrading)
	require.NoError(t, err)
	require.Empty(t, diffs)

	rebuilt, err = s.SyncRollups(ctx, "Asia/Shanghai")
	require.NoError(t, err)
	require.False(t, rebuilt, "synced once")
}

// A projection that commits while the check reads (after the record, before
// the rollups) is on neither side of its comparison, because the check reads
// one snapshot; the next check finds it on both.
func TestCheckRollupsReadsOneSnapshot(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)
	project(t, s, newIncident("S1", "FH", itemCG, t0))
	late := newIncident("S2", "FH", itemCG, t0.Add(time.Hour))
	committed := false
	betweenCheckReadings = func() {
		if !committed {
			committed = true
			project(t, s, late)
		}
	}
	t.Cleanup(func() { betweenCheckReadings = func() {} })
	day := [2]time.Time{t0, t0.AddDate(0, 0, 1)}

	diffs, err := s.CheckRollups(ctx, day[0], day[1], testGrading)
	require.NoError(t, err)
	require.True(t, committed, "the check did not run the hook between its readings")
	require.Empty(t, diffs, "a projection committed during the check shows as a difference")

	rows, err := s.League(ctx, ByDepartment, day[0], day[1], testGrading)
	require.NoError(t, err)
	require.Equal(t, int64(2), find(rows, "CG").Tasks)
	diffs, err = s.CheckRollups(ctx, day[0], day[1], testGrading)
	require.NoError(t, err)
	require.Empty(t, diffs)
}
