package open311

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/store"
)

// sameRequestWindow is how long a client's repeat of the same request
// (same device or account, service, place and text) answers the first
// one's id instead of making a second incident.
const sameRequestWindow = time.Minute

// create is POST requests: a service request becomes a report through the
// same intake as a grid worker's.
func (s *Server) create(w http.ResponseWriter, r *http.Request, f format, size int) {
	k, ok := s.client(w, r, f, false)
	if !ok {
		return
	}
	if size > k.MaxBodyBytes {
		fail(w, f, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"the body of %d bytes is larger than client %s's limit of %d bytes", size, k.Client, k.MaxBodyBytes))
		return
	}
	j := s.cfg.Jurisdiction()
	code := strings.TrimSpace(postValue(r, "service_code"))
	if code == "" {
		fail(w, f, http.StatusBadRequest, "service_code is required (GET services lists them)")
		return
	}
	it, found := j.Item(code)
	if !found {
		fail(w, f, http.StatusNotFound, "service_code "+code+" not found (GET services lists them)")
		return
	}
	if len(k.Items) > 0 && !slices.Contains(k.Items, code) {
		fail(w, f, http.StatusForbidden, "client "+k.Client+" may not report service "+code)
		return
	}
	body, problems := s.reportOf(r, j, it)
	if len(problems) > 0 {
		fail(w, f, http.StatusBadRequest, problems...)
		return
	}
	if len(k.Streets) > 0 {
		if _, street, _, ok := j.Locate(body.Location.Lat, body.Location.Lng); ok && !slices.Contains(k.Streets, street) {
			fail(w, f, http.StatusForbidden, "client "+k.Client+" may not report in street "+street)
			return
		}
	}
	a := actor(k)
	id, err := s.report(r, a, body)
	if err != nil {
		s.intakeFailed(w, r, f, err)
		return
	}
	write(w, f, http.StatusOK, requests{Items: []Created{{
		ServiceRequestID: id, ServiceNotice: notice(j, it), AccountID: postValue(r, "account_id"),
	}}})
}

// report sends body to the intake with an idempotency key made of who
// sent what where, in one-minute buckets: a repeat in the same bucket
// meets the first in the database's unique index, and one in the next
// bucket finds the earlier bucket's incident if it is under a minute old.
func (s *Server) report(r *http.Request, a incident.Actor, body api.ReportRequest) (string, error) {
	h := sha256.New()
	for _, v := range []string{postValue(r, "device_id"), postValue(r, "deviceid"), postValue(r, "account_id"),
		postValue(r, "email"), body.Category, strconv.FormatFloat(body.Location.Lat, 'f', 6, 64),
		strconv.FormatFloat(body.Location.Lng, 'f', 6, 64), body.Location.Address, body.Description} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	same := "open311:" + hex.EncodeToString(h.Sum(nil)[:16])
	now := s.cfg.Now()
	bucket := now.Unix() / int64(sameRequestWindow/time.Second)
	prev := same + ":" + strconv.FormatInt(bucket-1, 10)
	id, at, err := s.cfg.Store.IncidentByKey(r.Context(), a.Sub, prev)
	if err != nil {
		return "", err
	}
	if id != "" && now.Sub(at) < sameRequestWindow {
		return id, nil
	}
	return s.cfg.Reports.Report(r.Context(), a, body, same+":"+strconv.FormatInt(bucket, 10))
}

// intakeFailed answers an error of the intake in Open311's terms: what
// POST /v1/reports refuses as invalid is a 400 with one error per field.
func (s *Server) intakeFailed(w http.ResponseWriter, r *http.Request, f format, err error) {
	var p *api.Problem
	if !errors.As(err, &p) {
		s.unavailable(w, r, f, err, "record the request")
		return
	}
	status := p.Status
	switch status {
	case http.StatusUnprocessableEntity, http.StatusBadRequest:
		status = http.StatusBadRequest
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	var descriptions []string
	for _, e := range p.Errors {
		descriptions = append(descriptions, openField(e.Location)+": "+e.Message)
	}
	if len(descriptions) == 0 {
		descriptions = []string{p.Detail}
	}
	fail(w, f, status, descriptions...)
}

// openField names a field of POST /v1/reports by its Open311 name.
func openField(location string) string {
	field := strings.TrimPrefix(location, "body.")
	switch {
	case field == "category":
		return "service_code"
	case field == "location" || field == "grid":
		return "lat/long"
	case field == "location.address":
		return "address_string"
	case strings.HasPrefix(field, "photos"):
		return "media_url"
	case strings.HasPrefix(field, "attributes."):
		return "attribute[" + strings.TrimPrefix(field, "attributes.") + "]"
	}
	return field
}

// reportOf reads the form of a service request of item it into a report:
// lat and long (required: Whistle places a request by where it is),
// address_string, description (the service's name when left out),
// media_url (one or more) and attribute[code] (or attribute[code][] for a
// list). Fields it does not know are ignored; the contact fields are not
// kept.
func (s *Server) reportOf(r *http.Request, j *jurisdiction.Jurisdiction, it jurisdiction.Item) (api.ReportRequest, []string) {
	var problems []string
	b := api.ReportRequest{Category: it.Code}
	latS, lngS := strings.TrimSpace(postValue(r, "lat")), strings.TrimSpace(postValue(r, "long"))
	switch {
	case latS == "" && lngS == "":
		problems = append(problems, "lat and long are required: "+j.District.Name+" places a request in its grid by where it is, and cannot place an address alone")
	case latS == "" || lngS == "":
		problems = append(problems, "lat and long go together: both or neither")
	default:
		lat, err1 := strconv.ParseFloat(latS, 64)
		lng, err2 := strconv.ParseFloat(lngS, 64)
		if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lng < -180 || lng > 180 {
			problems = append(problems, fmt.Sprintf("lat %q and long %q must be numbers, WGS 84 degrees", latS, lngS))
		}
		b.Location.Lat, b.Location.Lng = lat, lng
	}
	b.Location.Address = strings.TrimSpace(postValue(r, "address_string"))
	b.Description = strings.TrimSpace(postValue(r, "description"))
	if b.Description == "" {
		b.Description = it.Name
		if b.Location.Address != "" {
			b.Description += " — " + b.Location.Address
		}
	}
	for _, m := range postValues(r, "media_url") {
		if m = strings.TrimSpace(m); m != "" {
			b.Photos = append(b.Photos, m)
		}
	}
	b.Attributes = attributesOf(r)
	return b, problems
}

// attributesOf collects attribute[code] and attribute[code][] fields.
func attributesOf(r *http.Request) map[string][]string {
	var out map[string][]string
	for name, vs := range r.PostForm {
		code, ok := strings.CutPrefix(name, "attribute[")
		if !ok {
			continue
		}
		code = strings.TrimSuffix(strings.TrimSuffix(code, "[]"), "]")
		if code == "" {
			continue
		}
		if out == nil {
			out = map[string][]string{}
		}
		out[code] = append(out[code], vs...)
	}
	return out
}

// list is GET requests: the client's own requests, newest first, at most
// maxRequests; service_request_id (a comma list) overrides the other
// filters, as the spec says.
func (s *Server) list(w http.ResponseWriter, r *http.Request, f format) {
	k, ok := s.client(w, r, f, false)
	if !ok {
		return
	}
	q := r.URL.Query()
	var flt store.IncidentFilter
	var problems []string
	if ids := commaList(q.Get("service_request_id")); len(ids) > 0 {
		flt.IDs = ids
	} else {
		flt.Category = commaList(q.Get("service_code"))
		statuses := commaList(q.Get("status"))
		for _, st := range statuses {
			if st != "open" && st != "closed" {
				problems = append(problems, "status "+st+": open or closed")
			}
		}
		if len(statuses) == 1 { // both, or neither, is every request
			closed := statuses[0] == "closed"
			flt.Closed = &closed
		}
		var err error
		if flt.ReportedFrom, err = w3cTime(q.Get("start_date")); err != nil {
			problems = append(problems, "start_date: "+err.Error())
		}
		if flt.ReportedTo, err = w3cTime(q.Get("end_date")); err != nil {
			problems = append(problems, "end_date: "+err.Error())
		}
		if !flt.ReportedTo.IsZero() {
			flt.ReportedTo = flt.ReportedTo.Add(time.Second) // end_date is inclusive, to the second
		}
		if !flt.ReportedFrom.IsZero() && !flt.ReportedTo.IsZero() && !flt.ReportedFrom.Before(flt.ReportedTo) {
			problems = append(problems, "end_date is before start_date")
		}
		if flt.ReportedFrom.IsZero() && flt.ReportedTo.IsZero() {
			flt.ReportedFrom = s.cfg.Now().Add(-defaultWindow)
		}
	}
	if len(problems) > 0 {
		fail(w, f, http.StatusBadRequest, problems...)
		return
	}
	sc := store.ScopeOf(actor(k))
	j := s.cfg.Jurisdiction()
	var out []Request
	flt.Limit = store.MaxLimit
	for {
		page, next, err := s.cfg.Store.Incidents(r.Context(), sc, flt)
		if err != nil {
			s.unavailable(w, r, f, err, "list the requests")
			return
		}
		for _, in := range page {
			if len(out) < maxRequests {
				out = append(out, requestOf(j, in))
			}
		}
		if next == "" || len(out) >= maxRequests {
			break
		}
		flt.Cursor = next
	}
	write(w, f, http.StatusOK, requests{Items: nonNil(out)})
}

// request is GET requests/{id}: one of the client's own requests.
func (s *Server) request(w http.ResponseWriter, r *http.Request, f format, id string) {
	k, ok := s.client(w, r, f, false)
	if !ok {
		return
	}
	in, ok := s.incident(w, r, f, k, id)
	if !ok {
		return
	}
	write(w, f, http.StatusOK, requests{Items: []Request{requestOf(s.cfg.Jurisdiction(), in)}})
}

// token is GET tokens/{token}. Whistle answers every POST with its
// service_request_id at once (its services are realtime), so a token is
// that id, for a client that asks anyway.
func (s *Server) token(w http.ResponseWriter, r *http.Request, f format, token string) {
	k, ok := s.client(w, r, f, false)
	if !ok {
		return
	}
	in, ok := s.incident(w, r, f, k, token)
	if !ok {
		return
	}
	write(w, f, http.StatusOK, requests{Items: []Created{{ServiceRequestID: in.ID, Token: token}}})
}

// incident reads one of client k's incidents, answering 404 for an
// unknown one or one it did not send.
func (s *Server) incident(w http.ResponseWriter, r *http.Request, f format, k store.Open311Key, id string) (*incident.Incident, bool) {
	in, err := s.cfg.Store.Incident(r.Context(), store.ScopeOf(actor(k)), id)
	if incident.ErrorCode(err) == incident.CodeNotFound {
		fail(w, f, http.StatusNotFound, "service request "+id+" not found")
		return nil, false
	}
	if err != nil {
		s.unavailable(w, r, f, err, "read the request")
		return nil, false
	}
	return in, true
}

// commaList splits a comma list, trimming spaces and dropping empties.
func commaList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// w3cTime parses a W3C datetime with its zone ("" is the zero time).
func w3cTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a W3C datetime with a zone, such as 2026-12-03T08:15:30+08:00", s)
	}
	return t, nil
}

// w3c formats t as a W3C datetime in the district's zone, to the second.
func w3c(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Truncate(time.Second).Format(time.RFC3339)
}

// requestOf is an incident as Open311 shows it: open until it is closed
// (or rejected), its latest step in words, the lead department (or, while
// no department has it, the street) as the agency, and the lead task's
// resolution deadline as expected.
func requestOf(j *jurisdiction.Jurisdiction, in *incident.Incident) Request {
	loc := j.Location()
	rq := Request{
		ServiceRequestID: in.ID, Status: "open", ServiceName: in.Item.Name, ServiceCode: in.Category,
		Description: in.Description, RequestedDatetime: w3c(in.ReportedAt, loc),
		UpdatedDatetime: w3c(in.UpdatedAt, loc), Address: in.Location.Address,
		Lat: in.Location.Lat, Long: in.Location.Lng,
	}
	if in.Status == incident.StatusClosed || in.Status == incident.StatusRejected {
		rq.Status = "closed"
		if in.ClosedAt != nil {
			rq.UpdatedDatetime = w3c(*in.ClosedAt, loc)
		}
	}
	if len(in.Photos) > 0 {
		rq.MediaURL = in.Photos[0]
	}
	if it, ok := j.Item(in.Category); ok {
		rq.ServiceNotice = notice(j, it)
	}
	rq.AgencyResponsible = streetName(j, in.Street)
	if lead := in.RoundLead(); lead != nil {
		rq.AgencyResponsible = departmentName(j, lead.Department)
		if lead.Open() {
			rq.ExpectedDatetime = w3c(lead.ResolveDue, loc)
		}
	}
	rq.StatusNotes = statusNotes(j, in, loc)
	return rq
}

func departmentName(j *jurisdiction.Jurisdiction, code string) string {
	if d, ok := j.Department(code); ok {
		return d.Name
	}
	return code
}

func streetName(j *jurisdiction.Jurisdiction, code string) string {
	if st, ok := j.Street(code); ok {
		return st.Name
	}
	return code
}

// statusWords say where an incident is, for a resident.
var statusWords = map[incident.Status]string{
	incident.StatusReceived:         "Received; being routed",
	incident.StatusCommunity:        "With the community's grid worker",
	incident.StatusTriage:           "With the street office",
	incident.StatusDispatched:       "With the responsible departments",
	incident.StatusVerifying:        "Handled; being checked on site",
	incident.StatusAwaitingFeedback: "Handled and checked; awaiting the return visit",
	incident.StatusSuspended:        "Suspended for review",
	incident.StatusClosed:           "Closed",
	incident.StatusRejected:         "Rejected",
}

// statusNotes is the incident's status and its latest step a resident
// would want to know of (the steps servicerequestupdates lists), in words.
func statusNotes(j *jurisdiction.Jurisdiction, in *incident.Incident, loc *time.Location) string {
	words := statusWords[in.Status]
	if words == "" {
		words = string(in.Status)
	}
	for k := len(in.Timeline) - 1; k >= 0; k-- {
		if e := in.Timeline[k]; updateStatus[e.Type] != "" {
			return words + ". Latest step: " + updateWords(j, e) + " (" + w3c(e.At, loc) + ")"
		}
	}
	return words
}

// notice is the item's deadlines in words: the service_notice.
func notice(j *jurisdiction.Jurisdiction, it jurisdiction.Item) string {
	var parts []string
	if it.Tier == incident.TierDepartment && !it.SLA.Ack.IsZero() {
		parts = append(parts, "the responsible department reports in within "+durationWords(it.SLA.Ack))
	}
	if !it.SLA.Resolve.IsZero() {
		parts = append(parts, "the matter is handled within "+durationWords(it.SLA.Resolve))
	}
	if len(parts) == 0 {
		return ""
	}
	return j.District.Name + ": " + strings.Join(parts, ", and ") + "."
}

// durationWords says a deadline in words: "3 working days", "1 hour",
// "30 minutes", or both kinds.
func durationWords(d jurisdiction.Duration) string {
	var parts []string
	plural := func(n int, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + one + "s"
	}
	if d.WorkDays != 0 {
		parts = append(parts, plural(d.WorkDays, "working day"))
	}
	c := d.Clock
	if h := int(c / time.Hour); h > 0 {
		parts = append(parts, plural(h, "hour"))
		c -= time.Duration(h) * time.Hour
	}
	if m := int(c / time.Minute); m > 0 {
		parts = append(parts, plural(m, "minute"))
	}
	if len(parts) == 0 {
		return d.String()
	}
	return strings.Join(parts, " ")
}
