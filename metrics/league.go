package metrics

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/metrics/rollup"
)

// DefinitionVersion names the definitions in docs/metrics.md that
// League, Recompute and the rollups implement.
const DefinitionVersion = "2026-12-v4"

// Dimension is what a league table ranks.
type Dimension string

// The dimensions of league tables.
const (
	ByDepartment Dimension = "department"
	ByStreet     Dimension = "street"
	ByItem       Dimension = "item"
	ByDomain     Dimension = "domain"
)

// dimCode is a dimension's code in metrics_latency.dim.
func (d Dimension) code() (string, error) {
	switch d {
	case ByDepartment:
		return "d", nil
	case ByStreet:
		return "s", nil
	case ByItem:
		return "i", nil
	case ByDomain:
		return "o", nil
	}
	return "", fmt.Errorf("metrics: unknown dimension %q", d)
}

// Grading is how rows are scored and ranked: the jurisdiction's
// assessment weights, the satisfaction target, the other rates' targets
// and the fewest dispatched tasks a row needs to be ranked.
type Grading struct {
	Street, Public, Timeliness float64
	Target                     float64
	// Targets are the other rates' lines; a zero one is Target.
	Targets  jurisdiction.Targets
	MinCases int
}

// GradingOf returns the grading the jurisdiction's assessment section sets:
// its weights, targets and minimum number of cases.
func GradingOf(a jurisdiction.Assessment) Grading {
	return Grading{Street: a.Street, Public: a.Public, Timeliness: a.Timeliness,
		Target: a.SatisfactionTarget, Targets: a.RateTargets(), MinCases: a.MinCasesOrDefault()}
}

// Counts are the additive counters of one row (docs/metrics.md defines
// each and the day it counts on).
type Counts struct {
	Tasks            int64 `json:"tasks"`
	AckedOnTime      int64 `json:"acked_on_time"`
	Completed        int64 `json:"completed"`
	CompletedOnTime  int64 `json:"completed_on_time"`
	Extensions       int64 `json:"extensions"`
	Level1           int64 `json:"overdue_level1"`
	Level2           int64 `json:"overdue_level2"`
	Level3           int64 `json:"overdue_level3"`
	RatedTasks       int64 `json:"rated_tasks"`
	RatingSum        int64 `json:"rating_sum"`
	Returns          int64 `json:"returns"`
	OverruledReturns int64 `json:"overruled_returns"`
	RoutingOverrides int64 `json:"routing_overrides"`
	Visits           int64 `json:"visits"`
	Resolved         int64 `json:"resolved"`
	Rated            int64 `json:"rated"`
	Satisfied        int64 `json:"satisfied"`
	Reopened         int64 `json:"reopened"`
	Unrated          int64 `json:"unrated"`
	Incidents        int64 `json:"incidents"`
	Repeats          int64 `json:"repeats"`
	// AckPending and ResolvePending are the dispatched tasks whose
	// acknowledgement (resolution) is still in its window: not yet
	// decided, so in neither the numerator nor the denominator of the
	// response (on-time resolution) rate.
	AckPending     int64 `json:"ack_pending"`
	ResolvePending int64 `json:"resolve_pending"`
}

func (c *Counts) fields() []*int64 {
	return []*int64{&c.Tasks, &c.AckedOnTime, &c.Completed, &c.CompletedOnTime, &c.Extensions, &c.Level1, &c.Level2,
		&c.Level3, &c.RatedTasks, &c.RatingSum, &c.Returns, &c.OverruledReturns, &c.RoutingOverrides, &c.Visits,
		&c.Resolved, &c.Rated, &c.Satisfied, &c.Reopened, &c.Unrated, &c.Incidents, &c.Repeats, &c.AckPending,
		&c.ResolvePending}
}

// TargetsMet says of each rate whether it reaches its target
// (Grading.Targets): nil when the rate is null.
type TargetsMet struct {
	Response         *bool `json:"response" doc:"response_rate ≥ assessment.targets.response (default: satisfaction_target); null when the rate is null."`
	OnTimeResolution *bool `json:"on_time_resolution" doc:"on_time_resolution_rate ≥ assessment.targets.on_time_resolution; null when the rate is null."`
	Resolution       *bool `json:"resolution" doc:"resolution_rate ≥ assessment.targets.resolution; null when the rate is null."`
	Satisfaction     *bool `json:"satisfaction" doc:"satisfaction_rate ≥ satisfaction_target; null when the rate is null."`
}

// String prints the flags as response/on_time_resolution/resolution/
// satisfaction, each true, false or null.
func (t TargetsMet) String() string {
	var parts []string
	for _, b := range []*bool{t.Response, t.OnTimeResolution, t.Resolution, t.Satisfaction} {
		if b == nil {
			parts = append(parts, "null")
		} else {
			parts = append(parts, strconv.FormatBool(*b))
		}
	}
	return strings.Join(parts, "/")
}

// meets says whether rate reaches target: nil when rate is nil.
func meets(rate *float64, target float64) *bool {
	if rate == nil {
		return nil
	}
	ok := *rate >= target
	return &ok
}

// Histogram counts durations by latency bucket (metrics_bucket).
type Histogram map[int]int64

// LeagueRow is one row of a league table: counters, rates, latencies, the
// weighted score and the rank. Every rate and score is nil when its
// denominator is 0 (docs/metrics.md).
type LeagueRow struct {
	Key string `json:"key"`
	Counts
	ResponseRate         *float64 `json:"response_rate"`
	OnTimeResolutionRate *float64 `json:"on_time_resolution_rate"`
	ResolutionRate       *float64 `json:"resolution_rate"`
	SatisfactionRate     *float64 `json:"satisfaction_rate"`
	UnratedShare         *float64 `json:"unrated_share"`
	ReturnRate           *float64 `json:"return_rate"`
	ReopenRate           *float64 `json:"reopen_rate"`
	MeanRating           *float64 `json:"mean_rating"`
	// Latencies in seconds, floored to their bucket's resolution.
	MedianAckSeconds      *int64 `json:"median_ack_seconds"`
	P90AckSeconds         *int64 `json:"p90_ack_seconds"`
	MedianCompleteSeconds *int64 `json:"median_complete_seconds"`
	P90CompleteSeconds    *int64 `json:"p90_complete_seconds"`
	// Score is the weighted score in [0, 1].
	Score *float64 `json:"score"`
	// MeetsTarget is satisfaction_rate ≥ the satisfaction target (false
	// when it is null).
	MeetsTarget bool `json:"meets_target"`
	// TargetsMet says of each of the 三率 and the on-time resolution rate
	// whether it reaches its target; MeetsAllTargets that every one of
	// them that is not null does, and at least one is not.
	TargetsMet      TargetsMet `json:"targets_met"`
	MeetsAllTargets bool       `json:"meets_all_targets"`
	TooFewCases     bool       `json:"too_few_cases"`
	// Rank is 1 for the best score; equal scores share a rank; nil for a
	// row with too few cases or no score.
	Rank *int `json:"rank"`

	ack, complete Histogram
}

// League returns the league table of dimension d over the local days
// [from, to) (dates in the rollups' time zone; only their date counts),
// from the rollups, ranked (see rank).
func (m *Metrics) League(ctx context.Context, d Dimension, from, to time.Time, g Grading) ([]LeagueRow, error) {
	var rows []LeagueRow
	err := m.inSnapshot(ctx, func(tx pgx.Tx) error {
		var err error
		rows, err = league(ctx, tx, d, from, to, g)
		return err
	})
	return rows, err
}

// ChannelLeague returns the league table of dimension d over the local
// days [from, to) of the incidents that came in by channel (incident.
// ChannelOf), from the rollups, graded and ranked among themselves. The
// latency histograms are not kept per channel, so its latencies are nil.
func (m *Metrics) ChannelLeague(ctx context.Context, d Dimension, from, to time.Time, channel string, g Grading) ([]LeagueRow, error) {
	var rows []LeagueRow
	err := m.inSnapshot(ctx, func(tx pgx.Tx) error {
		var err error
		rows, err = countsLeague(ctx, tx, d, from, to, narrow{channel: channel}, g)
		return err
	})
	return rows, err
}

// inSnapshot runs fn in a read-only REPEATABLE READ transaction: every
// statement of fn sees the same committed state. Project writes an
// incident's rows and its rollup change in one transaction, so a snapshot
// holds both or neither.
func (m *Metrics) inSnapshot(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, m.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// league is League on q.
func league(ctx context.Context, q querier, d Dimension, from, to time.Time, g Grading) ([]LeagueRow, error) {
	dim, err := d.code()
	if err != nil {
		return nil, err
	}
	byKey, err := leagueCounts(ctx, q, d, from, to, narrow{})
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT value, kind::text, bucket, sum(n) FROM (
    SELECT value, kind, bucket, n FROM metrics_latency_monthly WHERE dim = $7 AND month >= $1::date AND month < $2::date
    UNION ALL
    SELECT value, kind, bucket, n FROM metrics_latency
    WHERE dim = $7 AND (day >= $3::date AND day < $4::date OR day >= $5::date AND day < $6::date)
) r GROUP BY 1, 2, 3 HAVING sum(n) <> 0`, append(spanOf(from, to).args(), dim)...)
	if err != nil {
		return nil, fmt.Errorf("metrics: %s latency: %w", d, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key, kind string
		var bucket int
		var n int64
		if err := rows.Scan(&key, &kind, &bucket, &n); err != nil {
			return nil, fmt.Errorf("metrics: %s latency: %w", d, err)
		}
		r := byKey[key]
		if r == nil {
			r = &LeagueRow{Key: key, ack: Histogram{}, complete: Histogram{}}
			byKey[key] = r
		}
		if kind == "a" {
			r.ack[bucket] += n
		} else {
			r.complete[bucket] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("metrics: %s latency: %w", d, err)
	}
	return finish(byKey, g), nil
}

// narrow restricts the counters of a league table to the incidents of a
// street, or of a channel, or both; the zero value is the whole district.
type narrow struct{ street, channel string }

// leagueCounts sums the rollups' counters over the local days [from, to)
// (spanOf) by dimension d, for the whole district or the incidents n
// narrows to: a row per key, latencies still empty.
func leagueCounts(ctx context.Context, q querier, d Dimension, from, to time.Time, n narrow) (map[string]*LeagueRow, error) {
	col := map[Dimension]string{ByDepartment: "department", ByStreet: "street", ByItem: "item", ByDomain: "domain"}[d]
	if col == "" {
		return nil, fmt.Errorf("metrics: unknown dimension %q", d)
	}
	sums := ""
	for i, c := range rollup.Counters {
		if i > 0 {
			sums += ", "
		}
		// A visit (and an unrated closing) is on the incident's row ('')
		// and on each department's: a department reads its own, the
		// other dimensions the incident's.
		if d != ByDepartment && (c == "visits" || c == "resolved" || c == "rated" || c == "satisfied" || c == "reopened" || c == "unrated") {
			sums += "coalesce(sum(" + c + ") FILTER (WHERE department = ''), 0)"
		} else {
			sums += "sum(" + c + ")"
		}
	}
	where := ""
	if d == ByDepartment {
		where = " AND department <> ''"
	}
	cols := rollup.Key + ", " + rollup.Format("%[1]s", ", ")
	rows, err := q.Query(ctx, `SELECT `+col+`, `+sums+` FROM (
    SELECT `+cols+` FROM metrics_monthly WHERE month >= $1::date AND month < $2::date
    UNION ALL
    SELECT `+cols+` FROM metrics_daily WHERE day >= $3::date AND day < $4::date OR day >= $5::date AND day < $6::date
) r WHERE ($7 = '' OR street = $7) AND ($8 = '' OR channel = $8)`+where+` GROUP BY 1`,
		append(spanOf(from, to).args(), n.street, n.channel)...)
	if err != nil {
		return nil, fmt.Errorf("metrics: %s league: %w", d, err)
	}
	defer rows.Close()
	byKey := map[string]*LeagueRow{}
	for rows.Next() {
		r := &LeagueRow{ack: Histogram{}, complete: Histogram{}}
		dest := []any{&r.Key}
		for _, f := range r.Counts.fields() {
			dest = append(dest, f)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("metrics: %s league: %w", d, err)
		}
		byKey[r.Key] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("metrics: %s league: %w", d, err)
	}
	return byKey, nil
}

// span is a range of local days [from, to) as the rollups read it: the
// whole calendar months inside it from the monthly tables, the days before
// and after them from the daily ones. Each range is [first, end) of dates
// YYYY-MM-DD (months by their first day); an empty one has first = end.
type span struct {
	months, before, after [2]string
}

// spanOf splits the local days [from, to) (only their dates count).
func spanOf(from, to time.Time) span {
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	f, t := day(from), day(to)
	if t.Before(f) {
		t = f
	}
	m0 := time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, time.UTC)
	if m0.Before(f) {
		m0 = m0.AddDate(0, 1, 0)
	}
	m1 := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	if !m0.Before(m1) { // no whole month inside
		return span{months: [2]string{dateOf(f), dateOf(f)}, before: [2]string{dateOf(f), dateOf(t)}, after: [2]string{dateOf(t), dateOf(t)}}
	}
	return span{months: [2]string{dateOf(m0), dateOf(m1)}, before: [2]string{dateOf(f), dateOf(m0)}, after: [2]string{dateOf(m1), dateOf(t)}}
}

// args are the span's bounds as the queries' $1..$6: months, before, after.
func (p span) args() []any {
	return []any{p.months[0], p.months[1], p.before[0], p.before[1], p.after[0], p.after[1]}
}

// dateOf is t's calendar date as written (in t's own location).
func dateOf(t time.Time) string { return t.Format("2006-01-02") }

// finish computes every row's rates, latencies and score, drops rows whose
// counters are all zero, and ranks them.
func finish(byKey map[string]*LeagueRow, g Grading) []LeagueRow {
	out := make([]LeagueRow, 0, len(byKey))
	for _, r := range byKey {
		empty := len(r.ack) == 0 && len(r.complete) == 0
		for _, f := range r.Counts.fields() {
			empty = empty && *f == 0
		}
		if empty {
			continue
		}
		r.grade(g)
		out = append(out, *r)
	}
	rank(out)
	return out
}

func (r *LeagueRow) grade(g Grading) {
	c := r.Counts
	// A task counts in the timeliness rates once its outcome is decided:
	// acknowledged (completed) or past the deadline (docs/metrics.md).
	r.ResponseRate = ratio(c.AckedOnTime, c.Tasks-c.AckPending)
	r.OnTimeResolutionRate = ratio(c.CompletedOnTime, c.Tasks-c.ResolvePending)
	r.ResolutionRate = ratio(c.Resolved, c.Visits)
	r.SatisfactionRate = ratio(c.Satisfied, c.Rated)
	r.UnratedShare = ratio(c.Unrated, c.Visits+c.Unrated)
	r.ReturnRate = ratio(c.Returns, c.Tasks)
	r.ReopenRate = ratio(c.Reopened, c.Visits)
	if c.RatedTasks > 0 {
		m := float64(c.RatingSum) / float64(c.RatedTasks)
		r.MeanRating = &m
	}
	r.MedianAckSeconds, r.P90AckSeconds = percentile(r.ack, 0.5), percentile(r.ack, 0.9)
	r.MedianCompleteSeconds, r.P90CompleteSeconds = percentile(r.complete, 0.5), percentile(r.complete, 0.9)
	r.MeetsTarget = r.SatisfactionRate != nil && *r.SatisfactionRate >= g.Target
	r.TargetsMet = TargetsMet{
		Response:         meets(r.ResponseRate, cmp.Or(g.Targets.Response, g.Target)),
		OnTimeResolution: meets(r.OnTimeResolutionRate, cmp.Or(g.Targets.OnTimeResolution, g.Target)),
		Resolution:       meets(r.ResolutionRate, cmp.Or(g.Targets.Resolution, g.Target)),
		Satisfaction:     meets(r.SatisfactionRate, g.Target),
	}
	all, some := true, false
	for _, m := range []*bool{r.TargetsMet.Response, r.TargetsMet.OnTimeResolution, r.TargetsMet.Resolution, r.TargetsMet.Satisfaction} {
		if m != nil {
			all, some = all && *m, true
		}
	}
	r.MeetsAllTargets = all && some
	r.TooFewCases = c.Tasks < int64(g.MinCases)
	// The score: the weighted mean of the components present, the
	// weights of the missing ones left out (docs/metrics.md).
	var sum, weight float64
	add := func(w float64, v *float64) {
		if v != nil && w > 0 {
			sum += w * *v
			weight += w
		}
	}
	if r.MeanRating != nil {
		add(g.Street, ptrFloat(*r.MeanRating/100))
	}
	add(g.Public, r.SatisfactionRate)
	add(g.Timeliness, mean(r.ResponseRate, r.OnTimeResolutionRate))
	if weight > 0 {
		r.Score = ptrFloat(sum / weight)
	}
}

func ptrFloat(f float64) *float64 { return &f }

// mean is the mean of the rates that are not nil; nil when all are.
func mean(rates ...*float64) *float64 {
	var sum float64
	n := 0
	for _, r := range rates {
		if r != nil {
			sum += *r
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return ptrFloat(sum / float64(n))
}

// rank orders rows: those with a score and enough cases by score (highest
// first; equal scores share the rank of the first, then by key), then the
// unranked ones by key.
func rank(rows []LeagueRow) {
	ranked := func(r *LeagueRow) bool { return r.Score != nil && !r.TooFewCases }
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := &rows[i], &rows[j]
		if ranked(a) != ranked(b) {
			return ranked(a)
		}
		if ranked(a) && *a.Score != *b.Score {
			return *a.Score > *b.Score
		}
		return a.Key < b.Key
	})
	for i := range rows {
		if !ranked(&rows[i]) {
			break
		}
		n := i + 1
		if i > 0 && *rows[i-1].Score == *rows[i].Score {
			n = *rows[i-1].Rank
		}
		rows[i].Rank = &n
	}
}

// percentile is the nearest-rank p-quantile of h (the ceil(p·n)-th
// smallest duration) as its bucket's lower bound in seconds; nil when h is
// empty.
func percentile(h Histogram, p float64) *int64 {
	var n int64
	buckets := make([]int, 0, len(h))
	for b, c := range h {
		n += c
		buckets = append(buckets, b)
	}
	if n == 0 {
		return nil
	}
	sort.Ints(buckets)
	k := int64(math.Ceil(p * float64(n)))
	var seen int64
	for _, b := range buckets {
		seen += h[b]
		if seen >= k {
			lo := bucketLow(b)
			return &lo
		}
	}
	return nil
}

// latencyBucket is metrics_bucket (migration 00007): 1-minute buckets
// below 2 h, 10-minute below 48 h, 1-hour beyond.
func latencyBucket(seconds float64) int {
	switch {
	case seconds < 0:
		return 0
	case seconds < 7200:
		return int(math.Floor(seconds / 60))
	case seconds < 172800:
		return 120 + int(math.Floor((seconds-7200)/600))
	}
	return 396 + int(math.Floor((seconds-172800)/3600))
}

// bucketLow is the shortest duration in seconds of bucket b.
func bucketLow(b int) int64 {
	switch {
	case b < 120:
		return int64(b) * 60
	case b < 396:
		return 7200 + int64(b-120)*600
	}
	return 172800 + int64(b-396)*3600
}

// ratio is n/d, nil when d is 0.
func ratio(n, d int64) *float64 {
	if d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}
