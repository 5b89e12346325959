package incident

import "time"

// Entry is one line of an incident's timeline. Seq numbers entries from 1
// without gaps; (incident id, seq) identifies an entry and the event published
// for it, which is what makes projection and publication idempotent.
type Entry struct {
	Seq        int       `json:"seq"`
	At         time.Time `json:"at"`
	Type       string    `json:"type"`
	Actor      string    `json:"actor"`
	Note       string    `json:"note"`
	TaskID     string    `json:"task_id,omitempty"`
	Department string    `json:"department,omitempty"`
	Status     Status    `json:"status,omitempty"` // the incident's status after the entry
	Level      int       `json:"level,omitempty"`  // escalation level, for escalation entries
}

// Timeline entry types. Each is published as whistle.events.<type>.
const (
	EventReported           = "reported"
	EventRouted             = "routed"       // to the community or the street by tier
	EventEscalated          = "escalated"    // community → street
	EventWhistled           = "whistled"     // street calls departments
	EventTaskCreated        = "task_created" // one per task
	EventAcknowledged       = "acknowledged"
	EventCompleted          = "completed"
	EventAllCompleted       = "all_completed" // every task done: on to verification
	EventReturned           = "returned"
	EventReassigned         = "reassigned"
	EventTaskCancelled      = "task_cancelled"
	EventResolved           = "resolved"
	EventVerified           = "verified"
	EventVerificationFailed = "verification_failed"
	EventFeedback           = "feedback"
	EventReopened           = "reopened"
	EventClosed             = "closed"
	EventAckWarning         = "ack_warning"     // yellow: most of the acknowledgement time is gone
	EventResolveWarning     = "resolve_warning" // yellow: most of the resolution time is gone
	EventAckOverdue         = "ack_overdue"     // an escalation level of the ack ladder (Level 1..3)
	EventResolveOverdue     = "resolve_overdue" // an escalation level of the resolution ladder (Level 1..3)
	EventUrged              = "urged"           // manual 催办 by the street or the district
	EventExtensionRequested = "extension_requested"
	EventExtensionApproved  = "extension_approved"
	EventExtensionRefused   = "extension_refused"
	EventSuspended          = "suspended"
	EventResumed            = "resumed"
	EventReviewDue          = "review_due"         // a suspended incident's review date has come
	EventEnforcementCalled  = "enforcement_called" // the street calls enforcement teams directly (执法指挥调度)
	EventRoutingOverride    = "routing_override"   // the street whistled other departments than the list's, with a reason
	EventOverruled          = "overruled"          // a return (退单) overruled: the department must take the task
	EventDisputeReferred    = "dispute_referred"   // the street cannot settle a return: up to the district
	EventRated              = "rated"              // the street scored a completed task (考核), note "<score>[ — note]"
	EventDuplicate          = "duplicate"          // this report duplicates an open incident: linked, closed without tasks
	EventRepeat             = "repeat"             // this report repeats a recently closed incident (重复诉求)
	// EventDuplicateReported is on the original: a later report was linked to it as a duplicate.
	EventDuplicateReported = "duplicate_reported"
	EventNoted             = "noted" // the street's (or the district's) note on the timeline (AddNote)
)

// IsEscalation reports whether entries of this type are escalation steps —
// or, like a repeat (重复诉求), something the street must look at —:
// published to the street's escalation subject as well.
func IsEscalation(typ string) bool {
	switch typ {
	case EventAckWarning, EventResolveWarning, EventAckOverdue, EventResolveOverdue, EventUrged, EventReviewDue,
		EventDisputeReferred, EventRepeat:
		return true
	}
	return false
}
