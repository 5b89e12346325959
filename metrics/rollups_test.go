package metrics

import (
	"context"
	"math/rand"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
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
		if err := in.Apply(a, cmd, now, due); err != nil {
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
	var batch []store.LoadIncident
	for _, in := range incs {
		rounds := map[int]incident.Feedback{}
		for _, h := range history {
			if h.ID == in.ID && h.Feedback != nil {
				rounds[h.Feedback.Round] = *h.Feedback
			}
		}
		it := store.LoadIncident{Snapshot: clone(t, in)}
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
	_, err = s.RebuildRollups(ctx)
	require.NoError(t, err)
	after, err := s.League(ctx, ByDepartment, t0.AddDate(0, 0, -1), now.AddDate(0, 0, 2), testGrading)
	require.NoError(t, err)
	require.Equal(t, before, after)
}

// The rollups count on the district's calendar days: a new time zone
// moves every count to its local day, by a rebuild, and setting
// the same zone again writes nothing.
func TestSyncRollupsRebuildsOnTheNewDays(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(10 * day)
	s := newStore(t, &now)
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
			if _, err := s.RebuildRollups(ctx); err != nil {
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

// Upgrading a database whose rollups were built under an earlier
// definition, wrong in the way v3 left them on the live path (a received
// report counted on domain "" and taken back from there): migrations 00009
// and 00010 mark them as built under no definition, and the next start
// (SyncRollups) rebuilds them once under v4, which repairs them. Going
// down to 00008 and up again works on a database with data.
func TestUpgradeRebuildsTheRollupsOnce(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(40 * day)
	s := newStore(t, &now)
	metricsFixture(t, s)
	march := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	want, err := s.League(ctx, ByStreet, march, march.AddDate(0, 1, 0), testGrading)
	require.NoError(t, err)

	p, err := goose.NewProvider(goose.DialectPostgres, stdlib.OpenDBFromPool(s.Store.Pool()), store.Migrations(),
		goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = p.DownTo(ctx, 8)
	require.NoError(t, err)
	_, err = p.UpTo(ctx, 9)
	require.NoError(t, err)
	// What v3 left of three reports that the API received: -3 incidents
	// on the domain '', the street's total 0.
	_, err = s.pool.Exec(ctx, `
INSERT INTO metrics_daily (day, department, street, item, domain, incidents) VALUES ('2026-03-05', '', 'FH', 'SR-001', '', -3);
INSERT INTO metrics_monthly (month, department, street, item, domain, incidents) VALUES ('2026-03-01', '', 'FH', 'SR-001', '', -3)`)
	require.NoError(t, err)
	_, err = p.Up(ctx)
	require.NoError(t, err)

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

// The API's path: a report is first stored as received (CreateReceived,
// version 0), then projected by its workflow, as an original or as a
// duplicate. The rollups equal the recomputation at every step: a received
// row counts nowhere until its workflow has projected it, then it counts
// once on its item's domain (issue 11: it counted as an incident of domain
// "" and was taken back from there, so streets read 0 and duplicates
// negative).
func TestReceivedReportsCountOnceProjected(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)
	day := [2]time.Time{t0, t0.AddDate(0, 0, 1)}
	checkNoDiffs := func(when string) {
		t.Helper()
		diffs, err := s.CheckRollups(ctx, day[0], day[1], testGrading)
		require.NoError(t, err)
		for _, d := range diffs {
			t.Errorf("%s: %s %q: %v", when, d.Dimension, d.Key, d.Changes())
		}
	}
	receive := func(in *incident.Incident) {
		t.Helper()
		r := report(in.ID, in.Street, in.ReportedAt)
		r.Category = in.Category
		_, created, err := s.CreateReceived(ctx, r, in.Item, "")
		require.NoError(t, err)
		require.True(t, created)
	}
	var originals []*incident.Incident
	for i := range 3 {
		in := newIncident("RC"+string(rune('A'+i)), "FH", itemCG, t0.Add(time.Duration(i)*time.Minute))
		receive(in)
		originals = append(originals, in)
	}
	checkNoDiffs("received")
	for _, in := range originals {
		project(t, s, in)
	}
	checkNoDiffs("projected")

	// Two more reports at the first one's place: duplicates.
	for i := range 2 {
		r := report("RD"+string(rune('A'+i)), "FH", t0.Add(time.Hour))
		r.Category = itemCG.Code
		dup := incident.New(withDuplicateOf(r, originals[0].ID), itemCG, r.ReportedAt, due)
		receive(dup)
		checkNoDiffs("duplicate received")
		project(t, s, dup)
	}
	checkNoDiffs("duplicates projected")

	streets, err := s.League(ctx, ByStreet, day[0], day[1], testGrading)
	require.NoError(t, err)
	require.Len(t, streets, 1)
	require.Equal(t, int64(3), streets[0].Incidents)
	domains, err := s.League(ctx, ByDomain, day[0], day[1], testGrading)
	require.NoError(t, err)
	require.Len(t, domains, 1, "no row for the domain \"\"")
	require.Equal(t, itemCG.Domain, domains[0].Key)
	require.Equal(t, int64(3), domains[0].Incidents)
}

// A rebuild does not stop the district: projections committed while it
// builds (after its snapshot), between the build and the swap, and while a
// reader holds the rollups at the swap, each finish without waiting for
// it, and each is counted exactly once in the rebuilt rollups.
func TestRebuildGoesOnBesideProjections(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)
	defer func(d time.Duration) { swapLockTimeout = d }(swapLockTimeout)
	swapLockTimeout = 100 * time.Millisecond
	var incs []*incident.Incident
	for i := range 3 {
		in := newIncident("GO"+string(rune('A'+i)), "FH", lead("CG"), t0.Add(time.Duration(i)*minute))
		project(t, s, in)
		incs = append(incs, in)
	}
	late := newIncident("GOZ", "XY", itemCG, t0.Add(time.Hour))

	// A reader (a long metrics check, say) holds the rollups until the
	// swap has had to let go of them once.
	reader, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	require.NoError(t, err)
	defer reader.Rollback(ctx)
	_, err = reader.Exec(ctx, `SELECT count(*) FROM metrics_daily`)
	require.NoError(t, err)

	// quickly applies cmd to in and projects it, and fails the test if
	// that takes a second or more: it would be waiting for the rebuild.
	var took []time.Duration
	quickly := func(in *incident.Incident, a incident.Actor, cmd incident.Command, at time.Time) {
		t.Helper()
		if cmd != nil {
			require.NoError(t, in.Apply(a, cmd, at, due))
		}
		snap := clone(t, in)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- s.Project(ctx, snap) }()
		select {
		case err := <-done:
			require.NoError(t, err)
			took = append(took, time.Since(start))
		case <-time.After(time.Second):
			t.Errorf("a projection of %s waited a second for the rebuild", in.ID)
			require.NoError(t, <-done)
		}
	}
	retried := false
	rebuildStep = func(step string) {
		switch step {
		case "snapshot": // the build's snapshot does not see this one
			quickly(incs[0], deptActor("CG"), incident.Ack{TaskID: incs[0].Tasks[0].ID}, t0.Add(10*minute))
		case "built":
			quickly(incs[1], deptActor("CG"), incident.Ack{TaskID: incs[1].Tasks[0].ID}, t0.Add(2*hour))
			quickly(late, incident.Actor{}, nil, time.Time{})
		case "swap retry":
			if !retried {
				retried = true
				quickly(incs[2], deptActor("CG"), incident.Return{TaskID: incs[2].Tasks[0].ID, Reason: "not ours"}, t0.Add(20*minute))
				require.NoError(t, reader.Commit(ctx))
			}
		}
	}
	t.Cleanup(func() { rebuildStep = func(string) {} })

	st, err := s.RebuildRollups(ctx)
	require.NoError(t, err)
	require.True(t, retried, "the swap never had to wait for the reader")
	require.GreaterOrEqual(t, st.SwapAttempts, 2)
	require.Equal(t, int64(4), st.Journal, "the four projections after the snapshot came from the journal")
	t.Logf("rebuild %+v; projections beside it took %v", st, took)

	dayOf := [2]time.Time{t0, t0.AddDate(0, 0, 1)}
	diffs, err := s.CheckRollups(ctx, dayOf[0], dayOf[1], testGrading)
	require.NoError(t, err)
	require.Empty(t, diffs)
	rows, err := s.League(ctx, ByDepartment, dayOf[0], dayOf[1], testGrading)
	require.NoError(t, err)
	cg := find(rows, "CG")
	require.Equal(t, Counts{Tasks: 4, AckedOnTime: 1, Returns: 1, AckPending: 1, ResolvePending: 3}, cg.Counts,
		"GOA acked on time, GOB late, GOC returned; GOZ's lead in both windows, GOA's and GOB's resolution too")
	require.Zero(t, count(t, s, `SELECT count(*) FROM metrics_journal`)+count(t, s, `SELECT count(*) FROM metrics_rebuild`),
		"the journal stops with the rebuild")
}

// A rebuild cut short leaves the rollups as they were and the definition
// marked as not built: cancelled, it stops the journal itself; killed (its
// marks left behind, as a SIGKILL leaves them), the next start's
// SyncRollups cleans up and rebuilds. Either way nothing is lost.
func TestRebuildCutShort(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)
	in := newIncident("CS", "FH", itemCG, t0)
	project(t, s, in)
	day := [2]time.Time{t0, t0.AddDate(0, 0, 1)}
	clean := func(when string) {
		t.Helper()
		diffs, err := s.CheckRollups(ctx, day[0], day[1], testGrading)
		require.NoError(t, err)
		require.Empty(t, diffs, when)
	}

	// Cancelled after the build: the journal stops, the shadow tables go.
	cctx, cancel := context.WithCancel(ctx)
	rebuildStep = func(step string) {
		if step == "built" {
			step := incident.Ack{TaskID: in.Tasks[0].ID}
			require.NoError(t, in.Apply(deptActor("CG"), step, t0.Add(minute), due))
			project(t, s, in)
			cancel()
		}
	}
	t.Cleanup(func() { rebuildStep = func(string) {} })
	_, err := s.RebuildRollups(cctx)
	require.ErrorIs(t, err, context.Canceled)
	rebuildStep = func(string) {}
	require.Zero(t, count(t, s, `SELECT count(*) FROM metrics_rebuild`)+count(t, s, `SELECT count(*) FROM metrics_journal`))
	require.Zero(t, count(t, s, `SELECT count(*) FROM pg_tables WHERE tablename LIKE 'metrics_%_next'`))
	clean("after a cancelled rebuild")

	// Killed: its marks stay and the writers keep journaling meanwhile.
	_, err = s.pool.Exec(ctx, `INSERT INTO metrics_rebuild DEFAULT VALUES; UPDATE metrics_settings SET definition = ''`)
	require.NoError(t, err)
	step(t, s, in, deptActor("SCJG"), incident.Ack{TaskID: in.Tasks[1].ID}, t0.Add(2*hour))
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM metrics_journal`))
	rebuilt, err := s.SyncRollups(ctx, "Asia/Shanghai")
	require.NoError(t, err)
	require.True(t, rebuilt, "the next start rebuilds")
	require.Zero(t, count(t, s, `SELECT count(*) FROM metrics_rebuild`)+count(t, s, `SELECT count(*) FROM metrics_journal`))
	clean("after the rebuild at the next start")
	rows, err := s.League(ctx, ByDepartment, day[0], day[1], testGrading)
	require.NoError(t, err)
	require.Equal(t, int64(1), find(rows, "CG").AckedOnTime)
	require.Equal(t, int64(0), find(rows, "SCJG").AckedOnTime, "acknowledged an hour late")
}
