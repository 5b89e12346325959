// Package workflows holds IncidentWorkflow: one durable workflow per incident
// that owns its deadlines as timers and its human steps as validated Updates.
// It is deterministic and reaches Postgres and NATS only through activities.
//
// This file is the contract shared with the callers (dispatcher, api):
// the task queue, the workflow and update names, and the input types.
package workflows

import (
	"cmp"
	"encoding/json"
	"time"

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

// Input starts an IncidentWorkflow. It carries every rule the incident
// runs by, each default resolved (NewInput), so neither a later change of
// the jurisdiction nor one of a default in code changes an incident in
// flight. A zero field is only found in the inputs of incidents started
// before the defaults were resolved here: Rules gives it the meaning it had
// then (the legacy* constants).
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
	// MaxReturns is how often a department may return the same task (退单).
	MaxReturns int `json:"max_returns,omitempty"`
	// EnforcementAck is the acknowledgement deadline of enforcement tasks
	// (执法指挥调度).
	EnforcementAck jurisdiction.Duration `json:"enforcement_ack,omitzero"`
	// RatingWindow is how long after closing the workflow still takes the
	// street's ratings of completed tasks.
	RatingWindow jurisdiction.Duration `json:"rating_window,omitzero"`
}

// What a zero field of an Input meant before NewInput resolved every
// default. They must never change: incidents started then run by them.
var (
	legacyAck            = jurisdiction.Clock(time.Hour)
	legacyEnforcementAck = jurisdiction.Clock(30 * time.Minute)
	legacyRatingWindow   = jurisdiction.Clock(7 * 24 * time.Hour)
)

const legacyMaxReturns = 1

// NewInput returns the input that starts the incident of report r on item
// it of jurisdiction j: every rule it will run by, each default of the
// jurisdiction and of this release resolved. cal is j.Calendar(), passed in
// because computing it is not free.
func NewInput(j *jurisdiction.Jurisdiction, it jurisdiction.Item, r incident.Report, cal jurisdiction.Calendar) Input {
	rules := j.RulesFor(it, cal)
	in := Input{
		Report: r, Item: it.Snapshot(), SLA: rules.SLA, Calendar: cal, Escalation: rules.Escalation,
		MaxReopens: rules.Bounds.MaxReopens, MaxReturns: rules.Bounds.MaxReturns, EnforcementAck: rules.EnforcementAck,
		RatingWindow: cmp.Or(j.Assessment.RatingWindow, jurisdiction.DefaultRatingWindow),
	}
	in.Item.Enforcement = j.EnforcementTeams(it)
	return in
}

// Rules are the rules of the incident in: its deadlines, ladder and limits.
// flat keeps the ladder of incidents started before it existed (level 1 at
// the deadline only).
func (in Input) Rules(flat bool) jurisdiction.Rules {
	return jurisdiction.Rules{
		SLA: in.SLA, Ack: legacyAck, EnforcementAck: cmp.Or(in.EnforcementAck, legacyEnforcementAck),
		Calendar: in.Calendar, Escalation: in.Escalation, Flat: flat,
		Bounds: incident.Limits{MaxReopens: in.MaxReopens, MaxReturns: cmp.Or(in.MaxReturns, legacyMaxReturns)},
	}
}

// ratingWindow is how long the closed incident's workflow takes ratings.
func (in Input) ratingWindow() jurisdiction.Duration {
	return cmp.Or(in.RatingWindow, legacyRatingWindow)
}

// UpdateInput is the argument of every Update: who acts, and the command
// (one of incident.Commands, matching the Update name). It is sent as
// JSON: {"actor": …, "command": {the command's fields}}.
type UpdateInput struct {
	Actor   incident.Actor   `json:"actor"`
	Command incident.Command `json:"command"`
}

// updateArgs is UpdateInput as the workflow receives it: the command still
// JSON, decoded by the Update's name (incident.Decode).
type updateArgs struct {
	Actor   incident.Actor  `json:"actor"`
	Command json.RawMessage `json:"command"`
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
