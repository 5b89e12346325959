package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/incident"
)

// fastDistrict has one item whose deadlines run in seconds: ack 2s with
// yellow at 1s, level 1 at 2s, level 2 at 3s, level 3 at 6s; resolve 14s.
const fastDistrict = `
district: {code: DA, name: 大安区, timezone: Asia/Shanghai}
departments:
  - {code: CG, name: 区城市管理局, enforcement: true}
streets:
  - code: FH
    name: 凤凰街道
    communities:
      - {code: FH-01, name: 凤凰社区, grids: [FH-01-01]}
assessment: {street: 0.5, public: 0.2, timeliness: 0.3, satisfaction_target: 0.95}
escalation: {warn_at: 0.5, levels: [0s, 1s, 4s]}
items:
  - code: FAST-001
    name: 占道经营
    gloss: street vending, with deadlines in seconds for this test
    domain: 市容环境
    tier: department
    lead: CG
    sla: {ack: 2s, resolve: 14s, feedback: 1h}
`

// TestLadderInRealTime watches a task climb the acknowledgement ladder
// through the API and on NATS, then acknowledges it and sees the ladder
// stop while the resolution ladder runs on.
func TestLadderInRealTime(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fast.yaml")
	require.NoError(t, os.WriteFile(file, []byte(fastDistrict), 0o644))
	s := newStackWith(t, devtest.Postgres(t), file)
	st := token(t, incident.RoleStreet, street)
	cg := token(t, incident.RoleDepartment, "CG")

	id := s.report("FAST-001")
	// Yellow, then levels 1 and 2, each on NATS for the street and for CG.
	esc := s.waitEvents("whistle.escalations.FH", id, 3)
	require.Equal(t, incident.EventAckWarning, esc[0]["type"])
	require.Equal(t, incident.EventAckOverdue, esc[1]["type"])
	require.EqualValues(t, 1, esc[1]["level"])
	require.EqualValues(t, 2, esc[2]["level"])
	require.GreaterOrEqual(t, len(s.waitEvents("whistle.tasks.CG", id, 4)), 4) // created + 3 steps

	in := s.incident(id, st)
	require.True(t, in.Overdue)
	require.GreaterOrEqual(t, in.EscalationLevel, 2)
	require.True(t, in.Tasks[0].AckOverdue)

	// Acknowledged after level 2: level 3 (due at 6s) never comes.
	s.must(200, "POST", "/v1/tasks/"+in.Tasks[0].ID+"/ack", cg, map[string]any{})
	// The resolution warning comes at 7s, after level 3 would have.
	s.waitFor(id, st, "the resolution warning", func(in incident.Incident) bool {
		for _, e := range in.Timeline {
			if e.Type == incident.EventResolveWarning {
				return true
			}
		}
		return false
	})
	in = s.incident(id, st)
	for _, e := range in.Timeline {
		require.False(t, e.Type == incident.EventAckOverdue && e.Level == 3, "level 3 after the ack: %+v", e)
	}
	require.Equal(t, 2, in.Tasks[0].Ack.Level)
	require.False(t, in.Overdue, "acknowledged and within the resolution time")

	s.checkMetrics()
}
