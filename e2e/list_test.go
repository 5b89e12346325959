package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

// TestResponsibilityList drives the rules of the responsibility list
// through the HTTP API on the shipped jurisdiction: disputes and their
// arbitration, enforcement command, routing overrides and admission
// control, each with its refusals, and checks what reaches NATS.
func TestResponsibilityList(t *testing.T) {
	s := newStack(t)
	st := token(t, incident.RoleStreet, street)
	cg := token(t, incident.RoleDepartment, "CG")
	scjg := token(t, incident.RoleDepartment, "SCJG")
	zj := token(t, incident.RoleDepartment, "ZJ")
	district := token(t, incident.RoleDistrict, "DA")

	t.Run("an enforcement item calls its teams on the short deadline", func(t *testing.T) {
		// SR-001 (占道经营, 市容环境) is an enforcement matter: CG and SCJG are teams.
		id := s.report("SR-001")
		in := s.waitStatus(id, st, incident.StatusDispatched)
		require.Len(t, in.Tasks, 2)
		for _, task := range in.Tasks {
			require.True(t, task.Enforcement, task.ID)
			require.Equal(t, 30*time.Minute, task.AckDue.Sub(task.CreatedAt), task.ID)
		}
	})

	t.Run("a return overruled, a second return refused", func(t *testing.T) {
		id := s.report("SR-001")
		in := s.waitStatus(id, st, incident.StatusDispatched)
		lead := in.Tasks[0]
		s.must(200, "POST", "/v1/tasks/"+lead.ID+"/return", cg, map[string]any{"reason": "the stall is on private land"})
		s.must(403, "POST", "/v1/tasks/"+lead.ID+"/overrule", cg, map[string]any{"note": "x"})
		s.must(403, "POST", "/v1/tasks/"+lead.ID+"/overrule", district, map[string]any{"note": "not referred yet"})
		s.must(422, "POST", "/v1/tasks/"+lead.ID+"/overrule", st, map[string]any{"note": ""})
		res := s.must(200, "POST", "/v1/tasks/"+lead.ID+"/overrule", st, map[string]any{"note": "the pavement is public: SR-001 is CG's"})
		var after incident.Incident
		require.NoError(t, json.Unmarshal(res.Raw, &after))
		task := after.Task(lead.ID)
		require.Equal(t, incident.TaskPendingAck, task.Status)
		require.Equal(t, incident.DisputeOverruled, task.Dispute.Decision)
		require.True(t, task.AckDue.Equal(lead.AckDue), "the deadline it had")

		second := s.must(409, "POST", "/v1/tasks/"+lead.ID+"/return", cg, map[string]any{"reason": "still not ours"})
		require.Contains(t, second.Body["detail"], "the department must handle it")
		require.Equal(t, string(incident.TaskPendingAck), second.Body["current_status"])

		// CG hears both on its task subject.
		var types []string
		for _, e := range s.waitEvents("whistle.tasks.CG", id, 3) {
			types = append(types, e["type"].(string))
		}
		require.Equal(t, []string{incident.EventTaskCreated, incident.EventReturned, incident.EventOverruled}, types[:3])
	})

	t.Run("a dispute referred to the district", func(t *testing.T) {
		id := s.report("SR-001")
		in := s.waitStatus(id, st, incident.StatusDispatched)
		coop := in.Tasks[1]
		s.must(200, "POST", "/v1/tasks/"+coop.ID+"/return", scjg, map[string]any{"reason": "no trading licence involved"})
		s.must(200, "POST", "/v1/tasks/"+coop.ID+"/refer", st, map[string]any{"note": "SCJG and CG disagree on the licence"})
		ref := s.waitEvents("whistle.escalations."+street, id, 1)
		require.Equal(t, incident.EventDisputeReferred, ref[len(ref)-1]["type"])
		s.must(403, "POST", "/v1/tasks/"+coop.ID+"/reassign", st, map[string]any{"department": "ZJ"})
		res := s.must(200, "POST", "/v1/tasks/"+coop.ID+"/reassign", district, map[string]any{"department": "ZJ", "note": "a building matter"})
		var after incident.Incident
		require.NoError(t, json.Unmarshal(res.Raw, &after))
		require.Len(t, after.Tasks, 3)
		require.Equal(t, "ZJ", after.Tasks[2].Department)
		require.Equal(t, incident.DisputeReassigned, after.Task(coop.ID).Dispute.Decision)
	})

	t.Run("joint handling: the cooperating result reaches the lead", func(t *testing.T) {
		id := s.report("SR-001")
		in := s.waitStatus(id, st, incident.StatusDispatched)
		lead, coop := in.Tasks[0], in.Tasks[1]
		s.must(200, "POST", "/v1/tasks/"+lead.ID+"/ack", cg, nil)
		s.must(200, "POST", "/v1/tasks/"+coop.ID+"/ack", scjg, nil)
		res := s.must(200, "POST", "/v1/tasks/"+coop.ID+"/complete", scjg, map[string]any{"result": "licences checked"})
		require.Equal(t, "dispatched", res.Body["status"], "the incident waits for the lead")
		in = s.incident(id, st)
		require.Len(t, in.Task(lead.ID).Contributions, 1)
		require.Equal(t, "SCJG", in.Task(lead.ID).Contributions[0].Department)
		res = s.must(200, "POST", "/v1/tasks/"+lead.ID+"/complete", cg, map[string]any{"result": "stalls moved"})
		require.Equal(t, "verifying", res.Body["status"])
	})

	t.Run("a routing override needs a reason and is recorded", func(t *testing.T) {
		id := s.report("SR-004") // street tier, lead CG
		s.waitStatus(id, st, incident.StatusTriage)
		res := s.must(422, "POST", "/v1/incidents/"+id+"/whistle", st, map[string]any{"departments": []string{"ZJ"}})
		require.Contains(t, string(res.Raw), "body.note")
		s.must(422, "POST", "/v1/incidents/"+id+"/whistle", st, map[string]any{"departments": []string{"ZJ"}, "enforcement": true, "note": "x"})
		s.must(200, "POST", "/v1/incidents/"+id+"/whistle", st, map[string]any{"departments": []string{"ZJ"}, "note": "the awning belongs to a building site"})
		ev := s.waitEvents("whistle.events."+incident.EventRoutingOverride, id, 1)
		require.Contains(t, ev[0]["note"], "CG → ZJ: the awning")
		// ZJ's task is an ordinary one; the street may still call CG's team.
		in := s.incident(id, st)
		require.False(t, in.Tasks[0].Enforcement)
		s.must(200, "POST", "/v1/incidents/"+id+"/whistle", st, map[string]any{"enforcement": true, "note": "clear the stall"})
		in = s.incident(id, st)
		require.Len(t, in.Tasks, 2)
		require.True(t, in.Tasks[1].Enforcement)
		require.Equal(t, "CG", in.Tasks[1].Department)
		s.must(200, "POST", "/v1/tasks/"+in.Tasks[0].ID+"/ack", zj, nil)
	})

	t.Run("admission control: delegations", func(t *testing.T) {
		// SR-004 is street tier: the street is responsible, CG may hand it down.
		body := map[string]any{"item": "SR-004", "street": street, "note": "awning over the pavement at 凤凰路 3 号, from a 12345 call"}
		res := s.must(201, "POST", "/v1/delegations", cg, body, "Idempotency-Key", "call-77")
		require.Equal(t, true, res.Body["accepted"])
		incID := res.Body["incident_id"].(string)
		again := s.must(201, "POST", "/v1/delegations", cg, body, "Idempotency-Key", "call-77")
		require.Equal(t, res.Body["id"], again.Body["id"], "a retry creates nothing")
		in := s.waitStatus(incID, st, incident.StatusTriage)
		require.Equal(t, res.Body["id"], in.Delegation)
		require.Equal(t, "department:CG:department-user", in.Timeline[0].Actor)
		s.must(200, "GET", "/v1/incidents/"+incID, cg, nil) // CG follows what it handed down
		s.must(404, "GET", "/v1/incidents/"+incID, zj, nil)

		// SR-001 is department tier: the list makes CG responsible.
		no := s.must(422, "POST", "/v1/delegations", cg, map[string]any{"item": "SR-001", "street": street, "note": "vendors"})
		require.Contains(t, string(no.Raw), "department-tier")
		s.must(422, "POST", "/v1/delegations", cg, map[string]any{"item": "SR-004", "street": "NOPE", "note": "x"})
		s.must(403, "POST", "/v1/delegations", st, body)

		// Every attempt is there for the district; each side sees its own.
		list := s.must(200, "GET", "/v1/delegations?department=CG", district, nil)
		items := list.Body["items"].([]any)
		require.Len(t, items, 3)
		require.Equal(t, false, items[0].(map[string]any)["accepted"])
		require.Contains(t, items[1].(map[string]any)["reason"], "department-tier")
		require.Equal(t, true, items[2].(map[string]any)["accepted"])
		refused := s.must(200, "GET", "/v1/delegations?accepted=false", district, nil)
		require.Len(t, refused.Body["items"].([]any), 2)
		s.must(403, "GET", "/v1/delegations?department=CG", zj, nil)
		require.Empty(t, s.must(200, "GET", "/v1/delegations", zj, nil).Body["items"])
		require.Len(t, s.must(200, "GET", "/v1/delegations", st, nil).Body["items"].([]any), 2, "the two towards FH")
	})

	s.checkMetrics()
}
