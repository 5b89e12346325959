package api_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/metrics"
)

// monthlyFixture: March 2026 and February 2026 in the rollups (written
// directly, to the days and the months; store's TestMonthlyReport checks
// the arithmetic) and incidents
// of SR-001 and LJ-001 reported in March, one a duplicate.
//
// Departments (assessment weights of the test jurisdiction: no street
// rating, so public 0.2 and timeliness 0.3 count; min_cases 10):
//
//	March:    CG on FH 10 tasks all on time, 10 of 10 satisfied: 1.0;
//	          ZJ on MCK 10 tasks 5 on time, no rated visit: 0.5.
//	February: CG on FH 10 tasks 5 on time, 10 of 10 satisfied: (0.2+0.15)/0.5 = 0.7.
func monthlyFixture(t *testing.T, e *env) {
	ctx := context.Background()
	for _, r := range []struct {
		day, dept, street               string
		tasks, onTime, rated, satisfied int
	}{
		{"2026-03-02", "CG", "FH", 10, 10, 10, 10},
		{"2026-03-03", "ZJ", "MCK", 10, 5, 0, 0},
		{"2026-02-02", "CG", "FH", 10, 5, 10, 10},
	} {
		// The day's row and its month's (each month has one row here).
		_, err := e.store.Pool().Exec(ctx, `INSERT INTO metrics_daily (day, department, street, item, domain, channel, tasks,
acked_on_time, completed, completed_on_time, visits, rated, satisfied) VALUES ($1, $2, $3, 'SR-001', '', 'grid', $4, $5, $5, $5, $6, $6, $7)`,
			r.day, r.dept, r.street, r.tasks, r.onTime, r.rated, r.satisfied)
		require.NoError(t, err)
		_, err = e.store.Pool().Exec(ctx, `INSERT INTO metrics_monthly (month, department, street, item, domain, channel, tasks,
acked_on_time, completed, completed_on_time, visits, rated, satisfied)
VALUES (date_trunc('month', $1::date)::date, $2, $3, 'SR-001', '', 'grid', $4, $5, $5, $5, $6, $6, $7)`,
			r.day, r.dept, r.street, r.tasks, r.onTime, r.rated, r.satisfied)
		require.NoError(t, err)
	}
	at := func(d int) func(*incident.Incident) {
		return func(in *incident.Incident) { in.ReportedAt = time.Date(2026, 3, d, 2, 0, 0, 0, time.UTC) }
	}
	e.project("FH-01-01", "SR-001", at(2))
	e.project("FH-01-02", "SR-001", at(3))
	e.project("MCK-01-01", "SR-001", at(4))
	e.project("MCK-01-01", "LJ-001", at(5))
	e.project("FH-01-01", "SR-001", func(in *incident.Incident) { // a duplicate: not counted
		at(6)(in)
		in.DuplicateOf = ptr("x")
	})
}

func TestMonthlyReportJSON(t *testing.T) {
	e := newEnv(t, envOptions{})
	monthlyFixture(t, e)

	r := e.do(http.MethodGet, "/v1/reports/monthly?month=2026-03", token(t, incident.RoleDistrict, "DA"), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	var rep metrics.MonthlyReport
	r.json(t, &rep)
	assert.Equal(t, "2026-03", rep.Month)
	assert.Equal(t, "2026-02", rep.PreviousMonth)
	assert.Equal(t, api.MetricsDefinitionVersion, rep.DefinitionVersion)
	assert.Empty(t, rep.Street)
	require.Len(t, rep.Departments, 2)
	cg, zj := rep.Departments[0], rep.Departments[1]
	assert.Equal(t, "CG", cg.Key)
	assert.Equal(t, "区城市管理局", cg.Name)
	assert.Equal(t, ptr(1), cg.Rank)
	assert.InDelta(t, 1.0, *cg.Score, 1e-12)
	assert.InDelta(t, 0.3, *cg.Change.ScoreDelta, 1e-12)
	assert.Equal(t, ptr(0.0), cg.Change.SatisfactionRateDelta)
	assert.Equal(t, ptr(1), cg.Change.PreviousRank)
	assert.Equal(t, ptr(0), cg.Change.RankChange)
	assert.Equal(t, "ZJ", zj.Key)
	assert.Equal(t, ptr(2), zj.Rank)
	assert.Nil(t, zj.Change.ScoreDelta, "ZJ has no February row")
	require.Len(t, rep.Streets, 2)
	assert.Equal(t, "凤凰街道", rep.Streets[0].Name)
	// SR-001: 3 (the duplicate not counted), LJ-001: 1.
	require.Len(t, rep.MostCases, 2)
	assert.Equal(t, metrics.ItemFigure{Rank: 1, Item: "SR-001", Name: "占道经营", Count: 3, PreviousCount: 0, Change: 3}, rep.MostCases[0])
	assert.Equal(t, "LJ-001", rep.MostCases[1].Item)
	assert.Empty(t, rep.MostRepeats)
	assert.NotNil(t, rep.MostRepeats)
	assert.Empty(t, rep.LowestSatisfaction, "no item has 5 rated visits on its incidents' rows")
}

func TestMonthlyReportCSV(t *testing.T) {
	e := newEnv(t, envOptions{})
	monthlyFixture(t, e)

	r := e.do(http.MethodGet, "/v1/reports/monthly?month=2026-03&format=csv&top=1", token(t, incident.RoleAdmin, "DA"), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "text/csv; charset=utf-8", r.header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename="whistle-report-2026-03.csv"`, r.header.Get("Content-Disposition"))
	body := string(r.body)
	require.True(t, strings.HasPrefix(body, "\ufeff"), "a byte order mark for spreadsheets")
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
	require.NoError(t, err)
	require.Equal(t, metrics.ReportCSVColumns, recs[0])
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	var sections []string
	for _, rec := range recs[1:] {
		sections = append(sections, rec[col["section"]]+":"+rec[col["key"]])
		assert.Equal(t, "2026-03", rec[col["month"]])
		assert.Equal(t, api.MetricsDefinitionVersion, rec[col["definition_version"]])
	}
	assert.Equal(t, []string{"departments:CG", "departments:ZJ", "streets:FH", "streets:MCK", "most_cases:SR-001"}, sections)
	cg := recs[1]
	assert.Equal(t, "1", cg[col["rank"]])
	assert.Equal(t, "区城市管理局", cg[col["name"]])
	assert.Equal(t, "1", cg[col["score"]])
	assert.Equal(t, "0.7", cg[col["previous_score"]])
	assert.Equal(t, "0.3", cg[col["score_delta"]], "rounded to 6 decimals")
	assert.Equal(t, "", cg[col["count"]], "no count on a league row")
	zj := recs[2]
	assert.Equal(t, "", zj[col["score_delta"]], "null: no February row")
	assert.Equal(t, "", zj[col["satisfaction_rate"]], "null: no rated visit")
	cases := recs[5]
	assert.Equal(t, []string{"3", "0", "3"}, []string{cases[col["count"]], cases[col["previous_count"]], cases[col["count_change"]]})
	assert.Equal(t, "占道经营", cases[col["name"]])
}

func TestMonthlyReportOfAStreet(t *testing.T) {
	e := newEnv(t, envOptions{})
	monthlyFixture(t, e)

	r := e.do(http.MethodGet, "/v1/reports/monthly?month=2026-03", token(t, incident.RoleStreet, "MCK"), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var rep metrics.MonthlyReport
	r.json(t, &rep)
	assert.Equal(t, "MCK", rep.Street)
	require.Len(t, rep.Departments, 1, "only the departments' work on MCK")
	assert.Equal(t, "ZJ", rep.Departments[0].Key)
	require.Len(t, rep.Streets, 1)
	assert.Equal(t, "MCK", rep.Streets[0].Key)
	assert.Equal(t, ptr(2), rep.Streets[0].Rank, "its rank among all streets")
	require.Len(t, rep.MostCases, 2)
	assert.Equal(t, int64(1), rep.MostCases[0].Count)

	// The same as the district asking for MCK; another street is refused.
	r2 := e.do(http.MethodGet, "/v1/reports/monthly?month=2026-03&street=MCK", token(t, incident.RoleDistrict, "DA"), nil)
	require.Equal(t, http.StatusOK, r2.status)
	assert.JSONEq(t, string(r.body), string(r2.body))
	wantProblem(t, e.do(http.MethodGet, "/v1/reports/monthly?month=2026-03&street=FH", token(t, incident.RoleStreet, "MCK"), nil),
		http.StatusForbidden, api.ProblemForbidden, "")
	r3 := e.do(http.MethodGet, "/v1/reports/monthly?month=2026-03&street=MCK&format=csv", token(t, incident.RoleStreet, "MCK"), nil)
	require.Equal(t, http.StatusOK, r3.status)
	assert.Equal(t, `attachment; filename="whistle-report-2026-03-MCK.csv"`, r3.header.Get("Content-Disposition"))
}

func TestMonthlyReportRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	district := token(t, incident.RoleDistrict, "DA")
	for _, c := range []struct {
		role incident.Role
		org  string
	}{{incident.RoleDepartment, "CG"}, {incident.RoleGridWorker, "FH-01-01"}} {
		wantProblem(t, e.do(http.MethodGet, "/v1/reports/monthly?month=2026-03", token(t, c.role, c.org), nil),
			http.StatusForbidden, api.ProblemForbidden, "")
	}
	for _, m := range []string{"2026-13", "2026-3", "March", "2026-03-01", ""} {
		r := e.do(http.MethodGet, "/v1/reports/monthly?month="+m, district, nil)
		wantProblem(t, r, http.StatusUnprocessableEntity, api.ProblemInvalid, "query.month")
	}
	wantProblem(t, e.do(http.MethodGet, "/v1/reports/monthly", district, nil), http.StatusUnprocessableEntity, api.ProblemInvalid, "query.month")
	next := time.Now().In(time.FixedZone("CST", 8*3600)).AddDate(0, 1, 0).Format("2006-01")
	p := wantProblem(t, e.do(http.MethodGet, "/v1/reports/monthly?month="+next, district, nil), http.StatusUnprocessableEntity, api.ProblemInvalid, "query.month")
	assert.Contains(t, p.Detail, "future")
	wantProblem(t, e.do(http.MethodGet, "/v1/reports/monthly?month=2026-03&format=xlsx", district, nil), http.StatusUnprocessableEntity, api.ProblemInvalid, "query.format")
	wantProblem(t, e.do(http.MethodGet, "/v1/reports/monthly?month=2026-03&street=NOPE", district, nil), http.StatusUnprocessableEntity, api.ProblemInvalid, "query.street")
	// This month, so far, is fine.
	this := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01")
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/reports/monthly?month="+this, district, nil).status)
}
