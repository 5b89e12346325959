package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/jurisdiction"
)

// want is a league row worked out by hand: its counters, and its score
// and rank (rank 0: unranked). Every rate is checked as the division of
// its counters (a rate is one IEEE division, so it is exact), the score to
// 1e-12 (it is a weighted sum).
type want struct {
	c     Counts
	score float64
	rank  int
}

func checkLeague(t *testing.T, got []LeagueRow, keys []string, rows map[string]want) {
	t.Helper()
	require.Equal(t, keys, leagueKeys(got))
	for k, w := range rows {
		r := find(got, k)
		require.NotNil(t, r, k)
		assert.Equal(t, w.c, r.Counts, k)
		rate := func(name string, n, d int64, got *float64) {
			if d == 0 {
				assert.Nil(t, got, "%s %s", k, name)
			} else if assert.NotNil(t, got, "%s %s", k, name) {
				assert.Equal(t, float64(n)/float64(d), *got, "%s %s", k, name)
			}
		}
		c := w.c
		rate("response", c.AckedOnTime, c.Tasks-c.AckPending, r.ResponseRate)
		rate("on time", c.CompletedOnTime, c.Tasks-c.ResolvePending, r.OnTimeResolutionRate)
		rate("resolution", c.Resolved, c.Visits, r.ResolutionRate)
		rate("satisfaction", c.Satisfied, c.Rated, r.SatisfactionRate)
		rate("unrated", c.Unrated, c.Visits+c.Unrated, r.UnratedShare)
		rate("return", c.Returns, c.Tasks, r.ReturnRate)
		rate("reopen", c.Reopened, c.Visits, r.ReopenRate)
		rate("mean rating", c.RatingSum, c.RatedTasks, r.MeanRating)
		if assert.NotNil(t, r.Score, k) {
			assert.InDelta(t, w.score, *r.Score, 1e-12, k)
		}
		if w.rank == 0 {
			assert.Nil(t, r.Rank, k)
		} else if assert.NotNil(t, r.Rank, k) {
			assert.Equal(t, w.rank, *r.Rank, k)
		}
		assert.Equal(t, c.Tasks < int64(testGrading.MinCases), r.TooFewCases, k)
		assert.Equal(t, r.SatisfactionRate != nil && *r.SatisfactionRate >= testGrading.Target, r.MeetsTarget, k)
		met := func(rate *float64) *bool {
			if rate == nil {
				return nil
			}
			return ptr(*rate >= testGrading.Target)
		}
		assert.Equal(t, TargetsMet{met(r.ResponseRate), met(r.OnTimeResolutionRate), met(r.ResolutionRate), met(r.SatisfactionRate)},
			r.TargetsMet, k)
	}
}

// The league tables of the hand-computed fixture (metricsFixture), with
// the weights 0.5 street, 0.2 public, 0.3 timeliness and min_cases 2.
//
// March, the local days [03-02, 04-01); I9 (dispatched 04-01 08:00) and
// everything dated after the month are not in it. Some tasks are still in
// their windows as the record stands (no clock step of theirs has fired):
// I2r2 (CG, neither acknowledged nor resolved), I3's resolution (ZJ, its
// acknowledgement is late: level 1), I7 (CG acknowledged, not resolved;
// SCJG neither) and I8 (ZJ, neither). They count in tasks and in
// ack_pending / resolve_pending, not in the response and on-time
// resolution rates (v4):
//
//	CG   tasks I1 I2r1 I2r2 I5 I6 I7 I10 = 7; ack pending I2r2, resolve pending
//	     I2r2 I7; acked on time I1 I2r1 I5 I7 I10 = 5 of 6 (I7's deadline is the
//	     one it had before its return was overruled); completed I1 I2r1 I5 I6
//	     I10 = 5, on time 4 of 5 (I6 late, I10 on time by its extension);
//	     1 extension; rated I10 90; returned I7, overruled; visits I1 (resolved,
//	     satisfied) I2r1 (unresolved, unsatisfied, reopened) I5 (resolved,
//	     basically); I10 closed unrated.
//	     0.5·0.9 + 0.2·2/3 + 0.3·(5/6+4/5)/2 = 497/600
//	SCJG tasks I1 (late twice) I5 (returned) I7 (never, pending both) I10 (on
//	     time; its extension refused) = 4; acked on time 1 of 3, completed on
//	     time 1 of 3; visit I1; I10 unrated; its rating is April's.
//	     no rating: (0.2·1 + 0.3·(1/3+1/3)/2) / 0.5 = 0.6
//	ZJ   tasks I3 (level 1) I8 (a routing override, returned, overruled by the
//	     district, pending both) I11 (levels 1-3, acked late, completed on time)
//	     = 3; acked on time 0 of 2, completed on time 1 of 1 (I3's resolution
//	     pending); visit I11; rated 40: 0.5·0.4 + 0.2·1 + 0.3·(0+1)/2 = 0.55
//	GA   tasks I13 I14, perfect, rated 80 twice; visits I4 (its task is from
//	     February) I13 I14: 0.5·0.8 + 0.2 + 0.3 = 0.9
//	SW   tasks I5 (the reassigned task) I12, perfect, rated 80 once; visits I5
//	     I12: 0.9, a tie with GA: both rank 1
func TestLeagueOverTheHandComputedFixture(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(40 * day)
	s := newStore(t, &now)
	metricsFixture(t, s)
	march := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	from, to := march, march.AddDate(0, 0, 30)

	got, err := s.League(ctx, ByDepartment, from, to, testGrading)
	require.NoError(t, err)
	checkLeague(t, got, []string{"GA", "SW", "CG", "SCJG", "ZJ"}, map[string]want{
		"CG": {Counts{Tasks: 7, AckedOnTime: 5, Completed: 5, CompletedOnTime: 4, Extensions: 1, RatedTasks: 1, RatingSum: 90,
			Returns: 1, OverruledReturns: 1, Visits: 3, Resolved: 2, Rated: 3, Satisfied: 2, Reopened: 1, Unrated: 1,
			AckPending: 1, ResolvePending: 2}, 497.0 / 600, 3},
		"SCJG": {Counts{Tasks: 4, AckedOnTime: 1, Completed: 2, CompletedOnTime: 1, Returns: 1,
			Visits: 1, Resolved: 1, Rated: 1, Satisfied: 1, Unrated: 1, AckPending: 1, ResolvePending: 1}, 0.6, 4},
		"ZJ": {Counts{Tasks: 3, Completed: 1, CompletedOnTime: 1, Level1: 2, Level2: 1, Level3: 1, RatedTasks: 1, RatingSum: 40,
			Returns: 1, OverruledReturns: 1, Visits: 1, Resolved: 1, Rated: 1, Satisfied: 1, AckPending: 1, ResolvePending: 2}, 0.55, 5},
		"GA": {Counts{Tasks: 2, AckedOnTime: 2, Completed: 2, CompletedOnTime: 2, RatedTasks: 2, RatingSum: 160,
			Visits: 3, Resolved: 3, Rated: 3, Satisfied: 3}, 0.9, 1},
		"SW": {Counts{Tasks: 2, AckedOnTime: 2, Completed: 2, CompletedOnTime: 2, RatedTasks: 1, RatingSum: 80,
			Visits: 2, Resolved: 2, Rated: 2, Satisfied: 2}, 0.9, 1},
	})
	// The tie is exact: the same counters' quotients.
	assert.Equal(t, *find(got, "GA").Score, *find(got, "SW").Score)
	// Latencies: CG acknowledged after 20, 30 (four times) and 120 minutes;
	// completed after 21h, 1d, 1d23h, 4d and 4d20h. ZJ after 41h; 65h.
	cg, zj := find(got, "CG"), find(got, "ZJ")
	assert.Equal(t, []*int64{ptr[int64](1800), ptr[int64](7200), ptr[int64](169200), ptr[int64](417600)},
		[]*int64{cg.MedianAckSeconds, cg.P90AckSeconds, cg.MedianCompleteSeconds, cg.P90CompleteSeconds})
	assert.Equal(t, []*int64{ptr[int64](147600), ptr[int64](147600), ptr[int64](234000), ptr[int64](234000)},
		[]*int64{zj.MedianAckSeconds, zj.P90AckSeconds, zj.MedianCompleteSeconds, zj.P90CompleteSeconds})

	// Streets: every task of their incidents, a visit or an unrated closing
	// once per incident, the incidents reported in the month (I4 was
	// reported in February, I9 in April).
	//   FH  tasks I1×2 I2r1 I2r2 I6 I7×2 I11 I12 = 9; ack pending I2r2 I7SCJG,
	//       resolve pending I2r2 I7×2; on time: acked I1CG I2r1 I7CG I12 of 7,
	//       completed I1CG I2r1 I11 I12 of 6; I11's levels; rated I11 40, I12 80;
	//       visits I1 I2r1 (reopened) I4 I11 I12, 4 resolved and satisfied.
	//       0.5·0.6 + 0.2·4/5 + 0.3·(4/7+4/6)/2 = 113/175
	//   XY  tasks I3 I5×3 I8 I10×2 I13 I14 = 9; ack pending I8, resolve pending
	//       I3 I8; 6 acked on time of 8, 6 completed on time of 7; I10's
	//       extension, I3's level 1; rated 90 80 80; returns I5 I8, I8
	//       overruled and overridden; visits I5 I13 I14; I10 unrated.
	//       0.5·(250/3)/100 + 0.2·1 + 0.3·(6/8+6/7)/2 = 1441/1680
	got, err = s.League(ctx, ByStreet, from, to, testGrading)
	require.NoError(t, err)
	checkLeague(t, got, []string{"XY", "FH"}, map[string]want{
		"FH": {Counts{Tasks: 9, AckedOnTime: 4, Completed: 6, CompletedOnTime: 4, Level1: 1, Level2: 1, Level3: 1,
			RatedTasks: 2, RatingSum: 120, Returns: 1, OverruledReturns: 1,
			Visits: 5, Resolved: 4, Rated: 5, Satisfied: 4, Reopened: 1, Incidents: 6, AckPending: 2, ResolvePending: 3}, 113.0 / 175, 2},
		"XY": {Counts{Tasks: 9, AckedOnTime: 6, Completed: 6, CompletedOnTime: 6, Extensions: 1, Level1: 1,
			RatedTasks: 3, RatingSum: 250, Returns: 2, OverruledReturns: 1, RoutingOverrides: 1,
			Visits: 3, Resolved: 3, Rated: 3, Satisfied: 3, Unrated: 1, Incidents: 6, AckPending: 1, ResolvePending: 2}, 1441.0 / 1680, 1},
	})

	// Items, and the one domain of the fixture (SR-001's): I1 I5 I7 I10 with
	// 9 tasks (I7SCJG pending both, I7CG its resolution), 6 acked on time
	// of 8, 5 completed on time of 7:
	// 0.5·0.9 + 0.2·1 + 0.3·(6/8+5/7)/2 = 487/560. D-CG: I2 I6 (I9 is
	// April's), I2r2 pending both, no rating:
	// (0.2·0 + 0.3·(1/2+1/2)/2)/0.5 = 0.3. D-ZJ: I3 I11, I3's resolution
	// pending: 0.5·0.4 + 0.2 + 0.3·(0+1)/2 = 0.55. D-GA as GA; D-SW and
	// ST-002 have one task each: too few. Incidents as reported in the month.
	sr := want{Counts{Tasks: 9, AckedOnTime: 6, Completed: 6, CompletedOnTime: 5, Extensions: 1, RatedTasks: 1, RatingSum: 90,
		Returns: 2, OverruledReturns: 1, Visits: 2, Resolved: 2, Rated: 2, Satisfied: 2, Unrated: 1, Incidents: 4,
		AckPending: 1, ResolvePending: 2}, 487.0 / 560, 2}
	got, err = s.League(ctx, ByItem, from, to, testGrading)
	require.NoError(t, err)
	checkLeague(t, got, []string{"D-GA", "SR-001", "D-ZJ", "D-CG", "D-SW", "ST-002"}, map[string]want{
		"SR-001": sr,
		"D-CG": {Counts{Tasks: 3, AckedOnTime: 1, Completed: 2, CompletedOnTime: 1,
			Visits: 1, Rated: 1, Reopened: 1, Incidents: 2, AckPending: 1, ResolvePending: 1}, 0.3, 4},
		"D-ZJ": {Counts{Tasks: 2, Completed: 1, CompletedOnTime: 1, Level1: 2, Level2: 1, Level3: 1, RatedTasks: 1, RatingSum: 40,
			Visits: 1, Resolved: 1, Rated: 1, Satisfied: 1, Incidents: 2, ResolvePending: 1}, 0.55, 3},
		"D-SW": {Counts{Tasks: 1, AckedOnTime: 1, Completed: 1, CompletedOnTime: 1, RatedTasks: 1, RatingSum: 80,
			Visits: 1, Resolved: 1, Rated: 1, Satisfied: 1, Incidents: 1}, 0.9, 0},
	})
	got, err = s.League(ctx, ByDomain, from, to, testGrading)
	require.NoError(t, err)
	sr.rank = 1
	checkLeague(t, got, []string{"市容环境", ""}, map[string]want{"市容环境": sr})

	// April: I9's task and its return, I6's visit (04-02) and SCJG's
	// rating of I10 (04-01 09:00), each on its own day. One task or none:
	// too few to rank. CG: (0.2·1 + 0.3·0)/0.5 = 0.4; SCJG: its rating alone.
	got, err = s.League(ctx, ByDepartment, to, to.AddDate(0, 1, 0), testGrading)
	require.NoError(t, err)
	checkLeague(t, got, []string{"CG", "SCJG"}, map[string]want{
		"CG":   {Counts{Tasks: 1, Returns: 1, Visits: 1, Resolved: 1, Rated: 1, Satisfied: 1}, 0.4, 0},
		"SCJG": {Counts{RatedTasks: 1, RatingSum: 70}, 0.7, 0},
	})

	// A period with nothing in it has no rows.
	got, err = s.League(ctx, ByStreet, from.AddDate(0, -6, 0), from.AddDate(0, -5, 0), testGrading)
	require.NoError(t, err)
	assert.Empty(t, got)

	// The whole of March (read from the monthly rollups) is the same as
	// its days from the 2nd (nothing happened on the 1st).
	for _, d := range []Dimension{ByDepartment, ByStreet, ByItem, ByDomain} {
		days, err := s.League(ctx, d, from, to, testGrading)
		require.NoError(t, err)
		month, err := s.League(ctx, d, from.AddDate(0, 0, -1), to, testGrading)
		require.NoError(t, err)
		assert.Equal(t, days, month, d)
	}

	// The rollups equal the recomputation from the record, both months.
	for _, p := range [][2]time.Time{{from, to}, {from.AddDate(0, 0, -1), to}, {to, to.AddDate(0, 1, 0)}} {
		diffs, err := s.CheckRollups(ctx, p[0], p[1], testGrading)
		require.NoError(t, err)
		assert.Empty(t, diffs)
	}

	// A month that is not the sum of its days is found, and so is the
	// league row it puts out of step with the record.
	_, err = s.pool.Exec(ctx, `UPDATE metrics_monthly SET tasks = tasks + 1 WHERE month = '2026-03-01' AND department = 'ZJ' AND street = 'FH'`)
	require.NoError(t, err)
	diffs, err := s.CheckRollups(ctx, from.AddDate(0, 0, -1), to, testGrading)
	require.NoError(t, err)
	var found []string
	for _, d := range diffs {
		found = append(found, string(d.Dimension)+" "+d.Key)
	}
	assert.Contains(t, found, "month 2026-03 ZJ/FH/D-ZJ//grid")
	assert.Contains(t, found, "department ZJ")
	assert.Contains(t, found, "street FH")
}

// Scores: a missing component is left out and the others rescaled; equal
// scores share a rank; too few cases and no score come last, unranked.
func TestLeagueScoresTiesAndUnranked(t *testing.T) {
	g := Grading{Street: 0.5, Public: 0.2, Timeliness: 0.3, Target: 0.95, MinCases: 10}
	rows := map[string]*LeagueRow{
		// rating 80, satisfaction 19/20, timeliness (1 + 0.5)/2:
		// 0.5·0.8 + 0.2·0.95 + 0.3·0.75 = 0.815
		"A": {Key: "A", Counts: Counts{Tasks: 10, AckedOnTime: 10, CompletedOnTime: 5, RatedTasks: 2, RatingSum: 160, Visits: 20, Rated: 20, Satisfied: 19}},
		// The same numbers: a tie with A.
		"B": {Key: "B", Counts: Counts{Tasks: 20, AckedOnTime: 20, CompletedOnTime: 10, RatedTasks: 1, RatingSum: 80, Visits: 40, Rated: 20, Satisfied: 19}},
		// No rating, no visit (two closed unrated): timeliness alone, 0.6.
		"C": {Key: "C", Counts: Counts{Tasks: 10, AckedOnTime: 6, CompletedOnTime: 6, Unrated: 2}},
		// Nine tasks: too few.
		"D": {Key: "D", Counts: Counts{Tasks: 9, AckedOnTime: 9, CompletedOnTime: 9}},
		// Only overruled returns: no score at all.
		"E": {Key: "E", Counts: Counts{OverruledReturns: 1}},
		"F": {Key: "F"},
	}
	got := finish(rows, g)
	require.Equal(t, []string{"A", "B", "C", "D", "E"}, leagueKeys(got))
	assert.InDelta(t, 0.815, *got[0].Score, 1e-12)
	assert.Equal(t, *got[0].Score, *got[1].Score)
	assert.Equal(t, 1, *got[0].Rank)
	assert.Equal(t, 1, *got[1].Rank)
	assert.InDelta(t, 0.6, *got[2].Score, 1e-12)
	assert.Equal(t, 3, *got[2].Rank)
	assert.True(t, got[3].TooFewCases)
	assert.Nil(t, got[3].Rank)
	assert.Nil(t, got[4].Score)
	assert.Nil(t, got[4].Rank)
	assert.True(t, got[0].MeetsTarget)                  // 0.95 ≥ 0.95
	assert.InDelta(t, 1.0, *got[2].UnratedShare, 1e-12) // no visit, 2 closed unrated
	assert.Nil(t, got[2].SatisfactionRate)
	assert.Nil(t, got[4].ResponseRate)
}

// v4: a task still in its window (ack_pending, resolve_pending) is in
// neither the numerator nor the denominator of its timeliness rate; each
// rate has its own target flag, and meets_target stays satisfaction's.
func TestLeagueRatesLeaveOutTasksInTheirWindow(t *testing.T) {
	g := Grading{Street: 0.5, Public: 0.2, Timeliness: 0.3, Target: 0.95, Targets: jurisdiction.Targets{Response: 0.9}, MinCases: 1}
	rows := map[string]*LeagueRow{
		// Twelve tasks today: ten acknowledged on time, two in their
		// acknowledgement window, none past its resolution deadline.
		"A": {Key: "A", Counts: Counts{Tasks: 12, AckedOnTime: 10, AckPending: 2, ResolvePending: 12,
			Visits: 20, Rated: 20, Satisfied: 19, Resolved: 18}},
		// Every task still in its window: no timeliness component.
		"B": {Key: "B", Counts: Counts{Tasks: 3, AckPending: 3, ResolvePending: 3, RatedTasks: 1, RatingSum: 70}},
		// Half acknowledged on time, every resident satisfied: meets the
		// satisfaction target, not every target.
		"C": {Key: "C", Counts: Counts{Tasks: 10, AckedOnTime: 5, CompletedOnTime: 10, Visits: 4, Rated: 4, Satisfied: 4, Resolved: 4}},
		"D": {Key: "D", Counts: Counts{Tasks: 10, AckedOnTime: 10, CompletedOnTime: 10, Visits: 4, Rated: 4, Satisfied: 4, Resolved: 4}},
	}
	got := finish(rows, g)
	require.Equal(t, []string{"D", "A", "C", "B"}, leagueKeys(got))
	a, b, c, d := find(got, "A"), find(got, "B"), find(got, "C"), find(got, "D")

	assert.Equal(t, 1.0, *a.ResponseRate) // 10 / (12 - 2)
	assert.Nil(t, a.OnTimeResolutionRate) // 12 - 12 decided
	assert.InDelta(t, (0.2*0.95+0.3*1)/0.5, *a.Score, 1e-12)
	assert.Equal(t, TargetsMet{Response: ptr(true), Resolution: ptr(false), Satisfaction: ptr(true)}, a.TargetsMet)
	assert.True(t, a.MeetsTarget)
	assert.False(t, a.MeetsAllTargets)

	assert.Nil(t, b.ResponseRate)
	assert.InDelta(t, 0.7, *b.Score, 1e-12)
	assert.Equal(t, TargetsMet{}, b.TargetsMet)
	assert.False(t, b.MeetsAllTargets, "no rate: no target met")

	assert.Equal(t, TargetsMet{Response: ptr(false), OnTimeResolution: ptr(true), Resolution: ptr(true), Satisfaction: ptr(true)}, c.TargetsMet)
	assert.True(t, c.MeetsTarget, "meets_target is satisfaction's alone")
	assert.False(t, c.MeetsAllTargets)
	assert.True(t, d.MeetsAllTargets)
	assert.Equal(t, "false/true/true/true", c.TargetsMet.String())
}

// Percentiles are nearest-rank, floored to the bucket's resolution.
func TestLatencyPercentiles(t *testing.T) {
	h := Histogram{}
	for _, s := range []float64{59, 61, 3599, 7300, 200000} {
		h[latencyBucket(s)]++
	}
	assert.Equal(t, int64(3540), *percentile(h, 0.5)) // 3599 s, minute 59
	assert.Equal(t, int64(198000), *percentile(h, 0.9))
	assert.Equal(t, int64(0), *percentile(h, 0.1))
	assert.Equal(t, int64(7200), bucketLow(latencyBucket(7300)))
	assert.Nil(t, percentile(Histogram{}, 0.5))
}

func leagueKeys(rows []LeagueRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Key
	}
	return out
}

func find(rows []LeagueRow, key string) *LeagueRow {
	for i := range rows {
		if rows[i].Key == key {
			return &rows[i]
		}
	}
	return nil
}
