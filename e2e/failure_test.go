package e2e

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/devstack"
	"github.com/whistle-city/whistle/incident"
)

// TestPostgresBrieflyGone stops the database under a running Whistle and
// starts it again: a report refused meanwhile is refused cleanly, a command
// accepted meanwhile is kept by the workflow and reaches the read model when
// the database is back, and the incident carries on to closed.
func TestPostgresBrieflyGone(t *testing.T) {
	// A private server on a fixed port, so its URL survives the restart. Its
	// directory must be reachable by the postgres user when we run as root.
	dir, err := os.MkdirTemp("", "whistle-e2e-pg-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	opts := devstack.PostgresOptions{DataDir: dir, Port: port}
	ctx := context.Background()
	pg, err := devstack.StartPostgres(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Stop() })

	s := newStackOn(t, pg.URL())
	gw := token(t, incident.RoleGridWorker, grid)
	st := token(t, incident.RoleStreet, street)
	cg := token(t, incident.RoleDepartment, "CG")
	scjg := token(t, incident.RoleDepartment, "SCJG")

	id := s.report("SR-001")
	in := s.waitStatus(id, st, incident.StatusDispatched)
	t1, t2 := in.Tasks[0].ID, in.Tasks[1].ID

	require.NoError(t, pg.Stop())

	// A report cannot be recorded: 503, and nothing reaches the dispatcher.
	reported := len(s.eventsOn("whistle.events.reported"))
	res := s.do("POST", "/v1/reports", gw, report("SR-001", grid))
	require.Equal(t, 503, res.Status, "%s", res.Raw)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))

	// A command is applied by the workflow, which cannot project it yet:
	// the API says it may still take effect.
	res = s.do("POST", "/v1/tasks/"+t1+"/ack", cg, map[string]any{"note": "while the database is down"})
	require.Equal(t, 503, res.Status, "%s", res.Raw)

	pg, err = devstack.StartPostgres(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Stop() })

	// The read model catches up by itself.
	s.waitFor(id, st, "the ack made while the database was down", func(in incident.Incident) bool {
		return in.Task(t1).Status == incident.TaskAcknowledged
	})
	s.must(200, "POST", "/v1/tasks/"+t2+"/ack", scjg, map[string]any{})
	s.must(200, "POST", "/v1/tasks/"+t1+"/complete", cg, map[string]any{"result": "done"})
	s.must(200, "POST", "/v1/tasks/"+t2+"/complete", scjg, map[string]any{"result": "done"})
	s.must(200, "POST", "/v1/incidents/"+id+"/verify", st, map[string]any{"passed": true})
	s.must(200, "POST", "/v1/incidents/"+id+"/feedback", st, map[string]any{"resolved": true, "rating": "satisfied"})
	in = s.waitStatus(id, st, incident.StatusClosed)

	acks := 0
	for _, e := range in.Timeline {
		if e.Type == incident.EventAcknowledged {
			acks++
		}
	}
	require.Equal(t, 2, acks, "one ack per task, nothing doubled")
	require.Len(t, s.waitEvents("whistle.events.acknowledged", id, 2), 2)

	// The refused report left nothing behind: this stack holds one incident.
	list := s.must(200, "GET", "/v1/incidents", token(t, incident.RoleDistrict, "DA"), nil)
	require.Len(t, list.Body["items"], 1, "%s", list.Raw)
	require.Len(t, s.eventsOn("whistle.events.reported"), reported)

	s.checkMetrics()
}

// TestStrandedReportIsDispatched: the API records a report, then dies before
// publishing it. The sweeper publishes it again and the incident is
// dispatched like any other.
func TestStrandedReportIsDispatched(t *testing.T) {
	s := newStack(t)
	st := token(t, incident.RoleStreet, street)
	id := "stranded-0001"
	r := incident.Report{
		IncidentID: id, Category: "SR-001", Street: street, Community: "FH-01", Grid: grid,
		Description: "recorded, never published", ReportedAt: time.Now().UTC(), Reporter: "wang",
	}
	it, ok := s.svc.Jurisdiction.Item("SR-001")
	require.True(t, ok)
	_, created, err := s.svc.Store.CreateReceived(context.Background(), r, it.Snapshot(), "")
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, incident.StatusReceived, s.incident(id, st).Status)

	in := s.waitStatus(id, st, incident.StatusDispatched)
	require.Len(t, in.Tasks, 2)
	require.Len(t, s.waitEvents("whistle.events.reported", id, 1), 1)

	s.checkMetrics()
}
