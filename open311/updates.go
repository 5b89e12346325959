package open311

import (
	"net/http"
	"strings"
	"time"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/store"
)

// updateStatus is the status (mySociety's extended statuses) a timeline
// entry of these types tells a resident; the other entries (warnings,
// escalation levels, disputes, notes) are the district's own business.
var updateStatus = map[string]string{
	incident.EventWhistled:           "action_scheduled",
	incident.EventAcknowledged:       "in_progress",
	incident.EventCompleted:          "in_progress",
	incident.EventVerificationFailed: "in_progress",
	incident.EventResumed:            "in_progress",
	incident.EventSuspended:          "investigating",
	incident.EventResolved:           "fixed",
	incident.EventVerified:           "fixed",
	incident.EventReopened:           "open",
	incident.EventDuplicate:          "duplicate",
	incident.EventClosed:             "closed",
}

// defaultUpdatesWindow is how far back servicerequestupdates looks
// without a start_date.
const defaultUpdatesWindow = 24 * time.Hour

// updates is GET servicerequestupdates (mySociety's extension of
// GeoReport v2, which FixMyStreet polls): the steps of the client's own
// requests made in [start_date, end_date], oldest first, at most 1000.
func (s *Server) updates(w http.ResponseWriter, r *http.Request, f format) {
	k, ok := s.client(w, r, f, false)
	if !ok {
		return
	}
	q := r.URL.Query()
	var problems []string
	from, err := w3cTime(q.Get("start_date"))
	if err != nil {
		problems = append(problems, "start_date: "+err.Error())
	}
	to, err := w3cTime(q.Get("end_date"))
	if err != nil {
		problems = append(problems, "end_date: "+err.Error())
	}
	now := s.cfg.Now()
	if to.IsZero() {
		to = now
	} else {
		to = to.Add(time.Second) // inclusive, to the second
	}
	if from.IsZero() {
		from = to.Add(-defaultUpdatesWindow)
	}
	if len(problems) == 0 && !from.Before(to) {
		problems = append(problems, "end_date is before start_date")
	}
	if len(problems) > 0 {
		fail(w, f, http.StatusBadRequest, problems...)
		return
	}
	types := make([]string, 0, len(updateStatus))
	for t := range updateStatus {
		types = append(types, t)
	}
	ups, err := s.cfg.Store.Updates(r.Context(), store.ScopeOf(actor(k)), from, to, types, maxRequests)
	if err != nil {
		s.unavailable(w, r, f, err, "list the updates")
		return
	}
	j := s.cfg.Jurisdiction()
	loc := j.Location()
	out := requestUpdates{Items: make([]RequestUpdate, 0, len(ups))}
	for _, u := range ups {
		out.Items = append(out.Items, RequestUpdate{
			UpdateID: u.IncidentID + "-" + itoa(u.Seq), ServiceRequestID: u.IncidentID, Status: updateStatus[u.Type],
			UpdatedDatetime: w3c(u.At, loc), Description: updateWords(j, u.Entry),
		})
	}
	write(w, f, http.StatusOK, out)
}

// updateWords says a step in words for a resident.
func updateWords(j *jurisdiction.Jurisdiction, e incident.Entry) string {
	dept := departmentName(j, e.Department)
	note := strings.TrimSpace(e.Note)
	if len(note) > 500 {
		note = note[:500] + "…"
	}
	with := func(s string) string {
		if note == "" {
			return s
		}
		return s + ": " + note
	}
	switch e.Type {
	case incident.EventWhistled:
		return "The street office called the responsible departments"
	case incident.EventAcknowledged:
		return dept + " has taken it on"
	case incident.EventCompleted:
		return with(dept + " reports it handled")
	case incident.EventVerificationFailed:
		return "Checked on site: not handled yet; back to the departments"
	case incident.EventSuspended:
		return "Suspended for review"
	case incident.EventResumed:
		return "Work resumed"
	case incident.EventResolved:
		return with("Handled")
	case incident.EventVerified:
		return "Checked on site: handled"
	case incident.EventReopened:
		return "Reopened: the matter was not resolved"
	case incident.EventDuplicate:
		return "Already reported: followed under the earlier request"
	case incident.EventClosed:
		return "Closed"
	}
	return strings.ReplaceAll(e.Type, "_", " ")
}
