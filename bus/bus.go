// Package bus is Whistle's NATS JetStream layer: the streams of DESIGN.md §5,
// publishing grid reports and lifecycle events, and a durable consumer loop
// with retries and a dead-letter path. Every message carries the W3C trace
// context of its publisher in its headers (see HeaderCarrier).
package bus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation is the name of the tracer this package uses.
const instrumentation = "github.com/whistle-city/whistle/bus"

// publishAsyncTimeout bounds how long an asynchronous publish waits for its
// JetStream acknowledgement before it fails.
const publishAsyncTimeout = 10 * time.Second

// Bus is a connection to NATS with its JetStream context. It is safe for
// concurrent use.
type Bus struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	logger *slog.Logger
}

// Connect connects to the NATS server(s) at url (a comma-separated list is
// fine) under the client name name. Once connected it reconnects forever
// (MaxReconnects -1), buffering publishes while disconnected, and logs
// disconnects, reconnects and asynchronous errors through slog.Default().
// The first connection is not retried: an unreachable server is an error.
func Connect(ctx context.Context, url, name string) (*Bus, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logger := slog.Default().With("component", "bus")
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(500*time.Millisecond, 2*time.Second),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			logger.Debug("nats connection closed")
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Error("nats async error", "err", err, "subject", subject)
		}),
	}
	if deadline, ok := ctx.Deadline(); ok {
		if d := time.Until(deadline); d < 5*time.Second {
			opts = append(opts, nats.Timeout(d))
		}
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect to %s: %w", url, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(publishAsyncTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	return &Bus{nc: nc, js: js, logger: logger}, nil
}

// Close flushes what is buffered for the server (acknowledgements, publishes)
// and closes the connection. Stop Consume loops first.
func (b *Bus) Close() {
	if b.nc.IsConnected() {
		if err := b.nc.FlushTimeout(5 * time.Second); err != nil {
			b.logger.Warn("nats flush on close", "err", err)
		}
	}
	b.nc.Close()
}

// Ping reports whether the server is reachable and JetStream answers: it
// asks for the account's JetStream information.
func (b *Bus) Ping(ctx context.Context) error {
	if !b.nc.IsConnected() {
		return fmt.Errorf("bus: not connected (%s)", b.nc.Status())
	}
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("bus: jetstream: %w", err)
	}
	return nil
}

// JetStream returns the JetStream context of the connection.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Conn returns the underlying NATS connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// tracer returns the package's tracer from the global provider, looked up at
// use so that a provider installed after Connect is honoured.
func tracer() trace.Tracer { return otel.Tracer(instrumentation) }
