package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/incident"
)

// clockDistrict has one item whose return visit window runs out in two
// seconds: the clock closes its incidents without a visit.
const clockDistrict = `
district: {code: DA, name: 大安区, timezone: Asia/Shanghai}
departments:
  - {code: CG, name: 区城市管理局}
streets:
  - code: FH
    name: 凤凰街道
    communities:
      - {code: FH-01, name: 凤凰社区, grids: [FH-01-01]}
items:
  - code: CLK-001
    name: 占道经营
    gloss: street vending, with a return visit window of seconds for this test
    domain: 市容环境
    tier: department
    lead: CG
    sla: {ack: 1h, resolve: 3h, feedback: 2s}
`

// TestClocksThatMoveAndRunOut takes an incident through the paths that move
// or end its clocks: an extension approved, a suspension and its
// resumption, the return visit window running out (the clock closes it
// unrated) and a rating after the closing; a second incident stays in its
// window. The league shows each, and counts the one in its window apart.
func TestClocksThatMoveAndRunOut(t *testing.T) {
	file := filepath.Join(t.TempDir(), "clock.yaml")
	require.NoError(t, os.WriteFile(file, []byte(clockDistrict), 0o644))
	s := newStackWith(t, devtest.Postgres(t), file)
	st := token(t, incident.RoleStreet, street)
	cg := token(t, incident.RoleDepartment, "CG")
	district := token(t, incident.RoleDistrict, "DA")

	id := s.report("CLK-001")
	in := s.waitStatus(id, st, incident.StatusDispatched)
	task := in.Tasks[0].ID
	s.must(200, "POST", "/v1/tasks/"+task+"/ack", cg, map[string]any{})

	// An extension: the resolution deadline moves to the day after.
	until := in.Tasks[0].ResolveDue.Add(24 * time.Hour).UTC().Truncate(time.Second)
	s.must(200, "POST", "/v1/tasks/"+task+"/extension", cg, map[string]any{"until": until, "reason": "the permit takes a day"})
	in = incidentOf(t, s.must(200, "POST", "/v1/tasks/"+task+"/extension/decision", st, map[string]any{"approve": true}))
	require.True(t, in.Task(task).ResolveDue.Equal(until), "resolve due %s, want %s", in.Task(task).ResolveDue, until)

	// Suspended (挂账) and resumed: the clocks stop, then go on later.
	in = incidentOf(t, s.must(200, "POST", "/v1/incidents/"+id+"/suspend", st,
		map[string]any{"reason": "the owner is abroad", "review_at": time.Now().Add(time.Hour).UTC()}))
	require.Equal(t, incident.StatusSuspended, in.Status)
	in = incidentOf(t, s.must(200, "POST", "/v1/incidents/"+id+"/resume", st, map[string]any{"note": "the owner is back"}))
	require.Equal(t, incident.StatusDispatched, in.Status)
	require.True(t, in.Task(task).ResolveDue.After(until), "the pause moved the deadline")

	s.must(200, "POST", "/v1/tasks/"+task+"/complete", cg, map[string]any{"result": "stalls moved"})
	s.must(200, "POST", "/v1/incidents/"+id+"/verify", st, map[string]any{"passed": true})
	// Nobody visits: two seconds later the clock closes it, unrated.
	in = s.waitStatus(id, st, incident.StatusClosed)
	last := in.Timeline[len(in.Timeline)-1]
	require.Equal(t, incident.EventClosed, last.Type)
	require.Equal(t, incident.SystemActor, last.Actor)
	s.rateAll(id, st) // after the closing

	// A second incident, not yet acknowledged: in both of its windows.
	waiting := s.report("CLK-001")
	s.waitStatus(waiting, st, incident.StatusDispatched)

	// Yesterday to tomorrow: the test may cross a local midnight.
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	today := time.Now().In(shanghai)
	res := s.must(200, "GET", "/v1/metrics/departments?from="+today.AddDate(0, 0, -1).Format(time.DateOnly)+
		"&to="+today.AddDate(0, 0, 1).Format(time.DateOnly), district, nil)
	items := res.Body["items"].([]any)
	require.Len(t, items, 1, "%s", res.Raw)
	row := items[0].(map[string]any)
	for k, want := range map[string]any{"department": "CG", "tasks": 2.0, "ack_pending": 1.0, "resolve_pending": 1.0,
		"acked_on_time": 1.0, "response_rate": 1.0, "completed_on_time": 1.0, "on_time_resolution_rate": 1.0,
		"extensions": 1.0, "unrated": 1.0, "unrated_share": 1.0, "rated_tasks": 1.0, "visits": 0.0} {
		require.Equal(t, want, row[k], "%s in %s", k, res.Raw)
	}

	s.checkMetrics()
}

// incidentOf decodes a command's answer: the incident after it.
func incidentOf(t *testing.T, res response) incident.Incident {
	t.Helper()
	var in incident.Incident
	require.NoError(t, json.Unmarshal(res.Raw, &in))
	return in
}
