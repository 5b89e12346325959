package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/whistle-city/whistle/catalogue"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/store"
)

// Report limits beyond the domain's (incident.MaxDescriptionLen, MaxPhotos).
const (
	maxPhotoURLLen    = 2048
	maxAddressLen     = 500
	maxIdempotencyLen = 200
	// futureSkew is how far in the future occurred_at may lie (client clocks drift).
	futureSkew = 5 * time.Minute
	// compensateTimeout bounds the clean-up after a failed publish.
	compensateTimeout = 5 * time.Second
)

// ReportLocation is where a report was made.
type ReportLocation struct {
	Lat     float64 `json:"lat" minimum:"-90" maximum:"90" doc:"Latitude (WGS 84)."`
	Lng     float64 `json:"lng" minimum:"-180" maximum:"180" doc:"Longitude (WGS 84)."`
	Address string  `json:"address,omitempty" maxLength:"500" doc:"Street address as the reporter wrote it."`
}

// ReportRequest is the body of POST /v1/reports.
type ReportRequest struct {
	Category    string              `json:"category" minLength:"1" maxLength:"64" example:"SR-001" doc:"Code of a responsibility-list item (GET /v1/catalogue)."`
	Grid        string              `json:"grid,omitempty" maxLength:"64" example:"FH-01-01" doc:"The grid: a grid worker's own (the token's org), required of it. An intake system may leave it out: the report is then placed in the grid whose boundary holds location."`
	Description string              `json:"description" minLength:"1" doc:"What was found; at most 4000 bytes."`
	Location    ReportLocation      `json:"location"`
	Photos      []string            `json:"photos,omitempty" maxItems:"20" doc:"http(s) URLs of photos, at most 20."`
	OccurredAt  *time.Time          `json:"occurred_at,omitempty" doc:"When it happened (RFC 3339); not in the future."`
	Channel     string              `json:"channel,omitempty" maxLength:"72" example:"hotline" doc:"How the report came in: grid for a grid worker (the default), else the intake token's org (hotline, api, open311:<client>), which is also its default."`
	Attributes  map[string][]string `json:"attributes,omitempty" doc:"Answers to the item's attributes (GET /v1/catalogue: attributes; Open311's attribute[code]), by code: one value, or several for a multivaluelist."`
	ExternalRef string              `json:"external_ref,omitempty" maxLength:"200" example:"12345-20261203-000123" doc:"The sender's own reference (a 12345 work order number), unique per channel: the same reference again answers the first incident's id and creates nothing."`
}

type reportInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"200" doc:"Repeat a report safely: the same key from the same reporter answers the first incident's id and creates nothing."`
	Body           ReportRequest
}

// ReportAccepted is the 202 body of POST /v1/reports.
type ReportAccepted struct {
	IncidentID string `json:"incident_id" doc:"Id of the incident; GET /v1/incidents/{id} finds it at once."`
}

type reportOutput struct {
	Location string `header:"Location" doc:"/v1/incidents/{incident_id}"`
	Body     ReportAccepted
}

func (s *Server) registerReports() {
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "createReport", Method: http.MethodPost, Path: "/v1/reports", Tags: []string{"Reports"},
		Summary: "Report a problem",
		Description: "A grid worker reports what it found in its own grid; an intake system (the 12345 hotline, " +
			"another app: role `intake`, org its channel) reports anywhere in the district, by grid or by " +
			"location. The report is checked against the jurisdiction, recorded as an incident in status " +
			"`received` and published to the dispatcher. A repeated `Idempotency-Key` from the same reporter, " +
			"or a repeated `external_ref` in the same channel, answers the first incident's id.",
		DefaultStatus: http.StatusAccepted,
		MaxBodyBytes:  MaxReportBytes,
		Errors:        []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, incident.RoleGridWorker, incident.RoleIntake), s.createReport)
}

func (s *Server) createReport(ctx context.Context, in *reportInput) (*reportOutput, error) {
	got, err := s.Report(ctx, actorFrom(ctx), in.Body, in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	return &reportOutput{Location: "/v1/incidents/" + got, Body: ReportAccepted{IncidentID: got}}, nil
}

// Report is POST /v1/reports for actor a, for the other doors of intake
// (Open311) to go through the same checks, record and dispatch: it
// returns the incident's id, the first one's for a repeated idemKey ("" =
// none) or external reference. Its errors are *Problem (huma.StatusError)
// with the status POST /v1/reports answers.
func (s *Server) Report(ctx context.Context, a incident.Actor, body ReportRequest, idemKey string) (string, error) {
	if a.Role != incident.RoleGridWorker && a.Role != incident.RoleIntake {
		return "", newProblem(http.StatusForbidden, "role %s may not report", a.Role)
	}
	if len(idemKey) > maxIdempotencyLen {
		return "", newProblem(http.StatusUnprocessableEntity, "Idempotency-Key is longer than %d bytes", maxIdempotencyLen)
	}
	now := s.now().UTC()
	r, item, err := s.checkReport(a, &body, now)
	if err != nil {
		return "", err
	}
	if s.cfg.Publisher == nil {
		return "", unavailable("reports cannot be queued for dispatch: no publisher configured")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", s.fail(ctx, fmt.Errorf("new incident id: %w", err), "body", "create an incident id")
	}
	r.IncidentID = id.String()

	got, created, err := s.cfg.Store.CreateReceived(ctx, r, item, idemKey)
	if err != nil {
		return "", s.fail(ctx, err, "body", "record the report")
	}
	// Lets an operator find the trace of an incident's report by its id.
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("whistle.incident.id", got),
		attribute.String("whistle.channel", r.Channel))
	if created {
		if err := s.publishNew(ctx, r); err != nil {
			return "", err
		}
	} else if err := s.republish(ctx, got); err != nil {
		return "", err
	}
	return got, nil
}

// checkReport validates a report body for actor a against the jurisdiction
// and builds the report, placing it by its location when it names no grid:
// every invalid field in one 422; a grid that is not the worker's own, or
// a channel that is not the caller's, 403.
func (s *Server) checkReport(a incident.Actor, b *ReportRequest, now time.Time) (incident.Report, incident.Item, error) {
	j := s.jur()
	var errs []*huma.ErrorDetail
	bad := func(field, format string, args ...any) {
		errs = append(errs, &huma.ErrorDetail{Location: "body." + field, Message: fmt.Sprintf(format, args...)})
	}
	channel, err := channelOf(a, b.Channel)
	if err != nil {
		return incident.Report{}, incident.Item{}, err
	}
	grid := b.Grid
	street, community, gridOK := j.LocateGrid(grid)
	switch {
	case a.Role == incident.RoleGridWorker && grid == "":
		bad("grid", "grid is required of a grid worker")
	case a.Role == incident.RoleGridWorker && gridOK && grid != a.Org:
		return incident.Report{}, incident.Item{}, newProblem(http.StatusForbidden, "grid worker of %s may not report in grid %s", a.Org, grid)
	case grid != "" && !gridOK:
		bad("grid", "unknown grid %q", grid)
	case grid == "" && !j.HasBoundaries():
		bad("grid", "grid is required: %s (%s) has no grid boundaries to place a report by its location", j.District.Name, j.District.Code)
	case grid == "":
		// Placed by where it is: a point outside every grid is refused
		// rather than queued for a person to place, so that the sender
		// (who knows the place) corrects it while the resident is still
		// on the line, and no report waits in a queue without a clock.
		var ok bool
		if grid, street, community, ok = j.Locate(b.Location.Lat, b.Location.Lng); !ok {
			bad("location", "lat %.6f, lng %.6f is outside every grid of %s (%s): send a point inside the district, or its grid",
				b.Location.Lat, b.Location.Lng, j.District.Name, j.District.Code)
		}
	}
	if len(b.ExternalRef) > incident.MaxExternalRefLen {
		bad("external_ref", "external_ref is longer than %d bytes", incident.MaxExternalRefLen)
	} else if b.ExternalRef != "" && strings.TrimSpace(b.ExternalRef) != b.ExternalRef {
		bad("external_ref", "external_ref %q has leading or trailing spaces", b.ExternalRef)
	}
	it, itemOK := j.Item(b.Category)
	if !itemOK {
		if v, ok := s.retired(b.Category); ok {
			bad("category", "item %s (%s) was retired on %s by %s: %s; it can no longer be reported",
				b.Category, v.Item.Name, v.At.UTC().Format(time.RFC3339), v.Actor, v.Reason)
		} else {
			bad("category", "unknown category %q: not an item of the responsibility list", b.Category)
		}
	}
	var answers map[string][]string
	if itemOK {
		var problems []jurisdiction.AnswerProblem
		answers, problems = it.CheckAnswers(b.Attributes)
		for _, p := range problems {
			bad("attributes."+p.Code, "%s", p.Message)
		}
	}
	if strings.TrimSpace(b.Description) == "" {
		bad("description", "description is required")
	} else if len(b.Description) > incident.MaxDescriptionLen {
		bad("description", "description is longer than %d bytes", incident.MaxDescriptionLen)
	}
	if len(b.Location.Address) > maxAddressLen {
		bad("location.address", "address is longer than %d bytes", maxAddressLen)
	}
	if len(b.Photos) > incident.MaxPhotos {
		bad("photos", "at most %d photos", incident.MaxPhotos)
	}
	for i, p := range b.Photos {
		if err := checkPhotoURL(p); err != nil {
			bad(fmt.Sprintf("photos[%d]", i), "%v", err)
		}
	}
	if b.OccurredAt != nil && b.OccurredAt.After(now.Add(futureSkew)) {
		bad("occurred_at", "occurred_at %s is in the future", b.OccurredAt.Format(time.RFC3339))
	}
	if len(errs) > 0 {
		p := newProblem(http.StatusUnprocessableEntity, "%s", summarize(errs))
		p.Errors = errs
		return incident.Report{}, incident.Item{}, p
	}
	var occurred *time.Time
	if b.OccurredAt != nil {
		t := b.OccurredAt.UTC()
		occurred = &t
	}
	r := incident.Report{
		Category: b.Category, Street: street, Community: community, Grid: grid,
		Channel: channel, ExternalRef: b.ExternalRef, Attributes: answers,
		Description: b.Description,
		Location:    incident.Location{Lat: b.Location.Lat, Lng: b.Location.Lng, Address: b.Location.Address},
		Photos:      b.Photos, OccurredAt: occurred, ReportedAt: now, Reporter: a.Sub,
	}
	if r.Photos == nil {
		r.Photos = []string{}
	}
	return r, it.Snapshot(), nil
}

// channelOf returns the channel a report of actor a comes in by: a grid
// worker's is ChannelGrid, an intake system's its org; asked ("" = the
// default) must be that one.
func channelOf(a incident.Actor, asked string) (string, error) {
	own := incident.ChannelGrid
	if a.Role == incident.RoleIntake {
		own = a.Org
		if !incident.ValidChannel(own) {
			return "", newProblem(http.StatusForbidden,
				"intake token's org %q is not a channel: hotline, api or open311:<client>", own)
		}
	}
	if asked != "" && asked != own {
		return "", newProblem(http.StatusForbidden, "%s %s may not report by channel %q, only by %q", a.Role, a.Org, asked, own)
	}
	return own, nil
}

// retired returns the retirement of the item code when it is retired.
func (s *Server) retired(code string) (catalogue.Version, bool) {
	if s.cfg.Catalogue == nil {
		return catalogue.Version{}, false
	}
	v, ok := s.cfg.Catalogue.Lookup(code)
	return v, ok && v.Retired
}

// checkPhotoURL accepts an absolute http or https URL with a host.
func checkPhotoURL(p string) error {
	if len(p) > maxPhotoURLLen {
		return fmt.Errorf("photo URL is longer than %d bytes", maxPhotoURLLen)
	}
	u, err := url.Parse(p)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("photo %q is not an http(s) URL", p)
	}
	return nil
}

// publishNew publishes a just-recorded report. If that fails the incident is
// deleted again, so nothing is half-written, and the client is told to
// retry (503). If the incident cannot be deleted because the workflow has
// already projected it, the publish did arrive and the report is accepted.
func (s *Server) publishNew(ctx context.Context, r incident.Report) error {
	if err := s.cfg.Publisher.PublishReport(ctx, r); err != nil {
		return s.compensate(ctx, r.IncidentID, err)
	}
	return nil
}

func (s *Server) compensate(ctx context.Context, id string, cause error) error {
	s.log.WarnContext(ctx, "publish report failed: withdrawing the incident", "incident", id, "err", cause)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), compensateTimeout)
	defer cancel()
	err := s.cfg.Store.DeleteReceived(dctx, id)
	if incident.ErrorCode(err) == incident.CodeConflict {
		return nil // projected by the workflow: the report did get through
	}
	if err != nil {
		s.log.ErrorContext(ctx, "withdraw incident after failed publish", "incident", id, "err", err)
	}
	return unavailable("the report could not be queued for dispatch; retry (with the same Idempotency-Key)")
}

// republish publishes again the report of an incident found by its
// Idempotency-Key while it is still received: JetStream de-duplicates by
// incident id, and this repairs a first publish that failed or was lost.
func (s *Server) republish(ctx context.Context, id string) error {
	// The reporter's own report, found by its own key.
	in, err := s.cfg.Store.Incident(ctx, store.Everything, id)
	if err != nil {
		if incident.ErrorCode(err) == incident.CodeNotFound {
			return unavailable("the earlier report with this Idempotency-Key is being withdrawn; retry")
		}
		return s.fail(ctx, err, "body", "read the earlier report")
	}
	if in.Status != incident.StatusReceived {
		return nil
	}
	if err := s.cfg.Publisher.PublishReport(ctx, in.Report()); err != nil {
		s.log.WarnContext(ctx, "republish report failed", "incident", id, "err", err)
		return unavailable("the report could not be queued for dispatch; retry (with the same Idempotency-Key)")
	}
	return nil
}
