package bus

import "strings"

// Stream names (DESIGN.md §5).
const (
	// StreamReports holds grid reports, whistle.reports.<street>, until the
	// dispatcher has started their workflow (work-queue retention).
	StreamReports = "GRID_REPORTS"
	// StreamEvents holds lifecycle events for department systems:
	// whistle.tasks.<department>, whistle.escalations.<street> and
	// whistle.events.<type>, kept 30 days.
	StreamEvents = "WHISTLE_EVENTS"
	// StreamDeadLetter holds messages a consumer gave up on,
	// whistle.deadletter.<name>, kept 30 days.
	StreamDeadLetter = "WHISTLE_DEADLETTER"
)

// ConsumerDispatcher is the durable consumer of StreamReports that starts
// one workflow per report.
const ConsumerDispatcher = "dispatcher"

// Subject prefixes; a subject is a prefix followed by one token.
const (
	SubjectReports     = "whistle.reports."
	SubjectTasks       = "whistle.tasks."
	SubjectEscalations = "whistle.escalations."
	SubjectEvents      = "whistle.events."
	SubjectDeadLetter  = "whistle.deadletter."
)

// SubjectCatalogueChanged carries, on core NATS, the notice that an item of
// the responsibility list changed, so every process reloads the list (see
// package catalogue). It lies outside every stream's subjects on purpose:
// a notice matters only to the processes running when it is sent (a process
// that starts later loads the list anyway), so nothing should store it.
const SubjectCatalogueChanged = "whistle.catalogue.changed"

// ReportSubject returns the subject of a report from street:
// "whistle.reports.<street>".
func ReportSubject(street string) string { return SubjectReports + Token(street) }

// TaskSubject returns the subject of task events of a department:
// "whistle.tasks.<department>".
func TaskSubject(department string) string { return SubjectTasks + Token(department) }

// EscalationSubject returns the subject of escalations in a street:
// "whistle.escalations.<street>".
func EscalationSubject(street string) string { return SubjectEscalations + Token(street) }

// EventSubject returns the subject of a lifecycle event type:
// "whistle.events.<type>".
func EventSubject(typ string) string { return SubjectEvents + Token(typ) }

// DeadLetterSubject returns the dead-letter subject of a consumer:
// "whistle.deadletter.<name>".
func DeadLetterSubject(name string) string { return SubjectDeadLetter + Token(name) }

// Token makes s usable as a single subject token: the characters NATS
// reserves in subjects ('.', '*', '>', whitespace) become '_', and the empty
// string becomes "_". Codes from the jurisdiction file (FH, FH-01, SR-001)
// pass unchanged.
func Token(s string) string {
	if s == "" {
		return "_"
	}
	if !strings.ContainsAny(s, ".*> \t\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, s)
}
