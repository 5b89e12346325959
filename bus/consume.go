package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// Headers of a dead letter, besides the original message's own headers.
const (
	HeaderError            = "Whistle-Error"             // why the message was given up on
	HeaderOriginalSubject  = "Whistle-Original-Subject"  // where it was published
	HeaderOriginalStream   = "Whistle-Original-Stream"   // the stream it was stored in
	HeaderOriginalSequence = "Whistle-Original-Sequence" // its sequence in that stream
	HeaderDeliveries       = "Whistle-Deliveries"        // how often it was delivered
	HeaderConsumer         = "Whistle-Consumer"          // the durable consumer that gave up
	HeaderPermanent        = "Whistle-Permanent"         // "true" when the handler said no retry could help
)

// Defaults of ConsumeOptions.
const (
	DefaultMaxDeliver  = 5
	DefaultAckWait     = 30 * time.Second
	DefaultConcurrency = 8
)

// DefaultBackoff is the delay before the 1st, 2nd and later redeliveries of a
// message whose handler failed.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}

// maxErrorHeader bounds the length of the Whistle-Error header.
const maxErrorHeader = 1024

// ConsumeOptions configure Consume.
type ConsumeOptions struct {
	// Stream and Durable name the stream and the durable pull consumer
	// (created or updated by Consume). Required.
	Stream, Durable string
	// FilterSubject restricts the consumer to matching subjects; "" is the
	// whole stream.
	FilterSubject string
	// DeadLetterName is the last token of the dead-letter subject,
	// whistle.deadletter.<name>; default Durable.
	DeadLetterName string
	// MaxDeliver is how often a failing message is delivered before it is
	// dead-lettered; default DefaultMaxDeliver.
	MaxDeliver int
	// AckWait is how long the server waits for an acknowledgement before it
	// redelivers; a handler's context expires a little before. Default
	// DefaultAckWait.
	AckWait time.Duration
	// Concurrency is how many handlers run at once; default
	// DefaultConcurrency.
	Concurrency int
	// Backoff is the delay before each redelivery after a failure; the last
	// one repeats. Default DefaultBackoff.
	Backoff []time.Duration
	// Logger receives the consumer's logs; default the Bus's logger.
	Logger *slog.Logger
}

// withDefaults returns o with every zero field defaulted.
func (o ConsumeOptions) withDefaults(b *Bus) ConsumeOptions {
	if o.DeadLetterName == "" {
		o.DeadLetterName = o.Durable
	}
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = DefaultMaxDeliver
	}
	if o.AckWait <= 0 {
		o.AckWait = DefaultAckWait
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if len(o.Backoff) == 0 {
		o.Backoff = DefaultBackoff
	}
	if o.Logger == nil {
		o.Logger = b.logger
	}
	o.Logger = o.Logger.With("stream", o.Stream, "consumer", o.Durable)
	return o
}

// backoff returns the delay before redelivering a message that failed at its
// n-th delivery (from 1).
func (o ConsumeOptions) backoff(n uint64) time.Duration {
	i := int(min(n, uint64(len(o.Backoff)))) - 1
	return o.Backoff[max(i, 0)]
}

// Consume runs the durable pull consumer o.Durable on o.Stream (creating or
// updating it, explicit acks) and calls handle for each message, at most
// o.Concurrency at once, until ctx is done.
//
// handle gets a context carrying the trace context extracted from the
// message's headers, inside a consumer span "process <subject>"; the context
// is not cancelled when ctx is, and expires shortly before AckWait. When
// handle returns:
//
//   - nil: the message is acknowledged;
//   - an error: it is redelivered after the Backoff delay; at its MaxDeliver-th
//     delivery it is dead-lettered instead;
//   - an error made by Permanent: it is dead-lettered at once.
//
// A handler that panics counts as failed. A message whose earlier deliveries
// all timed out (the handler hung or its process died) is dead-lettered at
// its delivery after MaxDeliver without calling handle again.
//
// Dead-lettering copies the message, with its headers, to
// DeadLetterSubject(o.DeadLetterName) and adds HeaderError,
// HeaderOriginalSubject, HeaderOriginalStream, HeaderOriginalSequence,
// HeaderDeliveries, HeaderConsumer and HeaderPermanent; then the original is
// terminated. If the dead letter cannot be stored the original is
// redelivered later instead, so nothing is lost.
//
// When ctx is done Consume stops fetching, lets the handlers in flight finish
// and returns nil. It returns ErrConsumerStopped if the consumer stops on its
// own first (connection closed, consumer deleted), and an error if the
// consumer cannot be created.
func (b *Bus) Consume(ctx context.Context, o ConsumeOptions, handle func(ctx context.Context, msg jetstream.Msg) error) error {
	if o.Stream == "" || o.Durable == "" {
		return errors.New("bus: consume: Stream and Durable are required")
	}
	if handle == nil {
		return errors.New("bus: consume: nil handler")
	}
	o = o.withDefaults(b)

	cons, err := b.js.CreateOrUpdateConsumer(ctx, o.Stream, jetstream.ConsumerConfig{
		Durable:       o.Durable,
		FilterSubject: o.FilterSubject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// One delivery more than the handler gets, so that a message whose
		// every delivery timed out still reaches us once to be dead-lettered.
		MaxDeliver: o.MaxDeliver + 1,
	})
	if err != nil {
		return fmt.Errorf("bus: consumer %s on %s: %w", o.Durable, o.Stream, err)
	}

	c := &consumer{bus: b, o: o, handle: handle, sem: make(chan struct{}, o.Concurrency)}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		// Runs on the subscription's goroutine: waiting for a slot here
		// holds back further deliveries.
		c.sem <- struct{}{}
		c.wg.Add(1)
		go func() {
			defer func() { <-c.sem; c.wg.Done() }()
			c.process(ctx, msg)
		}()
	},
		jetstream.PullMaxMessages(o.Concurrency),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			o.Logger.Warn("consume", "err", err)
		}),
	)
	if err != nil {
		return fmt.Errorf("bus: consume %s on %s: %w", o.Durable, o.Stream, err)
	}
	closed := cc.Closed()

	select {
	case <-ctx.Done():
		// Deliver what is buffered, then wait for every handler.
		cc.Drain()
		<-closed
		c.wg.Wait()
		return nil
	case <-closed:
		c.wg.Wait()
		return fmt.Errorf("%w: %s on %s", ErrConsumerStopped, o.Durable, o.Stream)
	}
}

// consumer is one running Consume loop.
type consumer struct {
	bus    *Bus
	o      ConsumeOptions
	handle func(ctx context.Context, msg jetstream.Msg) error
	sem    chan struct{}
	wg     sync.WaitGroup
}

// process handles one delivery and settles it: ack, nak with delay, or dead
// letter and term.
func (c *consumer) process(runCtx context.Context, msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		// Not a JetStream message; nothing to settle.
		c.o.Logger.Error("message without metadata", "subject", msg.Subject(), "err", err)
		return
	}
	ctx := otel.GetTextMapPropagator().Extract(context.WithoutCancel(runCtx), HeaderCarrier(msg.Headers()))
	ctx, cancel := context.WithTimeout(ctx, c.o.AckWait-c.o.AckWait/10)
	defer cancel()
	ctx, span := tracer().Start(ctx, "process "+msg.Subject(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String("nats"),
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(msg.Subject()),
			semconv.MessagingConsumerGroupName(c.o.Durable),
			semconv.MessagingMessageID(HeaderCarrier(msg.Headers()).Get(jetstream.MsgIDHeader)),
			attribute.Int64("messaging.nats.delivery_count", int64(meta.NumDelivered)),
		))
	defer span.End()
	log := c.o.Logger.With("subject", msg.Subject(), "stream_seq", meta.Sequence.Stream, "delivery", meta.NumDelivered)

	if meta.NumDelivered > uint64(c.o.MaxDeliver) {
		err := fmt.Errorf("not acknowledged after %d deliveries (handler timed out or its process stopped)", meta.NumDelivered-1)
		span.SetStatus(codes.Error, err.Error())
		c.deadLetter(ctx, log, msg, meta, err)
		return
	}

	err = c.call(ctx, msg)
	if err == nil {
		if err := msg.Ack(); err != nil {
			log.Warn("ack", "err", err)
		}
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
	if IsPermanent(err) || meta.NumDelivered >= uint64(c.o.MaxDeliver) {
		c.deadLetter(ctx, log, msg, meta, err)
		return
	}
	delay := c.o.backoff(meta.NumDelivered)
	log.Warn("handler failed, will redeliver", "err", err, "delay", delay)
	if err := msg.NakWithDelay(delay); err != nil {
		log.Warn("nak", "err", err)
	}
}

// call runs the handler, turning a panic into an error.
func (c *consumer) call(ctx context.Context, msg jetstream.Msg) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v\n%s", r, debug.Stack())
		}
	}()
	return c.handle(ctx, msg)
}

// deadLetter copies msg to the dead-letter subject and terminates it. If the
// copy cannot be stored, msg is redelivered later instead.
func (c *consumer) deadLetter(ctx context.Context, log *slog.Logger, msg jetstream.Msg, meta *jetstream.MsgMetadata, cause error) {
	dl := nats.NewMsg(DeadLetterSubject(c.o.DeadLetterName))
	dl.Data = msg.Data()
	for k, v := range msg.Headers() {
		dl.Header[k] = append([]string(nil), v...)
	}
	// JetStream control headers of the original must not act on the copy.
	for k := range dl.Header {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			delete(dl.Header, k)
		}
	}
	dl.Header.Set(HeaderError, headerValue(cause.Error(), maxErrorHeader))
	dl.Header.Set(HeaderOriginalSubject, msg.Subject())
	dl.Header.Set(HeaderOriginalStream, meta.Stream)
	dl.Header.Set(HeaderOriginalSequence, strconv.FormatUint(meta.Sequence.Stream, 10))
	dl.Header.Set(HeaderDeliveries, strconv.FormatUint(meta.NumDelivered, 10))
	dl.Header.Set(HeaderConsumer, c.o.Durable)
	dl.Header.Set(HeaderPermanent, strconv.FormatBool(IsPermanent(cause)))
	// A retried dead-lettering of the same message stores one copy.
	dl.Header.Set(jetstream.MsgIDHeader, meta.Stream+":"+strconv.FormatUint(meta.Sequence.Stream, 10))

	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := c.bus.js.PublishMsg(pctx, dl); err != nil {
		delay := c.o.backoff(meta.NumDelivered)
		log.Error("dead letter not stored, will redeliver", "err", err, "cause", cause, "delay", delay)
		if err := msg.NakWithDelay(delay); err != nil {
			log.Warn("nak", "err", err)
		}
		return
	}
	log.Error("dead-lettered", "err", cause, "dead_letter_subject", dl.Subject)
	if err := msg.Term(); err != nil {
		log.Warn("term", "err", err)
	}
}
