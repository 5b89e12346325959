// Package activities holds every side effect IncidentWorkflow asks for:
// projecting an incident to the Postgres read model and publishing its
// lifecycle events on NATS. Both are idempotent, because Temporal retries an
// activity whose worker died before it reported back.
package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/workflows"
)

// Projector writes incident snapshots to the read model (*store.Store).
type Projector interface {
	// Project upserts the snapshot if it is newer than the stored one;
	// an older or equal snapshot is a no-op.
	Project(ctx context.Context, in *incident.Incident) error
}

// Publisher publishes lifecycle events (*bus.Bus).
type Publisher interface {
	// PublishEntries publishes the events for the given timeline entries of
	// in, de-duplicated by incident id and sequence number.
	PublishEntries(ctx context.Context, in *incident.Incident, entries []incident.Entry) error
}

// Activities are the incident workflow's activities, holding their
// dependencies.
type Activities struct {
	Store Projector
	Bus   Publisher
}

// Register registers the activities on w under the names the workflow uses.
func (a *Activities) Register(w worker.ActivityRegistry) {
	w.RegisterActivityWithOptions(a.RecordIncident, activity.RegisterOptions{Name: workflows.ActivityRecord})
}

// RecordIncident writes the snapshot to the read model, then publishes the
// timeline entries after in.FromSeq as events. Both steps are idempotent,
// so a retry after a crash between them writes and publishes nothing twice.
func (a *Activities) RecordIncident(ctx context.Context, in workflows.RecordInput) error {
	if err := a.Store.Project(ctx, in.Incident); err != nil {
		return fmt.Errorf("project incident %s v%d: %w", in.Incident.ID, in.Incident.Version, err)
	}
	if in.FromSeq >= len(in.Incident.Timeline) {
		return nil
	}
	if err := a.Bus.PublishEntries(ctx, in.Incident, in.Incident.Timeline[in.FromSeq:]); err != nil {
		return fmt.Errorf("publish events of incident %s: %w", in.Incident.ID, err)
	}
	return nil
}
