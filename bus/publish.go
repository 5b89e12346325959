package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/whistle-city/whistle/incident"
)

// Event is the payload of every message on StreamEvents: one timeline entry
// of an incident, with enough of the incident to route and file it.
type Event struct {
	IncidentID string          `json:"incident_id"`
	Seq        int             `json:"seq"`
	Type       string          `json:"type"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Note       string          `json:"note,omitempty"`
	TaskID     string          `json:"task_id,omitempty"`
	Department string          `json:"department,omitempty"`
	Street     string          `json:"street"`
	Category   string          `json:"category"`
	Status     incident.Status `json:"status"`
	Level      int             `json:"level,omitempty"`
}

// NewEvent returns the event of entry e of incident in.
func NewEvent(in *incident.Incident, e incident.Entry) Event {
	status := e.Status
	if status == "" {
		status = in.Status
	}
	return Event{
		IncidentID: in.ID, Seq: e.Seq, Type: e.Type, At: e.At, Actor: e.Actor, Note: e.Note,
		TaskID: e.TaskID, Department: e.Department, Street: in.Street, Category: in.Category,
		Status: status, Level: e.Level,
	}
}

// Kinds of event messages, the last part of their Nats-Msg-Id.
const (
	kindEvents      = "events"
	kindTasks       = "tasks"
	kindEscalations = "escalations"
)

// IsTaskEvent reports whether e is published to whistle.tasks.<department>:
// every entry about one department's task — created, reassigned,
// cancelled, and what happened to it since (acknowledged, completed,
// returned, warned, escalated, urged, extended) — so a department's own
// system can follow its inbox from the bus.
func IsTaskEvent(e incident.Entry) bool { return e.Department != "" }

// IsEscalation reports whether e is published to
// whistle.escalations.<street>: a warning, an escalation level, a manual
// urging or a suspension's review date.
func IsEscalation(e incident.Entry) bool {
	return incident.IsEscalation(e.Type)
}

// EventMsgID is the Nats-Msg-Id of the message of kind ("events", "tasks"
// or "escalations") for entry seq of an incident.
func EventMsgID(incidentID string, seq int, kind string) string {
	return incidentID + ":" + strconv.Itoa(seq) + ":" + kind
}

// PublishReport publishes r as JSON to ReportSubject(r.Street) with
// Nats-Msg-Id r.IncidentID and the trace context of ctx, and waits for the
// JetStream acknowledgement. Publishing the same incident id again within
// DuplicateWindow stores nothing and succeeds.
func (b *Bus) PublishReport(ctx context.Context, r incident.Report) error {
	if r.IncidentID == "" {
		return errors.New("bus: publish report: empty incident id")
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("bus: encode report %s: %w", r.IncidentID, err)
	}
	subject := ReportSubject(r.Street)
	ctx, span := startSend(ctx, subject, 1,
		semconv.MessagingMessageID(r.IncidentID), attribute.String("whistle.incident.id", r.IncidentID))
	defer span.End()

	msg := newMsg(ctx, subject, r.IncidentID, data)
	if _, err := b.js.PublishMsg(ctx, msg); err != nil {
		err = fmt.Errorf("bus: publish report %s to %s: %w", r.IncidentID, subject, err)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	return nil
}

// PublishEntries publishes the lifecycle events of the given timeline entries
// of in (DESIGN.md §5) and waits for every acknowledgement:
//
//   - every entry to whistle.events.<type>;
//   - task entries (IsTaskEvent) also to whistle.tasks.<department>;
//   - escalation entries (IsEscalation) also to whistle.escalations.<street>.
//
// The payload is an Event as JSON; the Nats-Msg-Id is EventMsgID, so an
// activity retried within DuplicateWindow publishes nothing twice. Every
// message carries the trace context of ctx.
func (b *Bus) PublishEntries(ctx context.Context, in *incident.Incident, entries []incident.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	type out struct {
		subject, id string
		data        []byte
	}
	msgs := make([]out, 0, len(entries)*2)
	for _, e := range entries {
		data, err := json.Marshal(NewEvent(in, e))
		if err != nil {
			return fmt.Errorf("bus: encode event %s:%d: %w", in.ID, e.Seq, err)
		}
		msgs = append(msgs, out{EventSubject(e.Type), EventMsgID(in.ID, e.Seq, kindEvents), data})
		if IsTaskEvent(e) {
			msgs = append(msgs, out{TaskSubject(e.Department), EventMsgID(in.ID, e.Seq, kindTasks), data})
		}
		if IsEscalation(e) {
			msgs = append(msgs, out{EscalationSubject(in.Street), EventMsgID(in.ID, e.Seq, kindEscalations), data})
		}
	}

	ctx, span := startSend(ctx, "whistle.events", len(msgs), attribute.String("whistle.incident.id", in.ID))
	defer span.End()
	fail := func(err error) error {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return err
	}

	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		f, err := b.js.PublishMsgAsync(newMsg(ctx, m.subject, m.id, m.data))
		if err != nil {
			return fail(fmt.Errorf("bus: publish %s (%s): %w", m.subject, m.id, err))
		}
		futures = append(futures, f)
	}
	var errs []error
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("bus: publish %s (%s): %w",
				f.Msg().Subject, f.Msg().Header.Get(jetstream.MsgIDHeader), err))
		case <-ctx.Done():
			return fail(fmt.Errorf("bus: publish events of %s: %w", in.ID, ctx.Err()))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	return nil
}

// newMsg returns a message for subject with Nats-Msg-Id id and the trace
// context of ctx in its headers.
func newMsg(ctx context.Context, subject, id string, data []byte) *nats.Msg {
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, id)
	otel.GetTextMapPropagator().Inject(ctx, HeaderCarrier(msg.Header))
	return msg
}

// startSend starts a producer span for publishing n messages to destination.
func startSend(ctx context.Context, destination string, n int, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	attrs = append(attrs,
		semconv.MessagingSystemKey.String("nats"),
		semconv.MessagingOperationTypeSend,
		semconv.MessagingOperationName("send"),
		semconv.MessagingDestinationName(destination),
	)
	if n > 1 {
		attrs = append(attrs, semconv.MessagingBatchMessageCount(n))
	}
	return tracer().Start(ctx, "send "+destination,
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
}

// headerValue makes s safe as a header value: one line, at most max bytes,
// valid UTF-8.
func headerValue(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > max {
		// Cutting may split a UTF-8 sequence; drop the broken tail.
		s = strings.ToValidUTF8(s[:max], "")
	}
	return s
}
