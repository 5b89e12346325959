package e2e

import (
	"context"
	"os"
	"path/filepath"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/whistle-city/whistle/incident"
)

// recordHistory writes the workflow history of a finished incident to
// $WHISTLE_RECORD_HISTORY/<name>.json (names start with the workflow's
// latest version: v0 before the escalation ladder, v1 with it, v2 with the
// rating window), in the format the Temporal CLI
// exports and the SDK's replayer reads, for workflows/testdata. It does
// nothing when the variable is unset.
//
//	WHISTLE_RECORD_HISTORY=$PWD/workflows/testdata go test ./e2e -run TestLoop
func (s *stack) recordHistory(id, name string) {
	dir := os.Getenv("WHISTLE_RECORD_HISTORY")
	if dir == "" {
		return
	}
	s.t.Helper()
	it := s.svc.Temporal.GetWorkflowHistory(context.Background(), id, "", false, 0)
	var h historypb.History
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(s.t, err)
		h.Events = append(h.Events, ev)
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&h)
	require.NoError(s.t, err)
	require.NoError(s.t, os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644))
	s.t.Logf("recorded %d events of %s to %s", len(h.Events), id, name)
}

// rateAll has the street rate every completed task of a closed incident
// (POST /v1/tasks/{id}/rate, allowed after closing): its workflow, which
// stays for the rating window, then ends at once.
func (s *stack) rateAll(id, tok string) {
	s.t.Helper()
	for _, tk := range s.incident(id, tok).Tasks {
		if tk.Status == incident.TaskCompleted {
			s.must(200, "POST", "/v1/tasks/"+tk.ID+"/rate", tok, map[string]any{"score": 80 + len(tk.Department)})
		}
	}
}

// waitWorkflowDone waits until the incident's workflow has completed.
func (s *stack) waitWorkflowDone(id string) {
	s.t.Helper()
	run := s.svc.Temporal.GetWorkflow(context.Background(), id, "")
	require.NoError(s.t, run.Get(context.Background(), nil))
}
