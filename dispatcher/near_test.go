package dispatcher_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/whistle-city/whistle/bus"
	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/store"
)

// nearSwitch asks the store it holds; a test swaps in a closed one to take
// Postgres away and the open one to bring it back.
type nearSwitch struct {
	store  atomic.Pointer[store.Store]
	failed atomic.Int32
}

func (n *nearSwitch) Near(ctx context.Context, r incident.Report, rules store.NearRules) (store.Link, error) {
	l, err := n.store.Load().Near(ctx, r, rules)
	if err != nil {
		n.failed.Add(1)
	}
	return l, err
}

// openStore returns a Store on a fresh, migrated database.
func openStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	url := devtest.Postgres(t)
	if err := store.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, url
}

// at returns a report of SR-001 m metres north of a fixed place, reported
// at the given time.
func at(id string, m float64, reported time.Time) incident.Report {
	r := report(id, "SR-001")
	r.Location = incident.Location{Lat: 29.35 + m/111195.08, Lng: 104.77}
	r.ReportedAt = reported
	return r
}

// finish stops the stand-in workflow of id and returns its summary.
func (e *env) finish(t *testing.T, id string) string {
	t.Helper()
	ctx := context.Background()
	if err := e.temporal.SignalWorkflow(ctx, id, "", signalStop, nil); err != nil {
		t.Fatal(err)
	}
	var summary string
	if err := e.temporal.GetWorkflow(ctx, id, "").Get(ctx, &summary); err != nil {
		t.Fatal(err)
	}
	return summary
}

func TestDispatcherLinksReports(t *testing.T) {
	live, url := openStore(t)
	near := &nearSwitch{}
	near.store.Store(live)
	e := newEnvWith(t, near)
	ctx := context.Background()
	item := jurisdiction.Default().Items[0].Snapshot()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	receive := func(r incident.Report) {
		t.Helper()
		if _, _, err := live.CreateReceived(ctx, r, item, ""); err != nil {
			t.Fatal(err)
		}
	}

	// The original is still received (its report not dispatched yet) when
	// a second report 30 m away arrives; the second's message claims a
	// link of its own, which the dispatcher does not trust.
	orig := at("inc-orig", 0, t0)
	receive(orig)
	dup := at("inc-dup", 30, t0.Add(time.Second))
	forged := "inc-forged"
	dup.RepeatOf = &forged
	receive(dup)
	if err := e.bus.PublishReport(ctx, dup); err != nil {
		t.Fatal(err)
	}
	e.waitHandled(t)
	if got, want := e.finish(t, "inc-dup"), "inc-dup SR-001 department CG 2 Asia/Shanghai duplicate_of=inc-orig"; got != want {
		t.Errorf("duplicate started with %q, want %q", got, want)
	}

	// Postgres gone: the report is not started unchecked but redelivered,
	// and started with its link once Postgres is back.
	gone, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	near.store.Store(gone)
	later := at("inc-later", -20, t0.Add(2*time.Second))
	receive(later)
	if err := e.bus.PublishReport(ctx, later); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "a failed look-up", func() bool { return near.failed.Load() > 0 })
	var nf *serviceerror.NotFound
	if _, err := e.temporal.DescribeWorkflowExecution(ctx, "inc-later", ""); !errors.As(err, &nf) {
		t.Fatalf("describe the report whose look-up failed: %v, want NotFound (not started)", err)
	}
	near.store.Store(live)
	e.waitHandled(t) // redelivered after the first backoff
	if got, want := e.finish(t, "inc-later"), "inc-later SR-001 department CG 2 Asia/Shanghai duplicate_of=inc-orig"; got != want {
		t.Errorf("after Postgres came back: %q, want %q", got, want)
	}

	// The original itself links to nothing: the others came after it.
	if err := e.bus.PublishReport(ctx, orig); err != nil {
		t.Fatal(err)
	}
	e.waitHandled(t)
	if got, want := e.finish(t, "inc-orig"), "inc-orig SR-001 department CG 2 Asia/Shanghai"; got != want {
		t.Errorf("original started with %q, want %q", got, want)
	}
	if n := e.streamMsgs(t, bus.StreamDeadLetter); n != 0 {
		t.Errorf("%d dead letters", n)
	}
}
