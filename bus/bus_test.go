package bus_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/whistle-city/whistle/bus"
	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
)

// spans records every span ended in this test binary.
var spans *tracetest.SpanRecorder

func TestMain(m *testing.M) {
	spans = devtest.RecordSpans()
	os.Exit(m.Run())
}

// newBus starts an embedded NATS server and returns a connected Bus with the
// streams in place.
func newBus(t *testing.T) *bus.Bus {
	t.Helper()
	ctx := context.Background()
	b, err := bus.Connect(ctx, devtest.NATS(t), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if err := b.EnsureStreams(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

// consume runs b.Consume in the background until the test ends and returns
// a function that stops it and returns its result.
func consume(t *testing.T, b *bus.Bus, o bus.ConsumeOptions, h func(context.Context, jetstream.Msg) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Consume(ctx, o, h) }()
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(30 * time.Second):
				result = errors.New("Consume did not return within 30s of cancel")
			}
		})
		return result
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Consume: %v", err)
		}
	})
	return stop
}

func streamMsgs(t *testing.T, b *bus.Bus, stream string) uint64 {
	t.Helper()
	s, err := b.JetStream().Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func report(id string) incident.Report {
	return incident.Report{
		IncidentID: id, Category: "SR-001", Street: "FH", Community: "FH-01", Grid: "FH-01-01",
		Description: "占道经营", ReportedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), Reporter: "w1",
	}
}

// fastRetry are options that retry quickly.
func fastRetry(durable string, maxDeliver int) bus.ConsumeOptions {
	return bus.ConsumeOptions{
		Stream: bus.StreamReports, Durable: durable, FilterSubject: bus.SubjectReports + ">",
		DeadLetterName: "reports", MaxDeliver: maxDeliver, Concurrency: 2,
		Backoff: []time.Duration{10 * time.Millisecond},
	}
}

func TestHeaderCarrier(t *testing.T) {
	h := nats.Header{}
	c := bus.HeaderCarrier(h)
	c.Set("traceparent", "a")
	h["Traceparent"] = []string{"b"} // another client's spelling
	c.Set("traceparent", "c")
	if len(h) != 1 || h["traceparent"][0] != "c" {
		t.Fatalf("Set did not replace other spellings: %v", h)
	}
	h2 := nats.Header{"Traceparent": {"x"}, "BAGGAGE": {"k=v"}}
	c2 := bus.HeaderCarrier(h2)
	if got := c2.Get("traceparent"); got != "x" {
		t.Errorf("Get(traceparent) = %q, want x", got)
	}
	if got := c2.Get("baggage"); got != "k=v" {
		t.Errorf("Get(baggage) = %q, want k=v", got)
	}
	if got := c2.Get("tracestate"); got != "" {
		t.Errorf("Get(tracestate) = %q, want empty", got)
	}
	if keys := c2.Keys(); len(keys) != 2 {
		t.Errorf("Keys = %v, want 2 keys", keys)
	}
	if got := bus.HeaderCarrier(nil).Get("traceparent"); got != "" {
		t.Errorf("nil carrier Get = %q", got)
	}
}

func TestSubjects(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{bus.ReportSubject("FH"), "whistle.reports.FH"},
		{bus.ReportSubject("F.H *>"), "whistle.reports.F_H___"},
		{bus.ReportSubject(""), "whistle.reports._"},
		{bus.TaskSubject("CG"), "whistle.tasks.CG"},
		{bus.EscalationSubject("FH"), "whistle.escalations.FH"},
		{bus.EventSubject(incident.EventTaskCreated), "whistle.events.task_created"},
		{bus.DeadLetterSubject("reports"), "whistle.deadletter.reports"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestCatalogueNoticeIsNotStored checks that the catalogue's change
// notices are core NATS only: no stream takes them.
func TestCatalogueNoticeIsNotStored(t *testing.T) {
	b := newBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := b.JetStream().Publish(ctx, bus.SubjectCatalogueChanged, []byte(`{}`), jetstream.WithRetryAttempts(0))
	if !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("a JetStream publish on %s: %v, want no stream to answer", bus.SubjectCatalogueChanged, err)
	}
	// The same publish on a stream's subject is stored: the check above can fail.
	if _, err := b.JetStream().Publish(ctx, bus.EventSubject("catalogue_changed"), []byte(`{}`)); err != nil {
		t.Fatalf("publish on a stream subject: %v", err)
	}
}

func TestEnsureStreamsIdempotent(t *testing.T) {
	b := newBus(t)
	ctx := context.Background()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- b.EnsureStreams(ctx) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := b.JetStream().Stream(ctx, bus.StreamReports)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if cfg.Retention != jetstream.WorkQueuePolicy || cfg.Storage != jetstream.FileStorage || cfg.Duplicates != bus.DuplicateWindow {
		t.Errorf("GRID_REPORTS config = %+v", cfg)
	}
	s, err = b.JetStream().Stream(ctx, bus.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.CachedInfo().Config; cfg.Retention != jetstream.LimitsPolicy || cfg.MaxAge != 30*24*time.Hour || len(cfg.Subjects) != 3 {
		t.Errorf("WHISTLE_EVENTS config = %+v", cfg)
	}
	if _, err := b.JetStream().Stream(ctx, bus.StreamDeadLetter); err != nil {
		t.Fatal(err)
	}
}

func TestTraceContextRoundTrip(t *testing.T) {
	b := newBus(t)
	ctx, parent := otel.Tracer("test").Start(context.Background(), "api request")
	if err := b.PublishReport(ctx, report("inc-trace")); err != nil {
		t.Fatal(err)
	}
	parent.End()

	// Another client may spell the header canonically; it must still be found.
	other := trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5}, TraceFlags: trace.FlagsSampled}
	raw := nats.NewMsg(bus.ReportSubject("QX"))
	raw.Data, _ = json.Marshal(report("inc-canonical"))
	raw.Header.Set("Traceparent", "00-"+other.TraceID.String()+"-"+other.SpanID.String()+"-01")
	if _, err := b.JetStream().PublishMsg(context.Background(), raw); err != nil {
		t.Fatal(err)
	}

	got := make(chan trace.SpanContext, 2)
	consume(t, b, fastRetry("trace-test", 3), func(ctx context.Context, msg jetstream.Msg) error {
		got <- trace.SpanContextFromContext(ctx)
		return nil
	})
	seen := map[trace.TraceID]trace.SpanContext{}
	for range 2 {
		select {
		case sc := <-got:
			seen[sc.TraceID()] = sc
		case <-time.After(10 * time.Second):
			t.Fatal("handler not called")
		}
	}
	if _, ok := seen[parent.SpanContext().TraceID()]; !ok {
		t.Errorf("no handler ran in the publisher's trace %s: %v", parent.SpanContext().TraceID(), seen)
	}
	if _, ok := seen[other.TraceID]; !ok {
		t.Errorf("canonical Traceparent header not extracted: %v", seen)
	}

	// The consumer span is a child of the producer span.
	var send, process sdktrace.ReadOnlySpan
	wait.For(t, 5*time.Second, "consumer span ended", func() bool {
		for _, s := range spans.Ended() {
			if s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
				continue
			}
			switch s.Name() {
			case "send whistle.reports.FH":
				send = s
			case "process whistle.reports.FH":
				process = s
			}
		}
		return send != nil && process != nil
	})
	if process.Parent().SpanID() != send.SpanContext().SpanID() || process.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("process span parent %s kind %s; want parent %s (send), kind consumer",
			process.Parent().SpanID(), process.SpanKind(), send.SpanContext().SpanID())
	}
}

func TestPublishReportDeduplicates(t *testing.T) {
	b := newBus(t)
	ctx := context.Background()
	for range 2 {
		if err := b.PublishReport(ctx, report("inc-dup")); err != nil {
			t.Fatal(err)
		}
	}
	if n := streamMsgs(t, b, bus.StreamReports); n != 1 {
		t.Fatalf("GRID_REPORTS holds %d messages after publishing one incident twice, want 1", n)
	}
	if err := b.PublishReport(ctx, report("inc-other")); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, b, bus.StreamReports); n != 2 {
		t.Fatalf("GRID_REPORTS holds %d messages, want 2", n)
	}
	s, _ := b.JetStream().Stream(ctx, bus.StreamReports)
	m, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "whistle.reports.FH" || m.Header.Get(jetstream.MsgIDHeader) != "inc-dup" {
		t.Errorf("message 1: subject %s, Nats-Msg-Id %q", m.Subject, m.Header.Get(jetstream.MsgIDHeader))
	}
	var r incident.Report
	if err := json.Unmarshal(m.Data, &r); err != nil || r.IncidentID != "inc-dup" || r.Category != "SR-001" {
		t.Errorf("payload %s: %v", m.Data, err)
	}
	if err := b.PublishReport(ctx, incident.Report{}); err == nil {
		t.Error("PublishReport without an incident id succeeded")
	}
}

func TestPublishEntries(t *testing.T) {
	b := newBus(t)
	ctx, span := otel.Tracer("test").Start(context.Background(), "activity")
	defer span.End()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	in := &incident.Incident{ID: "inc-1", Street: "FH", Category: "SR-001", Status: incident.StatusDispatched}
	entries := []incident.Entry{
		{Seq: 1, At: at, Type: incident.EventReported, Actor: "grid_worker:FH-01-01:w1", Status: incident.StatusReceived},
		{Seq: 2, At: at, Type: incident.EventTaskCreated, Actor: "system", TaskID: "inc-1-t1", Department: "CG", Status: incident.StatusDispatched},
		{Seq: 3, At: at, Type: incident.EventAckOverdue, Actor: "system", TaskID: "inc-1-t1", Department: "CG", Level: 1},
		{Seq: 4, At: at, Type: incident.EventReturned, Actor: "department:CG:u", TaskID: "inc-1-t1", Department: "CG"},
		{Seq: 5, At: at, Type: incident.EventReassigned, Actor: "street:FH:s", TaskID: "inc-1-t2", Department: "ZJ", Note: "arbitrated"},
	}
	for range 2 { // a retried activity
		if err := b.PublishEntries(ctx, in, entries); err != nil {
			t.Fatal(err)
		}
	}
	s, err := b.JetStream().Stream(ctx, bus.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{
		"whistle.events.reported": 1, "whistle.events.task_created": 1, "whistle.events.ack_overdue": 1,
		"whistle.events.returned": 1, "whistle.events.reassigned": 1,
		// every entry about a department's task: created, overdue, returned
		"whistle.tasks.CG": 3, "whistle.tasks.ZJ": 1,
		"whistle.escalations.FH": 1,
	}
	if info.State.Msgs != 10 || len(info.State.Subjects) != len(want) {
		t.Fatalf("WHISTLE_EVENTS holds %d messages on %v, want 10 on %v", info.State.Msgs, info.State.Subjects, want)
	}
	for subj, n := range want {
		if info.State.Subjects[subj] != n {
			t.Errorf("%s: %d messages, want %d", subj, info.State.Subjects[subj], n)
		}
	}

	m, err := s.GetLastMsgForSubject(ctx, "whistle.tasks.ZJ")
	if err != nil {
		t.Fatal(err)
	}
	if id := m.Header.Get(jetstream.MsgIDHeader); id != "inc-1:5:tasks" {
		t.Errorf("Nats-Msg-Id = %q, want inc-1:5:tasks", id)
	}
	if tp := bus.HeaderCarrier(m.Header).Get("traceparent"); !strings.Contains(tp, span.SpanContext().TraceID().String()) {
		t.Errorf("traceparent %q is not in trace %s", tp, span.SpanContext().TraceID())
	}
	var ev bus.Event
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		t.Fatal(err)
	}
	wantEv := bus.Event{IncidentID: "inc-1", Seq: 5, Type: "reassigned", At: at, Actor: "street:FH:s", Note: "arbitrated",
		TaskID: "inc-1-t2", Department: "ZJ", Street: "FH", Category: "SR-001", Status: incident.StatusDispatched}
	if ev != wantEv {
		t.Errorf("event = %+v, want %+v", ev, wantEv)
	}
	m, err = s.GetLastMsgForSubject(ctx, "whistle.escalations.FH")
	if err != nil {
		t.Fatal(err)
	}
	if id := m.Header.Get(jetstream.MsgIDHeader); id != "inc-1:3:escalations" {
		t.Errorf("escalation Nats-Msg-Id = %q", id)
	}
	if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Level != 1 || ev.Type != incident.EventAckOverdue {
		t.Errorf("escalation event %s: %v", m.Data, err)
	}
}

// deadLetters returns the messages on whistle.deadletter.reports.
func deadLetter(t *testing.T, b *bus.Bus) *jetstream.RawStreamMsg {
	t.Helper()
	s, err := b.JetStream().Stream(context.Background(), bus.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(context.Background(), bus.DeadLetterSubject("reports"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestConsumeRetriesThenSucceeds(t *testing.T) {
	b := newBus(t)
	if err := b.PublishReport(context.Background(), report("inc-flaky")); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	consume(t, b, fastRetry("flaky", 5), func(ctx context.Context, msg jetstream.Msg) error {
		if calls.Add(1) <= 2 {
			return errors.New("temporal unavailable")
		}
		return nil
	})
	wait.For(t, 10*time.Second, "the report to be acknowledged", func() bool {
		return streamMsgs(t, b, bus.StreamReports) == 0
	})
	if n := calls.Load(); n != 3 {
		t.Errorf("handler called %d times, want 3", n)
	}
	if n := streamMsgs(t, b, bus.StreamDeadLetter); n != 0 {
		t.Errorf("%d dead letters, want 0", n)
	}
}

func TestConsumeDeadLettersAfterMaxDeliver(t *testing.T) {
	b := newBus(t)
	ctx, span := otel.Tracer("test").Start(context.Background(), "api request")
	if err := b.PublishReport(ctx, report("inc-bad")); err != nil {
		t.Fatal(err)
	}
	span.End()
	var calls atomic.Int32
	consume(t, b, fastRetry("failing", 3), func(ctx context.Context, msg jetstream.Msg) error {
		calls.Add(1)
		return errors.New("boom\nsecond line")
	})
	wait.For(t, 10*time.Second, "a dead letter", func() bool {
		return streamMsgs(t, b, bus.StreamDeadLetter) == 1
	})
	if n := calls.Load(); n != 3 {
		t.Errorf("handler called %d times, want MaxDeliver = 3", n)
	}
	m := deadLetter(t, b)
	for k, want := range map[string]string{
		bus.HeaderError:            "boom second line",
		bus.HeaderOriginalSubject:  "whistle.reports.FH",
		bus.HeaderOriginalStream:   bus.StreamReports,
		bus.HeaderOriginalSequence: "1",
		bus.HeaderDeliveries:       "3",
		bus.HeaderConsumer:         "failing",
		bus.HeaderPermanent:        "false",
		jetstream.MsgIDHeader:      "GRID_REPORTS:1",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("dead letter header %s = %q, want %q", k, got, want)
		}
	}
	if tp := bus.HeaderCarrier(m.Header).Get("traceparent"); !strings.Contains(tp, span.SpanContext().TraceID().String()) {
		t.Errorf("dead letter lost the original traceparent: %q", tp)
	}
	var r incident.Report
	if err := json.Unmarshal(m.Data, &r); err != nil || r.IncidentID != "inc-bad" {
		t.Errorf("dead letter payload %s: %v", m.Data, err)
	}
	wait.For(t, 5*time.Second, "the report to leave the work queue", func() bool {
		return streamMsgs(t, b, bus.StreamReports) == 0
	})
}

func TestConsumePermanentDeadLettersAtOnce(t *testing.T) {
	b := newBus(t)
	raw := nats.NewMsg(bus.ReportSubject("FH"))
	raw.Data = []byte("{not json")
	if _, err := b.JetStream().PublishMsg(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	consume(t, b, fastRetry("permanent", 5), func(ctx context.Context, msg jetstream.Msg) error {
		calls.Add(1)
		var r incident.Report
		if err := json.Unmarshal(msg.Data(), &r); err != nil {
			return bus.Permanent(err)
		}
		return nil
	})
	wait.For(t, 10*time.Second, "a dead letter", func() bool {
		return streamMsgs(t, b, bus.StreamDeadLetter) == 1
	})
	if n := calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1", n)
	}
	m := deadLetter(t, b)
	if m.Header.Get(bus.HeaderDeliveries) != "1" || m.Header.Get(bus.HeaderPermanent) != "true" ||
		!strings.Contains(m.Header.Get(bus.HeaderError), "invalid character") || string(m.Data) != "{not json" {
		t.Errorf("dead letter %q headers %v", m.Data, m.Header)
	}
}

func TestConsumeDeadLettersUnacknowledged(t *testing.T) {
	b := newBus(t)
	if err := b.PublishReport(context.Background(), report("inc-hang")); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var calls atomic.Int32
	o := fastRetry("hang", 1)
	o.AckWait = 300 * time.Millisecond
	consume(t, b, o, func(ctx context.Context, msg jetstream.Msg) error {
		calls.Add(1)
		<-release // hangs past AckWait, ignoring ctx
		return nil
	})
	defer close(release)
	wait.For(t, 10*time.Second, "a dead letter", func() bool {
		return streamMsgs(t, b, bus.StreamDeadLetter) == 1
	})
	if n := calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1", n)
	}
	if e := deadLetter(t, b).Header.Get(bus.HeaderError); !strings.Contains(e, "not acknowledged") {
		t.Errorf("Whistle-Error = %q", e)
	}
}

func TestConsumeDrainsOnCancel(t *testing.T) {
	b := newBus(t)
	if err := b.PublishReport(context.Background(), report("inc-slow")); err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	var handlerCtxErr error // written before finished is set
	stop := consume(t, b, fastRetry("drain", 3), func(ctx context.Context, msg jetstream.Msg) error {
		close(started)
		<-release
		handlerCtxErr = ctx.Err()
		finished.Store(true)
		return nil
	})
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("handler not called")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Fatal("Consume returned before its in-flight handler finished")
	}
	if handlerCtxErr != nil {
		t.Errorf("handler context was cancelled with Consume's: %v", handlerCtxErr)
	}
	wait.For(t, 5*time.Second, "the ack of the drained handler", func() bool {
		return streamMsgs(t, b, bus.StreamReports) == 0
	})
}

func TestPingAfterServerGone(t *testing.T) {
	b, err := bus.Connect(context.Background(), devtest.NATS(t), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := b.Ping(context.Background()); err == nil {
		t.Fatal("Ping on a closed connection succeeded")
	}
}
