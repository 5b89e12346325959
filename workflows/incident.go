package workflows

import (
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

// run is one incident's workflow state. Workflow code is single-threaded
// (coroutines switch only at blocking calls), so no locking is needed.
type run struct {
	in     Input
	state  *incident.Incident
	rules  jurisdiction.Rules
	logger log.Logger

	projected int // highest Version written to the read model
	published int // highest timeline Seq published
	timer     *deadline
}

// IncidentWorkflow runs one incident from report to closed. Its id is the
// incident id. Human steps arrive as Updates (one per incident.Cmd* name),
// each validated against the current state before it is accepted; deadlines
// are durable timers. Every change is projected to Postgres and published
// on NATS, in that order, by one coroutine, so an Update answers once the
// read model has its change.
func IncidentWorkflow(ctx workflow.Context, in Input) (*incident.Incident, error) {
	// Version 1 added the escalation ladder (warning, levels 2 and 3);
	// incidents started before it keep level 1 at the deadline only.
	ladder := workflow.GetVersion(ctx, changeEscalationLadder, workflow.DefaultVersion, 1) >= 1
	r := &run{in: in, rules: in.Rules(!ladder), logger: workflow.GetLogger(ctx)}
	r.state = incident.New(in.Report, in.Item, workflow.Now(ctx), r.rules)

	if err := workflow.SetQueryHandler(ctx, QueryIncident, func() (*incident.Incident, error) { return r.state, nil }); err != nil {
		return nil, err
	}
	for _, c := range incident.Commands {
		if err := r.register(ctx, c); err != nil {
			return nil, err
		}
	}

	workflow.Go(ctx, r.recorder)
	// Later reports linked to this one as duplicates say so by a signal.
	// (A workflow that gets none, as every one before this existed, runs
	// exactly as before: receiving records nothing in the history.)
	duplicates := workflow.GetSignalChannel(ctx, SignalDuplicateReported)
	workflow.Go(ctx, func(ctx workflow.Context) { r.recordDuplicates(ctx, duplicates) })

	for !r.state.Status.Terminal() {
		version := r.state.Version
		t := r.arm(ctx)
		if err := workflow.Await(ctx, func() bool { return r.state.Version != version || t.fired }); err != nil {
			return nil, err
		}
		if t.fired {
			r.state.Tick(workflow.Now(ctx))
		}
	}
	r.disarm()

	// A duplicate (closed from the start) tells its original.
	if orig := in.Report.DuplicateOf; orig != nil {
		r.tellOriginal(ctx, *orig)
	}

	// Version 1 keeps a closed incident's workflow for the rating window,
	// so the street can still rate its completed tasks (考核); it ends
	// early once every completed task is rated. Incidents closed before
	// it existed end at once.
	if workflow.GetVersion(ctx, changeRatingWindow, workflow.DefaultVersion, 1) >= 1 && r.state.Status == incident.StatusClosed {
		if err := r.ratingWindow(ctx); err != nil {
			return nil, err
		}
	}

	// Closed: let running handlers answer, signals be recorded, and the read
	// model and the bus catch up with the last change, before the workflow
	// completes.
	err := workflow.Await(ctx, func() bool {
		return workflow.AllHandlersFinished(ctx) && duplicates.Len() == 0 &&
			r.projected >= r.state.Version && r.published >= len(r.state.Timeline)
	})
	return r.state, err
}

// recordDuplicates records each duplicate reported to this incident (see
// SignalDuplicateReported), closed or not: the duplicate was linked while it
// was open. A signal without an incident id is dropped.
func (r *run) recordDuplicates(ctx workflow.Context, ch workflow.ReceiveChannel) {
	for {
		var d incident.Duplicate
		if !ch.Receive(ctx, &d) {
			return
		}
		if d.IncidentID == "" {
			r.logger.Warn("duplicate signal without an incident id: dropped")
			continue
		}
		r.state.RecordDuplicate(d, workflow.Now(ctx))
	}
}

// tellOriginalRetries are the pauses between attempts to signal the
// original of a duplicate. Its workflow may not have started yet: the two
// reports can be dispatched at the same moment, in either order, and a
// report whose publication was lost waits for the sweeper (a minute or so).
// A signal also fails when the original has finished; then the retries only
// keep this (already closed) duplicate's workflow open a little longer.
var tellOriginalRetries = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute}

// tellOriginal signals the original's workflow that this incident
// duplicates it (SignalDuplicateReported), retrying per tellOriginalRetries.
// If it never gets through, it logs and carries on: the link itself is in
// this incident's duplicate_of either way.
func (r *run) tellOriginal(ctx workflow.Context, original string) {
	d := incident.Duplicate{IncidentID: r.state.ID, Grid: r.state.Grid, Reporter: r.state.Reporter, ReportedAt: r.state.ReportedAt}
	for attempt := 0; ; attempt++ {
		err := workflow.SignalExternalWorkflow(ctx, original, "", SignalDuplicateReported, d).Get(ctx, nil)
		if err == nil {
			return
		}
		if attempt == len(tellOriginalRetries) || ctx.Err() != nil {
			r.logger.Warn("could not tell the original of this duplicate; it has finished or never started",
				"original", original, "attempts", attempt+1, "error", err)
			return
		}
		if workflow.Sleep(ctx, tellOriginalRetries[attempt]) != nil {
			return
		}
	}
}

// deadline is the one durable timer an incident runs: it is set for the
// earliest deadline still to fire, and kept across commands that do not move
// that deadline, so an Update costs no timer.
type deadline struct {
	at     time.Time
	fired  bool
	cancel workflow.CancelFunc
}

// arm returns the timer for the incident's next deadline, starting a new one
// only when that deadline changed. Without a deadline it returns a timer that
// never fires.
func (r *run) arm(ctx workflow.Context) *deadline {
	next, ok := r.state.NextDeadline()
	if !ok {
		r.disarm()
		return &deadline{}
	}
	if r.timer != nil && r.timer.at.Equal(next) && !r.timer.fired {
		return r.timer
	}
	r.disarm()
	tctx, cancel := workflow.WithCancel(ctx)
	t := &deadline{at: next, cancel: cancel}
	f := workflow.NewTimer(tctx, max(0, next.Sub(workflow.Now(ctx))))
	workflow.Go(ctx, func(ctx workflow.Context) {
		if f.Get(ctx, nil) == nil {
			t.fired = true
		}
	})
	r.timer = t
	return t
}

// disarm cancels the running deadline timer, if any.
func (r *run) disarm() {
	if r.timer != nil {
		r.timer.cancel()
		r.timer = nil
	}
}

// register installs the Update handler and validator of command c (an
// Update of c's name taking updateArgs).
func (r *run) register(ctx workflow.Context, c incident.Command) error {
	decode := func(u updateArgs) (incident.Command, error) {
		cmd, err := incident.Decode(c, u.Command, "")
		return cmd, toApplicationError(err)
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, c.Name(),
		func(ctx workflow.Context, u updateArgs) (Result, error) {
			cmd, err := decode(u)
			if err != nil {
				return Result{}, err
			}
			// Apply checks again: another Update accepted in the same workflow
			// task may have changed the state since the validator ran.
			if err := r.state.Apply(u.Actor, cmd, workflow.Now(ctx), r.rules); err != nil {
				return Result{}, toApplicationError(err)
			}
			res := Result{Version: r.state.Version, Status: r.state.Status}
			// Answer once the read model has the change. If Postgres is down
			// this waits (the change itself is already durable here); the
			// caller's own timeout decides how long it listens.
			err = workflow.Await(ctx, func() bool { return r.projected >= res.Version })
			return res, err
		},
		workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, u updateArgs) error {
				cmd, err := decode(u)
				if err != nil {
					return err
				}
				return toApplicationError(r.state.Check(u.Actor, cmd, workflow.Now(ctx)))
			},
		})
}

// recorder records each new version of the incident: one local activity at
// a time writes it to the read model and then publishes its new timeline
// entries, so an event never announces what a reader cannot yet see.
// Changes made while one is in flight are coalesced into the next snapshot.
//
// A local activity runs in this worker and is recorded as a single marker
// in the same workflow task, and its input never enters the history: an
// Update that waits for its projection costs one workflow task, and the
// history stays small however long the timeline grows.
func (r *run) recorder(ctx workflow.Context) {
	ctx = workflow.WithLocalActivityOptions(ctx, recordOptions)
	for {
		if err := workflow.Await(ctx, func() bool { return r.state.Version > r.projected }); err != nil {
			return
		}
		snap := r.state.Clone() // local activity inputs are passed by reference
		in := RecordInput{Incident: snap, FromSeq: r.published}
		if err := workflow.ExecuteLocalActivity(ctx, ActivityRecord, in).Get(ctx, nil); err != nil {
			// The retry policy has no limit, so this is a cancellation.
			r.logger.Error("recording failed", "version", snap.Version, "error", err)
			return
		}
		r.projected, r.published = snap.Version, len(snap.Timeline)
	}
}

// recordOptions: recording is idempotent (the read model ignores a snapshot
// that is not newer, NATS de-duplicates by message id), so it retries for as
// long as it takes — Postgres or NATS briefly gone — backing off to 30s.
//
// ScheduleToCloseTimeout must be set: left out, the SDK makes it the
// StartToCloseTimeout, which bounds all the retries together to one
// attempt's 10 s, and a longer outage then ended the recorder for good
// (found by deploy/local-cluster.sh chaos). A local activity's options are
// not in the history, so this replays the same.
var recordOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    10 * time.Second,
	ScheduleToCloseTimeout: recordForever,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    500 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    30 * time.Second,
	},
}

// recordForever is "no limit" for recording: longer than any incident lives.
const recordForever = 10 * 365 * 24 * time.Hour

// changeEscalationLadder is the GetVersion change id of the ladder.
const changeEscalationLadder = "escalation-ladder"

// changeRatingWindow is the GetVersion change id of the rating window.
const changeRatingWindow = "rating-window"

// ratingWindow waits until every completed task of the closed incident is
// rated or the rating window has passed.
func (r *run) ratingWindow(ctx workflow.Context) error {
	unrated := func() bool {
		for _, t := range r.state.Tasks {
			if t.Status == incident.TaskCompleted && t.Rating == nil {
				return true
			}
		}
		return false
	}
	if !unrated() {
		return nil
	}
	now := workflow.Now(ctx)
	end := r.in.Calendar.Add(now, r.in.ratingWindow())
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	expired := false
	f := workflow.NewTimer(tctx, max(0, end.Sub(now)))
	workflow.Go(ctx, func(ctx workflow.Context) {
		if f.Get(ctx, nil) == nil {
			expired = true
		}
	})
	return workflow.Await(ctx, func() bool { return expired || !unrated() })
}

// Register registers IncidentWorkflow on w under IncidentWorkflowName.
func Register(w worker.WorkflowRegistry) {
	w.RegisterWorkflowWithOptions(IncidentWorkflow, workflow.RegisterOptions{Name: IncidentWorkflowName})
}
