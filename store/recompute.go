package store

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/incident"
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
func (s *Store) Recompute(ctx context.Context, d Dimension, from, to time.Time, g Grading) ([]LeagueRow, error) {
	if _, err := d.code(); err != nil {
		return nil, err
	}
	loc, err := s.MetricsTimezone(ctx)
	if err != nil {
		return nil, err
	}
	lo := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
	hi := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, loc)
	in := func(t time.Time) bool { return !t.Before(lo) && t.Before(hi) }

	type inc struct {
		street, item, domain string
		reported             time.Time
		original, repeat     bool // not a duplicate; a repeat (重复诉求)
	}
	incs := map[string]inc{}
	// The incidents with something counted in the period: a report, a
	// timeline entry of a type a counter is dated by, a return visit.
	rows, err := s.pool.Query(ctx, `
SELECT id, street, category, domain, reported_at, duplicate_of IS NULL, repeat_of IS NOT NULL FROM incidents WHERE id IN (
    SELECT incident_id FROM timeline WHERE type = ANY($3) AND at >= $1 AND at < $2
    UNION SELECT incident_id FROM feedback WHERE at >= $1 AND at < $2
    UNION SELECT id FROM incidents WHERE reported_at >= $1 AND reported_at < $2)`, lo, hi,
		[]string{incident.EventTaskCreated, incident.EventRated, incident.EventReturned, incident.EventOverruled,
			incident.EventRoutingOverride, incident.EventClosed})
	if err != nil {
		return nil, fmt.Errorf("store: recompute: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		var x inc
		if err := rows.Scan(&id, &x.street, &x.item, &x.domain, &x.reported, &x.original, &x.repeat); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: recompute: %w", err)
		}
		incs[id] = x
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: recompute: %w", err)
	}

	type dues struct{ ack, resolve time.Time }
	due := map[string]dues{}
	rows, err = s.pool.Query(ctx, `SELECT id, ack_due, resolve_due FROM tasks WHERE incident_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("store: recompute: %w", err)
	}
	for rows.Next() {
		var id string
		var x dues
		if err := rows.Scan(&id, &x.ack, &x.resolve); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: recompute: %w", err)
		}
		due[id] = x
	}
	rows.Close()

	type entry struct {
		incident, typ, task, dept, note, actor string
		at                                     time.Time
		level                                  int
	}
	timelines := map[string][]entry{}
	rows, err = s.pool.Query(ctx, `
SELECT incident_id, type, coalesce(task_id, ''), coalesce(department, ''), note, actor, at, level
FROM timeline WHERE incident_id = ANY($1) ORDER BY incident_id, seq`, ids)
	if err != nil {
		return nil, fmt.Errorf("store: recompute: %w", err)
	}
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.incident, &e.typ, &e.task, &e.dept, &e.note, &e.actor, &e.at, &e.level); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: recompute: %w", err)
		}
		timelines[e.incident] = append(timelines[e.incident], e)
	}
	rows.Close()

	type visit struct {
		round              int
		resolved           bool
		rating             *string
		at                 time.Time
		incident           string
		departmentsOfRound []string
	}
	visits := map[string][]visit{}
	rows, err = s.pool.Query(ctx, `SELECT incident_id, round, resolved, rating, at FROM feedback WHERE incident_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("store: recompute: %w", err)
	}
	for rows.Next() {
		var v visit
		if err := rows.Scan(&v.incident, &v.round, &v.resolved, &v.rating, &v.at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: recompute: %w", err)
		}
		visits[v.incident] = append(visits[v.incident], v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: recompute: %w", err)
	}

	byKey := map[string]*LeagueRow{}
	row := func(x inc, dept string) *LeagueRow {
		k := map[Dimension]string{ByDepartment: dept, ByStreet: x.street, ByItem: x.item, ByDomain: x.domain}[d]
		r := byKey[k]
		if r == nil {
			r = &LeagueRow{Key: k, ack: Histogram{}, complete: Histogram{}}
			byKey[k] = r
		}
		return r
	}

	for _, id := range ids {
		x := incs[id]
		// Replay the timeline into per-task facts.
		type task struct {
			id, dept            string
			round               int
			created             time.Time
			acked, completed    *time.Time
			cancelled, returned bool
			extensions, level   int
			rating              *int
			ratedAt             time.Time
		}
		var order []*task
		tasks := map[string]*task{}
		round := 1
		var closedUnrated *time.Time // when the clock closed it without a visit
		for _, e := range timelines[id] {
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
				// Rework: the round's completed tasks are open again.
				for _, o := range order {
					if o.round == round {
						o.completed = nil
					}
				}
			case incident.EventReturned, incident.EventOverruled:
				if in(e.at) && d != ByDepartment || in(e.at) && e.dept != "" {
					r := row(x, e.dept)
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
					row(x, "").RoutingOverrides++
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
			case incident.EventAckOverdue, incident.EventResolveOverdue:
				t.level = max(t.level, e.level)
			case incident.EventRated:
				score, err := strconv.Atoi(strings.SplitN(e.note, " ", 2)[0])
				if err != nil {
					return nil, fmt.Errorf("store: recompute: incident %s: rated entry %q has no score", id, e.note)
				}
				t.rating, t.ratedAt = &score, e.at
			}
		}
		for _, t := range order {
			if t.cancelled {
				continue
			}
			r := row(x, t.dept)
			if t.rating != nil && in(t.ratedAt) {
				r.RatedTasks++
				r.RatingSum += int64(*t.rating)
			}
			if !in(t.created) {
				continue
			}
			dd := due[t.id]
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
			r := row(x, "")
			r.Incidents++
			if x.repeat {
				r.Repeats++
			}
		}
		if closedUnrated != nil && in(*closedUnrated) {
			for _, k := range keysOf(round) {
				row(x, k).Unrated++
			}
		}
		for _, v := range visits[id] {
			if !in(v.at) {
				continue
			}
			for _, k := range keysOf(v.round) {
				r := row(x, k)
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
	}
	return finish(byKey, g), nil
}

// ByMonth is the Dimension of a Difference between a monthly rollup row
// and the sum of its days: its Key names the row, Rollup and Record are
// nil.
const ByMonth Dimension = "month"

// Difference is one disagreement between the rollups and the
// recomputation, or between a month and its days (ByMonth).
type Difference struct {
	Dimension Dimension `json:"dimension"`
	Key       string    `json:"key"`
	Rollup    *LeagueRow
	Record    *LeagueRow
}

// CheckRollups compares League with Recompute for every dimension over the
// local days [from, to), and the monthly rollups of the months it touches
// with the sums of their days, and returns every row that differs (in any
// counter, latency, rate, score or rank); none means they agree.
func (s *Store) CheckRollups(ctx context.Context, from, to time.Time, g Grading) ([]Difference, error) {
	out, err := s.checkMonths(ctx, from, to)
	if err != nil {
		return nil, err
	}
	for _, d := range []Dimension{ByDepartment, ByStreet, ByItem, ByDomain} {
		a, err := s.League(ctx, d, from, to, g)
		if err != nil {
			return nil, err
		}
		b, err := s.Recompute(ctx, d, from, to, g)
		if err != nil {
			return nil, err
		}
		am, bm := map[string]*LeagueRow{}, map[string]*LeagueRow{}
		for i := range a {
			am[a[i].Key] = &a[i]
		}
		for i := range b {
			bm[b[i].Key] = &b[i]
		}
		for k, x := range am {
			if y := bm[k]; y == nil || !reflect.DeepEqual(x, y) {
				out = append(out, Difference{Dimension: d, Key: k, Rollup: x, Record: y})
			}
		}
		for k, y := range bm {
			if am[k] == nil {
				out = append(out, Difference{Dimension: d, Key: k, Record: y})
			}
		}
	}
	return out, nil
}

// checkMonths returns the rows of the monthly rollups, of the months that
// the local days [from, to) touch, that differ from the sum of their days
// (rows whose counters are all 0 count as absent).
func (s *Store) checkMonths(ctx context.Context, from, to time.Time) ([]Difference, error) {
	m0 := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	m1 := time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC)
	if to.Day() != 1 {
		m1 = m1.AddDate(0, 1, 0)
	}
	nonzero := counters("%[1]s <> 0", " OR ")
	rows, err := s.pool.Query(ctx, `
WITH m AS (
    SELECT month, department, street, item, domain, `+counters("%[1]s", ", ")+` FROM metrics_monthly
    WHERE month >= $1::date AND month < $2::date AND (`+nonzero+`)
), d AS (
    SELECT date_trunc('month', day)::date AS month, department, street, item, domain, `+counters("sum(%[1]s) AS %[1]s", ", ")+`
    FROM metrics_daily WHERE day >= $1::date AND day < $2::date
    GROUP BY 1, 2, 3, 4, 5 HAVING `+counters("sum(%[1]s) <> 0", " OR ")+`
), lm AS (
    SELECT month, dim, value, kind, bucket, n FROM metrics_latency_monthly
    WHERE month >= $1::date AND month < $2::date AND n <> 0
), ld AS (
    SELECT date_trunc('month', day)::date AS month, dim, value, kind, bucket, sum(n) AS n FROM metrics_latency
    WHERE day >= $1::date AND day < $2::date GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0
)
SELECT DISTINCT to_char(month, 'YYYY-MM') || ' ' || department || '/' || street || '/' || item || '/' || domain
FROM ((TABLE m EXCEPT TABLE d) UNION ALL (TABLE d EXCEPT TABLE m)) x
UNION ALL
SELECT DISTINCT to_char(month, 'YYYY-MM') || ' latency ' || dim::text || '/' || value || '/' || kind::text || '/' || bucket
FROM ((TABLE lm EXCEPT TABLE ld) UNION ALL (TABLE ld EXCEPT TABLE lm)) y
ORDER BY 1`, dateOf(m0), dateOf(m1))
	if err != nil {
		return nil, fmt.Errorf("store: check monthly rollups: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: check monthly rollups: %w", err)
	}
	out := make([]Difference, len(keys))
	for i, k := range keys {
		out[i] = Difference{Dimension: ByMonth, Key: k}
	}
	return out, nil
}
