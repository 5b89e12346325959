package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/incident"
)

// ruleDistrict is a small district whose item DR-001 has the SLA in %s.
const ruleDistrict = smallOrg + `
assessment: {street: 0.5, public: 0.2, timeliness: 0.3, satisfaction_target: 0.95}
items:
  - code: DR-001
    name: 道路破损
    gloss: a damaged road surface
    domain: 城市管理
    tier: department
    lead: CG
    sla: %s
`

func writeDistrict(t *testing.T, name, sla string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(ruleDistrict, "%s", sla, 1)), 0o644))
	return file
}

// TestRuleChangeUnderRunningIncidents rolls out a jurisdiction with a
// longer SLA while an incident is in flight, the way an operator does: by
// restarting Whistle on the same Temporal, NATS and database. The incident
// started before keeps its rules even for a task created after the
// restart; an incident started after gets the new ones.
func TestRuleChangeUnderRunningIncidents(t *testing.T) {
	before := writeDistrict(t, "before.yaml", "{ack: 1h, resolve: 2h, feedback: 1h}")
	after := writeDistrict(t, "after.yaml", "{ack: 3h, resolve: 6h, feedback: 1h}")
	s := newStackWith(t, devtest.Postgres(t), before)
	st := token(t, incident.RoleStreet, street)
	cg := token(t, incident.RoleDepartment, "CG")

	old := s.report("DR-001")
	in := s.waitStatus(old, st, incident.StatusDispatched)
	require.Len(t, in.Tasks, 1)
	requireSLA(t, in.Tasks[0], time.Hour, 2*time.Hour)
	s.must(200, "POST", "/v1/tasks/"+in.Tasks[0].ID+"/return", cg, map[string]any{"reason": "a housing matter"})

	s.restart(after)

	// After the restart the old incident's workflow carries on with the
	// rules it started with: the task the street creates now gets 1h/2h.
	s.must(200, "POST", "/v1/tasks/"+in.Tasks[0].ID+"/reassign", st, map[string]any{"department": "ZJ"})
	in = s.waitFor(old, st, "the reassigned task", func(in incident.Incident) bool { return len(in.Tasks) == 2 })
	require.Equal(t, "ZJ", in.Tasks[1].Department)
	requireSLA(t, in.Tasks[1], time.Hour, 2*time.Hour)

	// A new incident gets the new rules.
	fresh := s.report("DR-001")
	in = s.waitStatus(fresh, st, incident.StatusDispatched)
	requireSLA(t, in.Tasks[0], 3*time.Hour, 6*time.Hour)

	// And the old one can still be driven to the end.
	zj := token(t, incident.RoleDepartment, "ZJ")
	tid := s.incident(old, st).Tasks[1].ID
	s.must(200, "POST", "/v1/tasks/"+tid+"/ack", zj, map[string]any{})
	s.must(200, "POST", "/v1/tasks/"+tid+"/complete", zj, map[string]any{"result": "resurfaced"})
	s.waitStatus(old, st, incident.StatusVerifying)

	s.checkMetrics()
}

// requireSLA checks a task's deadlines against its creation time.
func requireSLA(t *testing.T, task *incident.Task, ack, resolve time.Duration) {
	t.Helper()
	require.Equal(t, ack, task.AckDue.Sub(task.CreatedAt), "ack deadline of %s", task.ID)
	require.Equal(t, resolve, task.ResolveDue.Sub(task.CreatedAt), "resolution deadline of %s", task.ID)
}
