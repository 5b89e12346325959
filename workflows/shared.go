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

// SignalDuplicateReported is sent by the workflow of a report linked as a
// duplicate (Input.Report.DuplicateOf) to its original's workflow (workflow
// id = the original's incident id), with an incident.Duplicate describing
// the duplicate. The original records it (incident.RecordDuplicate): a
// duplicate_reported entry and one more in Incident.Duplicates.
const SignalDuplicateReported = "duplicate_reported"

// Input starts an IncidentWorkflow. It carries a snapshot of every rule the
// incident runs by, so a later change of the jurisdiction never changes an
// incident in flight.
type Input struct {
	// Report is the report, with its links (DuplicateOf, RepeatOf) set by
	// the dispatcher.
	Report     incident.Report       `json:"report"`
	Item       incident.Item         `json:"item"`
	SLA        jurisdiction.SLA      `json:"sla"`
	Calendar   jurisdiction.Calendar `json:"calendar"`
	MaxReopens int                   `json:"max_reopens"`
	// Escalation is the item's escalation ladder (warning share and levels
	// after the deadline). Nil: level 1 at the deadline, nothing more.
	Escalation *jurisdiction.Escalation `json:"escalation,omitempty"`
	// MaxReturns is how often a department may return the same task (退单);
	// 0 means incident.DefaultMaxReturns.
	MaxReturns int `json:"max_returns,omitempty"`
	// EnforcementAck is the acknowledgement deadline of enforcement tasks
	// (执法指挥调度); zero means DefaultEnforcementAck.
	EnforcementAck jurisdiction.Duration `json:"enforcement_ack,omitzero"`
	// RatingWindow is how long after closing the workflow still takes the
	// street's ratings of completed tasks; zero means
	// jurisdiction.DefaultRatingWindow.
	RatingWindow jurisdiction.Duration `json:"rating_window,omitzero"`
}

// NewInput returns the input that starts the incident of report r on item
// it of jurisdiction j: the snapshot of every rule it will run by. cal is
// j.Calendar(), passed in because computing it is not free.
func NewInput(j *jurisdiction.Jurisdiction, it jurisdiction.Item, r incident.Report, cal jurisdiction.Calendar) Input {
	esc := j.ItemEscalation(it)
	in := Input{
		Report: r, Item: it.Snapshot(), SLA: it.SLA, Calendar: cal,
		MaxReopens: j.MaxReopens, Escalation: &esc,
		MaxReturns: j.Disputes.MaxReturns, EnforcementAck: j.Enforcement.Ack,
		RatingWindow: j.Assessment.RatingWindow,
	}
	in.Item.Enforcement = j.EnforcementTeams(it)
	return in
}

// UpdateInput is the argument of every Update: who acts, and the command
// (one of incident.Resolve, Escalate, Whistle, Ack, Complete, Return,
// Reassign, Overrule, Refer, Verify, GiveFeedback, Urge, RequestExtension,
// DecideExtension, Suspend, Resume, matching the Update name).
type UpdateInput[C incident.Command] struct {
	Actor   incident.Actor `json:"actor"`
	Command C              `json:"command"`
}

// Result of every Update: where the incident is after the command. The
// handler answers once that version is in the read model, so the caller
// reads the incident from there. (The whole incident is not returned: every
// Update result is kept in the workflow history.)
type Result struct {
	Version int             `json:"version"`
	Status  incident.Status `json:"status"`
}

// ActivityRecord is the name of the (local) activity that records a change:
// it writes the incident snapshot to the read model, then publishes the
// timeline entries after FromSeq as events. The activities package
// registers its method under this name, so this package needs no import of
// the code that does the I/O.
const ActivityRecord = "RecordIncident"

// RecordInput is the argument of ActivityRecord.
type RecordInput struct {
	// Incident is a snapshot that shares nothing with the workflow's state.
	Incident *incident.Incident `json:"incident"`
	// FromSeq: entries with Seq > FromSeq are published.
	FromSeq int `json:"from_seq"`
}
