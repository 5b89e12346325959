package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/metrics"
)

// csvContentType is the content type of the monthly report as CSV. It is
// registered as a huma format under exactly this key: Accept negotiation
// compares bare media types, so no other operation ever answers CSV.
const csvContentType = "text/csv; charset=utf-8"

// csvFormat marshals a value that can write itself as CSV (the monthly
// report).
var csvFormat = huma.Format{
	Marshal: func(w io.Writer, v any) error {
		c, ok := v.(interface{ WriteCSV(io.Writer) error })
		if !ok {
			return fmt.Errorf("api: %T has no CSV form", v)
		}
		return c.WriteCSV(w)
	},
	Unmarshal: func([]byte, any) error { return fmt.Errorf("api: CSV bodies are not accepted") },
}

type monthlyReportInput struct {
	Month    string `query:"month" required:"true" example:"2026-10" doc:"The month, YYYY-MM (local days in the district's time zone); not in the future. The current month is reported so far."`
	Format   string `query:"format" enum:"json,csv" default:"json" doc:"json (default) or csv: one table for a spreadsheet, a leading section column (docs/api.md)."`
	Street   string `query:"street" maxLength:"64" doc:"Narrow the report to this street (district and admin). A street user always gets its own street's report; naming another answers 403."`
	Channel  string `query:"channel" maxLength:"72" doc:"Narrow the report to the incidents that came in by this channel (grid, hotline, api, delegation, open311:<client>): both league tables (without latencies) and the items."`
	Top      int    `query:"top" minimum:"1" maximum:"100" default:"10" doc:"Items per top list (items tied with the last are kept)."`
	MinRated int    `query:"min_rated" minimum:"1" maximum:"100000" default:"5" doc:"Fewest rated return visits an item needs in the month for lowest_satisfaction."`
}

type monthlyReportOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               *metrics.MonthlyReport
}

func (s *Server) registerMonthlyReport() {
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "monthlyReport", Method: http.MethodGet, Path: "/v1/reports/monthly", Tags: []string{"Metrics"},
		Summary: "The monthly report (月度通报)",
		Description: "League tables of departments and streets for a month, ranked by weighted score, each row with " +
			"its change from the previous month; and the candidates for 每月一题 (the month's priority problem): " +
			"the items with the most cases (duplicates not counted), the most repeats and the lowest satisfaction, " +
			"each with last month's figure. `format=csv` answers the same as one CSV table (docs/api.md). " +
			"A street gets its own street's report: the departments' work on its incidents (without latencies), " +
			"its own row of the streets' table and its items.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin), s.monthlyReport)
	if p := s.api.OpenAPI().Paths["/v1/reports/monthly"]; p != nil && p.Get != nil && p.Get.Responses["200"] != nil {
		p.Get.Responses["200"].Content["text/csv"] = &huma.MediaType{Schema: &huma.Schema{Type: "string",
			Description: "With format=csv: the report as one CSV table with a leading section column (docs/api.md)."}}
	}
}

func (s *Server) monthlyReport(ctx context.Context, in *monthlyReportInput) (*monthlyReportOutput, error) {
	a := actorFrom(ctx)
	loc := s.location()
	m, err := time.ParseInLocation("2006-01", in.Month, loc)
	if err != nil {
		return nil, invalidField("query.month", "month %q is not YYYY-MM", in.Month)
	}
	now := s.now().In(loc)
	if m.After(time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)) {
		return nil, invalidField("query.month", "month %s is in the future (this month is %s)", in.Month, now.Format("2006-01"))
	}
	street := in.Street
	if a.Role == incident.RoleStreet {
		if street != "" && street != a.Org {
			return nil, newProblem(http.StatusForbidden, "street %s may read only its own report, not %s's", a.Org, street)
		}
		street = a.Org
	}
	j := s.jur()
	if street != "" {
		if _, ok := j.Street(street); !ok {
			return nil, invalidField("query.street", "no street %q in the jurisdiction", street)
		}
	}
	r, err := s.cfg.Metrics.MonthlyReport(ctx, metrics.MonthlyReportQuery{Year: m.Year(), Month: m.Month(), Street: street,
		Channel: in.Channel, Grading: metrics.GradingOf(j.Assessment), Top: in.Top, MinRated: in.MinRated})
	if err != nil {
		return nil, s.fail(ctx, err, "query", "build the monthly report")
	}
	nameReport(r, j)
	out := &monthlyReportOutput{ContentType: "application/json", Body: r}
	if in.Format == "csv" {
		// huma writes the body with csvFormat, chosen by this type.
		name := "whistle-report-" + r.Month
		if street != "" {
			name += "-" + street
		}
		if in.Channel != "" {
			name += "-" + strings.NewReplacer(":", "-", "/", "-").Replace(in.Channel)
		}
		out.ContentType, out.ContentDisposition = csvContentType, `attachment; filename="`+name+`.csv"`
	}
	return out, nil
}

// nameReport names the report's departments and streets after the
// jurisdiction (items carry the names their incidents were reported with).
func nameReport(r *metrics.MonthlyReport, j *jurisdiction.Jurisdiction) {
	deps, streets := map[string]string{}, map[string]string{}
	for _, d := range j.Departments {
		deps[d.Code] = d.Name
	}
	for _, st := range j.Streets {
		streets[st.Code] = st.Name
	}
	r.NameRows(deps, streets)
}
