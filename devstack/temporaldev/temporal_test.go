package temporaldev

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/whistle-city/whistle/devstack/internal/testutil"

	"github.com/whistle-city/whistle/devstack/wait"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

const testTaskQueue = "devstack-test"

// timerWorkflow waits on a durable timer, then returns "done".
func timerWorkflow(ctx workflow.Context, d time.Duration) (string, error) {
	if err := workflow.Sleep(ctx, d); err != nil {
		return "", err
	}
	return "done", nil
}

func TestStartTemporalInMemory(t *testing.T) {
	// A taken fixed port falls back to a free one.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := Start(ctx, Options{HostPort: taken, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	}()
	if srv.HostPort() == taken {
		t.Fatalf("server claims the taken address %s", taken)
	}
	if host, _, _ := net.SplitHostPort(srv.HostPort()); host != "127.0.0.1" {
		t.Fatalf("frontend on %s, want 127.0.0.1", srv.HostPort())
	}
	if srv.Namespace() != DefaultNamespace {
		t.Fatalf("namespace %q, want %q", srv.Namespace(), DefaultNamespace)
	}

	c := dial(t, srv)
	defer c.Close()
	checkRetention(t, ctx, c, srv.Namespace(), DefaultRetention)

	w := worker.New(c, testTaskQueue, worker.Options{})
	w.RegisterWorkflow(timerWorkflow)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "in-memory", TaskQueue: testTaskQueue, EnableEagerStart: true,
	}, timerWorkflow, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil || got != "done" {
		t.Fatalf("workflow result %q, %v", got, err)
	}
}

func TestStartTemporalRestartCarriesOn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	opts := Options{DataDir: dir, Namespace: "whistle-test", Retention: 72 * time.Hour, Logger: testutil.Logger(t)}

	srv, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, srv)
	checkRetention(t, ctx, c, "whistle-test", 72*time.Hour)

	w := worker.New(c, testTaskQueue, worker.Options{})
	w.RegisterWorkflow(timerWorkflow)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "survives-restart", TaskQueue: testTaskQueue, EnableEagerStart: true,
	}, timerWorkflow, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the timer is recorded, then take everything down.
	wait.For(t, time.Minute, "timer started", func() bool {
		it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return false
			}
			if e.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
				return true
			}
		}
		return false
	})
	w.Stop()
	c.Close()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	// Restart on the same data dir with a longer retention; a new worker
	// finishes the workflow.
	opts.Retention = 96 * time.Hour
	srv2, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Stop()
	c2 := dial(t, srv2)
	defer c2.Close()
	checkRetention(t, ctx, c2, "whistle-test", 96*time.Hour)

	desc, err := c2.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("after restart, before any worker, workflow status %s, want running", st)
	}
	w2 := worker.New(c2, testTaskQueue, worker.Options{})
	w2.RegisterWorkflow(timerWorkflow)
	if err := w2.Start(); err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	var got string
	if err := c2.GetWorkflow(ctx, run.GetID(), run.GetRunID()).Get(ctx, &got); err != nil || got != "done" {
		t.Fatalf("workflow result %q, %v", got, err)
	}
}

func dial(t *testing.T, srv *Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: srv.HostPort(), Namespace: srv.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func checkRetention(t *testing.T, ctx context.Context, c client.Client, ns string, want time.Duration) {
	t.Helper()
	resp, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != want {
		t.Fatalf("namespace %s retention %s, want %s", ns, got, want)
	}
}

// Whistle's own OTEL_* settings do not steer the embedded server: with an
// exporter the server does not know (console, which Whistle's telemetry
// takes) it starts all the same, and the settings are there again after.
func TestStartTemporalIgnoresWhistlesOTelSettings(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	t.Setenv("OTEL_SERVICE_NAME", "whistle")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := Start(ctx, Options{Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatalf("start with OTEL_TRACES_EXPORTER=console: %v", err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	}()
	dial(t, srv)
	if os.Getenv("OTEL_TRACES_EXPORTER") != "console" || os.Getenv("OTEL_SERVICE_NAME") != "whistle" {
		t.Errorf("the settings were not restored: %q %q", os.Getenv("OTEL_TRACES_EXPORTER"), os.Getenv("OTEL_SERVICE_NAME"))
	}
}
