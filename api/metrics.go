package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/metrics"
)

// dateLayout is the date-only form accepted for from, to and date.
const dateLayout = "2006-01-02"

// LeagueRow is one row of a league table (docs/metrics.md defines every
// field): the counters, the rates (null when their denominator is 0), the
// latencies, the weighted score, meets_target, too_few_cases and rank.
type LeagueRow struct {
	metrics.LeagueRow
	// Feedback is visits under its definition-v1 name.
	Feedback int64 `json:"feedback" doc:"Return visits (回访) in the period: the same as visits (its v1 name)."`
}

// DepartmentRates are a department's row.
type DepartmentRates struct {
	Department string `json:"department" example:"CG"`
	LeagueRow
	// RoutingOverrides, Incidents and Repeats hide the incident-only
	// counters from a department's row (a shallower field wins in
	// encoding/json); always nil.
	RoutingOverrides *int64 `json:"routing_overrides,omitempty" doc:"Never present on a department's row."`
	Incidents        *int64 `json:"incidents,omitempty" doc:"Never present on a department's row."`
	Repeats          *int64 `json:"repeats,omitempty" doc:"Never present on a department's row."`
}

// StreetRates are a street's row.
type StreetRates struct {
	Street string `json:"street" example:"FH"`
	LeagueRow
}

// MetricsReport is the answer of the metrics endpoints.
type MetricsReport[T any] struct {
	From              time.Time `json:"from" doc:"Start of the period (inclusive), midnight in the district's time zone."`
	To                time.Time `json:"to" doc:"End of the period (exclusive), midnight in the district's time zone."`
	Target            float64   `json:"target" example:"0.95" doc:"The satisfaction target."`
	MinCases          int       `json:"min_cases" example:"10" doc:"Rows with fewer dispatched tasks are too_few_cases and not ranked."`
	DefinitionVersion string    `json:"definition_version" example:"2026-12-v4" doc:"Version of the definitions (docs/metrics.md)."`
	Channel           string    `json:"channel,omitempty" example:"hotline" doc:"Set when the table is narrowed to one channel's incidents."`
	Items             []T       `json:"items"`
}

type metricsInput struct {
	From   string `query:"from" doc:"Start: YYYY-MM-DD (midnight in the district's time zone), or RFC 3339, widened to the start of its local day. Default: the first day of the current month."`
	To     string `query:"to" doc:"End: YYYY-MM-DD (that whole day included), or RFC 3339 (exclusive), widened to the end of its local day unless it is a midnight. Default: the first day of the next month."`
	Period string `query:"period" enum:"day,week,month," doc:"Instead of from/to: the day, week (Monday to Sunday) or month containing date."`
	Date   string `query:"date" doc:"With period: a day YYYY-MM-DD (default today)."`
	// Channel narrows the table to the incidents of one channel.
	Channel string `query:"channel" maxLength:"72" doc:"Only the incidents that came in by this channel (grid, hotline, api, delegation, open311:<client>); the rows then have no latencies, which are not kept per channel."`
}

type departmentMetricsOutput struct {
	Body MetricsReport[DepartmentRates]
}

type streetMetricsOutput struct {
	Body MetricsReport[StreetRates]
}

type leagueOutput struct {
	Body MetricsReport[LeagueRow]
}

func (s *Server) registerMetrics() {
	readers := []incident.Role{incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin}
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "departmentMetrics", Method: http.MethodGet, Path: "/v1/metrics/departments", Tags: []string{"Metrics"},
		Summary:     "Departments' league table",
		Description: "The 三率, on-time rates, latencies and weighted score of every department over a period, ranked (docs/metrics.md).",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, readers...), func(ctx context.Context, in *metricsInput) (*departmentMetricsOutput, error) {
		rep, err := s.league(ctx, metrics.ByDepartment, in)
		if err != nil {
			return nil, err
		}
		out := &departmentMetricsOutput{Body: MetricsReport[DepartmentRates]{From: rep.From, To: rep.To, Target: rep.Target, Channel: rep.Channel,
			MinCases: rep.MinCases, DefinitionVersion: rep.DefinitionVersion, Items: make([]DepartmentRates, 0, len(rep.Items))}}
		for _, r := range rep.Items {
			out.Body.Items = append(out.Body.Items, DepartmentRates{Department: r.Key, LeagueRow: r})
		}
		return out, nil
	})
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "streetMetrics", Method: http.MethodGet, Path: "/v1/metrics/streets", Tags: []string{"Metrics"},
		Summary:     "Streets' league table",
		Description: "The same per street, over the incidents of each street. A street sees only its own row.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, readers...), func(ctx context.Context, in *metricsInput) (*streetMetricsOutput, error) {
		a := actorFrom(ctx)
		rep, err := s.league(ctx, metrics.ByStreet, in)
		if err != nil {
			return nil, err
		}
		out := &streetMetricsOutput{Body: MetricsReport[StreetRates]{From: rep.From, To: rep.To, Target: rep.Target, Channel: rep.Channel,
			MinCases: rep.MinCases, DefinitionVersion: rep.DefinitionVersion, Items: make([]StreetRates, 0, len(rep.Items))}}
		for _, r := range rep.Items {
			if a.Role == incident.RoleStreet && r.Key != a.Org {
				continue
			}
			out.Body.Items = append(out.Body.Items, StreetRates{Street: r.Key, LeagueRow: r})
		}
		return out, nil
	})
	for _, d := range []struct {
		dim  metrics.Dimension
		path string
		id   string
	}{{metrics.ByItem, "/v1/metrics/items", "itemMetrics"}, {metrics.ByDomain, "/v1/metrics/domains", "domainMetrics"}} {
		huma.Register(s.api, secured(huma.Operation{
			OperationID: d.id, Method: http.MethodGet, Path: d.path, Tags: []string{"Metrics"},
			Summary:     "League table per " + string(d.dim),
			Description: "The same rows per " + string(d.dim) + " of the responsibility list (key is its code or name), ranked.",
			Errors:      []int{http.StatusUnprocessableEntity},
		}, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin), func(ctx context.Context, in *metricsInput) (*leagueOutput, error) {
			rep, err := s.league(ctx, d.dim, in)
			if err != nil {
				return nil, err
			}
			return &leagueOutput{Body: rep}, nil
		})
	}
}

// league answers one league table request.
func (s *Server) league(ctx context.Context, d metrics.Dimension, in *metricsInput) (MetricsReport[LeagueRow], error) {
	from, to, err := s.period(in)
	if err != nil {
		return MetricsReport[LeagueRow]{}, err
	}
	g := metrics.GradingOf(s.jur().Assessment)
	var rows []metrics.LeagueRow
	if in.Channel != "" {
		rows, err = s.cfg.Metrics.ChannelLeague(ctx, d, from, to, in.Channel, g)
	} else {
		rows, err = s.cfg.Metrics.League(ctx, d, from, to, g)
	}
	if err != nil {
		return MetricsReport[LeagueRow]{}, s.fail(ctx, err, "query", "compute the "+string(d)+" league table")
	}
	rep := MetricsReport[LeagueRow]{From: from, To: to, Target: g.Target, MinCases: g.MinCases, Channel: in.Channel,
		DefinitionVersion: MetricsDefinitionVersion, Items: make([]LeagueRow, 0, len(rows))}
	for _, r := range rows {
		rep.Items = append(rep.Items, LeagueRow{LeagueRow: r, Feedback: r.Visits})
	}
	return rep, nil
}

// period returns the [from, to) of a metrics request, whole days in the
// district's time zone: the current month by default.
func (s *Server) period(in *metricsInput) (time.Time, time.Time, error) {
	loc := s.location()
	now := s.now().In(loc)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	if in.Period != "" {
		if in.From != "" || in.To != "" {
			return time.Time{}, time.Time{}, invalidField("query.period", "give either period and date or from and to, not both")
		}
		if in.Date != "" {
			d, err := time.ParseInLocation(dateLayout, in.Date, loc)
			if err != nil {
				return time.Time{}, time.Time{}, invalidField("query.date", "date %q is not YYYY-MM-DD", in.Date)
			}
			day = d
		}
		switch in.Period {
		case "day":
			return day, day.AddDate(0, 0, 1), nil
		case "week":
			start := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
			return start, start.AddDate(0, 0, 7), nil
		default:
			start := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, loc)
			return start, start.AddDate(0, 1, 0), nil
		}
	}
	if in.Date != "" {
		return time.Time{}, time.Time{}, invalidField("query.date", "date needs period (day, week or month)")
	}
	from := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	to := from.AddDate(0, 1, 0)
	var err error
	if in.From != "" {
		if from, err = parseBound(in.From, loc, false); err != nil {
			return time.Time{}, time.Time{}, invalidField("query.from", "from %q is neither RFC 3339 nor YYYY-MM-DD", in.From)
		}
		from = startOfDay(from, loc)
	}
	if in.To != "" {
		if to, err = parseBound(in.To, loc, true); err != nil {
			return time.Time{}, time.Time{}, invalidField("query.to", "to %q is neither RFC 3339 nor YYYY-MM-DD", in.To)
		}
		if l := startOfDay(to, loc); !l.Equal(to) {
			to = l.AddDate(0, 0, 1)
		}
	}
	if !from.Before(to) {
		return time.Time{}, time.Time{}, invalidField("query.to", "to (%s) must be after from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	return from.In(loc), to.In(loc), nil
}

// startOfDay is the local midnight that starts t's day in loc. Metrics are
// kept per local day, so an RFC 3339 bound inside a day widens the period
// to the whole day (the answer's from and to say which days were counted).
func startOfDay(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

// location is the district's time zone, in which dates of queries are
// read (UTC if the jurisdiction's cannot be loaded).
func (s *Server) location() *time.Location { return s.jur().Location() }

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
