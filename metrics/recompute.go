package metrics

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/metrics/rollup"
)

// Recompute returns the league table of dimension d over the local days
// [from, to) computed from the record, not from the rollups: the timeline
// (when each task was dispatched, acknowledged, completed, sent back by a
// failed verification, cancelled, returned, overruled, extended, escalated
// and rated; reopenings; the clock's closing without a return visit), the
// return visits of the feedback table, the incidents' report times and
// duplicate and repeat links and,
// because the SLA calendar is not in the timeline, the tasks' deadlines
// (ack_due, resolve_due). It reads every incident with a timeline entry or
// a return visit in the period, so it is for checks, not for serving.
func (m *Metrics) Recompute(ctx context.Context, d Dimension, from, to time.Time, g Grading) ([]LeagueRow, error) {
	if _, err := d.code(); err != nil {
		return nil, err
	}
	tables, err := recountOn(ctx, m.pool, from, to, d)
	if err != nil {
		return nil, err
	}
	return finish(tables[d], g), nil
}

// A recount is Recompute's reading of the period: every incident with
// something counted in it, with its tasks' deadlines and return visits,
// and a table per dimension that its timeline, streamed in incident order,
// is counted into one incident at a time (so memory holds one incident's
// timeline, not the month's).
type recount struct {
	lo, hi time.Time
	incs   map[string]recordIncident
	due    map[string]recordDues // by task
	visits map[string][]recordVisit
	tables map[Dimension]map[string]*LeagueRow
	// channels, when split, holds the same tables per channel: each
	// incident is counted into the district's and into its channel's.
	split    bool
	channels map[string]map[Dimension]map[string]*LeagueRow
}

type recordIncident struct {
	// channel is incident.ChannelOf read from the snapshot (channelOfDoc).
	street, item, domain, channel string
	reported                      time.Time
	original, repeat              bool // not a duplicate; a repeat (重复诉求)
}

type recordDues struct{ ack, resolve time.Time }

type recordEntry struct {
	incident, typ, task, dept, note, actor string
	at                                     time.Time
	level                                  int
}

type recordVisit struct {
	round    int
	resolved bool
	rating   *string
	at       time.Time
	incident string
}

// recountOn reads the record of the local days [from, to) on q and
// returns the rows of each of dims, not yet finished.
func recountOn(ctx context.Context, q querier, from, to time.Time, dims ...Dimension) (map[Dimension]map[string]*LeagueRow, error) {
	r, err := recountAll(ctx, q, from, to, false, dims...)
	if err != nil {
		return nil, err
	}
	return r.tables, nil
}

// recountAll is recountOn returning the whole recount: with split, also
// every channel's tables, counted in the same pass.
func recountAll(ctx context.Context, q querier, from, to time.Time, split bool, dims ...Dimension) (*recount, error) {
	loc, err := metricsTimezone(ctx, q)
	if err != nil {
		return nil, err
	}
	r := &recount{
		lo:     time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc),
		hi:     time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, loc),
		incs:   map[string]recordIncident{},
		due:    map[string]recordDues{},
		visits: map[string][]recordVisit{},
		tables: map[Dimension]map[string]*LeagueRow{},
		split:  split, channels: map[string]map[Dimension]map[string]*LeagueRow{},
	}
	for _, d := range dims {
		r.tables[d] = map[string]*LeagueRow{}
	}
	fail := func(err error) (*recount, error) {
		return nil, fmt.Errorf("metrics: recompute: %w", err)
	}
	// The incidents with something counted in the period: a report, a
	// timeline entry of a type a counter is dated by, a return visit. A
	// report still received (version 0: its workflow has not projected
	// it yet) is not in the record yet.
	rows, err := q.Query(ctx, `
SELECT id, street, category, domain, `+channelOfDoc+`, reported_at, duplicate_of IS NULL, repeat_of IS NOT NULL FROM incidents
WHERE version > 0 AND id IN (
    SELECT incident_id FROM timeline WHERE type = ANY($3) AND at >= $1 AND at < $2
    UNION SELECT incident_id FROM feedback WHERE at >= $1 AND at < $2
    UNION SELECT id FROM incidents WHERE reported_at >= $1 AND reported_at < $2)`, r.lo, r.hi,
		[]string{incident.EventTaskCreated, incident.EventRated, incident.EventReturned, incident.EventOverruled,
			incident.EventRoutingOverride, incident.EventClosed})
	if err != nil {
		return fail(err)
	}
	var ids []string
	var id string
	var x recordIncident
	if _, err := pgx.ForEachRow(rows, []any{&id, &x.street, &x.item, &x.domain, &x.channel, &x.reported, &x.original, &x.repeat}, func() error {
		r.incs[id] = x
		ids = append(ids, id)
		return nil
	}); err != nil {
		return fail(err)
	}

	rows, err = q.Query(ctx, `SELECT id, ack_due, resolve_due FROM tasks WHERE incident_id = ANY($1)`, ids)
	if err != nil {
		return fail(err)
	}
	var dd recordDues
	if _, err := pgx.ForEachRow(rows, []any{&id, &dd.ack, &dd.resolve}, func() error {
		r.due[id] = dd
		return nil
	}); err != nil {
		return fail(err)
	}

	rows, err = q.Query(ctx, `SELECT incident_id, round, resolved, rating, at FROM feedback WHERE incident_id = ANY($1)`, ids)
	if err != nil {
		return fail(err)
	}
	var v recordVisit
	if _, err := pgx.ForEachRow(rows, []any{&v.incident, &v.round, &v.resolved, &v.rating, &v.at}, func() error {
		r.visits[v.incident] = append(r.visits[v.incident], v)
		return nil
	}); err != nil {
		return fail(err)
	}

	// Each incident is counted when its last entry has gone by, then
	// forgotten; those left have no timeline and are counted at the end.
	rows, err = q.Query(ctx, `
SELECT incident_id, type, coalesce(task_id, ''), coalesce(department, ''), note, actor, at, level
FROM timeline WHERE incident_id = ANY($1) ORDER BY incident_id, seq`, ids)
	if err != nil {
		return fail(err)
	}
	var timeline []recordEntry
	flush := func() error {
		if len(timeline) == 0 {
			return nil
		}
		err := r.count(timeline[0].incident, timeline)
		timeline = timeline[:0]
		return err
	}
	var e recordEntry
	if _, err := pgx.ForEachRow(rows, []any{&e.incident, &e.typ, &e.task, &e.dept, &e.note, &e.actor, &e.at, &e.level}, func() error {
		if len(timeline) > 0 && timeline[0].incident != e.incident {
			if err := flush(); err != nil {
				return err
			}
		}
		timeline = append(timeline, e)
		return nil
	}); err != nil {
		return fail(err)
	}
	if err := flush(); err != nil {
		return fail(err)
	}
	for _, id := range ids {
		if _, ok := r.incs[id]; ok {
			if err := r.count(id, nil); err != nil {
				return fail(err)
			}
		}
	}
	return r, nil
}

// in reports whether t falls in the period.
func (r *recount) in(t time.Time) bool { return !t.Before(r.lo) && t.Before(r.hi) }

// count counts incident id, whose whole timeline is given, into every
// table, then forgets it.
func (r *recount) count(id string, timeline []recordEntry) error {
	x, ok := r.incs[id]
	if !ok {
		return fmt.Errorf("incident %s: timeline out of incident order", id)
	}
	for d, byKey := range r.tables {
		if err := r.countIn(d, byKey, id, x, timeline); err != nil {
			return err
		}
		if !r.split {
			continue
		}
		c := r.channels[x.channel]
		if c == nil {
			c = map[Dimension]map[string]*LeagueRow{}
			r.channels[x.channel] = c
		}
		if c[d] == nil {
			c[d] = map[string]*LeagueRow{}
		}
		if err := r.countIn(d, c[d], id, x, timeline); err != nil {
			return err
		}
	}
	delete(r.incs, id)
	delete(r.visits, id)
	return nil
}

// countIn counts incident id into the table of dimension d.
func (rec *recount) countIn(d Dimension, byKey map[string]*LeagueRow, id string, x recordIncident, timeline []recordEntry) error {
	in := rec.in
	row := func(dept string) *LeagueRow {
		k := dept
		switch d {
		case ByStreet:
			k = x.street
		case ByItem:
			k = x.item
		case ByDomain:
			k = x.domain
		}
		r := byKey[k]
		if r == nil {
			r = &LeagueRow{Key: k, ack: Histogram{}, complete: Histogram{}}
			byKey[k] = r
		}
		return r
	}
	// Replay the timeline into per-task facts.
	type task struct {
		id, dept            string
		round               int
		created             time.Time
		acked, completed    *time.Time
		cancelled, returned bool
		extensions, level   int
		// ackOver: the ack clock reached level 1 (it never goes back);
		// resolveOver: the resolution clock is at level 1 or more now
		// (an approved extension or a failed verification re-arms it).
		ackOver, resolveOver bool
		rating               *int
		ratedAt              time.Time
	}
	var order []*task
	tasks := map[string]*task{}
	round := 1
	var closedUnrated *time.Time // when the clock closed it without a visit
	for _, e := range timeline {
		t := tasks[e.task]
		switch e.typ {
		case incident.EventClosed:
			if e.actor == incident.SystemActor {
				at := e.at
				closedUnrated = &at
			}
		case incident.EventTaskCreated:
			t = &task{id: e.task, dept: e.dept, round: round, created: e.at}
			tasks[e.task] = t
			order = append(order, t)
		case incident.EventReopened:
			round++
		case incident.EventVerificationFailed:
			// Rework: the round's completed tasks are open again, on a
			// fresh resolution clock.
			for _, o := range order {
				if o.round == round && o.completed != nil {
					o.completed, o.resolveOver = nil, false
				}
			}
		case incident.EventReturned, incident.EventOverruled:
			if in(e.at) && d != ByDepartment || in(e.at) && e.dept != "" {
				r := row(e.dept)
				if e.typ == incident.EventReturned {
					r.Returns++
				} else {
					r.OverruledReturns++
				}
			}
			if t != nil {
				t.returned = e.typ == incident.EventReturned
			}
		case incident.EventRoutingOverride:
			if in(e.at) && d != ByDepartment {
				row("").RoutingOverrides++
			}
		}
		if t == nil {
			continue
		}
		switch e.typ {
		case incident.EventAcknowledged:
			at := e.at
			t.acked = &at
		case incident.EventCompleted:
			at := e.at
			t.completed = &at
		case incident.EventTaskCancelled:
			t.cancelled = true
		case incident.EventExtensionApproved:
			t.extensions++
			t.resolveOver = false
		case incident.EventAckOverdue:
			t.level = max(t.level, e.level)
			t.ackOver = t.ackOver || e.level >= 1
		case incident.EventResolveOverdue:
			t.level = max(t.level, e.level)
			t.resolveOver = t.resolveOver || e.level >= 1
		case incident.EventRated:
			score, err := strconv.Atoi(strings.SplitN(e.note, " ", 2)[0])
			if err != nil {
				return fmt.Errorf("incident %s: rated entry %q has no score", id, e.note)
			}
			t.rating, t.ratedAt = &score, e.at
		}
	}
	for _, t := range order {
		if t.cancelled {
			continue
		}
		r := row(t.dept)
		if t.rating != nil && in(t.ratedAt) {
			r.RatedTasks++
			r.RatingSum += int64(*t.rating)
		}
		if !in(t.created) {
			continue
		}
		dd := rec.due[t.id]
		r.Tasks++
		if t.acked != nil {
			if !t.acked.After(dd.ack) {
				r.AckedOnTime++
			}
			r.ack[latencyBucket(t.acked.Sub(t.created).Seconds())]++
		}
		if t.completed != nil && !t.returned {
			r.Completed++
			if !t.completed.After(dd.resolve) {
				r.CompletedOnTime++
			}
			r.complete[latencyBucket(t.completed.Sub(t.created).Seconds())]++
		}
		r.Extensions += int64(t.extensions)
		// Still in its window: open, and the clock below level 1.
		if open := !t.returned && t.completed == nil; open {
			if t.acked == nil && !t.ackOver {
				r.AckPending++
			}
			if !t.resolveOver {
				r.ResolvePending++
			}
		}
		for l, c := range []*int64{&r.Level1, &r.Level2, &r.Level3} {
			if t.level > l {
				*c++
			}
		}
	}
	// A visit, or the closing without one, counts once for the
	// incident and once per department that worked its round.
	keysOf := func(round int) []string {
		if d != ByDepartment {
			return []string{""}
		}
		var keys []string
		seen := map[string]bool{}
		for _, t := range order {
			if t.round == round && !t.cancelled && !t.returned && !seen[t.dept] {
				seen[t.dept] = true
				keys = append(keys, t.dept)
			}
		}
		return keys
	}
	if d != ByDepartment && x.original && in(x.reported) {
		r := row("")
		r.Incidents++
		if x.repeat {
			r.Repeats++
		}
	}
	if closedUnrated != nil && in(*closedUnrated) {
		for _, k := range keysOf(round) {
			row(k).Unrated++
		}
	}
	for _, v := range rec.visits[id] {
		if !in(v.at) {
			continue
		}
		for _, k := range keysOf(v.round) {
			r := row(k)
			r.Visits++
			if v.resolved {
				r.Resolved++
			}
			if v.rating != nil {
				r.Rated++
				if *v.rating == string(incident.RatingSatisfied) || *v.rating == string(incident.RatingBasicallySatisfied) {
					r.Satisfied++
				}
			}
			if v.round < round {
				r.Reopened++
			}
		}
	}
	return nil
}

// ByMonth is the Dimension of a Difference between a monthly rollup row
// and the sum of its days: its Key names the row, Rollup and Record are
// nil.
const ByMonth Dimension = "month"

// Difference is one disagreement between the rollups and the
// recomputation, or between a month and its days (ByMonth).
type Difference struct {
	Dimension Dimension `json:"dimension"`
	// Channel is the channel the tables were narrowed to ("" for none).
	Channel string `json:"channel,omitempty"`
	Key     string `json:"key"`
	Rollup  *LeagueRow
	Record  *LeagueRow
}

// Changes lists what differs between d's rows, field by field in the
// rows' JSON names and order, as "name: rollup ≠ record" (null for a nil
// rate, score or rank), and "ack latencies" or "complete latencies" when
// the histograms behind the percentiles differ. A row missing on one side
// gives one change saying so. A ByMonth difference has none.
func (d Difference) Changes() []string {
	switch {
	case d.Rollup == nil && d.Record == nil:
		return nil
	case d.Rollup == nil:
		return []string{"no row in the rollups"}
	case d.Record == nil:
		return []string{"no row in the record"}
	}
	a, b := reflect.ValueOf(*d.Rollup), reflect.ValueOf(*d.Record)
	var out []string
	for _, f := range reflect.VisibleFields(a.Type()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous || !f.IsExported() || name == "" || name == "key" {
			continue
		}
		x, y := showField(a.FieldByIndex(f.Index)), showField(b.FieldByIndex(f.Index))
		if x != y {
			out = append(out, name+": "+x+" ≠ "+y)
		}
	}
	if !reflect.DeepEqual(d.Rollup.ack, d.Record.ack) {
		out = append(out, "ack latencies")
	}
	if !reflect.DeepEqual(d.Rollup.complete, d.Record.complete) {
		out = append(out, "complete latencies")
	}
	return out
}

// showField prints a LeagueRow field's value, dereferenced, or null.
func showField(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "null"
		}
		v = v.Elem()
	}
	return fmt.Sprint(v.Interface())
}

// CheckRollups compares League with Recompute for every dimension over the
// local days [from, to), and the monthly rollups of the months it touches
// with the sums of their days, and returns every row that differs (in any
// counter, latency, rate, score or rank); none means they agree. It reads
// the record of the period once for all four dimensions, and both sides in
// one snapshot, so it may run while projections commit.
func (m *Metrics) CheckRollups(ctx context.Context, from, to time.Time, g Grading) ([]Difference, error) {
	var out []Difference
	// One snapshot for both sides: on a running Whistle, a projection that
	// commits between the readings would otherwise show as a difference.
	err := m.inSnapshot(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = checkMonths(ctx, tx, from, to); err != nil {
			return err
		}
		dims := []Dimension{ByDepartment, ByStreet, ByItem, ByDomain}
		// Each channel's tables too (ChannelLeague), counted in the same
		// pass, each incident under its channel as its snapshot says, not
		// the column the rollups are keyed by.
		rec, err := recountAll(ctx, tx, from, to, true, dims...)
		if err != nil {
			return err
		}
		tables := rec.tables
		channels, err := recordChannels(ctx, tx, from, to)
		if err != nil {
			return err
		}
		for c := range rec.channels {
			if !slices.Contains(channels, c) {
				channels = append(channels, c)
			}
		}
		byChannel := rec.channels
		betweenCheckReadings()
		for _, d := range dims {
			a, err := league(ctx, tx, d, from, to, g)
			if err != nil {
				return err
			}
			out = append(out, compareLeagues(d, "", a, finish(tables[d], g))...)
			for _, c := range channels {
				a, err := countsLeague(ctx, tx, d, from, to, narrow{channel: c}, g)
				if err != nil {
					return err
				}
				b := byChannel[c][d]
				if b == nil {
					b = map[string]*LeagueRow{}
				}
				out = append(out, compareLeagues(d, c, a, finish(withoutLatencies(b), g))...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// betweenCheckReadings runs after CheckRollups has read the record and
// before it reads the rollups: tests commit a projection there.
var betweenCheckReadings = func() {}

// channelOfDoc is incident.ChannelOf in SQL, read from the incident's
// snapshot (doc) rather than its channel column.
const channelOfDoc = `CASE WHEN coalesce(doc->>'channel', '') <> '' THEN doc->>'channel'
     WHEN coalesce(doc->>'delegation', '') <> '' THEN 'delegation' ELSE 'grid' END`

// recordChannels returns every channel of the incidents (a skip scan of
// their channel index) and of the rollups' rows of the local days
// [from, to), in order: every channel whose tables the period may hold.
func recordChannels(ctx context.Context, q querier, from, to time.Time) ([]string, error) {
	rows, err := q.Query(ctx, `
WITH RECURSIVE c AS (
    (SELECT channel FROM incidents ORDER BY channel LIMIT 1)
    UNION ALL
    SELECT (SELECT i.channel FROM incidents i WHERE i.channel > c.channel ORDER BY i.channel LIMIT 1)
    FROM c WHERE c.channel IS NOT NULL)
SELECT channel FROM c WHERE channel IS NOT NULL
UNION SELECT channel FROM metrics_daily WHERE day >= $1::date AND day < $2::date
ORDER BY 1`, dateOf(from), dateOf(to))
	if err != nil {
		return nil, fmt.Errorf("metrics: channels of the period: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("metrics: channels of the period: %w", err)
	}
	return out, nil
}

// withoutLatencies empties the rows' latency histograms: what a table
// narrowed to a channel holds.
func withoutLatencies(rows map[string]*LeagueRow) map[string]*LeagueRow {
	for _, r := range rows {
		r.ack, r.complete = Histogram{}, Histogram{}
	}
	return rows
}

// compareLeagues returns the rows of dimension d (narrowed to channel,
// when not "") that differ between the rollups' table a and the record's b.
func compareLeagues(d Dimension, channel string, a, b []LeagueRow) []Difference {
	var out []Difference
	am, bm := map[string]*LeagueRow{}, map[string]*LeagueRow{}
	for i := range a {
		am[a[i].Key] = &a[i]
	}
	for i := range b {
		bm[b[i].Key] = &b[i]
	}
	for k, x := range am {
		if y := bm[k]; y == nil || !reflect.DeepEqual(x, y) {
			out = append(out, Difference{Dimension: d, Channel: channel, Key: k, Rollup: x, Record: y})
		}
	}
	for k, y := range bm {
		if am[k] == nil {
			out = append(out, Difference{Dimension: d, Channel: channel, Key: k, Record: y})
		}
	}
	return out
}

// checkMonths returns the rows of the monthly rollups, of the months that
// the local days [from, to) touch, that differ from the sum of their days
// (rows whose counters are all 0 count as absent).
func checkMonths(ctx context.Context, q querier, from, to time.Time) ([]Difference, error) {
	m0 := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	m1 := time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC)
	if to.Day() != 1 {
		m1 = m1.AddDate(0, 1, 0)
	}
	nonzero := rollup.Format("%[1]s <> 0", " OR ")
	rows, err := q.Query(ctx, `
WITH m AS (
    SELECT month, `+rollup.Key+`, `+rollup.Format("%[1]s", ", ")+` FROM metrics_monthly
    WHERE month >= $1::date AND month < $2::date AND (`+nonzero+`)
), d AS (
    SELECT date_trunc('month', day)::date AS month, `+rollup.Key+`, `+rollup.Format("sum(%[1]s) AS %[1]s", ", ")+`
    FROM metrics_daily WHERE day >= $1::date AND day < $2::date
    GROUP BY 1, 2, 3, 4, 5, 6 HAVING `+rollup.Format("sum(%[1]s) <> 0", " OR ")+`
), lm AS (
    SELECT month, dim, value, kind, bucket, n FROM metrics_latency_monthly
    WHERE month >= $1::date AND month < $2::date AND n <> 0
), ld AS (
    SELECT date_trunc('month', day)::date AS month, dim, value, kind, bucket, sum(n) AS n FROM metrics_latency
    WHERE day >= $1::date AND day < $2::date GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0
)
SELECT DISTINCT to_char(month, 'YYYY-MM') || ' ' || department || '/' || street || '/' || item || '/' || domain || '/' || channel
FROM ((TABLE m EXCEPT TABLE d) UNION ALL (TABLE d EXCEPT TABLE m)) x
UNION ALL
SELECT DISTINCT to_char(month, 'YYYY-MM') || ' latency ' || dim::text || '/' || value || '/' || kind::text || '/' || bucket
FROM ((TABLE lm EXCEPT TABLE ld) UNION ALL (TABLE ld EXCEPT TABLE lm)) y
ORDER BY 1`, dateOf(m0), dateOf(m1))
	if err != nil {
		return nil, fmt.Errorf("metrics: check monthly rollups: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("metrics: check monthly rollups: %w", err)
	}
	out := make([]Difference, len(keys))
	for i, k := range keys {
		out[i] = Difference{Dimension: ByMonth, Key: k}
	}
	return out, nil
}

// RecordMonths returns the calendar months, in the rollups' time zone and
// in order, from the one of the earliest report to the one of the latest
// change of any incident: every month that may have something counted in
// it (as dates at midnight UTC, the form CheckRollups and League read).
// None when nothing was ever reported.
func (m *Metrics) RecordMonths(ctx context.Context) ([]time.Time, error) {
	var first, last *time.Time
	err := m.pool.QueryRow(ctx, `
SELECT (min(reported_at) AT TIME ZONE z.timezone)::date::timestamp, (max(updated_at) AT TIME ZONE z.timezone)::date::timestamp
FROM incidents CROSS JOIN metrics_settings z GROUP BY z.timezone`).Scan(&first, &last)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && first == nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("metrics: months of the record: %w", err)
	}
	var out []time.Time
	end := time.Date(last.Year(), last.Month(), 1, 0, 0, 0, 0, time.UTC)
	for m := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(end); m = m.AddDate(0, 1, 0) {
		out = append(out, m)
	}
	return out, nil
}
