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

// projectWait bounds how long an Update waits for its change to reach the
// read model before answering anyway: the change is durable in the workflow,
// and the projection catches up when Postgres is back.
const projectWait = 10 * time.Second

// run is one incident's workflow state. Workflow code is single-threaded
// (coroutines switch only at blocking calls), so no locking is needed.
type run struct {
	in     Input
	state  *incident.Incident
	due    incident.DueFunc
	logger log.Logger

	projected    int // highest Version written to the read model
	projectedSeq int // last timeline Seq contained in that version
	published    int // highest timeline Seq published
}

// IncidentWorkflow runs one incident from report to closed. Its id is the
// incident id. Human steps arrive as Updates (one per incident.Cmd* name),
// each validated against the current state before it is accepted; deadlines
// are durable timers. Every change is projected to Postgres and published
// on NATS by two coroutines, in order, so an Update answers as soon as the
// read model has its change and never waits on the event bus.
func IncidentWorkflow(ctx workflow.Context, in Input) (*incident.Incident, error) {
	r := &run{in: in, due: DueFunc(in), logger: workflow.GetLogger(ctx)}
	r.state = incident.New(in.Report, in.Item, workflow.Now(ctx), r.due)

	if err := workflow.SetQueryHandler(ctx, QueryIncident, func() (*incident.Incident, error) { return r.state, nil }); err != nil {
		return nil, err
	}
	for _, reg := range []func(workflow.Context, *run) error{
		register[incident.Resolve], register[incident.Escalate], register[incident.Whistle],
		register[incident.Ack], register[incident.Complete], register[incident.Return],
		register[incident.Reassign], register[incident.Verify], register[incident.GiveFeedback],
	} {
		if err := reg(ctx, r); err != nil {
			return nil, err
		}
	}

	workflow.Go(ctx, r.projector)
	workflow.Go(ctx, r.publisher)

	for !r.state.Status.Terminal() {
		version := r.state.Version
		changed := func() bool { return r.state.Version != version }
		next, ok := r.state.NextDeadline()
		if !ok {
			if err := workflow.Await(ctx, changed); err != nil {
				return nil, err
			}
			continue
		}
		if wait := next.Sub(workflow.Now(ctx)); wait > 0 {
			woke, err := workflow.AwaitWithTimeout(ctx, wait, changed)
			if err != nil {
				return nil, err
			}
			if woke {
				continue // a command changed the state: recompute the next deadline
			}
		}
		r.state.Tick(workflow.Now(ctx))
	}

	// Closed: let running handlers answer, and the read model and the bus
	// catch up with the last change, before the workflow completes.
	err := workflow.Await(ctx, func() bool {
		return workflow.AllHandlersFinished(ctx) &&
			r.projected >= r.state.Version && r.published >= len(r.state.Timeline)
	})
	return r.state, err
}

// register installs the Update handler and validator for command type C.
func register[C incident.Command](ctx workflow.Context, r *run) error {
	var zero C
	return workflow.SetUpdateHandlerWithOptions(ctx, zero.Name(),
		func(ctx workflow.Context, u UpdateInput[C]) (*incident.Incident, error) {
			// Apply checks again: another Update accepted in the same workflow
			// task may have changed the state since the validator ran.
			if err := r.state.Apply(u.Actor, u.Command, workflow.Now(ctx), r.due, r.in.MaxReopens); err != nil {
				return nil, toApplicationError(err)
			}
			version := r.state.Version
			if _, err := workflow.AwaitWithTimeout(ctx, projectWait, func() bool { return r.projected >= version }); err != nil {
				return nil, err
			}
			return r.state, nil
		},
		workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, u UpdateInput[C]) error {
				return toApplicationError(r.state.Check(u.Actor, u.Command))
			},
		})
}

// projector writes each new version of the incident to the read model, one
// activity at a time; changes made while one is in flight are coalesced into
// the next snapshot.
func (r *run) projector(ctx workflow.Context) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	for {
		if err := workflow.Await(ctx, func() bool { return r.state.Version > r.projected }); err != nil {
			return
		}
		version, seq := r.state.Version, len(r.state.Timeline)
		// ExecuteActivity encodes its argument at once, so later changes to
		// the state do not leak into this snapshot.
		if err := workflow.ExecuteActivity(ctx, ActivityProject, r.state).Get(ctx, nil); err != nil {
			r.logger.Error("projection failed", "version", version, "error", err)
			continue // retried with the next snapshot; the retry policy has no limit
		}
		r.projected, r.projectedSeq = version, seq
	}
}

// publisher publishes the timeline entries that have reached the read model,
// in order, so an event never announces what a reader cannot yet see.
func (r *run) publisher(ctx workflow.Context) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	for {
		if err := workflow.Await(ctx, func() bool { return r.projectedSeq > r.published }); err != nil {
			return
		}
		upto := r.projectedSeq
		p := PublishInput{
			IncidentID: r.state.ID, Street: r.state.Street, Category: r.state.Category,
			Status: r.state.Status, Entries: r.state.Timeline[r.published:upto],
		}
		if err := workflow.ExecuteActivity(ctx, ActivityPublish, p).Get(ctx, nil); err != nil {
			r.logger.Error("publication failed", "upto", upto, "error", err)
			continue
		}
		r.published = upto
	}
}

// activityOptions: projection and publication are idempotent, so they retry
// for as long as it takes (Postgres or NATS briefly gone), backing off to a
// minute between attempts.
var activityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
	},
}

// DefaultAck is the acknowledgement deadline of a task whose item names
// none (community- and street-tier items whistled by the street).
var DefaultAck = jurisdiction.Duration{Clock: time.Hour}

// DueFunc computes an incident's deadlines from the SLA and calendar in its
// input: the rules it started with.
func DueFunc(in Input) incident.DueFunc {
	return func(kind incident.SLAKind, from time.Time) time.Time {
		d := in.SLA.Resolve
		switch kind {
		case incident.SLAAck:
			d = in.SLA.Ack
			if d.IsZero() { // community and street items may leave it out
				d = DefaultAck
			}
		case incident.SLAFeedback:
			d = in.SLA.Feedback
		}
		return in.Calendar.Add(from, d).UTC()
	}
}

// Register registers IncidentWorkflow on w under IncidentWorkflowName.
func Register(w worker.WorkflowRegistry) {
	w.RegisterWorkflowWithOptions(IncidentWorkflow, workflow.RegisterOptions{Name: IncidentWorkflowName})
}
