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

// StreamConfigs returns the configuration of the three streams of
// DESIGN.md §5 (file storage, one replica).
func StreamConfigs() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
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
}

// EnsureStreams creates the three streams, or updates them to the
// configuration of StreamConfigs. It is idempotent and safe to run from
// several processes at once.
func (b *Bus) EnsureStreams(ctx context.Context) error {
	for _, cfg := range StreamConfigs() {
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
