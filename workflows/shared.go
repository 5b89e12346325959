// Package workflows holds IncidentWorkflow: one durable workflow per incident
// that owns its deadlines as timers and its human steps as validated Updates.
// It is deterministic and reaches Postgres and NATS only through activities.
//
// This file is the contract shared with the callers (dispatcher, api):
// the task queue, the workflow and update names, and the input types.
package workflows

import (
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

// TaskQueue is the Temporal task queue the incident worker polls.
const TaskQueue = "whistle-incidents"

// IncidentWorkflowName is the registered name of IncidentWorkflow.
const IncidentWorkflowName = "IncidentWorkflow"

// QueryIncident returns the incident's current state (an incident.Incident).
const QueryIncident = "incident"

// Input starts an IncidentWorkflow. It carries a snapshot of every rule the
// incident runs by, so a later change of the jurisdiction never changes an
// incident in flight.
type Input struct {
	Report     incident.Report       `json:"report"`
	Item       incident.Item         `json:"item"`
	SLA        jurisdiction.SLA      `json:"sla"`
	Calendar   jurisdiction.Calendar `json:"calendar"`
	MaxReopens int                   `json:"max_reopens"`
}

// UpdateInput is the argument of every Update: who acts, and the command
// (one of incident.Resolve, Escalate, Whistle, Ack, Complete, Return,
// Reassign, Verify, GiveFeedback, matching the Update name).
type UpdateInput[C incident.Command] struct {
	Actor   incident.Actor `json:"actor"`
	Command C              `json:"command"`
}

// Result of every Update: the incident after the command was applied and
// projected to the read model.
type Result = incident.Incident

// Activity names; the activities package registers its methods under them,
// so this package needs no import of the code that does the I/O.
const (
	// ActivityProject writes an incident snapshot to the read model (arg: incident.Incident).
	ActivityProject = "ProjectIncident"
	// ActivityPublish publishes timeline entries as events (arg: PublishInput).
	ActivityPublish = "PublishEvents"
)

// PublishInput is what the publish activity needs to route events: the
// incident's identity and status, and the entries to publish.
type PublishInput struct {
	IncidentID string           `json:"incident_id"`
	Street     string           `json:"street"`
	Category   string           `json:"category"`
	Status     incident.Status  `json:"status"`
	Entries    []incident.Entry `json:"entries"`
}
