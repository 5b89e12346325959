package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
)

const (
	grid   = "FH-01-01"
	street = "FH"
)

// itemOfTier returns the code of the first catalogue item of the tier.
func (s *stack) itemOfTier(tier incident.Tier) string {
	s.t.Helper()
	res := s.must(200, "GET", "/v1/catalogue", token(s.t, incident.RoleGridWorker, grid), nil)
	for _, it := range res.Body["items"].([]any) {
		m := it.(map[string]any)
		if m["tier"] == string(tier) {
			return m["code"].(string)
		}
	}
	s.t.Fatalf("no %s-tier item in the catalogue", tier)
	return ""
}

func (s *stack) report(category string, hdr ...string) string {
	s.t.Helper()
	res := s.must(202, "POST", "/v1/reports", token(s.t, incident.RoleGridWorker, grid), report(category, grid), hdr...)
	id, _ := res.Body["incident_id"].(string)
	require.NotEmpty(s.t, id)
	return id
}

func TestLoop(t *testing.T) {
	s := newStack(t)
	gw := token(t, incident.RoleGridWorker, grid)
	st := token(t, incident.RoleStreet, street)
	cg := token(t, incident.RoleDepartment, "CG")
	scjg := token(t, incident.RoleDepartment, "SCJG")
	zj := token(t, incident.RoleDepartment, "ZJ")
	district := token(t, incident.RoleDistrict, "DA")

	t.Run("department tier with return, reassignment, failed verification and unsatisfied feedback", func(t *testing.T) {
		id := s.report("SR-001")
		// Right after the 202 the incident exists.
		first := s.incident(id, gw)
		require.Contains(t, []incident.Status{incident.StatusReceived, incident.StatusDispatched}, first.Status)

		in := s.waitStatus(id, st, incident.StatusDispatched)
		require.Len(t, in.Tasks, 2)
		t1, t2 := in.Tasks[0], in.Tasks[1]
		require.Equal(t, "CG", t1.Department)
		require.Equal(t, incident.TaskLead, t1.Role)
		require.Equal(t, "SCJG", t2.Department)
		require.True(t, t1.AckDue.After(in.ReportedAt))
		require.True(t, t1.ResolveDue.After(t1.AckDue))
		require.False(t, in.Overdue)

		// A department acting on another department's task changes nothing:
		// one with a task of its own on the incident is refused (403), a
		// stranger learns nothing of it (404, as its GET answers).
		res := s.must(403, "POST", "/v1/tasks/"+t1.ID+"/ack", scjg, map[string]any{})
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		s.must(404, "POST", "/v1/tasks/"+t1.ID+"/ack", zj, map[string]any{})
		s.must(404, "GET", "/v1/incidents/"+id, zj, nil)
		s.must(409, "POST", "/v1/tasks/"+t1.ID+"/complete", cg, map[string]any{"result": "done"})
		require.Equal(t, in.Version, s.incident(id, st).Version)

		s.must(200, "POST", "/v1/tasks/"+t1.ID+"/ack", cg, map[string]any{"note": "on our way"})
		s.must(200, "POST", "/v1/tasks/"+t2.ID+"/return", scjg, map[string]any{"reason": "no licence issue here: housing matter"})
		s.must(403, "POST", "/v1/tasks/"+t2.ID+"/reassign", cg, map[string]any{"department": "ZJ"})
		s.must(422, "POST", "/v1/tasks/"+t2.ID+"/reassign", st, map[string]any{"department": "NOPE"})
		re := s.must(200, "POST", "/v1/tasks/"+t2.ID+"/reassign", st, map[string]any{"department": "ZJ"})
		var after incident.Incident
		require.NoError(t, json.Unmarshal(re.Raw, &after))
		require.Len(t, after.Tasks, 3)
		t3 := after.Tasks[2]
		require.Equal(t, "ZJ", t3.Department)

		// The department inbox shows the new task.
		inbox := s.must(200, "GET", "/v1/departments/ZJ/tasks", zj, nil)
		require.Contains(t, string(inbox.Raw), t3.ID)
		s.must(403, "GET", "/v1/departments/ZJ/tasks", cg, nil)

		s.must(200, "POST", "/v1/tasks/"+t3.ID+"/ack", zj, map[string]any{})
		s.must(200, "POST", "/v1/tasks/"+t1.ID+"/complete", cg, map[string]any{"result": "stalls removed"})
		done := s.must(200, "POST", "/v1/tasks/"+t3.ID+"/complete", zj, map[string]any{"result": "awning fixed"})
		require.Equal(t, "verifying", done.Body["status"])

		s.must(200, "POST", "/v1/incidents/"+id+"/verify", gw, map[string]any{"passed": false, "note": "stalls are back"})
		in = s.incident(id, st)
		require.Equal(t, incident.StatusDispatched, in.Status)
		require.Equal(t, incident.TaskAcknowledged, in.Task(t1.ID).Status)
		s.must(200, "POST", "/v1/tasks/"+t1.ID+"/complete", cg, map[string]any{"result": "removed, patrol set"})
		s.must(200, "POST", "/v1/tasks/"+t3.ID+"/complete", zj, map[string]any{"result": "checked again"})
		s.must(200, "POST", "/v1/incidents/"+id+"/verify", gw, map[string]any{"passed": true})

		s.must(422, "POST", "/v1/incidents/"+id+"/feedback", st, map[string]any{"resolved": true, "rating": "great"})
		fb := s.must(200, "POST", "/v1/incidents/"+id+"/feedback", st, map[string]any{"resolved": false, "rating": "unsatisfied", "comment": "still noisy"})
		require.Equal(t, "dispatched", fb.Body["status"])
		in = s.incident(id, st)
		require.Equal(t, 1, in.ReopenCount)
		var round2 []*incident.Task
		for _, tk := range in.Tasks {
			if tk.Round == 2 {
				round2 = append(round2, tk)
			}
		}
		require.Len(t, round2, 2)
		for _, tk := range round2 {
			tok := map[string]string{"CG": cg, "ZJ": zj}[tk.Department]
			require.NotEmpty(t, tok, tk.Department)
			s.must(200, "POST", "/v1/tasks/"+tk.ID+"/ack", tok, map[string]any{})
			s.must(200, "POST", "/v1/tasks/"+tk.ID+"/complete", tok, map[string]any{"result": "again"})
		}
		s.must(200, "POST", "/v1/incidents/"+id+"/verify", st, map[string]any{"passed": true})
		s.must(200, "POST", "/v1/incidents/"+id+"/feedback", st, map[string]any{"resolved": true, "rating": "satisfied"})
		in = s.waitStatus(id, district, incident.StatusClosed)
		require.NotNil(t, in.ClosedAt)
		s.rateAll(id, st)
		s.waitWorkflowDone(id)
		s.recordHistory(id, "v2-department-tier-full-loop")

		// The finished incident takes no more commands.
		s.must(409, "POST", "/v1/incidents/"+id+"/verify", st, map[string]any{"passed": true})

		// Events: every timeline entry on whistle.events.*, tasks on whistle.tasks.<dept>.
		all := 0
		for _, e := range in.Timeline {
			if len(s.waitEvents("whistle.events."+e.Type, id, 1)) > 0 {
				all++
			}
		}
		require.Equal(t, len(in.Timeline), all)
		// whistle.tasks.<dept> carries every entry about the department's tasks.
		created := 0
		for _, e := range s.waitEvents("whistle.tasks.ZJ", id, 2) {
			if e["type"] == incident.EventTaskCreated {
				created++
			}
		}
		require.Equal(t, 2, created, "ZJ's tasks: the reassigned one and its reopened successor")
		require.GreaterOrEqual(t, len(s.waitEvents("whistle.tasks.CG", id, 2)), 2)

		// Lists and filters.
		list := s.must(200, "GET", "/v1/incidents?status=closed&department=ZJ", district, nil)
		require.Contains(t, string(list.Raw), id)
		list = s.must(200, "GET", "/v1/incidents?status=dispatched", district, nil)
		require.NotContains(t, string(list.Raw), id)

		// The 三率 include the case.
		m := s.must(200, "GET", "/v1/metrics/departments", district, nil)
		require.Contains(t, string(m.Raw), `"CG"`)
		ms := s.must(200, "GET", "/v1/metrics/streets", st, nil)
		require.Contains(t, string(ms.Raw), `"FH"`)
	})

	t.Run("community tier resolved by the grid", func(t *testing.T) {
		id := s.report(s.itemOfTier(incident.TierCommunity))
		s.waitStatus(id, gw, incident.StatusCommunity)
		s.must(403, "POST", "/v1/incidents/"+id+"/whistle", gw, map[string]any{"note": "x"})
		s.must(200, "POST", "/v1/incidents/"+id+"/resolve", gw, map[string]any{"note": "talked to both neighbours"})
		s.must(200, "POST", "/v1/incidents/"+id+"/feedback", st, map[string]any{"resolved": true, "rating": "basically_satisfied"})
		in := s.waitStatus(id, gw, incident.StatusClosed)
		require.Empty(t, in.Tasks)
		s.waitWorkflowDone(id)
		s.recordHistory(id, "v2-community-tier-resolved")
	})

	t.Run("community tier escalated to the street, whistled", func(t *testing.T) {
		id := s.report(s.itemOfTier(incident.TierCommunity))
		s.waitStatus(id, gw, incident.StatusCommunity)
		s.must(200, "POST", "/v1/incidents/"+id+"/escalate", gw, map[string]any{"note": "needs the street"})
		s.must(200, "POST", "/v1/incidents/"+id+"/whistle", st, map[string]any{"departments": []string{"CG"}, "note": "please"})
		in := s.waitStatus(id, st, incident.StatusDispatched)
		require.Len(t, in.Tasks, 1)
	})

	t.Run("street tier triaged and resolved by the street", func(t *testing.T) {
		id := s.report(s.itemOfTier(incident.TierStreet))
		s.waitStatus(id, st, incident.StatusTriage)
		s.must(403, "POST", "/v1/incidents/"+id+"/resolve", gw, map[string]any{"note": "x"})
		s.must(200, "POST", "/v1/incidents/"+id+"/resolve", st, map[string]any{"note": "street team handled it"})
		s.must(200, "POST", "/v1/incidents/"+id+"/feedback", st, map[string]any{"resolved": true, "rating": "satisfied"})
		s.waitStatus(id, st, incident.StatusClosed)
	})

	t.Run("the same report twice makes one incident", func(t *testing.T) {
		a := s.report("SR-001", "Idempotency-Key", "phone-42-report-7")
		b := s.report("SR-001", "Idempotency-Key", "phone-42-report-7")
		require.Equal(t, a, b)
		in := s.waitStatus(a, st, incident.StatusDispatched)
		require.Len(t, in.Tasks, 2)
		require.Equal(t, 1, strings.Count(string(s.must(200, "GET", "/v1/incidents?status=dispatched&limit=200", district, nil).Raw), `"id":"`+a+`"`))
	})

	t.Run("a worker stopped mid-incident carries on when started again", func(t *testing.T) {
		id := s.report("SR-001")
		in := s.waitStatus(id, st, incident.StatusDispatched)
		s.stopWorker()
		// With no worker the command cannot be applied; the API says so and nothing changes.
		res := s.do("POST", "/v1/tasks/"+in.Tasks[0].ID+"/ack", cg, map[string]any{})
		require.NotEqual(t, 200, res.Status)
		s.startWorker()
		s.waitFor(id, st, "ack after restart", func(in incident.Incident) bool {
			if in.Tasks[0].Status == incident.TaskAcknowledged {
				return true
			}
			s.do("POST", "/v1/tasks/"+in.Tasks[0].ID+"/ack", cg, map[string]any{})
			return false
		})
		in = s.incident(id, st)
		acks := 0
		for _, e := range in.Timeline {
			if e.Type == incident.EventAcknowledged {
				acks++
			}
		}
		require.Equal(t, 1, acks)
		require.Len(t, in.Tasks, 2)
	})

	t.Run("one trace from the HTTP request to the SQL", func(t *testing.T) {
		id := s.report("SR-001")
		s.waitStatus(id, st, incident.StatusDispatched)
		// The trace that starts at the report's HTTP request must reach the
		// NATS consumer, the workflow, its activities and their SQL. The
		// read model shows "dispatched" from inside the recording activity,
		// before its span and the events' ends: the spans are read until
		// all are there or 10 s have passed.
		wants := []string{"POST /v1/reports", "send whistle.reports.FH", "process whistle.reports.FH",
			"StartWorkflow:IncidentWorkflow", "RunActivity:RecordIncident", "send whistle.events"}
		var joined string
		wait.Within(10*time.Second, func() bool {
			var root trace.TraceID
			for _, sp := range spans.Ended() {
				for _, a := range sp.Attributes() {
					if a.Key == "whistle.incident.id" && a.Value.AsString() == id {
						root = sp.SpanContext().TraceID()
					}
				}
			}
			require.True(t, root.IsValid(), "no span carries the incident id")
			var names []string
			for _, sp := range spans.Ended() {
				if sp.SpanContext().TraceID() == root {
					names = append(names, sp.Name())
				}
			}
			joined = strings.Join(names, "\n")
			for _, want := range wants {
				if !strings.Contains(joined, want) {
					return false
				}
			}
			return true
		})
		t.Logf("spans of the report's trace:\n%s", joined)
		for _, want := range wants {
			require.Contains(t, joined, want)
		}
		require.Regexp(t, "(?i)(query|exec|batch|INSERT)", joined, "no SQL span in the trace")
	})

	s.checkMetrics()
}
