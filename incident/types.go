// Package incident is the domain of Whistle: incidents reported from the
// street, the tasks the street whistles out to departments, and the rules
// that move them from report to closed. It is pure Go with no I/O, so the
// workflow can run it deterministically and tests can run it directly.
package incident

import (
	"strings"
	"time"
)

// Status is where an incident is in the loop.
type Status string

// Incident statuses (DESIGN.md §4).
const (
	StatusReceived         Status = "received"          // accepted by the API, workflow not yet started
	StatusCommunity        Status = "community"         // community tier: with the grid
	StatusTriage           Status = "triage"            // street tier: with the street
	StatusDispatched       Status = "dispatched"        // tasks out to departments
	StatusVerifying        Status = "verifying"         // all tasks completed, on-site check pending
	StatusAwaitingFeedback Status = "awaiting_feedback" // return visit pending
	StatusSuspended        Status = "suspended"         // 挂账: clocks stopped
	StatusClosed           Status = "closed"
	StatusRejected         Status = "rejected"
)

// Terminal reports whether no further command can change the incident.
func (s Status) Terminal() bool { return s == StatusClosed || s == StatusRejected }

// TaskStatus is where a department's task is.
type TaskStatus string

// Task statuses (DESIGN.md §4).
const (
	TaskPendingAck   TaskStatus = "pending_ack"
	TaskAcknowledged TaskStatus = "acknowledged"
	TaskReturned     TaskStatus = "returned"
	TaskCompleted    TaskStatus = "completed"
	TaskCancelled    TaskStatus = "cancelled"
)

// Tier says who handles an item: 小事不出社区、大事不出街道.
type Tier string

// Tiers.
const (
	TierCommunity  Tier = "community"
	TierStreet     Tier = "street"
	TierDepartment Tier = "department"
)

// Valid reports whether t is a known tier.
func (t Tier) Valid() bool {
	return t == TierCommunity || t == TierStreet || t == TierDepartment
}

// Role is what a token holder is in the loop (DESIGN.md §4).
type Role string

// Roles.
const (
	RoleGridWorker Role = "grid_worker"
	RoleStreet     Role = "street"
	RoleDepartment Role = "department"
	RoleDistrict   Role = "district"
	RoleAdmin      Role = "admin"
	// RoleIntake is a system that sends reports on residents' behalf (the
	// 12345 hotline's work orders, an app, an Open311 client); its org is
	// its channel (ChannelHotline, ChannelAPI, "open311:<client>"). It
	// reports anywhere in the district and reads only what it sent.
	RoleIntake Role = "intake"
)

// Roles lists every role, in the order they are printed.
var Roles = []Role{RoleGridWorker, RoleStreet, RoleDepartment, RoleDistrict, RoleAdmin, RoleIntake}

// Channels an incident comes in by (Incident.Channel). An Open311 client's
// channel is ChannelOpen311Prefix + its name.
const (
	ChannelGrid          = "grid"       // a grid worker's report
	ChannelHotline       = "hotline"    // a 12345 hotline work order
	ChannelAPI           = "api"        // another system through POST /v1/reports
	ChannelDelegation    = "delegation" // a department handing a matter down (准入)
	ChannelOpen311Prefix = "open311:"
)

// MaxExternalRefLen bounds Report.ExternalRef.
const MaxExternalRefLen = 200

// ValidChannel reports whether c is a channel an intake system may send
// by: ChannelHotline, ChannelAPI or "open311:<client>" with a client name
// of letters, digits, '-', '_' and '.', at most 64 bytes.
func ValidChannel(c string) bool {
	if c == ChannelHotline || c == ChannelAPI {
		return true
	}
	name, ok := strings.CutPrefix(c, ChannelOpen311Prefix)
	return ok && ValidClientName(name)
}

// ValidClientName reports whether name may name an Open311 client: 1 to 64
// letters, digits, '-', '_' or '.'.
func ValidClientName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// ChannelOf returns the channel in came in by, reading an incident started
// before channels were recorded (Channel "") as a delegation's or a grid
// worker's.
func ChannelOf(in *Incident) string {
	switch {
	case in.Channel != "":
		return in.Channel
	case in.Delegation != "":
		return ChannelDelegation
	}
	return ChannelGrid
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// SystemActor is the actor of the timeline entries the incident writes
// itself: routing at the start, clock steps (warnings, escalation levels,
// the closing without a return visit), duplicates and repeats.
const SystemActor = "system"

// Actor is who issues a command: the claims of a verified token.
type Actor struct {
	Sub  string `json:"sub"`
	Role Role   `json:"role"`
	Org  string `json:"org"`
}

// String is how an actor appears on the timeline: "role:org:sub".
func (a Actor) String() string { return string(a.Role) + ":" + a.Org + ":" + a.Sub }

// TaskRole is a department's part in an incident.
type TaskRole string

// Task roles: the lead has primary responsibility (主体责任), the others cooperate (配合责任).
const (
	TaskLead        TaskRole = "lead"
	TaskCooperating TaskRole = "cooperating"
)

// Rating is the resident's answer at the return visit (回访).
type Rating string

// Ratings.
const (
	RatingSatisfied          Rating = "satisfied"
	RatingBasicallySatisfied Rating = "basically_satisfied"
	RatingUnsatisfied        Rating = "unsatisfied"
)

// Valid reports whether r is a known rating.
func (r Rating) Valid() bool {
	return r == RatingSatisfied || r == RatingBasicallySatisfied || r == RatingUnsatisfied
}

// Location is where the reporter stood.
type Location struct {
	Lat     float64 `json:"lat"`
	Lng     float64 `json:"lng"`
	Address string  `json:"address"`
}

// Item is the snapshot of a responsibility-list item (属地管理事项) that an
// incident started with; later changes to the list do not touch it.
type Item struct {
	Code        string   `json:"code"`
	Name        string   `json:"name"`
	Domain      string   `json:"domain,omitempty"`
	Tier        Tier     `json:"tier"`
	Lead        string   `json:"lead,omitempty"`
	Cooperating []string `json:"cooperating,omitempty"`
	// Enforcement lists, for an item in one of the district's enforcement
	// domains, those of its departments that are enforcement teams: when
	// the item is whistled by default they are called as enforcement
	// tasks (执法指挥调度), on the shorter acknowledgement deadline.
	Enforcement []string `json:"enforcement,omitempty"`
	// Version is the version of the item in the catalogue when the incident
	// started (0 when it started from a list without versions).
	Version int `json:"version"`
}

// Report is what a grid worker sent, after the API checked it against the
// jurisdiction and filled in the street and community of the grid.
type Report struct {
	IncidentID  string     `json:"incident_id"`
	Category    string     `json:"category"`
	Street      string     `json:"street"`
	Community   string     `json:"community"`
	Grid        string     `json:"grid"`
	Description string     `json:"description"`
	Location    Location   `json:"location"`
	Photos      []string   `json:"photos,omitempty"`
	OccurredAt  *time.Time `json:"occurred_at,omitempty"`
	ReportedAt  time.Time  `json:"reported_at"`
	Reporter    string     `json:"reporter"`
	// Delegation is the id of the delegation (准入) by which a department
	// handed this matter down to the street; "" for a grid worker's report.
	// Reporter is then the department's actor ("department:CG:sub").
	Delegation string `json:"delegation,omitempty"`
	// Channel is how the report came in ("" is ChannelGrid, or
	// ChannelDelegation with a Delegation); ExternalRef the sender's own
	// reference, unique per channel ("" for none).
	Channel     string `json:"channel,omitempty"`
	ExternalRef string `json:"external_ref,omitempty"`
	// Attributes are the answers to the item's attributes (Open311
	// service attributes), by code; nil when it has none.
	Attributes map[string][]string `json:"attributes,omitempty"`
	// DuplicateOf, set by the dispatcher, is the open incident of the same
	// item at the same place that this report duplicates: the incident
	// starts closed, without tasks (New).
	DuplicateOf *string `json:"duplicate_of,omitempty"`
	// RepeatOf, set by the dispatcher, is the recently closed incident of
	// the same item at the same place that this report repeats (重复诉求):
	// the incident is handled as usual and flagged to the street.
	RepeatOf *string `json:"repeat_of,omitempty"`
}

// Duplicate is a later report that was linked to an incident as its
// duplicate: what the original's timeline records of it.
type Duplicate struct {
	IncidentID string    `json:"incident_id"` // the duplicate's own incident id
	Grid       string    `json:"grid"`
	Reporter   string    `json:"reporter"`
	ReportedAt time.Time `json:"reported_at"`
}

// Task is one department's share of an incident.
type Task struct {
	ID           string     `json:"id"`
	Department   string     `json:"department"`
	Role         TaskRole   `json:"role"`
	Status       TaskStatus `json:"status"`
	Round        int        `json:"round"`
	CreatedAt    time.Time  `json:"created_at"`
	AckDue       time.Time  `json:"ack_due"`
	ResolveDue   time.Time  `json:"resolve_due"`
	AckedAt      *time.Time `json:"acked_at"`
	CompletedAt  *time.Time `json:"completed_at"`
	Result       string     `json:"result,omitempty"`
	ReturnReason string     `json:"return_reason,omitempty"`
	ReassignedTo string     `json:"reassigned_to,omitempty"`
	// EscalationLevel is the highest level either clock has reached.
	EscalationLevel int `json:"escalation_level"`
	// AckOverdue and ResolveOverdue are set when the deadline passed
	// (level 1 of its ladder was reached).
	AckOverdue     bool `json:"ack_overdue,omitempty"`
	ResolveOverdue bool `json:"resolve_overdue,omitempty"`
	// Ack and Resolve are the two clocks and their escalation ladders;
	// AckDue and ResolveDue mirror their deadlines.
	Ack     Clock `json:"ack_clock"`
	Resolve Clock `json:"resolve_clock"`
	// Extension is the latest request to move the resolution deadline (延期).
	Extension *Extension `json:"extension,omitempty"`
	// Extensions counts the approved ones.
	Extensions int `json:"extensions,omitempty"`
	// Enforcement marks a task of an enforcement team that the street
	// called directly (执法指挥调度), on the enforcement acknowledgement
	// deadline.
	Enforcement bool `json:"enforcement,omitempty"`
	// Returns counts the department's returns (退单) of this task.
	Returns int `json:"returns,omitempty"`
	// Dispute is the latest return of the task and how it was settled.
	Dispute *Dispute `json:"dispute,omitempty"`
	// Contributions are the results the cooperating departments reported
	// to the lead, on the lead's task (joint handling).
	Contributions []Contribution `json:"contributions,omitempty"`
	// Rating is the street's assessment of the completed task (考核).
	Rating *TaskRating `json:"rating,omitempty"`
}

// TaskRating is the street's score of a completed task, 0..100.
type TaskRating struct {
	Score int       `json:"score"`
	Note  string    `json:"note,omitempty"`
	At    time.Time `json:"at"`
	By    string    `json:"by"`
}

// Dispute is a department's return of a task (退单) and the arbitration:
// the street (or, once referred, the district) reassigns the task to
// another department or overrules the return and sends it back.
type Dispute struct {
	Reason     string    `json:"reason"`
	ReturnedAt time.Time `json:"returned_at"`
	ReturnedBy string    `json:"returned_by"`
	// ReferredAt is set when the street referred the dispute to the district.
	ReferredAt *time.Time `json:"referred_at,omitempty"`
	ReferredBy string     `json:"referred_by,omitempty"`
	ReferNote  string     `json:"refer_note,omitempty"`
	// Decision is "" while the dispute is open, then "reassigned" or "overruled".
	Decision  string     `json:"decision,omitempty"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
	DecidedBy string     `json:"decided_by,omitempty"`
	Note      string     `json:"note,omitempty"`
}

// Dispute decisions.
const (
	DisputeReassigned = "reassigned"
	DisputeOverruled  = "overruled"
)

// Contribution is a cooperating department's result, reported to the lead.
type Contribution struct {
	TaskID     string    `json:"task_id"`
	Department string    `json:"department"`
	Result     string    `json:"result"`
	At         time.Time `json:"at"`
}

// Extension is a department's request to move its resolution deadline.
type Extension struct {
	Until       time.Time `json:"until"`
	Reason      string    `json:"reason"`
	RequestedAt time.Time `json:"requested_at"`
	RequestedBy string    `json:"requested_by"`
	// Decision is "" while pending, then "approved" or "refused".
	Decision  string     `json:"decision,omitempty"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
	DecidedBy string     `json:"decided_by,omitempty"`
	Note      string     `json:"note,omitempty"`
}

// Extension decisions.
const (
	ExtensionApproved = "approved"
	ExtensionRefused  = "refused"
)

// Suspension is why and until when an incident is suspended (挂账).
type Suspension struct {
	From        Status    `json:"from"` // the status it resumes to
	At          time.Time `json:"at"`
	ReviewAt    time.Time `json:"review_at"`
	Reason      string    `json:"reason"`
	By          string    `json:"by"`
	ReviewFired bool      `json:"review_fired,omitempty"`
}

// sync derives the task's flat deadline fields from its clocks.
func (t *Task) sync() {
	t.AckDue, t.ResolveDue = t.Ack.Due, t.Resolve.Due
	t.AckOverdue, t.ResolveOverdue = t.Ack.Level >= 1, t.Resolve.Level >= 1
	t.EscalationLevel = max(t.Ack.Level, t.Resolve.Level)
}

// Open reports whether the task still waits on its department.
func (t *Task) Open() bool { return t.Status == TaskPendingAck || t.Status == TaskAcknowledged }

// Overdue reports whether one of the task's running deadlines has passed at now.
func (t *Task) Overdue(now time.Time) bool {
	switch t.Status {
	case TaskPendingAck:
		return now.After(t.AckDue) || now.After(t.ResolveDue)
	case TaskAcknowledged:
		return now.After(t.ResolveDue)
	}
	return false
}

// Feedback is the return visit (回访).
type Feedback struct {
	Round    int       `json:"round"`
	Resolved bool      `json:"resolved"`
	Rating   Rating    `json:"rating"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
}
