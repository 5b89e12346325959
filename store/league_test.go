package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Over the hand-computed fixture of TestMetrics, the rollups give the
// counters TestMetrics checks by hand, and the scores and ranks worked out
// here. The local days [2026-03-02, 2026-04-01) end 9 hours before
// TestMetrics's period, so I9 (dispatched at t0+30d-1h, 2026-04-01 08:00)
// is not in them:
//
//	CG   tasks 6, response 4/6, on time 3/6, satisfaction 2/3, no rating:
//	     (0.2·2/3 + 0.3·(4/6+3/6)/2) / 0.5 = 37/60
//	SCJG tasks 3, response 0, on time 0, satisfaction 1: 0.2/0.5 = 0.4
//	ZJ   tasks 2, response 0, on time 0, no visit: 0
//	GA   no task (too few), satisfaction 1: score 1, unranked
//	SW   1 task (too few with min_cases 2), everything 1: score 1, unranked
func TestLeagueOverTheHandComputedFixture(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(40 * day)
	s := newStore(t, &now)
	metricsFixture(t, s)
	from, to := t0, t0.Add(30*day)

	// v1 over the same local days, by instants.
	v1, err := s.DepartmentMetrics(ctx, t0.Add(-9*hour), to.Add(-9*hour), 0.95)
	require.NoError(t, err)
	got, err := s.League(ctx, ByDepartment, from, to, testGrading)
	require.NoError(t, err)
	require.Equal(t, []string{"CG", "SCJG", "ZJ", "GA", "SW"}, leagueKeys(got))
	for _, m := range v1 {
		r := find(got, m.Key)
		require.NotNil(t, r, m.Key)
		assert.Equal(t, []int64{int64(m.Tasks), int64(m.AckedOnTime), int64(m.Completed), int64(m.CompletedOnTime), int64(m.Extensions),
			int64(m.Feedback), int64(m.Resolved), int64(m.Rated), int64(m.Satisfied), int64(m.Returns), int64(m.OverruledReturns)},
			[]int64{r.Tasks, r.AckedOnTime, r.Completed, r.CompletedOnTime, r.Extensions,
				r.Visits, r.Resolved, r.Rated, r.Satisfied, r.Returns, r.OverruledReturns}, m.Key)
	}
	want := map[string]struct {
		score float64
		rank  int
	}{"CG": {37.0 / 60, 1}, "SCJG": {0.4, 2}, "ZJ": {0, 3}, "GA": {1, 0}, "SW": {1, 0}}
	for _, r := range got {
		w := want[r.Key]
		require.NotNil(t, r.Score, r.Key)
		assert.InDelta(t, w.score, *r.Score, 1e-12, r.Key)
		if w.rank == 0 {
			assert.Nil(t, r.Rank, r.Key)
			assert.True(t, r.TooFewCases, r.Key)
		} else if assert.NotNil(t, r.Rank, r.Key) {
			assert.Equal(t, w.rank, *r.Rank, r.Key)
		}
	}
	// I2's round 1 was reopened: CG's visits are I1, I2 (reopened), I5.
	cg := find(got, "CG")
	assert.Equal(t, int64(1), cg.Reopened)
	assert.InDelta(t, 1.0/3, *cg.ReopenRate, 1e-12)
	assert.InDelta(t, 0.0, *cg.UnratedShare, 1e-12)
	assert.Nil(t, cg.MeanRating)
	assert.False(t, cg.MeetsTarget)

	diffs, err := s.CheckRollups(ctx, from, to, testGrading)
	require.NoError(t, err)
	assert.Empty(t, diffs)
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
		// No rating, no rated visit: timeliness alone, 0.6.
		"C": {Key: "C", Counts: Counts{Tasks: 10, AckedOnTime: 6, CompletedOnTime: 6, Visits: 3}},
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
	assert.InDelta(t, 1.0, *got[2].UnratedShare, 1e-12) // 3 visits, none rated
	assert.Nil(t, got[2].SatisfactionRate)
	assert.Nil(t, got[4].ResponseRate)
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
