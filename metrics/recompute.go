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
// and a Tally that its timeline, streamed in incident order, is counted
// into one incident at a time (so memory holds one incident's timeline,
// not the month's).
type recount struct {
	incs  map[string]*Case
	due   map[string]Due // by task
	tally *Tally
	// channels, when split, holds the same tables per channel: each
	// incident is counted into the district's and into its channel's.
	split    bool
	channels map[string]*Tally
	dims     []Dimension
}

// recountOn reads the record of the local days [from, to) on q and
// returns the rows of each of dims, not yet finished.
func recountOn(ctx context.Context, q querier, from, to time.Time, dims ...Dimension) (map[Dimension]map[string]*LeagueRow, error) {
	r, err := recountAll(ctx, q, from, to, false, dims...)
	if err != nil {
		return nil, err
	}
	return r.tally.tables, nil
}

// recountAll is recountOn returning the whole recount: with split, also
// every channel's tables, counted in the same pass.
func recountAll(ctx context.Context, q querier, from, to time.Time, split bool, dims ...Dimension) (*recount, error) {
	loc, err := metricsTimezone(ctx, q)
	if err != nil {
		return nil, err
	}
	r := &recount{
		incs:  map[string]*Case{},
		due:   map[string]Due{},
		tally: NewTally(from, to, loc, dims...),
		split: split, channels: map[string]*Tally{}, dims: dims,
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
    UNION SELECT id FROM incidents WHERE reported_at >= $1 AND reported_at < $2)`, r.tally.lo, r.tally.hi, CountedEvents)
	if err != nil {
		return fail(err)
	}
	var ids []string
	var id string
	var x Case
	if _, err := pgx.ForEachRow(rows, []any{&x.ID, &x.Street, &x.Item, &x.Domain, &x.Channel, &x.Reported, &x.Original, &x.Repeat}, func() error {
		c := x
		c.Due = r.due
		r.incs[c.ID] = &c
		ids = append(ids, c.ID)
		return nil
	}); err != nil {
		return fail(err)
	}

	rows, err = q.Query(ctx, `SELECT id, ack_due, resolve_due FROM tasks WHERE incident_id = ANY($1)`, ids)
	if err != nil {
		return fail(err)
	}
	var dd Due
	if _, err := pgx.ForEachRow(rows, []any{&id, &dd.Ack, &dd.Resolve}, func() error {
		r.due[id] = dd
		return nil
	}); err != nil {
		return fail(err)
	}

	rows, err = q.Query(ctx, `SELECT incident_id, round, resolved, coalesce(rating, ''), at FROM feedback WHERE incident_id = ANY($1)`, ids)
	if err != nil {
		return fail(err)
	}
	var v Visit
	if _, err := pgx.ForEachRow(rows, []any{&id, &v.Round, &v.Resolved, &v.Rating, &v.At}, func() error {
		if c := r.incs[id]; c != nil {
			c.Visits = append(c.Visits, v)
		}
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
	var timeline []incident.Entry
	current := ""
	flush := func() error {
		if current == "" {
			return nil
		}
		err := r.count(current, timeline)
		timeline, current = timeline[:0], ""
		return err
	}
	var e incident.Entry
	if _, err := pgx.ForEachRow(rows, []any{&id, &e.Type, &e.TaskID, &e.Department, &e.Note, &e.Actor, &e.At, &e.Level}, func() error {
		if current != id {
			if err := flush(); err != nil {
				return err
			}
			current = id
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

// count counts incident id, whose whole timeline is given, into the
// tally (and its channel's), then forgets it.
func (r *recount) count(id string, timeline []incident.Entry) error {
	c, ok := r.incs[id]
	if !ok {
		return fmt.Errorf("incident %s: timeline out of incident order", id)
	}
	c.Timeline = timeline
	if err := r.tally.Count(c); err != nil {
		return err
	}
	if r.split {
		t := r.channels[c.Channel]
		if t == nil {
			t = NewTally(r.tally.lo, r.tally.hi, r.tally.lo.Location(), r.dims...)
			r.channels[c.Channel] = t
		}
		if err := t.Count(c); err != nil {
			return err
		}
	}
	delete(r.incs, id)
	return nil
}

// CountedEvents are the timeline entry types some counter is dated by
// (besides the report and the return visits): an incident with none of
// them, no report and no visit in a period counts for nothing in it.
var CountedEvents = []string{incident.EventTaskCreated, incident.EventRated, incident.EventReturned, incident.EventOverruled,
	incident.EventRoutingOverride, incident.EventClosed}

// Case is one incident as the league tables count it: what the record
// holds of it (Recompute), or what a replay made of it (whatif).
type Case struct {
	ID string
	// Channel is incident.ChannelOf the incident.
	Street, Item, Domain, Channel string
	Reported                      time.Time
	// Original: not a duplicate; Repeat: a repeat (重复诉求).
	Original, Repeat bool
	// Timeline is the incident's whole timeline, in order; of each entry
	// its type, task, department, note, actor, time and level are read.
	Timeline []incident.Entry
	// Due holds the deadlines of (at least) the incident's tasks, by task.
	Due map[string]Due
	// Visits are its return visits, of every round.
	Visits []Visit
}

// Due is a task's acknowledgement and resolution deadline as they stand.
type Due struct{ Ack, Resolve time.Time }

// Visit is one return visit (回访).
type Visit struct {
	Round    int
	Resolved bool
	// Rating is "" when the resident gave none.
	Rating incident.Rating
	At     time.Time
}

// CaseOf returns the Case of in, with visits its return visits of every
// round (the incident keeps only the latest).
func CaseOf(in *incident.Incident, visits []incident.Feedback) *Case {
	c := &Case{ID: in.ID, Street: in.Street, Item: in.Category, Domain: in.Item.Domain, Channel: incident.ChannelOf(in),
		Reported: in.ReportedAt, Original: in.DuplicateOf == nil, Repeat: in.RepeatOf != nil, Timeline: in.Timeline,
		Due: make(map[string]Due, len(in.Tasks))}
	for _, t := range in.Tasks {
		c.Due[t.ID] = Due{Ack: t.AckDue, Resolve: t.ResolveDue}
	}
	for _, v := range visits {
		c.Visits = append(c.Visits, Visit{Round: v.Round, Resolved: v.Resolved, Rating: v.Rating, At: v.At})
	}
	return c
}

// Tally counts incidents into league tables, one at a time, over a
// period of local days: the one definition of what each counter counts,
// which Recompute runs over the record and whatif over a replay.
type Tally struct {
	lo, hi time.Time
	tables map[Dimension]map[string]*LeagueRow
}

// NewTally returns an empty tally of dims over the local days [from, to)
// of loc (only the dates of from and to count).
func NewTally(from, to time.Time, loc *time.Location, dims ...Dimension) *Tally {
	t := &Tally{
		lo:     time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc),
		hi:     time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, loc),
		tables: map[Dimension]map[string]*LeagueRow{},
	}
	for _, d := range dims {
		t.tables[d] = map[string]*LeagueRow{}
	}
	return t
}

// Count counts c into every table of the tally.
func (t *Tally) Count(c *Case) error {
	f, err := factsOf(c)
	if err != nil {
		return err
	}
	for d, byKey := range t.tables {
		t.countIn(d, byKey, c, f)
	}
	return nil
}

// caseFacts are what an incident's timeline says of its tasks, whichever
// table it is counted into.
type caseFacts struct {
	order         []*taskFacts
	round         int
	closedUnrated *time.Time // when the clock closed it without a visit
}

type taskFacts struct {
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

// factsOf replays x's timeline into per-task facts.
func factsOf(x *Case) (*caseFacts, error) {
	f := &caseFacts{round: 1}
	tasks := make(map[string]*taskFacts, 4)
	for _, e := range x.Timeline {
		t := tasks[e.TaskID]
		switch e.Type {
		case incident.EventClosed:
			if e.Actor == incident.SystemActor {
				at := e.At
				f.closedUnrated = &at
			}
		case incident.EventTaskCreated:
			t = &taskFacts{id: e.TaskID, dept: e.Department, round: f.round, created: e.At}
			tasks[e.TaskID] = t
			f.order = append(f.order, t)
		case incident.EventReopened:
			f.round++
		case incident.EventVerificationFailed:
			// Rework: the round's completed tasks are open again, on a
			// fresh resolution clock.
			for _, o := range f.order {
				if o.round == f.round && o.completed != nil {
					o.completed, o.resolveOver = nil, false
				}
			}
		case incident.EventReturned, incident.EventOverruled:
			if t != nil {
				t.returned = e.Type == incident.EventReturned
			}
		}
		if t == nil {
			continue
		}
		switch e.Type {
		case incident.EventAcknowledged:
			at := e.At
			t.acked = &at
		case incident.EventCompleted:
			at := e.At
			t.completed = &at
		case incident.EventTaskCancelled:
			t.cancelled = true
		case incident.EventExtensionApproved:
			t.extensions++
			t.resolveOver = false
		case incident.EventAckOverdue:
			t.level = max(t.level, e.Level)
			t.ackOver = t.ackOver || e.Level >= 1
		case incident.EventResolveOverdue:
			t.level = max(t.level, e.Level)
			t.resolveOver = t.resolveOver || e.Level >= 1
		case incident.EventRated:
			score, err := strconv.Atoi(strings.SplitN(e.Note, " ", 2)[0])
			if err != nil {
				return nil, fmt.Errorf("incident %s: rated entry %q has no score", x.ID, e.Note)
			}
			t.rating, t.ratedAt = &score, e.At
		}
	}
	return f, nil
}

// Add adds o's counts (a tally of the same period and dimensions) to t.
func (t *Tally) Add(o *Tally) {
	for d, rows := range o.tables {
		mine := t.tables[d]
		if mine == nil {
			mine = map[string]*LeagueRow{}
			t.tables[d] = mine
		}
		for k, r := range rows {
			m := mine[k]
			if m == nil {
				m = &LeagueRow{Key: k, ack: Histogram{}, complete: Histogram{}}
				mine[k] = m
			}
			a, b := m.Counts.fields(), r.Counts.fields()
			for i := range a {
				*a[i] += *b[i]
			}
			for b, n := range r.ack {
				m.ack[b] += n
			}
			for b, n := range r.complete {
				m.complete[b] += n
			}
		}
	}
}

// League returns the tally's table of dimension d, graded by g and
// ranked: what League returns from the rollups. It leaves the tally as
// it is.
func (t *Tally) League(d Dimension, g Grading) []LeagueRow {
	c := NewTally(t.lo, t.hi, t.lo.Location(), d)
	c.Add(&Tally{tables: map[Dimension]map[string]*LeagueRow{d: t.tables[d]}})
	return finish(c.tables[d], g)
}

// in reports whether at falls in the period.
func (t *Tally) in(at time.Time) bool { return !at.Before(t.lo) && at.Before(t.hi) }

// countIn counts incident x, whose facts are f, into the table of
// dimension d.
func (t *Tally) countIn(d Dimension, byKey map[string]*LeagueRow, x *Case, f *caseFacts) {
	in := t.in
	row := func(dept string) *LeagueRow {
		k := dept
		switch d {
		case ByStreet:
			k = x.Street
		case ByItem:
			k = x.Item
		case ByDomain:
			k = x.Domain
		}
		r := byKey[k]
		if r == nil {
			r = &LeagueRow{Key: k, ack: Histogram{}, complete: Histogram{}}
			byKey[k] = r
		}
		return r
	}
	for _, e := range x.Timeline {
		switch e.Type {
		case incident.EventReturned, incident.EventOverruled:
			if in(e.At) && d != ByDepartment || in(e.At) && e.Department != "" {
				r := row(e.Department)
				if e.Type == incident.EventReturned {
					r.Returns++
				} else {
					r.OverruledReturns++
				}
			}
		case incident.EventRoutingOverride:
			if in(e.At) && d != ByDepartment {
				row("").RoutingOverrides++
			}
		}
	}
	order, round, closedUnrated := f.order, f.round, f.closedUnrated
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
		dd := x.Due[t.id]
		r.Tasks++
		if t.acked != nil {
			if !t.acked.After(dd.Ack) {
				r.AckedOnTime++
			}
			r.ack[latencyBucket(t.acked.Sub(t.created).Seconds())]++
		}
		if t.completed != nil && !t.returned {
			r.Completed++
			if !t.completed.After(dd.Resolve) {
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
	if d != ByDepartment && x.Original && in(x.Reported) {
		r := row("")
		r.Incidents++
		if x.Repeat {
			r.Repeats++
		}
	}
	if closedUnrated != nil && in(*closedUnrated) {
		for _, k := range keysOf(round) {
			row(k).Unrated++
		}
	}
	for _, v := range x.Visits {
		if !in(v.At) {
			continue
		}
		for _, k := range keysOf(v.Round) {
			r := row(k)
			r.Visits++
			if v.Resolved {
				r.Resolved++
			}
			if v.Rating != "" {
				r.Rated++
				if v.Rating == incident.RatingSatisfied || v.Rating == incident.RatingBasicallySatisfied {
					r.Satisfied++
				}
			}
			if v.Round < round {
				r.Reopened++
			}
		}
	}
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
		tables := rec.tally.tables
		channels, err := recordChannels(ctx, tx, from, to)
		if err != nil {
			return err
		}
		for c := range rec.channels {
			if !slices.Contains(channels, c) {
				channels = append(channels, c)
			}
		}
		byChannel := map[string]map[Dimension]map[string]*LeagueRow{}
		for c, t := range rec.channels {
			byChannel[c] = t.tables
		}
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

// CompareLeagues returns the rows of dimension d that differ between
// tables a and b (in any counter, latency, rate, score or rank): a's row
// is the Difference's Rollup, b's its Record.
func CompareLeagues(d Dimension, a, b []LeagueRow) []Difference { return compareLeagues(d, "", a, b) }

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
