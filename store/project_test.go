package store

import (
	"context"
	"math/rand/v2"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/whistle-city/whistle/incident"
)

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	ctx := context.Background()
	dbURL := freshDB(t)
	require.NoError(t, Migrate(ctx, dbURL))
	require.NoError(t, Migrate(ctx, dbURL), "a second run finds nothing to do")

	// Several processes starting at once take turns on the lock.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = Migrate(ctx, dbURL) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	// The same URL, with pool parameters, serves Migrate and Open.
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("pool_max_conns", "3")
	u.RawQuery = q.Encode()
	require.NoError(t, Migrate(ctx, u.String()))
	s, err := Open(ctx, u.String())
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, int32(3), s.Pool().Config().MaxConns)
	var applied int
	require.NoError(t, s.Pool().QueryRow(ctx,
		`SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied`).Scan(&applied))
	files, err := migrationFiles.ReadDir("migrations")
	require.NoError(t, err)
	assert.Equal(t, len(files), applied, "each migration applied exactly once")
	for _, table := range []string{"incidents", "tasks", "timeline", "feedback", "jurisdictions"} {
		var ok bool
		require.NoError(t, s.Pool().QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok))
		assert.True(t, ok, "table %s exists", table)
	}
}

func TestCreateReceivedIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)

	r := report("inc-a", "FH", t0)
	id, created, err := s.CreateReceived(ctx, r, itemCG, "key-1")
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, "inc-a", id)

	// The client retries with the same key: the API made a new id, but
	// the first incident is returned.
	r2 := report("inc-b", "FH", t0.Add(1))
	id, created, err = s.CreateReceived(ctx, r2, itemCG, "key-1")
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, "inc-a", id)
	assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM incidents`))

	// The key is per reporter.
	r3 := report("inc-c", "XY", t0)
	id, created, err = s.CreateReceived(ctx, r3, itemCG, "key-1")
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, "inc-c", id)

	// Without a key every report is new; the same id twice is not.
	for _, rid := range []string{"inc-d", "inc-e"} {
		id, created, err = s.CreateReceived(ctx, report(rid, "FH", t0), itemCG, "")
		require.NoError(t, err)
		assert.True(t, created)
		assert.Equal(t, rid, id)
	}
	id, created, err = s.CreateReceived(ctx, report("inc-e", "FH", t0), itemCG, "")
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, "inc-e", id)
	assert.Equal(t, 4, count(t, s, `SELECT count(*) FROM incidents`))

	in, err := s.Incident(ctx, Everything, "inc-a")
	require.NoError(t, err)
	assert.Equal(t, incident.StatusReceived, in.Status)
	assert.Equal(t, 0, in.Version)
	assert.Equal(t, "SR-001", in.Item.Code)
	assert.Equal(t, "FH-01-01", in.Grid)
	assert.False(t, in.Overdue)
	assert.NotNil(t, in.Tasks)
	assert.NotNil(t, in.Timeline)

	// The workflow's projection keeps the key: a late retry still finds it.
	started := newIncident("inc-a", "FH", itemCG, t0)
	project(t, s, started)
	id, created, err = s.CreateReceived(ctx, r2, itemCG, "key-1")
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, "inc-a", id)
}

func TestDeleteReceivedOnlyAtVersionZero(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)

	_, _, err := s.CreateReceived(ctx, report("inc-a", "FH", t0), itemCG, "k")
	require.NoError(t, err)
	require.NoError(t, s.DeleteReceived(ctx, "inc-a"))
	_, err = s.Incident(ctx, Everything, "inc-a")
	assert.Equal(t, incident.CodeNotFound, incident.ErrorCode(err))

	// The key is free again after the compensation.
	_, created, err := s.CreateReceived(ctx, report("inc-b", "FH", t0), itemCG, "k")
	require.NoError(t, err)
	assert.True(t, created)

	// Once the workflow projected it, the incident stays.
	project(t, s, newIncident("inc-b", "FH", itemCG, t0))
	err = s.DeleteReceived(ctx, "inc-b")
	assert.Equal(t, incident.CodeConflict, incident.ErrorCode(err))
	in, err := s.Incident(ctx, Everything, "inc-b")
	require.NoError(t, err)
	assert.Equal(t, incident.StatusDispatched, in.Status)
	assert.Equal(t, 2, count(t, s, `SELECT count(*) FROM tasks WHERE incident_id = 'inc-b'`))

	require.NoError(t, s.DeleteReceived(ctx, "no-such-incident"))
}

func TestProjectIdempotentAndOrderSafe(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(10 * time.Minute)
	s := newStore(t, &now)

	in := newIncident("inc-a", "FH", itemCG, t0)
	v1 := clone(t, in)
	cg := taskOf(t, in, "CG")
	require.NoError(t, in.Apply(deptActor("CG"), incident.Ack{TaskID: cg, Note: "on my way"}, t0.Add(5*time.Minute), due))
	v2 := clone(t, in)
	require.Greater(t, v2.Version, v1.Version)

	project(t, s, v2)
	project(t, s, v2) // a retried activity
	project(t, s, v1) // a late, older one

	got, err := s.Incident(ctx, Everything, "inc-a")
	require.NoError(t, err)
	assert.JSONEq(t, mustJSON(t, v2), mustJSON(t, got), "the newest snapshot, untouched by the older one")
	assert.Equal(t, len(v2.Timeline), count(t, s, `SELECT count(*) FROM timeline WHERE incident_id = 'inc-a'`))
	assert.Equal(t, 2, count(t, s, `SELECT count(*) FROM tasks WHERE incident_id = 'inc-a'`))
	var status string
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT status FROM tasks WHERE id = $1`, cg).Scan(&status))
	assert.Equal(t, string(incident.TaskAcknowledged), status)
	var version int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT version FROM incidents WHERE id = 'inc-a'`).Scan(&version))
	assert.Equal(t, v2.Version, version)

	// The timeline rows carry the entries as the domain wrote them.
	var typ, dept, entryStatus string
	require.NoError(t, s.Pool().QueryRow(ctx,
		`SELECT type, department, status FROM timeline WHERE incident_id = 'inc-a' AND seq = $1`, len(v2.Timeline)).
		Scan(&typ, &dept, &entryStatus))
	assert.Equal(t, incident.EventAcknowledged, typ)
	assert.Equal(t, "CG", dept)
	assert.Equal(t, string(incident.StatusDispatched), entryStatus)

	// Read by task id.
	got, err = s.IncidentOfTask(ctx, Everything, cg)
	require.NoError(t, err)
	assert.Equal(t, "inc-a", got.ID)
	_, err = s.IncidentOfTask(ctx, Everything, "inc-a-t9")
	assert.Equal(t, incident.CodeNotFound, incident.ErrorCode(err))
	_, err = s.Incident(ctx, Everything, "nope")
	assert.Equal(t, incident.CodeNotFound, incident.ErrorCode(err))
}

// TestProjectConcurrentOutOfOrder projects every version of an incident's
// life at once, in random order, from several goroutines: the newest wins
// and every timeline entry is stored once.
func TestProjectConcurrentOutOfOrder(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)

	in := newIncident("inc-a", "FH", itemCG, t0)
	snaps := []*incident.Incident{clone(t, in)}
	apply := func(a incident.Actor, cmd incident.Command, minutes int) {
		require.NoError(t, in.Apply(a, cmd, t0.Add(time.Duration(minutes)*time.Minute), due))
		snaps = append(snaps, clone(t, in))
	}
	cg, scjg := taskOf(t, in, "CG"), taskOf(t, in, "SCJG")
	apply(deptActor("CG"), incident.Ack{TaskID: cg}, 10)
	apply(deptActor("SCJG"), incident.Ack{TaskID: scjg}, 20)
	apply(deptActor("CG"), incident.Complete{TaskID: cg, Result: "cleared"}, 30)
	apply(deptActor("SCJG"), incident.Complete{TaskID: scjg, Result: "fined"}, 40)
	apply(streetActor("FH"), incident.Verify{Passed: true}, 50)
	apply(streetActor("FH"), incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}, 60)
	last := snaps[len(snaps)-1]
	require.Equal(t, incident.StatusClosed, last.Status)

	// Every snapshot three times, shuffled.
	var work []*incident.Incident
	for range 3 {
		work = append(work, snaps...)
	}
	rand.Shuffle(len(work), func(i, j int) { work[i], work[j] = work[j], work[i] })
	var wg sync.WaitGroup
	errs := make(chan error, len(work))
	for _, snap := range work {
		wg.Go(func() { errs <- s.Project(ctx, clone(t, snap)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	got, err := s.Incident(ctx, Everything, "inc-a")
	require.NoError(t, err)
	assert.JSONEq(t, mustJSON(t, last), mustJSON(t, got))
	assert.Equal(t, len(last.Timeline), count(t, s, `SELECT count(*) FROM timeline WHERE incident_id = 'inc-a'`))
	assert.Equal(t, len(last.Timeline), count(t, s, `SELECT max(seq) FROM timeline WHERE incident_id = 'inc-a'`))
	assert.Equal(t, 2, count(t, s, `SELECT count(*) FROM tasks WHERE incident_id = 'inc-a' AND status = 'completed'`))
	assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM feedback WHERE incident_id = 'inc-a' AND rating = 'satisfied'`))
	assert.Equal(t, 0, count(t, s, `SELECT count(*) FROM incidents WHERE overdue_from IS NOT NULL`))
}

// TestProjectAtomic shows that a snapshot the database refuses leaves
// nothing half-applied: the incident row's upsert is rolled back with the
// failing task statement.
func TestProjectAtomic(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)

	in := newIncident("inc-a", "FH", lead("CG"), t0)
	project(t, s, in)
	bad := clone(t, in)
	bad.Version++
	bad.Status = incident.StatusVerifying
	bad.Tasks = append(bad.Tasks, bad.Tasks[0]) // one task twice: the upsert cannot touch a row twice
	require.Error(t, s.Project(ctx, bad))

	got, err := s.Incident(ctx, Everything, "inc-a")
	require.NoError(t, err)
	assert.Equal(t, in.Version, got.Version)
	assert.Equal(t, incident.StatusDispatched, got.Status)
	assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM incidents WHERE status = 'dispatched'`))
}

// TestProjectNulAndInvalidUTF8 shows that text Postgres would refuse (NUL,
// invalid UTF-8) cannot stall a projection.
func TestProjectNulAndInvalidUTF8(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)

	r := report("inc-a", "FH", t0)
	r.Description = "nul\x00 and bad \xff utf-8"
	_, created, err := s.CreateReceived(ctx, r, itemCG, "k\x00")
	require.NoError(t, err)
	assert.True(t, created)

	in := newIncident("inc-a", "FH", lead("CG"), t0)
	in.Description = r.Description
	step(t, s, in, deptActor("CG"), incident.Ack{TaskID: "inc-a-t1", Note: "a\x00b\xfe"}, t0.Add(time.Minute))
	got, err := s.Incident(ctx, Everything, "inc-a")
	require.NoError(t, err)
	assert.Equal(t, "nul\uFFFD and bad \uFFFD utf-8", got.Description)
	assert.Equal(t, "a\uFFFDb\uFFFD", got.Timeline[len(got.Timeline)-1].Note)
	var note string
	require.NoError(t, s.Pool().QueryRow(ctx,
		`SELECT note FROM timeline WHERE incident_id = 'inc-a' AND type = 'acknowledged'`).Scan(&note))
	assert.Equal(t, "a\uFFFDb\uFFFD", note)
}

func TestCleanJSON(t *testing.T) {
	for in, want := range map[string]string{
		`"a\u0000b"`:          `"a\ufffdb"`,
		`"a\\u0000b"`:         `"a\\u0000b"`, // an escaped backslash, then text
		`"a\\\u0000b"`:        `"a\\\ufffdb"`,
		`"\"\u0000"`:          `"\"\ufffd"`,
		`{"x":"\u0001"}`:      `{"x":"\u0001"}`,
		`"no escapes at all"`: `"no escapes at all"`,
	} {
		assert.Equal(t, want, string(cleanJSON([]byte(in))), in)
	}
}
