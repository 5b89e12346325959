package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

// idAt is a UUID version 7 incident id made at at, as the API makes them,
// with n as its random bits.
func idAt(at time.Time, n byte) string {
	var u uuid.UUID
	ms := uint64(at.UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6], u[8], u[15] = 0x70, 0x80, n
	return u.String()
}

// partitionOf is the partition that holds the row of table matching where.
func partitionOf(t *testing.T, s *Store, table, where string) string {
	t.Helper()
	var p string
	require.NoError(t, s.Pool().QueryRow(context.Background(),
		"SELECT tableoid::regclass::text FROM "+table+" WHERE "+where).Scan(&p))
	return p
}

// A write into a month that has no partition yet makes the month and
// lands there, every row of the incident in its month's partitions, by the
// district's calendar (not UTC's).
func TestWritesMakeTheirMonth(t *testing.T) {
	ctx := context.Background()
	// 2025-05-01 07:30 in Shanghai is still April 30 in UTC: the district's
	// May.
	at := time.Date(2025, 5, 1, 7, 30, 0, 0, time.FixedZone("CST", 8*3600))
	now := at
	s := newStore(t, &now)
	for _, m := range mustMonths(t, s) {
		require.NotEqual(t, "2025-05", m.Month.Format("2006-01"), "the migration made May 2025 already")
	}

	may := idAt(at, 1)
	_, created, err := s.CreateReceived(ctx, report(may, "FH", at), itemCG, "k-may")
	require.NoError(t, err)
	require.True(t, created)
	in := newIncident(may, "FH", itemCG, at)
	project(t, s, in)
	task := taskOf(t, in, "CG")
	step(t, s, in, deptActor("CG"), incident.Ack{TaskID: task}, at.Add(10*minute))

	assert.Equal(t, "incidents_2025_05", partitionOf(t, s, "incidents", "id = '"+may+"'"))
	assert.Equal(t, "tasks_2025_05", partitionOf(t, s, "tasks", "id = '"+task+"'"))
	assert.Equal(t, "timeline_2025_05", partitionOf(t, s, "timeline", "incident_id = '"+may+"' AND seq = 1"))
	// One millisecond earlier is the district's April.
	april := idAt(time.Date(2025, 4, 30, 16, 0, 0, 0, time.UTC).Add(-time.Millisecond), 2)
	project(t, s, newIncident(april, "FH", itemCG, at))
	assert.Equal(t, "incidents_2025_04", partitionOf(t, s, "incidents", "id = '"+april+"'"))

	// A bulk load into another missing month makes it too; an id that is
	// not a UUID is kept aside.
	jan := at.AddDate(0, -4, 0)
	_, err = s.Load(ctx, []LoadIncident{{Snapshot: newIncident(idAt(jan, 3), "FH", itemCG, jan)},
		{Snapshot: newIncident("inc-odd", "FH", itemCG, jan)}})
	require.NoError(t, err)
	assert.Equal(t, "incidents_2025_01", partitionOf(t, s, "incidents", "id = '"+idAt(jan, 3)+"'"))
	assert.Equal(t, "incidents_other", partitionOf(t, s, "incidents", "id = 'inc-odd'"))
	assert.Equal(t, "tasks_other", partitionOf(t, s, "tasks", "incident_id = 'inc-odd'"))

	months := mustMonths(t, s)
	var mayRow *MonthPartition
	for i := range months {
		if months[i].Month.Format("2006-01") == "2025-05" {
			mayRow = &months[i]
		}
	}
	require.NotNil(t, mayRow)
	assert.Equal(t, int64(1), mayRow.Incidents)
	assert.Equal(t, int64(1), mayRow.Open)
	assert.Positive(t, mayRow.Bytes)
	assert.Equal(t, time.Date(2025, 4, 30, 16, 0, 0, 0, time.UTC), mayRow.From.UTC())
	assert.Equal(t, time.Date(2025, 5, 31, 16, 0, 0, 0, time.UTC), mayRow.To.UTC())
	for i := 1; i < len(months); i++ {
		assert.True(t, months[i-1].Month.Before(months[i].Month), "months in order")
	}

	// Ahead: this month and the next two, by the store's clock.
	now = time.Date(2031, 11, 20, 12, 0, 0, 0, time.UTC)
	require.NoError(t, s.EnsureMonthsAhead(ctx, 2))
	require.NoError(t, s.EnsureMonthsAhead(ctx, 2), "a second time makes nothing")
	got := map[string]bool{}
	for _, m := range mustMonths(t, s) {
		got[m.Month.Format("2006-01")] = true
	}
	for _, m := range []string{"2031-11", "2031-12", "2032-01"} {
		assert.True(t, got[m], m)
	}
	assert.False(t, got["2032-02"])
}

func mustMonths(t *testing.T, s *Store) []MonthPartition {
	t.Helper()
	m, err := s.Months(context.Background())
	require.NoError(t, err)
	return m
}

// The keys that must be unique across all time are, across months: a
// client's retry with its key after the month turned finds the first
// incident, and so does the hotline resending a work order.
func TestKeysHoldAcrossMonths(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)
	march := time.Date(2026, 3, 31, 23, 59, 59, 0, time.FixedZone("CST", 8*3600))
	april := march.Add(2 * time.Second)

	// Each report in turn: its id, when, its Idempotency-Key and hotline
	// reference, and the incident it must answer (itself when created).
	for _, c := range []struct{ id, key, ref, want string }{
		{"inc-1", "key-1", "", "inc-1"},
		{"inc-2", "key-1", "", "inc-1"}, // April: the key still finds March's
		{"inc-3", "", "12345-0001", "inc-3"},
		{"inc-4", "", "12345-0001", "inc-3"},
		// A conflict on one key claims none of the others: the first
		// report's reference answers, and the new key stays free.
		{"inc-5", "key-new", "12345-0001", "inc-3"},
		{"inc-6", "key-new", "", "inc-6"},
	} {
		at := april
		if c.id == "inc-1" || c.id == "inc-3" {
			at = march
		}
		r := report(c.id, "FH", at)
		if c.ref != "" {
			r.Channel, r.ExternalRef = incident.ChannelHotline, c.ref
		}
		id, created, err := s.CreateReceived(ctx, r, itemCG, c.key)
		require.NoError(t, err, c.id)
		assert.Equal(t, c.want, id, c.id)
		assert.Equal(t, c.want == c.id, created, c.id)
	}

	assert.Equal(t, 3, count(t, s, `SELECT count(*) FROM incidents`))
	assert.Equal(t, 3, count(t, s, `SELECT count(*) FROM incident_keys`))
	rid, at, err := s.IncidentByKey(ctx, "gw-FH", "key-1")
	require.NoError(t, err)
	assert.Equal(t, "inc-1", rid)
	assert.True(t, march.Equal(at))

	// Deleting a received incident frees its keys.
	require.NoError(t, s.DeleteReceived(ctx, "inc-6"))
	assert.Equal(t, 2, count(t, s, `SELECT count(*) FROM incident_keys`))
}

// Migration 00014 moves every row into its month, keeps every key, and
// its Down gives the tables as they were.
func TestMigrationPartitionsWhatIsThere(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(2 * time.Hour)
	s := newStore(t, &now)
	p, err := goose.NewProvider(goose.DialectPostgres, stdlib.OpenDBFromPool(s.Pool()), Migrations(),
		goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = p.DownTo(ctx, 13)
	require.NoError(t, err)

	// Rows written by the code of version 13 (keys on the incident row):
	// a, received at 17:00 UTC on January 31, February 1 in Shanghai; b two
	// hours earlier, still January.
	a := idAt(time.Date(2026, 1, 31, 17, 0, 0, 0, time.UTC), 1)
	b := idAt(time.Date(2026, 1, 31, 15, 0, 0, 0, time.UTC), 2)
	_, err = s.Pool().Exec(ctx, strings.NewReplacer("'a'", "'"+a+"'", "'a-1'", "'"+a+"-t1'", "'b'", "'"+b+"'").Replace(`
INSERT INTO incidents (id, status, category, tier, street, community, grid, reporter, idempotency_key,
                       reported_at, updated_at, version, doc, channel, external_ref)
VALUES ('a', 'dispatched', 'SR-001', 'department', 'FH', 'FH-01', 'FH-01-01', 'gw', 'k1',
        '2026-01-31 17:00:00+00', '2026-02-01 00:00:00+00', 2, '{}', 'hotline', 'wo-1'),
       ('b', 'closed', 'SR-001', 'department', 'FH', 'FH-01', 'FH-01-01', 'gw', NULL,
        '2026-01-31 15:00:00+00', '2026-02-03 00:00:00+00', 9, '{}', 'grid', NULL);
INSERT INTO tasks (id, incident_id, department, street, category, role, status, round, created_at, ack_due,
                   resolve_due, inbox_rank, inbox_key)
VALUES ('a-1', 'a', 'D1', 'FH', 'SR-001', 'lead', 'pending_ack', 1, '2026-01-31 17:00:00+00',
        '2026-01-31 18:00:00+00', '2026-02-03 17:00:00+00', 0, 1);
INSERT INTO timeline (incident_id, seq, at, type, actor) VALUES ('a', 1, '2026-01-31 17:00:00+00', 'reported', 'gw'),
                                                          ('b', 1, '2026-01-31 15:00:00+00', 'reported', 'gw');
INSERT INTO feedback (incident_id, round, resolved, at) VALUES ('b', 1, true, '2026-02-02 00:00:00+00');`))
	require.NoError(t, err)
	state := func() string {
		var js string
		require.NoError(t, s.Pool().QueryRow(ctx, `
SELECT json_build_array(
    (SELECT json_agg(json_build_array(id, reported_at, idempotency_key, external_ref) ORDER BY id) FROM incidents),
    (SELECT json_agg(json_build_array(id, incident_id, status) ORDER BY id) FROM tasks),
    (SELECT json_agg(json_build_array(incident_id, seq, type) ORDER BY incident_id, seq) FROM timeline),
    (SELECT json_agg(json_build_array(incident_id, round, resolved) ORDER BY incident_id) FROM feedback))::text`).Scan(&js))
		return js
	}
	want := state()

	_, err = p.Up(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, state())
	assert.Equal(t, "incidents_2026_02", partitionOf(t, s, "incidents", "id = '"+a+"'"))
	assert.Equal(t, "tasks_2026_02", partitionOf(t, s, "tasks", "id = '"+a+"-t1'"))
	assert.Equal(t, "incidents_2026_01", partitionOf(t, s, "incidents", "id = '"+b+"'"))
	assert.Equal(t, "feedback_2026_01", partitionOf(t, s, "feedback", "incident_id = '"+b+"'"))
	assert.Equal(t, 2, count(t, s, `SELECT count(*) FROM incident_keys WHERE incident_id = '`+a+`'`))
	id, created, err := s.CreateReceived(ctx, report("c", "FH", now), itemCG, "")
	require.NoError(t, err)
	require.True(t, created)
	r := report("d", "FH", now)
	r.Channel, r.ExternalRef = incident.ChannelHotline, "wo-1"
	id, created, err = s.CreateReceived(ctx, r, itemCG, "")
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, a, id)

	_, err = p.DownTo(ctx, 13)
	require.NoError(t, err)
	var partitioned int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_partitioned_table`).Scan(&partitioned))
	assert.Zero(t, partitioned)
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM incidents WHERE id <> 'c'`).Scan(&partitioned))
	assert.Equal(t, 2, partitioned)
	_, err = p.Up(ctx)
	require.NoError(t, err)
}
