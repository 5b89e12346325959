package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/whatif"
)

// TestWhatifThroughTheAPI asks the district's question through /v1: a
// department acknowledged late under an acknowledgement deadline cut to a
// second; the replay runs as a job whose progress and answer any caller of
// the district reads, and nobody else; a file that is not a jurisdiction is
// refused with its problem.
func TestWhatifThroughTheAPI(t *testing.T) {
	s := newStack(t)
	st := token(t, incident.RoleStreet, street)
	cg := token(t, incident.RoleDepartment, "CG")
	district := token(t, incident.RoleDistrict, "DA")

	id := s.report("SR-001")
	in := s.waitStatus(id, st, incident.StatusDispatched)
	task := in.Tasks[0].ID
	// Acknowledged within the hour, but after a second.
	require.True(t, wait.Within(10*time.Second, func() bool { return time.Since(in.Tasks[0].CreatedAt) > 1500*time.Millisecond }))
	s.must(200, "POST", "/v1/tasks/"+task+"/ack", cg, map[string]any{})

	month := time.Now().In(shanghai(t)).Format("2006-01")
	text := string(jurisdiction.DefaultYAML())
	proposed := regexp.MustCompile(`ack: (1h|30m)\b`).ReplaceAllString(text, "ack: 1s")
	body := map[string]any{"month": month, "rules": proposed}

	for _, who := range []string{st, cg, token(t, incident.RoleGridWorker, grid)} {
		s.must(403, "POST", "/v1/whatif", who, body)
	}
	s.must(422, "POST", "/v1/whatif", district, map[string]any{"month": month, "rules": strings.Replace(text, "ack: 1h", "ack: soon", 1)})
	s.must(422, "POST", "/v1/whatif", district, map[string]any{"month": "2999-01", "rules": proposed})
	s.must(404, "GET", "/v1/whatif/nothing", district, nil)

	res := s.must(202, "POST", "/v1/whatif", district, body)
	require.Equal(t, whatif.JobQueued, res.Body["status"])
	job, _ := res.Body["id"].(string)
	var j whatif.Job
	require.True(t, wait.Within(time.Minute, func() bool {
		r := s.must(200, "GET", "/v1/whatif/"+job, token(t, incident.RoleAdmin, "DA"), nil)
		b, err := json.Marshal(r.Body)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &j))
		return j.Status == whatif.JobDone || j.Status == whatif.JobFailed
	}), "the replay did not finish: %+v", j)
	require.Equal(t, whatif.JobDone, j.Status, j.Error)
	a := j.Answer
	require.NotNil(t, a)
	require.Equal(t, month, a.Month)
	require.True(t, a.Identity.Holds, "%v", a.Identity.Differences)
	require.Equal(t, a.Incidents, j.Progress.Done)
	require.Positive(t, a.Changes.FlipsByKind["ack: on_time → late"], "%+v", a.Changes)
	var flipped bool
	for _, f := range a.Changes.Flips {
		flipped = flipped || f.Task == task && f.What == "ack"
	}
	require.True(t, flipped, "task %s is not among the flips %+v", task, a.Changes.Flips)
	s.must(403, "GET", "/v1/whatif/"+job, st, nil)

	list := s.must(200, "GET", "/v1/whatif", district, nil)
	items, _ := list.Body["items"].([]any)
	require.Len(t, items, 1)
	require.NotContains(t, items[0], "answer")
	s.checkMetrics()
}

func shanghai(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	return loc
}
