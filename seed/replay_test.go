package seed

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

// TestReplayRewritesTheSeededHistory reads the steps back from the
// timeline of every seeded incident (incident.StepsOf) and replays them
// under the rules the incident ran by: the replay must write the same
// timeline, the same tasks with the same deadlines and the same return
// visits, refusing nothing. It is the domain half of whatif's identity
// check, on every path the seeds take (tiers, returns and reassignments,
// extensions, failed verifications, reopenings, ratings, stuck tasks).
func TestReplayRewritesTheSeededHistory(t *testing.T) {
	now := time.Date(2026, 11, 18, 7, 30, 0, 0, time.UTC)
	j := jurisdiction.Default()
	g, err := newGenerator(Options{Tasks: 3000, Seed: 11, Overdue: 0.05, Now: now, Span: 60 * 24 * time.Hour, Jurisdiction: j})
	require.NoError(t, err)
	seen := map[string]int{}
	for g.stats.Tasks < g.o.Tasks {
		li, err := g.next()
		require.NoError(t, err)
		want := li.Snapshot
		it, ok := j.Item(want.Category)
		require.True(t, ok)
		steps, err := incident.StepsOf(want.Timeline)
		require.NoError(t, err, "incident %s", want.ID)
		for _, s := range steps {
			seen[s.Name()]++
		}
		r := incident.Replay{Rules: j.RulesFor(it, g.cal)}
		got, visits, refused := r.Run(want.Report(), want.Item, want.Timeline[0].At, steps, now)
		require.Empty(t, refused, "incident %s", want.ID)
		require.Equal(t, want.Timeline, got.Timeline, "incident %s", want.ID)
		require.Equal(t, want.Tasks, got.Tasks, "incident %s", want.ID)
		require.Equal(t, li.EarlierFeedback, visits, "incident %s", want.ID) // every visit, in order
		require.Equal(t, want.Status, got.Status)
		require.Equal(t, want.Version, got.Version)
	}
	t.Logf("steps replayed: %v", seen)
	for _, name := range []string{incident.CmdAck, incident.CmdComplete, incident.CmdReturn, incident.CmdReassign, incident.CmdWhistle,
		incident.CmdExtend, incident.CmdDecide, incident.CmdVerify, incident.CmdFeedback, incident.CmdRate, incident.CmdResolve, incident.CmdEscalate} {
		require.NotZero(t, seen[name], "no %s step in the seeded incidents: the test covers less than it says", name)
	}
}
