package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
)

// dateLayout is the date-only form accepted for from and to.
const dateLayout = "2006-01-02"

// Rates are the counts and the 三率 of one department or street over the
// period. A rate is null when nothing was there to measure.
type Rates struct {
	Tasks                int      `json:"tasks" doc:"Tasks dispatched in the period (not cancelled)."`
	AckedOnTime          int      `json:"acked_on_time" doc:"Of those, acknowledged (报到) by the deadline."`
	ResponseRate         *float64 `json:"response_rate" doc:"响应率: acked_on_time / tasks."`
	Completed            int      `json:"completed" doc:"Of those, completed."`
	CompletedOnTime      int      `json:"completed_on_time" doc:"Of those, completed by the deadline."`
	OnTimeResolutionRate *float64 `json:"on_time_resolution_rate" doc:"completed_on_time / tasks."`
	Extensions           int      `json:"extensions" doc:"Approved extensions (延期) of those tasks' resolution deadlines."`
	Feedback             int      `json:"feedback" doc:"Return visits (回访) recorded in the period."`
	Resolved             int      `json:"resolved" doc:"Of those, the resident said it was solved."`
	ResolutionRate       *float64 `json:"resolution_rate" doc:"解决率: resolved / feedback."`
	Rated                int      `json:"rated" doc:"Return visits with a rating."`
	Satisfied            int      `json:"satisfied" doc:"Of those, satisfied or basically satisfied."`
	SatisfactionRate     *float64 `json:"satisfaction_rate" doc:"满意率: satisfied / rated."`
	MeetsTarget          bool     `json:"meets_target" doc:"satisfaction_rate is at least target."`
	Returns              int      `json:"returns" doc:"Returns (退单) made in the period (returned entries; a task returned twice counts twice): a department's own, a street's on its incidents."`
	OverruledReturns     int      `json:"overruled_returns" doc:"Returns overruled in the period (by the street, or by the district once referred), counted on the department that returned."`
	ReturnRate           *float64 `json:"return_rate" doc:"returns / tasks: returns made in the period per task dispatched in it."`
}

func ratesOf(m store.Metrics) Rates {
	return Rates{
		Tasks: m.Tasks, AckedOnTime: m.AckedOnTime, ResponseRate: m.ResponseRate,
		Completed: m.Completed, CompletedOnTime: m.CompletedOnTime, OnTimeResolutionRate: m.OnTimeResolutionRate,
		Extensions: m.Extensions,
		Feedback:   m.Feedback, Resolved: m.Resolved, ResolutionRate: m.ResolutionRate,
		Rated: m.Rated, Satisfied: m.Satisfied, SatisfactionRate: m.SatisfactionRate, MeetsTarget: m.MeetsTarget,
		Returns: m.Returns, OverruledReturns: m.OverruledReturns, ReturnRate: m.ReturnRate,
	}
}

// DepartmentRates are a department's metrics.
type DepartmentRates struct {
	Department string `json:"department" example:"CG"`
	Rates
}

// StreetRates are a street's metrics.
type StreetRates struct {
	Street string `json:"street" example:"FH"`
	Rates
	RoutingOverrides int `json:"routing_overrides" doc:"Times in the period the street whistled other departments than the responsibility list names (routing_override entries)."`
}

// MetricsReport is the answer of the metrics endpoints.
type MetricsReport[T any] struct {
	From              time.Time `json:"from" doc:"Start of the period (inclusive)."`
	To                time.Time `json:"to" doc:"End of the period (exclusive)."`
	Target            float64   `json:"target" example:"0.95" doc:"The satisfaction target."`
	DefinitionVersion string    `json:"definition_version" example:"2026-11-v1" doc:"Version of the formulas."`
	Items             []T       `json:"items"`
}

type metricsInput struct {
	From string `query:"from" doc:"Start: RFC 3339, or YYYY-MM-DD (midnight in the district's time zone). Default: the first day of the current month."`
	To   string `query:"to" doc:"End: RFC 3339 (exclusive), or YYYY-MM-DD (that whole day included). Default: the first day of the next month."`
}

type departmentMetricsOutput struct {
	Body MetricsReport[DepartmentRates]
}

type streetMetricsOutput struct {
	Body MetricsReport[StreetRates]
}

func (s *Server) registerMetrics() {
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "departmentMetrics", Method: http.MethodGet, Path: "/v1/metrics/departments", Tags: []string{"Metrics"},
		Summary:     "Departments' 三率",
		Description: "Response, on-time resolution, resolution and satisfaction rates of every department over a period.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin), func(ctx context.Context, in *metricsInput) (*departmentMetricsOutput, error) {
		from, to, err := s.period(in)
		if err != nil {
			return nil, err
		}
		target := s.jur().Assessment.SatisfactionTarget
		ms, err := s.cfg.Store.DepartmentMetrics(ctx, from, to, target)
		if err != nil {
			return nil, s.fail(ctx, err, "query", "compute department metrics")
		}
		out := &departmentMetricsOutput{Body: MetricsReport[DepartmentRates]{From: from, To: to, Target: target,
			DefinitionVersion: MetricsDefinitionVersion, Items: make([]DepartmentRates, 0, len(ms))}}
		for _, m := range ms {
			out.Body.Items = append(out.Body.Items, DepartmentRates{Department: m.Key, Rates: ratesOf(m)})
		}
		return out, nil
	})
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "streetMetrics", Method: http.MethodGet, Path: "/v1/metrics/streets", Tags: []string{"Metrics"},
		Summary:     "Streets' 三率",
		Description: "The same rates per street, over the incidents of each street. A street sees only its own row.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin), func(ctx context.Context, in *metricsInput) (*streetMetricsOutput, error) {
		a := actorFrom(ctx)
		from, to, err := s.period(in)
		if err != nil {
			return nil, err
		}
		target := s.jur().Assessment.SatisfactionTarget
		ms, err := s.cfg.Store.StreetMetrics(ctx, from, to, target)
		if err != nil {
			return nil, s.fail(ctx, err, "query", "compute street metrics")
		}
		out := &streetMetricsOutput{Body: MetricsReport[StreetRates]{From: from, To: to, Target: target,
			DefinitionVersion: MetricsDefinitionVersion, Items: make([]StreetRates, 0, len(ms))}}
		for _, m := range ms {
			if a.Role == incident.RoleStreet && m.Key != a.Org {
				continue
			}
			out.Body.Items = append(out.Body.Items, StreetRates{Street: m.Key, Rates: ratesOf(m), RoutingOverrides: m.RoutingOverrides})
		}
		return out, nil
	})
}

// period returns the [from, to) of a metrics request in the district's time
// zone: the current month by default.
func (s *Server) period(in *metricsInput) (time.Time, time.Time, error) {
	loc := s.location()
	var err error
	now := s.now().In(loc)
	from := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	to := from.AddDate(0, 1, 0)
	if in.From != "" {
		if from, err = parseBound(in.From, loc, false); err != nil {
			return time.Time{}, time.Time{}, invalidField("query.from", "from %q is neither RFC 3339 nor YYYY-MM-DD", in.From)
		}
	}
	if in.To != "" {
		if to, err = parseBound(in.To, loc, true); err != nil {
			return time.Time{}, time.Time{}, invalidField("query.to", "to %q is neither RFC 3339 nor YYYY-MM-DD", in.To)
		}
	}
	if !from.Before(to) {
		return time.Time{}, time.Time{}, invalidField("query.to", "to (%s) must be after from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	return from.In(loc), to.In(loc), nil
}

// location is the district's time zone, in which dates of queries are
// read (UTC if the jurisdiction's cannot be loaded).
func (s *Server) location() *time.Location {
	loc, err := time.LoadLocation(s.jur().Timezone())
	if err != nil {
		return time.UTC
	}
	return loc
}

// parseBound reads an RFC 3339 time or a YYYY-MM-DD date at midnight in loc;
// a date that ends a period includes its whole day (the next midnight).
func parseBound(v string, loc *time.Location, end bool) (time.Time, error) {
	if d, err := time.ParseInLocation(dateLayout, v, loc); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	return time.Parse(time.RFC3339, v)
}
