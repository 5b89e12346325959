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
	Category    string         `json:"category" minLength:"1" maxLength:"64" example:"SR-001" doc:"Code of a responsibility-list item (GET /v1/catalogue)."`
	Grid        string         `json:"grid" minLength:"1" maxLength:"64" example:"FH-01-01" doc:"The reporter's grid; must equal the token's org."`
	Description string         `json:"description" minLength:"1" doc:"What was found; at most 4000 bytes."`
	Location    ReportLocation `json:"location"`
	Photos      []string       `json:"photos,omitempty" maxItems:"20" doc:"http(s) URLs of photos, at most 20."`
	OccurredAt  *time.Time     `json:"occurred_at,omitempty" doc:"When it happened (RFC 3339); not in the future."`
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
		Description: "A grid worker reports what it found in its own grid. The report is checked against the " +
			"jurisdiction, recorded as an incident in status `received` and published to the dispatcher. " +
			"A repeated `Idempotency-Key` answers the first incident's id.",
		DefaultStatus: http.StatusAccepted,
		MaxBodyBytes:  MaxReportBytes,
		Errors:        []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, incident.RoleGridWorker), s.createReport)
}

func (s *Server) createReport(ctx context.Context, in *reportInput) (*reportOutput, error) {
	a := actorFrom(ctx)
	now := s.now().UTC()
	r, item, err := s.checkReport(a, &in.Body, now)
	if err != nil {
		return nil, err
	}
	if s.cfg.Publisher == nil {
		return nil, unavailable("reports cannot be queued for dispatch: no publisher configured")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, s.fail(ctx, fmt.Errorf("new incident id: %w", err), "body", "create an incident id")
	}
	r.IncidentID = id.String()

	got, created, err := s.cfg.Store.CreateReceived(ctx, r, item, in.IdempotencyKey)
	if err != nil {
		return nil, s.fail(ctx, err, "body", "record the report")
	}
	// Lets an operator find the trace of an incident's report by its id.
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("whistle.incident.id", got))
	if created {
		if err := s.publishNew(ctx, r); err != nil {
			return nil, err
		}
	} else if err := s.republish(ctx, got); err != nil {
		return nil, err
	}
	return &reportOutput{Location: "/v1/incidents/" + got, Body: ReportAccepted{IncidentID: got}}, nil
}

// checkReport validates a report body for actor a against the jurisdiction
// and builds the report: every invalid field in one 422, a grid that is not
// the worker's own 403.
func (s *Server) checkReport(a incident.Actor, b *ReportRequest, now time.Time) (incident.Report, incident.Item, error) {
	j := s.jur()
	var errs []*huma.ErrorDetail
	bad := func(field, format string, args ...any) {
		errs = append(errs, &huma.ErrorDetail{Location: "body." + field, Message: fmt.Sprintf(format, args...)})
	}
	street, community, gridOK := j.LocateGrid(b.Grid)
	if gridOK && b.Grid != a.Org {
		return incident.Report{}, incident.Item{}, newProblem(http.StatusForbidden, "grid worker of %s may not report in grid %s", a.Org, b.Grid)
	}
	if !gridOK {
		bad("grid", "unknown grid %q", b.Grid)
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
		Category: b.Category, Street: street, Community: community, Grid: b.Grid,
		Description: b.Description,
		Location:    incident.Location{Lat: b.Location.Lat, Lng: b.Location.Lng, Address: b.Location.Address},
		Photos:      b.Photos, OccurredAt: occurred, ReportedAt: now, Reporter: a.Sub,
	}
	if r.Photos == nil {
		r.Photos = []string{}
	}
	return r, it.Snapshot(), nil
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
