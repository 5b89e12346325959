package store

import (
	"context"
	"fmt"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// Metrics are the 三率 of one department or street over a period [from, to):
// the counts, and the rates computed from them.
type Metrics struct {
	Key string `json:"key"` // department code or street code

	// Tasks counts the tasks dispatched (created) in the period, except
	// cancelled ones.
	Tasks int `json:"tasks"`
	// AckedOnTime counts those acknowledged (报到) at or before ack_due.
	AckedOnTime int `json:"acked_on_time"`
	// Extensions counts the approved extensions (延期) of those tasks.
	Extensions int `json:"extensions"`
	// Completed counts those completed (and not sent back by a failed
	// verification); CompletedOnTime those completed at or before resolve_due.
	Completed       int `json:"completed"`
	CompletedOnTime int `json:"completed_on_time"`

	// Feedback counts the return visits (回访) recorded in the period.
	Feedback int `json:"feedback"`
	// Resolved counts the visits where the resident said it was solved.
	Resolved int `json:"resolved"`
	// Rated counts the visits with a rating; Satisfied those rated
	// satisfied or basically satisfied.
	Rated     int `json:"rated"`
	Satisfied int `json:"satisfied"`

	// Returns counts the returns (退单) made in the period: the `returned`
	// timeline entries dated in it, whenever their tasks were dispatched; a
	// task returned twice counts twice. A department's are the returns it
	// made, a street's those of its incidents' tasks.
	Returns int `json:"returns"`
	// OverruledReturns counts the returns overruled in the period (by the
	// street, or by the district once referred): the `overruled` entries
	// dated in it, on the department whose return was overruled.
	OverruledReturns int `json:"overruled_returns"`
	// RoutingOverrides counts, for a street, the times in the period it
	// whistled other departments than the responsibility list names for the
	// item (`routing_override` entries). Always 0 for a department.
	RoutingOverrides int `json:"routing_overrides"`

	// ResponseRate (响应率) is AckedOnTime / Tasks.
	ResponseRate *float64 `json:"response_rate"`
	// OnTimeResolutionRate is CompletedOnTime / Tasks.
	OnTimeResolutionRate *float64 `json:"on_time_resolution_rate"`
	// ResolutionRate (解决率) is Resolved / Feedback.
	ResolutionRate *float64 `json:"resolution_rate"`
	// SatisfactionRate (满意率) is Satisfied / Rated.
	SatisfactionRate *float64 `json:"satisfaction_rate"`
	// ReturnRate is Returns / Tasks: returns made in the period per task
	// dispatched in it.
	ReturnRate *float64 `json:"return_rate"`
	// Each rate is nil when its denominator is 0.

	// MeetsTarget reports whether SatisfactionRate is at least the target
	// (false when it is nil).
	MeetsTarget bool `json:"meets_target"`
}

// DepartmentMetrics returns the 三率 of every department with a task
// dispatched, a return visit recorded or a return made or overruled in
// [from, to), ordered by department code. A return visit counts for every
// department that did work on the incident in the visit's round (a task of
// that round not returned and not cancelled). target is the satisfaction
// target (e.g. 0.95).
func (s *Store) DepartmentMetrics(ctx context.Context, from, to time.Time, target float64) ([]Metrics, error) {
	return s.metrics(ctx, "department", []string{incident.EventReturned, incident.EventOverruled}, `
SELECT f.*, d.department AS key
FROM feedback f
CROSS JOIN LATERAL (
    SELECT DISTINCT t.department FROM tasks t
    WHERE t.incident_id = f.incident_id AND t.round = f.round AND t.status NOT IN ('returned', 'cancelled')
) d
WHERE f.at >= $1 AND f.at < $2`, from, to, target)
}

// StreetMetrics returns the 三率 of every street with a task dispatched, a
// return visit recorded, a return made or overruled or a routing override
// in [from, to) on its incidents, ordered by street code. target is the
// satisfaction target (e.g. 0.95).
func (s *Store) StreetMetrics(ctx context.Context, from, to time.Time, target float64) ([]Metrics, error) {
	return s.metrics(ctx, "street", []string{incident.EventReturned, incident.EventOverruled, incident.EventRoutingOverride}, `
SELECT f.*, i.street AS key
FROM feedback f JOIN incidents i ON i.id = f.incident_id
WHERE f.at >= $1 AND f.at < $2`, from, to, target)
}

// metrics counts tasks grouped by their column key, the return visits that
// feedbackSQL selects (feedback rows with a "key" column, in the period
// $1..$2), and the timeline entries of the given types (a subset of
// returned, overruled and routing_override) grouped by their column key,
// and joins them by key. Every type is one of store.ReviewTypes, whose
// entries all carry their street (migration 00005), and a range of the
// timeline_type_at index.
func (s *Store) metrics(ctx context.Context, key string, types []string, feedbackSQL string, from, to time.Time, target float64) ([]Metrics, error) {
	q := `
WITH t AS (
    SELECT ` + key + ` AS key,
           count(*) AS tasks,
           count(*) FILTER (WHERE acked_at IS NOT NULL AND acked_at <= ack_due) AS acked_on_time,
           count(*) FILTER (WHERE status = 'completed') AS completed,
           count(*) FILTER (WHERE status = 'completed' AND completed_at <= resolve_due) AS completed_on_time,
           coalesce(sum(x.n), 0) AS extensions
    FROM tasks
    LEFT JOIN LATERAL (
        SELECT count(*) AS n FROM timeline tl
        WHERE tl.incident_id = tasks.incident_id AND tl.task_id = tasks.id AND tl.type = 'extension_approved'
    ) x ON true
    WHERE created_at >= $1 AND created_at < $2 AND status <> 'cancelled'
    GROUP BY 1
), f AS (
    SELECT key,
           count(*) AS feedback,
           count(*) FILTER (WHERE resolved) AS resolved,
           count(*) FILTER (WHERE rating IS NOT NULL) AS rated,
           count(*) FILTER (WHERE rating IN ('satisfied', 'basically_satisfied')) AS satisfied
    FROM (` + feedbackSQL + `) fb
    GROUP BY key
), r AS (
    SELECT ` + key + ` AS key,
           count(*) FILTER (WHERE type = 'returned') AS returns,
           count(*) FILTER (WHERE type = 'overruled') AS overruled,
           count(*) FILTER (WHERE type = 'routing_override') AS overrides
    FROM timeline
    WHERE type = ANY($3) AND at >= $1 AND at < $2
    GROUP BY 1
)
SELECT coalesce(t.key, f.key, r.key),
       coalesce(t.tasks, 0), coalesce(t.acked_on_time, 0), coalesce(t.completed, 0), coalesce(t.completed_on_time, 0),
       coalesce(f.feedback, 0), coalesce(f.resolved, 0), coalesce(f.rated, 0), coalesce(f.satisfied, 0),
       coalesce(t.extensions, 0), coalesce(r.returns, 0), coalesce(r.overruled, 0), coalesce(r.overrides, 0)
FROM t FULL JOIN f ON f.key = t.key
FULL JOIN r ON r.key = coalesce(t.key, f.key)
ORDER BY 1`
	rows, err := s.pool.Query(ctx, q, from, to, types)
	if err != nil {
		return nil, fmt.Errorf("store: %s metrics: %w", key, err)
	}
	defer rows.Close()
	out := []Metrics{}
	for rows.Next() {
		var m Metrics
		var c [12]int64
		if err := rows.Scan(&m.Key, &c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6], &c[7], &c[8], &c[9], &c[10], &c[11]); err != nil {
			return nil, fmt.Errorf("store: %s metrics: %w", key, err)
		}
		m.Tasks, m.AckedOnTime, m.Completed, m.CompletedOnTime = int(c[0]), int(c[1]), int(c[2]), int(c[3])
		m.Feedback, m.Resolved, m.Rated, m.Satisfied = int(c[4]), int(c[5]), int(c[6]), int(c[7])
		m.Extensions = int(c[8])
		m.Returns, m.OverruledReturns, m.RoutingOverrides = int(c[9]), int(c[10]), int(c[11])
		m.rates(target)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s metrics: %w", key, err)
	}
	return out, nil
}

// rates computes the rates from the counts.
func (m *Metrics) rates(target float64) {
	m.ResponseRate = ratio(m.AckedOnTime, m.Tasks)
	m.OnTimeResolutionRate = ratio(m.CompletedOnTime, m.Tasks)
	m.ResolutionRate = ratio(m.Resolved, m.Feedback)
	m.SatisfactionRate = ratio(m.Satisfied, m.Rated)
	m.ReturnRate = ratio(m.Returns, m.Tasks)
	m.MeetsTarget = m.SatisfactionRate != nil && *m.SatisfactionRate >= target
}

func ratio(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

// ItemCount is how often an item (事项) was reported in a period.
type ItemCount struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	Incidents int    `json:"incidents"`
}

// TopItems returns the items most reported in [from, to) (by reported_at),
// most first, ties by code; street "" means every street. limit is the
// number of items: 10 when 0 or less.
func (s *Store) TopItems(ctx context.Context, from, to time.Time, street string, limit int) ([]ItemCount, error) {
	if limit <= 0 {
		limit = 10
	}
	rows, err := s.pool.Query(ctx, `
SELECT category, max(item_name), count(*)
FROM incidents
WHERE reported_at >= $1 AND reported_at < $2 AND ($3 = '' OR street = $3)
GROUP BY category
ORDER BY count(*) DESC, category
LIMIT $4`, from, to, street, limit)
	if err != nil {
		return nil, fmt.Errorf("store: top items: %w", err)
	}
	defer rows.Close()
	out := []ItemCount{}
	for rows.Next() {
		var c ItemCount
		var n int64
		if err := rows.Scan(&c.Code, &c.Name, &n); err != nil {
			return nil, fmt.Errorf("store: top items: %w", err)
		}
		c.Incidents = int(n)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: top items: %w", err)
	}
	return out, nil
}
