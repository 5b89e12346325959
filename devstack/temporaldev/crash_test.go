package temporaldev

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/whistle-city/whistle/devstack/internal/testutil"
	"github.com/whistle-city/whistle/devstack/wait"
)

// TestTemporalCarriesOnAfterCrash runs part of itself in a child process
// (this test binary again) that exits abruptly, as a killed `whistle dev` would.
func TestTemporalCarriesOnAfterCrash(t *testing.T) {
	dir := t.TempDir()
	wfID := testutil.RunHelper(t, "TestHelperTemporalCrash", dir)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := Start(ctx, Options{DataDir: dir, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c := dial(t, srv)
	defer c.Close()
	w := worker.New(c, testTaskQueue, worker.Options{})
	w.RegisterWorkflow(timerWorkflow)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got string
	if err := c.GetWorkflow(ctx, wfID, "").Get(ctx, &got); err != nil || got != "done" {
		t.Fatalf("workflow result %q, %v", got, err)
	}
}

func TestHelperTemporalCrash(t *testing.T) {
	dir := os.Getenv(testutil.HelperEnv)
	if dir == "" {
		t.Skip("runs as a child of TestTemporalCarriesOnAfterCrash")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := Start(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, srv)
	w := worker.New(c, testTaskQueue, worker.Options{})
	w.RegisterWorkflow(timerWorkflow)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "survives-crash", TaskQueue: testTaskQueue, EnableEagerStart: true,
	}, timerWorkflow, time.Second)
	if err != nil {
		t.Fatal(err)
	}
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
	fmt.Printf("READY %s\n", run.GetID())
	os.Exit(0) // no Stop: the process dies with the server running
}
