package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

// TestChannelTables: the league tables split by channel add up to the
// whole district's, each is what its incidents did, the monthly report
// narrows to one, and CheckRollups checks each channel's tables against
// the record read from the incidents' snapshots: counts moved from one
// channel to another (the district's totals unchanged) are found.
func TestChannelTables(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(40 * day)
	s := newStore(t, &now)
	metricsFixture(t, s) // every incident a grid worker's
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for i, ch := range []string{"hotline", "open311:fms"} {
		in := newIncident("H"+string(rune('1'+i)), "FH", lead("CG"), at(time.Duration(i+1)*hour))
		in.Channel = ch
		project(t, s, in)
		step(t, s, in, deptActor("CG"), incident.Ack{TaskID: taskOf(t, in, "CG")}, at(time.Duration(i+1)*hour+10*minute))
		if i == 0 {
			step(t, s, in, deptActor("CG"), incident.Complete{TaskID: taskOf(t, in, "CG"), Result: "done"}, at(day))
		}
	}
	march := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	from, to := march, march.AddDate(0, 0, 30)

	diffs, err := s.CheckRollups(ctx, from, to, testGrading)
	require.NoError(t, err)
	require.Empty(t, diffs)

	for _, d := range []Dimension{ByDepartment, ByStreet, ByItem, ByDomain} {
		all, err := s.League(ctx, d, from, to, testGrading)
		require.NoError(t, err)
		sum := map[string]Counts{}
		for _, ch := range []string{"grid", "hotline", "open311:fms", "api"} {
			rows, err := s.ChannelLeague(ctx, d, from, to, ch, testGrading)
			require.NoError(t, err)
			for _, r := range rows {
				require.Nil(t, r.MedianAckSeconds, "a channel's table has no latencies")
				c := sum[r.Key]
				for i, f := range c.fields() {
					*f += *r.Counts.fields()[i]
				}
				sum[r.Key] = c
			}
		}
		require.Len(t, sum, len(all), "%s: the channels' rows", d)
		for _, r := range all {
			require.Equal(t, r.Counts, sum[r.Key], "%s %s: the channels' counts add up to the district's", d, r.Key)
		}
	}
	hot, err := s.ChannelLeague(ctx, ByDepartment, from, to, "hotline", testGrading)
	require.NoError(t, err)
	require.Len(t, hot, 1)
	require.Equal(t, "CG", hot[0].Key)
	require.Equal(t, Counts{Tasks: 1, AckedOnTime: 1, Completed: 1, CompletedOnTime: 1, ResolvePending: 0}, hot[0].Counts)

	rep, err := s.MonthlyReport(ctx, MonthlyReportQuery{Year: 2026, Month: time.March, Channel: "open311:fms", Grading: testGrading})
	require.NoError(t, err)
	require.Equal(t, "open311:fms", rep.Channel)
	require.Len(t, rep.Departments, 1)
	require.Equal(t, int64(1), rep.Departments[0].Tasks)
	require.Len(t, rep.MostCases, 1)
	require.Equal(t, "D-CG", rep.MostCases[0].Item)

	// ZJ's rows moved from the grid to the hotline, days and months alike:
	// the district's tables are unchanged, the channels' are not.
	_, err = s.Pool().Exec(ctx, `UPDATE metrics_daily SET channel = 'hotline' WHERE item = 'D-ZJ';
UPDATE metrics_monthly SET channel = 'hotline' WHERE item = 'D-ZJ'`)
	require.NoError(t, err)
	diffs, err = s.CheckRollups(ctx, from, to, testGrading)
	require.NoError(t, err)
	require.NotEmpty(t, diffs)
	for _, d := range diffs {
		require.NotEmpty(t, d.Channel, "%s %s: the district's tables did not change", d.Dimension, d.Key)
	}
}
