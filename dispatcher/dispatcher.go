// Package dispatcher is the consumer of GRID_REPORTS that starts one
// IncidentWorkflow per grid report (DESIGN.md §2). It is idempotent: the
// workflow id is the incident id, so a redelivered message or a report sent
// twice never starts a second workflow.
package dispatcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/whistle-city/whistle/bus"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/store"
	"github.com/whistle-city/whistle/workflows"
)

// DeadLetterName is the last token of the dispatcher's dead-letter subject,
// whistle.deadletter.reports.
const DeadLetterName = "reports"

// Defaults of the Dispatcher's consumer.
const (
	// DefaultConcurrency is how many reports the dispatcher starts at once.
	DefaultConcurrency = 16
	// DefaultMaxDeliver is how often a report that cannot be started (Temporal
	// unreachable, no jurisdiction) is tried before it is dead-lettered: with
	// DefaultBackoff, about four hours.
	DefaultMaxDeliver = 50
)

// DefaultBackoff is the delay before each retry of a report that could not
// be started; the last one repeats.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute}

// Errors a report can be dead-lettered with (wrapped in bus.Permanent).
var (
	// ErrBadReport: the message is not a report (undecodable JSON, no incident id).
	ErrBadReport = errors.New("dispatcher: bad report")
	// ErrUnknownCategory: the report's category is no item of the responsibility list.
	ErrUnknownCategory = errors.New("dispatcher: unknown category")
	// ErrNoJurisdiction: no jurisdiction is loaded (not permanent: redelivered).
	ErrNoJurisdiction = errors.New("dispatcher: no jurisdiction loaded")
)

// NearFinder finds the incident a report duplicates or repeats
// (*store.Store; see store.Store.Near).
type NearFinder interface {
	Near(ctx context.Context, r incident.Report, rules store.NearRules) (store.Link, error)
}

// Dispatcher consumes GRID_REPORTS and starts an IncidentWorkflow per report.
type Dispatcher struct {
	// Bus is the NATS connection; its streams must exist (Bus.EnsureStreams).
	Bus *bus.Bus
	// Temporal starts the workflows. Create it with the OpenTelemetry
	// tracing interceptor so the report's trace continues in the workflow.
	Temporal client.Client
	// Jurisdiction returns the jurisdiction in force; it is called for every
	// report, so a reloaded jurisdiction applies to the next one.
	Jurisdiction func() *jurisdiction.Jurisdiction
	// Item, when set, looks up a report's item instead of the
	// Jurisdiction's list: it must also find retired items
	// (catalogue.Catalogue.Item does), so that a report accepted just
	// before its item was retired still starts, with the item's last
	// content.
	Item func(code string) (jurisdiction.Item, bool)
	// Near links each report, before its workflow starts, to the open
	// incident it duplicates or the closed one it repeats, by the
	// jurisdiction's duplicates settings. Nil: reports are not linked.
	Near NearFinder
	// Logger receives the dispatcher's logs; default slog.Default().
	Logger *slog.Logger
	// Concurrency is how many reports are handled at once; default
	// DefaultConcurrency.
	Concurrency int
	// MaxDeliver and Backoff say how often and how far apart a report that
	// cannot be started is retried before it is dead-lettered; default
	// DefaultMaxDeliver and DefaultBackoff, so that a Temporal outage of a
	// few hours loses nothing.
	MaxDeliver int
	Backoff    []time.Duration

	calMu sync.Mutex
	calOf *jurisdiction.Jurisdiction
	cal   jurisdiction.Calendar
}

// Run consumes GRID_REPORTS with the durable consumer bus.ConsumerDispatcher
// until ctx is done, then lets the reports in hand finish and returns nil.
// For each report it calls Start. A message that is not a report or names an
// unknown category goes to whistle.deadletter.reports at once; a failure to
// reach Temporal is retried with Backoff and dead-lettered after MaxDeliver
// deliveries.
func (d *Dispatcher) Run(ctx context.Context) error {
	if d.Bus == nil || d.Temporal == nil || d.Jurisdiction == nil {
		return errors.New("dispatcher: Bus, Temporal and Jurisdiction are required")
	}
	conc, maxDeliver, backoff := d.Concurrency, d.MaxDeliver, d.Backoff
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	if maxDeliver <= 0 {
		maxDeliver = DefaultMaxDeliver
	}
	if len(backoff) == 0 {
		backoff = DefaultBackoff
	}
	return d.Bus.Consume(ctx, bus.ConsumeOptions{
		Stream:         bus.StreamReports,
		Durable:        bus.ConsumerDispatcher,
		FilterSubject:  bus.SubjectReports + ">",
		DeadLetterName: DeadLetterName,
		Concurrency:    conc,
		MaxDeliver:     maxDeliver,
		Backoff:        backoff,
		Logger:         d.logger(),
	}, d.handle)
}

// handle decodes one message of GRID_REPORTS and starts its workflow.
func (d *Dispatcher) handle(ctx context.Context, msg jetstream.Msg) error {
	var r incident.Report
	if err := json.Unmarshal(msg.Data(), &r); err != nil {
		return bus.Permanent(fmt.Errorf("%w: %v", ErrBadReport, err))
	}
	if r.IncidentID == "" {
		return bus.Permanent(fmt.Errorf("%w: no incident_id", ErrBadReport))
	}
	return d.Start(ctx, r)
}

// Start starts the IncidentWorkflow of r, with workflow id r.IncidentID, on
// workflows.TaskQueue, requesting eager start. First it links r (see Near):
// whatever links the message carried are replaced by what Near finds. If a
// workflow with that id is running or has ever run, it starts nothing and
// returns nil. It returns an error wrapped with bus.Permanent when no retry
// can help (unknown category, a request Temporal rejects as invalid), and a
// plain error otherwise (no jurisdiction yet, Postgres or Temporal
// unavailable): a report is never started without its links looked up.
//
// ctx should carry the report's trace context: the Temporal client's
// tracing interceptor continues it into the workflow.
func (d *Dispatcher) Start(ctx context.Context, r incident.Report) error {
	j := d.Jurisdiction()
	if j == nil {
		return ErrNoJurisdiction
	}
	lookup := j.Item
	if d.Item != nil {
		lookup = d.Item
	}
	it, ok := lookup(r.Category)
	if !ok {
		return bus.Permanent(fmt.Errorf("%w %q (incident %s)", ErrUnknownCategory, r.Category, r.IncidentID))
	}
	in := workflows.NewInput(j, it, r, d.calendar(j))
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(
		attribute.String("whistle.incident.id", r.IncidentID),
		attribute.String("whistle.item", r.Category),
	)
	if err := d.link(ctx, &in.Report, j.Duplicates.Effective()); err != nil {
		return err
	}
	if l := in.Report.DuplicateOf; l != nil {
		span.SetAttributes(attribute.String("whistle.duplicate_of", *l))
	}
	if l := in.Report.RepeatOf; l != nil {
		span.SetAttributes(attribute.String("whistle.repeat_of", *l))
	}

	start := time.Now()
	run, err := d.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       r.IncidentID,
		TaskQueue:                workflows.TaskQueue,
		EnableEagerStart:         true,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// Report a closed run as an error rather than quietly returning it,
		// so a duplicate is told apart (and logged) below.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, workflows.IncidentWorkflowName, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	var invalid *serviceerror.InvalidArgument
	switch {
	case errors.As(err, &already):
		d.logger().Debug("workflow already ran", "incident_id", r.IncidentID)
		return nil
	case errors.As(err, &invalid):
		return bus.Permanent(fmt.Errorf("dispatcher: start workflow %s: %w", r.IncidentID, err))
	case err != nil:
		return fmt.Errorf("dispatcher: start workflow %s: %w", r.IncidentID, err)
	}
	d.logger().Debug("workflow started", "incident_id", r.IncidentID, "run_id", run.GetRunID(),
		"item", r.Category, "duplicate_of", deref(in.Report.DuplicateOf), "repeat_of", deref(in.Report.RepeatOf), "took", time.Since(start))
	return nil
}

// link sets r's DuplicateOf or RepeatOf to what d.Near finds with the
// settings dup, clearing both first: only the dispatcher links reports.
func (d *Dispatcher) link(ctx context.Context, r *incident.Report, dup jurisdiction.Duplicates) error {
	r.DuplicateOf, r.RepeatOf = nil, nil
	if d.Near == nil {
		return nil
	}
	l, err := d.Near.Near(ctx, *r, store.NearRules{
		DistanceM: dup.DistanceM, Window: dup.Window.Clock, RepeatWindow: dup.RepeatWindow.Clock,
	})
	if err != nil {
		return fmt.Errorf("dispatcher: look for incidents near %s: %w", r.IncidentID, err)
	}
	if l.DuplicateOf != "" {
		r.DuplicateOf = &l.DuplicateOf
	} else if l.RepeatOf != "" {
		r.RepeatOf = &l.RepeatOf
	}
	return nil
}

// calendar returns j.Calendar(), computed once per jurisdiction.
func (d *Dispatcher) calendar(j *jurisdiction.Jurisdiction) jurisdiction.Calendar {
	d.calMu.Lock()
	defer d.calMu.Unlock()
	if d.calOf != j {
		d.calOf, d.cal = j, j.Calendar()
	}
	return d.cal
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}
