// Package activities holds every side effect IncidentWorkflow asks for:
// projecting an incident to the Postgres read model and publishing its
// lifecycle events on NATS. Both are idempotent, because Temporal retries an
// activity whose worker died before it reported back.
package activities

import (
	"context"

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
func (a *Activities) Register(w worker.Registry) {
	w.RegisterActivityWithOptions(a.ProjectIncident, activity.RegisterOptions{Name: workflows.ActivityProject})
	w.RegisterActivityWithOptions(a.PublishEvents, activity.RegisterOptions{Name: workflows.ActivityPublish})
}

// ProjectIncident writes the snapshot to the read model.
func (a *Activities) ProjectIncident(ctx context.Context, in *incident.Incident) error {
	return a.Store.Project(ctx, in)
}

// PublishEvents publishes the entries as lifecycle events.
func (a *Activities) PublishEvents(ctx context.Context, p workflows.PublishInput) error {
	in := &incident.Incident{ID: p.IncidentID, Street: p.Street, Category: p.Category, Status: p.Status}
	return a.Bus.PublishEntries(ctx, in, p.Entries)
}
