package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Retention and de-duplication of the streams.
const (
	// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id and drops
	// a second message with it. Two minutes covers a client's or an activity's
	// retries; beyond it, reports are still never handled twice because the
	// workflow id is the incident id, and event consumers can de-duplicate on
	// (incident_id, seq).
	DuplicateWindow = 2 * time.Minute
	// EventRetention is how long lifecycle events and dead letters are kept.
	EventRetention = 30 * 24 * time.Hour
)

// StreamOption configures EnsureStreams.
type StreamOption func(*streamOptions)

type streamOptions struct{ replicas int }

// WithReplicas keeps every stream on n servers of a JetStream cluster (1,
// the default, on a single server; 3 survives the loss of one node). A
// stream's replicas can be raised on a running cluster: EnsureStreams
// updates it.
func WithReplicas(n int) StreamOption {
	return func(o *streamOptions) { o.replicas = n }
}

// StreamConfigs returns the configuration of the three streams of
// DESIGN.md §5: file storage, replicas copies (1 when less than 1).
func StreamConfigs(replicas int) []jetstream.StreamConfig {
	replicas = max(replicas, 1)
	cfgs := []jetstream.StreamConfig{
		{
			Name:        StreamReports,
			Description: "Grid reports waiting for the dispatcher to start their workflow.",
			Subjects:    []string{SubjectReports + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Duplicates:  DuplicateWindow,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        StreamEvents,
			Description: "Incident lifecycle events: tasks per department, escalations per street, every event by type.",
			Subjects:    []string{SubjectTasks + ">", SubjectEscalations + ">", SubjectEvents + ">"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			MaxAge:      EventRetention,
			Duplicates:  DuplicateWindow,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        StreamDeadLetter,
			Description: "Messages a consumer gave up on, with Whistle-Error and the original subject in their headers.",
			Subjects:    []string{SubjectDeadLetter + ">"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			MaxAge:      EventRetention,
			Duplicates:  DuplicateWindow,
			Discard:     jetstream.DiscardOld,
		},
	}
	for i := range cfgs {
		cfgs[i].Replicas = replicas
	}
	return cfgs
}

// EnsureStreams creates the three streams, or updates them to the
// configuration of StreamConfigs with the options' replicas. It is
// idempotent and safe to run from several processes at once. On a cluster
// that has not yet elected its meta leader it fails; the caller retries.
func (b *Bus) EnsureStreams(ctx context.Context, opts ...StreamOption) error {
	o := streamOptions{replicas: 1}
	for _, opt := range opts {
		opt(&o)
	}
	if o.replicas < 1 || o.replicas > 5 {
		return fmt.Errorf("bus: %d stream replicas: JetStream keeps 1 to 5", o.replicas)
	}
	for _, cfg := range StreamConfigs(o.replicas) {
		if err := b.ensureStream(ctx, cfg); err != nil {
			return err
		}
	}
	return nil
}

func (b *Bus) ensureStream(ctx context.Context, cfg jetstream.StreamConfig) error {
	var err error
	// Two processes may race between "not found" and "create"; the loser's
	// create fails with ErrStreamNameAlreadyInUse when the configurations
	// differ in a detail the server fills in, and its next update succeeds.
	for range 3 {
		_, err = b.js.CreateOrUpdateStream(ctx, cfg)
		if err == nil || !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("bus: ensure stream %s: %w", cfg.Name, err)
	}
	return nil
}
