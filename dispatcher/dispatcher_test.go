package dispatcher_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"

	"github.com/whistle-city/whistle/bus"
	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/dispatcher"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/workflows"
)

// spans records every span ended in this test binary.
var spans *tracetest.SpanRecorder

// TestMain also stops the private PostgreSQL the tests may have started
// and removes its folder (devtest.Main).
func TestMain(m *testing.M) {
	spans = devtest.RecordSpans()
	devtest.Main(m)
}

// signalStop ends a stand-in workflow.
const signalStop = "stop"

// standIn takes the place of IncidentWorkflow: it waits for signalStop and
// returns a summary of its input.
func standIn(ctx workflow.Context, in workflows.Input) (string, error) {
	workflow.GetSignalChannel(ctx, signalStop).Receive(ctx, nil)
	s := fmt.Sprintf("%s %s %s %s %d %s", in.Report.IncidentID, in.Item.Code, in.Item.Tier, in.Item.Lead,
		in.MaxReopens, in.Calendar.Timezone)
	if l := in.Report.DuplicateOf; l != nil {
		s += " duplicate_of=" + *l
	}
	if l := in.Report.RepeatOf; l != nil {
		s += " repeat_of=" + *l
	}
	return s, nil
}

// env is a dispatcher running against embedded NATS and Temporal.
type env struct {
	bus      *bus.Bus
	temporal client.Client
	ns       string
	// jur is what the dispatcher's Jurisdiction returns; asked counts calls.
	jur   atomic.Pointer[jurisdiction.Jurisdiction]
	asked atomic.Int32
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with a dispatcher that links reports with near.
func newEnvWith(t *testing.T, near dispatcher.NearFinder) *env {
	t.Helper()
	ti, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts := temporaltest.NewServer(temporaltest.WithT(t),
		temporaltest.WithBaseClientOptions(client.Options{Interceptors: []interceptor.ClientInterceptor{ti}}),
		temporaltest.WithBaseWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{ti}}))
	ts.NewWorker(workflows.TaskQueue, func(r worker.Registry) {
		r.RegisterWorkflowWithOptions(standIn, workflow.RegisterOptions{Name: workflows.IncidentWorkflowName})
	})

	ctx := context.Background()
	b, err := bus.Connect(ctx, devtest.NATS(t), "dispatcher-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if err := b.EnsureStreams(ctx); err != nil {
		t.Fatal(err)
	}

	e := &env{bus: b, temporal: ts.GetDefaultClient(), ns: ts.GetDefaultNamespace()}
	e.jur.Store(jurisdiction.Default())
	d := &dispatcher.Dispatcher{Bus: b, Temporal: e.temporal, Near: near, Jurisdiction: func() *jurisdiction.Jurisdiction {
		e.asked.Add(1)
		return e.jur.Load()
	}}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return within 30s of cancel")
		}
	})
	return e
}

func (e *env) streamMsgs(t *testing.T, stream string) uint64 {
	t.Helper()
	s, err := e.bus.JetStream().Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// waitHandled waits until every report was taken off GRID_REPORTS.
func (e *env) waitHandled(t *testing.T) {
	t.Helper()
	wait.For(t, 20*time.Second, "GRID_REPORTS to be empty", func() bool {
		return e.streamMsgs(t, bus.StreamReports) == 0
	})
}

// publishRaw publishes r under its own Nats-Msg-Id, as a redelivery or a
// second client would, bypassing the stream's de-duplication.
func (e *env) publishRaw(t *testing.T, r incident.Report, msgID string) {
	t.Helper()
	m := nats.NewMsg(bus.ReportSubject(r.Street))
	m.Data, _ = json.Marshal(r)
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	if _, err := e.bus.JetStream().PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func (e *env) describe(t *testing.T, id string) (runID string, status enumspb.WorkflowExecutionStatus) {
	t.Helper()
	resp, err := e.temporal.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	info := resp.GetWorkflowExecutionInfo()
	return info.GetExecution().GetRunId(), info.GetStatus()
}

func (e *env) deadLetter(t *testing.T, msgID string) *jetstream.RawStreamMsg {
	t.Helper()
	s, err := e.bus.JetStream().Stream(context.Background(), bus.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	var found *jetstream.RawStreamMsg
	wait.For(t, 20*time.Second, "a dead letter for "+msgID, func() bool {
		info, err := s.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
			m, err := s.GetMsg(context.Background(), seq)
			if err == nil && strings.Contains(string(m.Data), msgID) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

func report(id, category string) incident.Report {
	return incident.Report{
		IncidentID: id, Category: category, Street: "FH", Community: "FH-01", Grid: "FH-01-01",
		Description: "占道经营，堵塞消防通道", ReportedAt: time.Now().UTC().Truncate(time.Second), Reporter: "w1",
	}
}

func TestDispatcher(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	t.Run("one workflow per incident", func(t *testing.T) {
		r := report("inc-once", "SR-001")
		for range 2 { // the API retrying: de-duplicated by Nats-Msg-Id
			if err := e.bus.PublishReport(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		e.waitHandled(t)
		runID, status := e.describe(t, r.IncidentID)
		if status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			t.Fatalf("status %s, want running", status)
		}

		// Delivered again while the workflow runs: UseExisting.
		e.publishRaw(t, r, "redelivery-1")
		e.waitHandled(t)
		if again, _ := e.describe(t, r.IncidentID); again != runID {
			t.Fatalf("a second run %s was started next to %s", again, runID)
		}

		// Finish the workflow; delivered again after it closed: RejectDuplicate.
		if err := e.temporal.SignalWorkflow(ctx, r.IncidentID, "", signalStop, nil); err != nil {
			t.Fatal(err)
		}
		var summary string
		if err := e.temporal.GetWorkflow(ctx, r.IncidentID, runID).Get(ctx, &summary); err != nil {
			t.Fatal(err)
		}
		if want := "inc-once SR-001 department CG 2 Asia/Shanghai"; summary != want {
			t.Errorf("workflow input summary %q, want %q", summary, want)
		}
		e.publishRaw(t, r, "redelivery-2")
		e.waitHandled(t)
		again, status := e.describe(t, r.IncidentID)
		if again != runID || status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			t.Fatalf("after a closed run was redelivered: run %s status %s; want %s completed", again, status, runID)
		}
		if n := e.streamMsgs(t, bus.StreamDeadLetter); n != 0 {
			t.Fatalf("%d dead letters; duplicates must be acknowledged, not dead-lettered", n)
		}

		// Visibility lists exactly one execution with that id.
		var execs int
		wait.For(t, 10*time.Second, "the execution in visibility", func() bool {
			resp, err := e.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: e.ns, Query: "WorkflowId = '" + r.IncidentID + "'"})
			if err != nil {
				t.Fatal(err)
			}
			execs = len(resp.GetExecutions())
			return execs > 0
		})
		if execs != 1 {
			t.Fatalf("%d executions with id %s, want 1", execs, r.IncidentID)
		}
	})

	t.Run("trace continues into the workflow", func(t *testing.T) {
		ctx, span := otel.Tracer("test").Start(ctx, "POST /v1/reports")
		r := report("inc-traced", "SR-003")
		if err := e.bus.PublishReport(ctx, r); err != nil {
			t.Fatal(err)
		}
		span.End()
		e.waitHandled(t)
		traceID := span.SpanContext().TraceID()
		wait.For(t, 10*time.Second, "a StartWorkflow span in the report's trace", func() bool {
			for _, s := range spans.Ended() {
				if s.Name() == "StartWorkflow:"+workflows.IncidentWorkflowName && s.SpanContext().TraceID() == traceID {
					return true
				}
			}
			return false
		})
		if err := e.temporal.SignalWorkflow(ctx, r.IncidentID, "", signalStop, nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("unknown category is dead-lettered", func(t *testing.T) {
		r := report("inc-unknown", "XX-999")
		if err := e.bus.PublishReport(ctx, r); err != nil {
			t.Fatal(err)
		}
		m := e.deadLetter(t, r.IncidentID)
		if m.Subject != "whistle.deadletter.reports" || m.Header.Get(bus.HeaderPermanent) != "true" ||
			m.Header.Get(bus.HeaderDeliveries) != "1" || !strings.Contains(m.Header.Get(bus.HeaderError), "unknown category") ||
			m.Header.Get(bus.HeaderOriginalSubject) != "whistle.reports.FH" {
			t.Errorf("dead letter on %s with headers %v", m.Subject, m.Header)
		}
		e.waitHandled(t)
		_, err := e.temporal.DescribeWorkflowExecution(ctx, r.IncidentID, "")
		var nf *serviceerror.NotFound
		if !errors.As(err, &nf) {
			t.Errorf("describe workflow of an unknown category: %v, want NotFound", err)
		}
	})

	t.Run("bad JSON is dead-lettered", func(t *testing.T) {
		m := nats.NewMsg(bus.ReportSubject("FH"))
		m.Data = []byte(`{"incident_id": "inc-garbled", `)
		if _, err := e.bus.JetStream().PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
		dl := e.deadLetter(t, "inc-garbled")
		if !strings.Contains(dl.Header.Get(bus.HeaderError), "bad report") || dl.Header.Get(bus.HeaderDeliveries) != "1" {
			t.Errorf("dead letter headers %v", dl.Header)
		}
		e.waitHandled(t)
	})

	t.Run("a failed start is redelivered and started once", func(t *testing.T) {
		j := e.jur.Swap(nil) // as if no jurisdiction were loaded yet
		before := e.asked.Load()
		r := report("inc-late", "SR-002")
		if err := e.bus.PublishReport(ctx, r); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 10*time.Second, "the first delivery", func() bool { return e.asked.Load() > before })
		e.jur.Store(j)
		e.waitHandled(t) // redelivered after dispatcher.DefaultBackoff[0]
		if _, status := e.describe(t, r.IncidentID); status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			t.Fatalf("status %s, want running", status)
		}
		if n := e.streamMsgs(t, bus.StreamDeadLetter); n != 2 { // the two of the subtests above
			t.Fatalf("%d dead letters, want 2", n)
		}
		if err := e.temporal.SignalWorkflow(ctx, r.IncidentID, "", signalStop, nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("temporal unavailable is retried, not dead-lettered", func(t *testing.T) {
		// A real client pointed at a port nobody listens on.
		down, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Namespace: e.ns})
		if err != nil {
			t.Fatal(err)
		}
		defer down.Close()
		j := jurisdiction.Default()
		d := &dispatcher.Dispatcher{Bus: e.bus, Temporal: down, Jurisdiction: func() *jurisdiction.Jurisdiction { return j }}
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		err = d.Start(sctx, report("inc-down", "SR-001"))
		if err == nil || bus.IsPermanent(err) {
			t.Errorf("Start with Temporal down = %v; want a plain (retryable) error", err)
		}
	})

	t.Run("a report of an item retired since it was accepted still starts", func(t *testing.T) {
		j := jurisdiction.Default().WithoutItem("SR-001") // retired: no longer in the list in force
		last, _ := jurisdiction.Default().Item("SR-001")
		last.Lead, last.Cooperating, last.Version = "ZJ", nil, 3
		r := report("inc-retired", "SR-001")

		without := &dispatcher.Dispatcher{Bus: e.bus, Temporal: e.temporal, Jurisdiction: func() *jurisdiction.Jurisdiction { return j }}
		if err := without.Start(ctx, r); !errors.Is(err, dispatcher.ErrUnknownCategory) {
			t.Fatalf("Start from the list in force alone = %v, want ErrUnknownCategory", err)
		}
		d := &dispatcher.Dispatcher{Bus: e.bus, Temporal: e.temporal, Jurisdiction: func() *jurisdiction.Jurisdiction { return j },
			Item: func(code string) (jurisdiction.Item, bool) { return last, code == "SR-001" }}
		if err := d.Start(ctx, r); err != nil {
			t.Fatalf("Start with retired items looked up: %v", err)
		}
		if err := e.temporal.SignalWorkflow(ctx, r.IncidentID, "", signalStop, nil); err != nil {
			t.Fatal(err)
		}
		var summary string
		if err := e.temporal.GetWorkflow(ctx, r.IncidentID, "").Get(ctx, &summary); err != nil {
			t.Fatal(err)
		}
		if want := "inc-retired SR-001 department ZJ 2 Asia/Shanghai"; summary != want {
			t.Errorf("workflow input summary %q, want %q (the retired item's last content)", summary, want)
		}
	})

	t.Run("no jurisdiction is retried, not dead-lettered", func(t *testing.T) {
		d := &dispatcher.Dispatcher{Bus: e.bus, Temporal: e.temporal, Jurisdiction: func() *jurisdiction.Jurisdiction { return nil }}
		err := d.Start(ctx, report("inc-nojur", "SR-001"))
		if !errors.Is(err, dispatcher.ErrNoJurisdiction) || bus.IsPermanent(err) {
			t.Errorf("Start without a jurisdiction = %v; want ErrNoJurisdiction, not permanent", err)
		}
	})
}
