package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

// cst is the district's time zone (metrics_settings: Asia/Shanghai).
var cst = time.FixedZone("CST", 8*3600)

// reportGrading: street 0.5 (no task is rated by the street in the
// fixture, so its weight drops out), public 0.2, timeliness 0.3; at least
// 2 tasks to be ranked.
var reportGrading = Grading{Street: 0.5, Public: 0.2, Timeliness: 0.3, Target: 0.95, MinCases: 2}

// reportFixture fills a store for the report of March 2026 (previous
// month February), worked out by hand in TestMonthlyReport.
//
// League tables: the departments' rollup rows are written directly, to
// the days and the months (tasks, acked on time, completed on time, rated,
// satisfied per month, department and street), since their grading is
// League's and tested there; the report adds the comparison with February.
//
// Item lists: incidents of street-tier items P-1..P-4 projected with the
// real domain. Cases and repeats by reported_at; the return visits of
// incidents reported in January, so that they add no cases to either month.
func reportFixture(t *testing.T, s *testDB) {
	ctx := context.Background()
	type dept struct {
		day                                    string
		department, street                     string
		tasks, acked, onTime, rated, satisfied int64
	}
	for _, d := range []dept{
		// March.
		{"2026-03-03", "CG", "FH", 4, 4, 4, 4, 4},
		{"2026-03-04", "ZJ", "FH", 2, 1, 1, 1, 0},
		{"2026-03-31", "ZJ", "XY", 2, 1, 1, 1, 1},
		{"2026-03-05", "SW", "XY", 4, 4, 4, 2, 1},
		{"2026-03-05", "GA", "XY", 1, 1, 1, 1, 1},
		{"2026-03-01", "SCJG", "FH", 4, 4, 4, 0, 0},
		// February.
		{"2026-02-03", "CG", "FH", 2, 1, 1, 2, 2},
		{"2026-02-28", "ZJ", "XY", 2, 2, 2, 1, 1},
		{"2026-02-10", "SW", "XY", 1, 1, 1, 1, 0},
		{"2026-02-01", "GA", "FH", 2, 2, 2, 0, 0},
		// April and January: outside both months.
		{"2026-04-01", "CG", "FH", 9, 0, 0, 9, 0},
		{"2026-01-31", "ZJ", "FH", 9, 0, 0, 9, 0},
	} {
		_, err := s.pool.Exec(ctx, `INSERT INTO metrics_daily (day, department, street, item, domain, channel, tasks, acked_on_time,
completed, completed_on_time, visits, rated, satisfied) VALUES ($1, $2, $3, 'L-1', '', 'grid', $4, $5, $6, $6, $7, $7, $8)`,
			d.day, d.department, d.street, d.tasks, d.acked, d.onTime, d.rated, d.satisfied)
		require.NoError(t, err)
		_, err = s.pool.Exec(ctx, `INSERT INTO metrics_monthly AS m (month, department, street, item, domain, channel, tasks, acked_on_time,
completed, completed_on_time, visits, rated, satisfied)
VALUES (date_trunc('month', $1::date)::date, $2, $3, 'L-1', '', 'grid', $4, $5, $6, $6, $7, $7, $8)
ON CONFLICT (month, department, street, item, domain, channel) DO UPDATE SET tasks = m.tasks + EXCLUDED.tasks,
    acked_on_time = m.acked_on_time + EXCLUDED.acked_on_time, completed = m.completed + EXCLUDED.completed,
    completed_on_time = m.completed_on_time + EXCLUDED.completed_on_time, visits = m.visits + EXCLUDED.visits,
    rated = m.rated + EXCLUDED.rated, satisfied = m.satisfied + EXCLUDED.satisfied`,
			d.day, d.department, d.street, d.tasks, d.acked, d.onTime, d.rated, d.satisfied)
		require.NoError(t, err)
	}

	item := func(code string) incident.Item {
		return incident.Item{Code: code, Name: "事项 " + code, Tier: incident.TierStreet}
	}
	n := 0
	reportAt := func(code, street string, at time.Time, dup, rep bool) *incident.Incident {
		n++
		r := report("R"+string(rune('A'+n/26))+string(rune('a'+n%26)), street, at)
		r.Category = code
		if dup {
			r.DuplicateOf = ptr("ORIG")
		}
		if rep {
			r.RepeatOf = ptr("OLD")
		}
		in := incident.New(r, item(code), at, due)
		project(t, s, in)
		return in
	}
	mar := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 30, 0, 0, cst) }
	feb := func(d, h int) time.Time { return time.Date(2026, 2, d, h, 30, 0, 0, cst) }

	// Cases and repeats in March.
	reportAt("P-1", "FH", mar(2, 9), false, false)
	reportAt("P-1", "FH", mar(3, 9), false, true) // a repeat
	reportAt("P-1", "XY", mar(4, 9), false, false)
	reportAt("P-1", "FH", mar(4, 10), true, false) // a duplicate: not counted
	reportAt("P-2", "XY", mar(1, 0), false, false) // 00:30 local on 1 March (28 Feb UTC): March
	reportAt("P-2", "XY", mar(10, 9), false, false)
	reportAt("P-2", "XY", mar(31, 23), false, false)
	reportAt("P-3", "FH", mar(5, 9), false, true) // a repeat
	// April: in no month of the report.
	reportAt("P-3", "FH", time.Date(2026, 4, 1, 0, 30, 0, 0, cst), false, false)
	// February.
	reportAt("P-1", "XY", feb(3, 9), false, false)
	reportAt("P-3", "FH", feb(3, 9), false, false)
	reportAt("P-3", "FH", feb(4, 9), false, false)
	reportAt("P-3", "XY", feb(5, 9), false, true) // a repeat
	reportAt("P-3", "XY", feb(28, 23), false, false)
	reportAt("P-4", "XY", feb(6, 9), false, false)
	reportAt("P-4", "XY", feb(7, 9), false, false)
	reportAt("P-4", "XY", feb(7, 10), true, false) // a duplicate: not counted

	// Return visits, of incidents reported in January.
	visit := func(code, street string, r incident.Rating, at time.Time) {
		in := reportAt(code, street, time.Date(2026, 1, 10, 9, 0, 0, 0, cst), false, false)
		step(t, s, in, streetActor(street), incident.Resolve{Note: "fixed"}, at.Add(-time.Hour))
		step(t, s, in, streetActor(street), incident.GiveFeedback{Resolved: r != incident.RatingUnsatisfied, Rating: r}, at)
	}
	visit("P-1", "FH", incident.RatingSatisfied, mar(6, 9))
	visit("P-1", "XY", incident.RatingUnsatisfied, mar(6, 10))
	visit("P-2", "XY", incident.RatingBasicallySatisfied, mar(7, 9))
	visit("P-2", "XY", incident.RatingSatisfied, mar(7, 10))
	visit("P-2", "XY", incident.RatingUnsatisfied, mar(7, 11))
	visit("P-3", "FH", incident.RatingUnsatisfied, mar(8, 9)) // one rated visit: too few
	visit("P-4", "FH", incident.RatingSatisfied, mar(1, 0))   // 00:30 on 1 March: March
	visit("P-4", "FH", incident.RatingUnsatisfied, mar(9, 9))
	// Unrated: the feedback window (72h) runs out, closed without a rating.
	unrated := reportAt("P-4", "FH", time.Date(2026, 1, 10, 9, 0, 0, 0, cst), false, false)
	step(t, s, unrated, streetActor("FH"), incident.Resolve{Note: "fixed"}, mar(5, 9))
	require.True(t, unrated.Tick(mar(9, 10)))
	project(t, s, unrated)
	require.Equal(t, incident.StatusClosed, unrated.Status)
	visit("P-1", "XY", incident.RatingSatisfied, feb(20, 9))
}

// leagueView is what the report says of one league row.
type leagueView struct {
	Rank, PreviousRank, RankChange   *int
	Score, PreviousScore, ScoreDelta *float64
	SatisfactionRate, SatDelta       *float64
	TooFewCases                      bool
}

func views(rows []ReportRow) map[string]leagueView {
	out := map[string]leagueView{}
	for _, r := range rows {
		out[r.Key] = leagueView{Rank: r.Rank, PreviousRank: r.Change.PreviousRank, RankChange: r.Change.RankChange,
			Score: r.Score, PreviousScore: r.Change.PreviousScore, ScoreDelta: r.Change.ScoreDelta,
			SatisfactionRate: r.SatisfactionRate, SatDelta: r.Change.SatisfactionRateDelta, TooFewCases: r.TooFewCases}
	}
	return out
}

func rowKeys(rows []ReportRow) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.Key)
	}
	return out
}

// assertView compares a row with the expectation, floats to 1e-12 (the
// score is a weighted mean in floating point).
func assertView(t *testing.T, key string, want, got leagueView) {
	t.Helper()
	assert.Equal(t, want.Rank, got.Rank, "%s rank", key)
	assert.Equal(t, want.PreviousRank, got.PreviousRank, "%s previous rank", key)
	assert.Equal(t, want.RankChange, got.RankChange, "%s rank change", key)
	assert.Equal(t, want.TooFewCases, got.TooFewCases, "%s too few cases", key)
	for _, f := range []struct {
		name string
		w, g *float64
	}{{"score", want.Score, got.Score}, {"previous score", want.PreviousScore, got.PreviousScore},
		{"score delta", want.ScoreDelta, got.ScoreDelta}, {"satisfaction", want.SatisfactionRate, got.SatisfactionRate},
		{"satisfaction delta", want.SatDelta, got.SatDelta}} {
		if f.w == nil || f.g == nil {
			assert.Equal(t, f.w, f.g, "%s %s", key, f.name)
			continue
		}
		assert.InDelta(t, *f.w, *f.g, 1e-12, "%s %s", key, f.name)
	}
}

func TestMonthlyReport(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 4, 2, 9, 0, 0, 0, cst)
	s := newStore(t, &now)
	reportFixture(t, s)

	r, err := s.MonthlyReport(ctx, MonthlyReportQuery{Year: 2026, Month: time.March, Grading: reportGrading, Top: 2, MinRated: 2})
	require.NoError(t, err)
	assert.Equal(t, "2026-03", r.Month)
	assert.Equal(t, "2026-02", r.PreviousMonth)
	assert.Equal(t, DefinitionVersion, r.DefinitionVersion)
	assert.True(t, r.From.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, cst)), "from %s", r.From)
	assert.True(t, r.To.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, cst)), "to %s", r.To)
	assert.Equal(t, 2, r.Top)
	assert.Equal(t, 2, r.MinRated)

	// Departments. Score = (0.2·satisfaction + 0.3·timeliness) / 0.5,
	// timeliness = (acked on time + completed on time) / 2 / tasks; without
	// a rated visit, timeliness alone.
	//   March: CG 4/4/4, 4 of 4 satisfied: 1.0          rank 1
	//          SCJG 4/4/4, no rated visit: 1.0 (tie)     rank 1
	//          SW 4/4/4, 1 of 2: (0.1+0.3)/0.5 = 0.8    rank 3
	//          ZJ 4/2/2, 1 of 2: (0.1+0.15)/0.5 = 0.5   rank 4
	//          GA 1 task: too few cases (score 1.0)      unranked
	//   February: GA 2/2/2 no rated 1.0 and ZJ 2/2/2 1 of 1 1.0 (tie, rank
	//          1), CG 2/1/1 2 of 2: (0.2+0.15)/0.5 = 0.7 rank 3, SW 1 task
	//          (0 of 1: 0.6) unranked, SCJG absent.
	assert.Equal(t, []string{"CG", "SCJG", "SW", "ZJ", "GA"}, rowKeys(r.Departments))
	d := views(r.Departments)
	assertView(t, "CG", leagueView{Rank: ptr(1), PreviousRank: ptr(3), RankChange: ptr(2), Score: ptr(1.0), PreviousScore: ptr(0.7),
		ScoreDelta: ptr(0.3), SatisfactionRate: ptr(1.0), SatDelta: ptr(0.0)}, d["CG"])
	assertView(t, "SCJG", leagueView{Rank: ptr(1), Score: ptr(1.0)}, d["SCJG"])
	assertView(t, "SW", leagueView{Rank: ptr(3), Score: ptr(0.8), PreviousScore: ptr(0.6), ScoreDelta: ptr(0.2),
		SatisfactionRate: ptr(0.5), SatDelta: ptr(0.5)}, d["SW"])
	assertView(t, "ZJ", leagueView{Rank: ptr(4), PreviousRank: ptr(1), RankChange: ptr(-3), Score: ptr(0.5), PreviousScore: ptr(1.0),
		ScoreDelta: ptr(-0.5), SatisfactionRate: ptr(0.5), SatDelta: ptr(-0.5)}, d["ZJ"])
	assertView(t, "GA", leagueView{PreviousRank: ptr(1), Score: ptr(1.0), PreviousScore: ptr(1.0), ScoreDelta: ptr(0.0),
		SatisfactionRate: ptr(1.0), TooFewCases: true}, d["GA"])

	// Streets: tasks from the departments' rows, visits from the
	// incidents' (P-1..P-4).
	//   March FH: 10 tasks, 9/9 on time → 0.9; visits P-1 s, P-3 u, P-4 s u
	//          (and one unrated) → 2 of 4; (0.1+0.27)/0.5 = 0.74, rank 1.
	//   March XY: 7 tasks, 6/6 → 6/7; P-1 u, P-2 b s u → 2 of 4;
	//          0.2 + 0.6·6/7, rank 2.
	//   February FH: 4 tasks 3/3 → 0.75, no rated visit: 0.75, rank 2.
	//   February XY: 3 tasks 3/3, 1 of 1 satisfied: 1.0, rank 1.
	assert.Equal(t, []string{"FH", "XY"}, rowKeys(r.Streets))
	st := views(r.Streets)
	assertView(t, "FH", leagueView{Rank: ptr(1), PreviousRank: ptr(2), RankChange: ptr(1), Score: ptr(0.74), PreviousScore: ptr(0.75),
		ScoreDelta: ptr(-0.01), SatisfactionRate: ptr(0.5)}, st["FH"])
	assertView(t, "XY", leagueView{Rank: ptr(2), PreviousRank: ptr(1), RankChange: ptr(-1), Score: ptr(0.2 + 0.6*6/7.0),
		PreviousScore: ptr(1.0), ScoreDelta: ptr(0.6*6/7.0 - 0.8), SatisfactionRate: ptr(0.5), SatDelta: ptr(-0.5)}, st["XY"])

	// Most cases (Top 2): P-1 3 (the duplicate left out; February 1) and
	// P-2 3 (February 0) tie at rank 1; P-3 (1) would be rank 3: left out.
	assert.Equal(t, []ItemFigure{
		{Rank: 1, Item: "P-1", Name: "事项 P-1", Count: 3, PreviousCount: 1, Change: 2},
		{Rank: 1, Item: "P-2", Name: "事项 P-2", Count: 3, PreviousCount: 0, Change: 3},
	}, r.MostCases)
	// Most repeats: P-1 1 (February 0) and P-3 1 (February 1) tie.
	assert.Equal(t, []ItemFigure{
		{Rank: 1, Item: "P-1", Name: "事项 P-1", Count: 1, PreviousCount: 0, Change: 1},
		{Rank: 1, Item: "P-3", Name: "事项 P-3", Count: 1, PreviousCount: 1, Change: 0},
	}, r.MostRepeats)
	// Lowest satisfaction (at least 2 rated visits): P-1 1 of 2 (February
	// 1 of 1) and P-4 1 of 2 (the unrated visit not counted) tie at 0.5;
	// P-2 2 of 3 would be rank 3; P-3 has 1 rated visit: too few.
	assert.Equal(t, []ItemSatisfaction{
		{Rank: 1, Item: "P-1", Name: "事项 P-1", Rated: 2, Satisfied: 1, SatisfactionRate: 0.5, PreviousRated: 1, PreviousSatisfied: 1,
			PreviousSatisfactionRate: ptr(1.0), SatisfactionRateDelta: ptr(-0.5)},
		{Rank: 1, Item: "P-4", Name: "事项 P-4", Rated: 2, Satisfied: 1, SatisfactionRate: 0.5},
	}, r.LowestSatisfaction)

	// With room for ten: P-3 and P-2 come in, P-3 still not in the
	// satisfaction list.
	r10, err := s.MonthlyReport(ctx, MonthlyReportQuery{Year: 2026, Month: time.March, Grading: reportGrading, Top: 10, MinRated: 2})
	require.NoError(t, err)
	require.Len(t, r10.MostCases, 3)
	assert.Equal(t, ItemFigure{Rank: 3, Item: "P-3", Name: "事项 P-3", Count: 1, PreviousCount: 4, Change: -3}, r10.MostCases[2])
	require.Len(t, r10.LowestSatisfaction, 3)
	assert.Equal(t, "P-2", r10.LowestSatisfaction[2].Item)
	assert.Equal(t, 3, r10.LowestSatisfaction[2].Rank)
	assert.InDelta(t, 2/3.0, r10.LowestSatisfaction[2].SatisfactionRate, 1e-15)
	assert.Nil(t, r10.LowestSatisfaction[2].PreviousSatisfactionRate)
	// Top 1 keeps both items tied at rank 1.
	r1, err := s.MonthlyReport(ctx, MonthlyReportQuery{Year: 2026, Month: time.March, Grading: reportGrading, Top: 1, MinRated: 2})
	require.NoError(t, err)
	assert.Len(t, r1.MostCases, 2)
}

func TestMonthlyReportOfAStreet(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 4, 2, 9, 0, 0, 0, cst)
	s := newStore(t, &now)
	reportFixture(t, s)

	r, err := s.MonthlyReport(ctx, MonthlyReportQuery{Year: 2026, Month: time.March, Street: "FH", Grading: reportGrading, Top: 2, MinRated: 2})
	require.NoError(t, err)
	assert.Equal(t, "FH", r.Street)
	// The departments' work on FH's incidents.
	//   March: CG 4/4/4 4 of 4: 1.0 rank 1; SCJG 4/4/4: 1.0 rank 1; ZJ
	//          2/1/1 0 of 1: (0+0.15)/0.5 = 0.3 rank 3.
	//   February: GA 2/2/2: 1.0 rank 1; CG 2/1/1 2 of 2: 0.7 rank 2.
	assert.Equal(t, []string{"CG", "SCJG", "ZJ"}, rowKeys(r.Departments))
	d := views(r.Departments)
	assertView(t, "CG", leagueView{Rank: ptr(1), PreviousRank: ptr(2), RankChange: ptr(1), Score: ptr(1.0), PreviousScore: ptr(0.7),
		ScoreDelta: ptr(0.3), SatisfactionRate: ptr(1.0), SatDelta: ptr(0.0)}, d["CG"])
	assertView(t, "SCJG", leagueView{Rank: ptr(1), Score: ptr(1.0)}, d["SCJG"])
	assertView(t, "ZJ", leagueView{Rank: ptr(3), Score: ptr(0.3), SatisfactionRate: ptr(0.0)}, d["ZJ"])
	for _, row := range r.Departments {
		assert.Nil(t, row.MedianAckSeconds, "no latencies per street")
	}
	// Its own row of the streets' table, ranked among all streets.
	assert.Equal(t, []string{"FH"}, rowKeys(r.Streets))
	assertView(t, "FH", leagueView{Rank: ptr(1), PreviousRank: ptr(2), RankChange: ptr(1), Score: ptr(0.74), PreviousScore: ptr(0.75),
		ScoreDelta: ptr(-0.01), SatisfactionRate: ptr(0.5)}, views(r.Streets)["FH"])
	// Its items: P-1 2 (February 0 in FH), P-3 1 (February 2).
	assert.Equal(t, []ItemFigure{
		{Rank: 1, Item: "P-1", Name: "事项 P-1", Count: 2, PreviousCount: 0, Change: 2},
		{Rank: 2, Item: "P-3", Name: "事项 P-3", Count: 1, PreviousCount: 2, Change: -1},
	}, r.MostCases)
	assert.Equal(t, []ItemFigure{
		{Rank: 1, Item: "P-1", Name: "事项 P-1", Count: 1, PreviousCount: 0, Change: 1},
		{Rank: 1, Item: "P-3", Name: "事项 P-3", Count: 1, PreviousCount: 0, Change: 1},
	}, r.MostRepeats)
	// P-1 has one rated visit in FH: too few; P-4 1 of 2.
	assert.Equal(t, []ItemSatisfaction{
		{Rank: 1, Item: "P-4", Name: "事项 P-4", Rated: 2, Satisfied: 1, SatisfactionRate: 0.5},
	}, r.LowestSatisfaction)

	// A street with nothing: empty lists, not nulls.
	e, err := s.MonthlyReport(ctx, MonthlyReportQuery{Year: 2025, Month: time.March, Street: "QQ", Grading: reportGrading})
	require.NoError(t, err)
	assert.Empty(t, e.Departments)
	assert.NotNil(t, e.Departments)
	assert.NotNil(t, e.Streets)
	assert.NotNil(t, e.MostCases)
	assert.NotNil(t, e.LowestSatisfaction)
	assert.Equal(t, DefaultReportTop, e.Top)
	assert.Equal(t, DefaultReportMinRated, e.MinRated)
}
