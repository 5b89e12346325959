package e2e

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

// reportAt files a report of category in grid at p as that grid's worker.
func (s *stack) reportAt(category, grid string, p place) string {
	s.t.Helper()
	res := s.must(202, "POST", "/v1/reports", token(s.t, incident.RoleGridWorker, grid), reportAt(category, grid, p))
	id, _ := res.Body["incident_id"].(string)
	require.NotEmpty(s.t, id)
	return id
}

// withOriginal is GET /v1/incidents/{id} of a duplicate.
type withOriginal struct {
	incident.Incident
	Original *struct {
		ID     string          `json:"id"`
		Status incident.Status `json:"status"`
		Tasks  []struct {
			Department string              `json:"department"`
			Status     incident.TaskStatus `json:"status"`
		} `json:"tasks"`
		ClosedAt *string `json:"closed_at"`
	} `json:"original"`
}

func (s *stack) withOriginal(id, tok string) withOriginal {
	s.t.Helper()
	var v withOriginal
	require.NoError(s.t, json.Unmarshal(s.must(200, "GET", "/v1/incidents/"+id, tok, nil).Raw, &v))
	return v
}

// ids lists the ids of GET /v1/incidents?query.
func (s *stack) list(tok, query string) []string {
	s.t.Helper()
	res := s.must(200, "GET", "/v1/incidents?"+query, tok, nil)
	var page struct {
		Items []incident.Incident `json:"items"`
	}
	require.NoError(s.t, json.Unmarshal(res.Raw, &page))
	var out []string
	for _, in := range page.Items {
		out = append(out, in.ID)
	}
	slices.Sort(out)
	return out
}

// TestDuplicatesAndRepeats: a report 30 m from an open incident of the same
// item is linked to it as a duplicate (no tasks; its reporter, in another
// grid, sees the original's progress; the original's timeline shows it);
// one 60 m away, just outside the distance, is an incident of its own; one
// at the place after the original closed is a repeat (重复诉求) the street
// is told of. (The time window's edges are in the store's tests: here the
// clock is real.)
func TestDuplicatesAndRepeats(t *testing.T) {
	s := newStack(t)
	const grid2 = "FH-01-02"
	gw, gw2 := token(t, incident.RoleGridWorker, grid), token(t, incident.RoleGridWorker, grid2)
	st := token(t, incident.RoleStreet, street)
	cg, scjg := token(t, incident.RoleDepartment, "CG"), token(t, incident.RoleDepartment, "SCJG")
	// Far from the places report hands out.
	here := place{29.80, 105.10}

	// The original: street vending, whistled to CG and SCJG.
	a := s.reportAt("SR-001", grid, here)
	orig := s.waitStatus(a, st, incident.StatusDispatched)
	require.Len(t, orig.Tasks, 2)
	require.Nil(t, orig.DuplicateOf)
	require.Nil(t, orig.RepeatOf)

	// 30 m away, from the next grid: a duplicate, closed without tasks.
	b := s.reportAt("SR-001", grid2, here.north(30))
	dup := s.waitStatus(b, gw2, incident.StatusClosed)
	require.NotNil(t, dup.DuplicateOf)
	require.Equal(t, a, *dup.DuplicateOf)
	require.Empty(t, dup.Tasks)
	require.NotNil(t, dup.ClosedAt)
	require.Equal(t, []string{incident.EventReported, incident.EventDuplicate}, entryTypes(dup))
	s.must(404, "GET", "/v1/incidents/"+a, gw2, nil) // the duplicate's reporter may not read the original…
	v := s.withOriginal(b, gw2)                      // …but sees its progress
	require.NotNil(t, v.Original)
	require.Equal(t, a, v.Original.ID)
	require.Equal(t, incident.StatusDispatched, v.Original.Status)
	require.Len(t, v.Original.Tasks, 2)
	require.Equal(t, "CG", v.Original.Tasks[0].Department)
	require.Equal(t, incident.TaskPendingAck, v.Original.Tasks[0].Status)

	// The original's timeline shows the duplicate, by its reporter.
	orig = s.waitFor(a, st, "the duplicate recorded", func(in incident.Incident) bool { return in.Duplicates == 1 })
	last := orig.Timeline[len(orig.Timeline)-1]
	require.Equal(t, incident.EventDuplicateReported, last.Type)
	require.Equal(t, "grid_worker:"+grid2+":grid_worker-user", last.Actor)
	require.Contains(t, last.Note, b)
	require.Len(t, orig.Tasks, 2, "a duplicate adds no task to the original")
	require.Equal(t, []string{b}, s.list(st, "duplicate_of="+a))

	// 60 m away: just outside the distance, an incident of its own.
	c := s.reportAt("SR-001", grid, here.north(-60))
	other := s.waitStatus(c, st, incident.StatusDispatched)
	require.Nil(t, other.DuplicateOf)
	require.Nil(t, other.RepeatOf)
	require.Len(t, other.Tasks, 2)

	// The original is handled; the duplicate's reporter follows along.
	s.must(200, "POST", "/v1/tasks/"+orig.Tasks[0].ID+"/ack", cg, map[string]any{})
	v = s.withOriginal(b, gw2)
	require.Equal(t, incident.TaskAcknowledged, v.Original.Tasks[0].Status)
	s.must(200, "POST", "/v1/tasks/"+orig.Tasks[1].ID+"/ack", scjg, map[string]any{})
	s.must(200, "POST", "/v1/tasks/"+orig.Tasks[0].ID+"/complete", cg, map[string]any{"result": "stalls moved"})
	s.must(200, "POST", "/v1/tasks/"+orig.Tasks[1].ID+"/complete", scjg, map[string]any{"result": "licences checked"})
	s.must(200, "POST", "/v1/incidents/"+a+"/verify", gw, map[string]any{"passed": true})
	s.must(200, "POST", "/v1/incidents/"+a+"/feedback", st, map[string]any{"resolved": true, "rating": "satisfied"})
	v = s.withOriginal(b, gw2)
	require.Equal(t, incident.StatusClosed, v.Original.Status)
	require.NotNil(t, v.Original.ClosedAt)

	// Vendors back at the same spot after it closed: a repeat, handled as
	// usual and flagged to the street.
	d := s.reportAt("SR-001", grid, here.east(10))
	rep := s.waitStatus(d, st, incident.StatusDispatched)
	require.NotNil(t, rep.RepeatOf)
	require.Equal(t, a, *rep.RepeatOf)
	require.Nil(t, rep.DuplicateOf)
	require.Len(t, rep.Tasks, 2)
	require.Equal(t, incident.EventRepeat, rep.Timeline[1].Type)
	esc := s.waitEvents("whistle.escalations."+street, d, 1)
	require.Equal(t, incident.EventRepeat, esc[0]["type"])
	require.Equal(t, []string{d}, s.list(st, "repeat=true"))

	s.rateAll(a, st)
	s.waitWorkflowDone(a)
	s.waitWorkflowDone(b)
	s.recordHistory(a, "v2-original-with-duplicate")
	s.recordHistory(b, "v2-duplicate")

	s.checkMetrics()
}

func entryTypes(in incident.Incident) []string {
	out := make([]string, len(in.Timeline))
	for i, e := range in.Timeline {
		out[i] = e.Type
	}
	return out
}
