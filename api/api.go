// Package api is Whistle's HTTP API v1 (DESIGN.md §4): grid workers report,
// readers query the Postgres read model, and commands on incidents and tasks
// go to the incident's workflow as Temporal Updates. Every /v1 request
// carries a bearer token (package auth); every error is an RFC 9457
// problem+json with a stable type (see Problem); the OpenAPI 3.1 document is
// served at /openapi.json.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.temporal.io/sdk/client"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/metrics"
)

// Body limits (huma MaxBodyBytes); a larger body answers 413 too_large.
const (
	MaxReportBytes  = 256 << 10 // POST /v1/reports
	MaxCommandBytes = 64 << 10  // every command
)

// MetricsDefinitionVersion names the definition of the 三率 the metrics
// endpoints compute; it changes whenever a formula does.
const MetricsDefinitionVersion = metrics.DefinitionVersion

// Publisher publishes an accepted report to GRID_REPORTS, de-duplicated by
// incident id (*bus.Bus implements it). /readyz checks it with its method
// Ping(context.Context) error if it has one, else with a round trip on its
// NATS connection if it has a method Conn() *nats.Conn (as *bus.Bus does).
type Publisher interface {
	PublishReport(ctx context.Context, r incident.Report) error
}

// pinger is implemented by dependencies /readyz can probe.
type pinger interface {
	Ping(ctx context.Context) error
}

// Config wires the API to the rest of Whistle.
type Config struct {
	// Store is the Postgres read model (required).
	Store Store
	// Metrics reads the league tables and the monthly report (required).
	Metrics Metrics
	// Publisher publishes reports; without it POST /v1/reports answers 503.
	Publisher Publisher
	// Temporal sends commands as Updates; without it commands answer 503.
	Temporal client.Client
	// Jurisdiction returns the jurisdiction in force (required). It is
	// called on every request that needs it, so it may change at run time.
	Jurisdiction func() *jurisdiction.Jurisdiction
	// Catalogue is the living responsibility list: PUT and DELETE
	// /v1/catalogue/items/{code} change it, its history is read from it,
	// and a report of a retired item is refused saying when and why.
	// Without it those writes and the history answer 503.
	Catalogue LiveCatalogue
	// JWTSecret verifies bearer tokens (HS256; required).
	JWTSecret []byte
	// Logger logs failures; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Version is the API version shown in the OpenAPI document and /healthz.
	Version string
	// Ready, when set, is an extra readiness check run by /readyz (for
	// example NATS connectivity when the Publisher has no Ping).
	Ready func(ctx context.Context) error
	// Whatif runs the replays of POST /v1/whatif; without it they answer
	// 503.
	Whatif WhatifJobs
	// UpdateTimeout bounds how long a command waits for the workflow's
	// answer; DefaultUpdateTimeout when zero.
	UpdateTimeout time.Duration
}

// ErrConfig is wrapped by the error New returns for an incomplete Config.
var ErrConfig = errors.New("api: incomplete config")

// Server is the HTTP API. It implements http.Handler (wrapped in otelhttp,
// so every request starts a span named after its route).
type Server struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
	api     huma.API
	handler http.Handler
}

var setErrorsOnce sync.Once

// New returns the API for c as an http.Handler (a *Server) and its huma
// API. It panics if c lacks Store, Jurisdiction or JWTSecret (see
// NewServer for an error instead).
func New(c Config) (http.Handler, huma.API) {
	s, err := NewServer(c)
	if err != nil {
		panic(err)
	}
	return s, s.api
}

// NewServer returns the API server for c, or an error wrapping ErrConfig if
// c lacks Store, Jurisdiction or JWTSecret. It replaces huma.NewError
// (process wide) so that every error huma produces is a Problem.
func NewServer(c Config) (*Server, error) {
	switch {
	case c.Store == nil:
		return nil, errors.Join(ErrConfig, errors.New("api: Config.Store is nil"))
	case c.Jurisdiction == nil:
		return nil, errors.Join(ErrConfig, errors.New("api: Config.Jurisdiction is nil"))
	case len(c.JWTSecret) == 0:
		return nil, errors.Join(ErrConfig, errors.New("api: Config.JWTSecret is empty"))
	}
	setErrorsOnce.Do(func() { huma.NewError = newHumaError })
	s := &Server{cfg: c, log: c.Logger, now: c.Now, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "api")
	if s.now == nil {
		s.now = time.Now
	}
	if s.cfg.UpdateTimeout <= 0 {
		s.cfg.UpdateTimeout = DefaultUpdateTimeout
	}
	if s.cfg.Version == "" {
		s.cfg.Version = "dev"
	}

	hc := huma.DefaultConfig("Whistle API", s.cfg.Version)
	hc.CreateHooks = nil // no $schema member or Link header in responses
	// The reference at /docs is the console's: huma's loads its scripts
	// from a CDN and shows nothing offline.
	hc.DocsPath = ""
	hc.Formats[csvContentType] = csvFormat
	hc.Info.Description = "Whistle dispatches street problems to departments and tracks them to the end " +
		"(街道吹哨、部门报到). Every /v1 request carries `Authorization: Bearer <JWT>`; errors are " +
		"RFC 9457 problem+json whose `type` is https://whistle.city/problems/<code>."
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		securityScheme: {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "HS256 token with claims sub, role and org (`whistle token --role R --org O`)."},
	}
	s.api = humago.New(s.mux, hc)
	s.api.UseMiddleware(s.authenticate)

	s.registerHealth()
	s.registerReports()
	s.registerIncidents()
	s.registerCommands()
	s.registerTasks()
	s.registerCatalogue()
	s.registerMetrics()
	s.registerMonthlyReport()
	s.registerWhatif()
	s.registerSupervision()
	s.registerDelegations()
	s.registerOpen311Keys()
	s.documentDomain()
	s.mux.HandleFunc("/", s.notFound)

	s.handler = otelhttp.NewHandler(s.mux, "whistle.api",
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern
			}
			return "HTTP " + r.Method
		}))
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// API returns the huma API, for its OpenAPI document or to register more
// operations.
func (s *Server) API() huma.API { return s.api }

// jur returns the jurisdiction in force.
func (s *Server) jur() *jurisdiction.Jurisdiction { return s.cfg.Jurisdiction() }

// notFound answers a request no operation matches: 405 with Allow when the
// path exists for other methods, else 404, both as problems.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	p := newProblem(http.StatusNotFound, "no such path: %s", r.URL.Path)
	if allow := s.allowed(r.URL.Path); len(allow) > 0 {
		p = newProblem(http.StatusMethodNotAllowed, "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", "))
		w.Header().Set("Allow", strings.Join(allow, ", "))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	if err := s.api.Marshal(w, "application/json", p); err != nil {
		s.log.Error("write problem", "err", err)
	}
}

// allowed returns the methods of the operations whose path template
// ("/v1/incidents/{id}") matches path.
func (s *Server) allowed(path string) []string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var methods []string
	for tmpl, item := range s.api.OpenAPI().Paths {
		ts := strings.Split(strings.Trim(tmpl, "/"), "/")
		if len(ts) != len(segs) {
			continue
		}
		match := true
		for i, t := range ts {
			if !strings.HasPrefix(t, "{") && t != segs[i] {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		for m, op := range map[string]*huma.Operation{http.MethodGet: item.Get, http.MethodPost: item.Post,
			http.MethodPut: item.Put, http.MethodDelete: item.Delete, http.MethodPatch: item.Patch} {
			if op != nil && !slices.Contains(methods, m) {
				methods = append(methods, m)
			}
		}
	}
	slices.Sort(methods)
	return methods
}

// documentDomain adds to the OpenAPI schemas of the domain types what their
// Go types cannot say: the values of statuses, tiers, roles and ratings, and
// that an incident's feedback may be null.
func (s *Server) documentDomain() {
	schemas := s.api.OpenAPI().Components.Schemas.Map()
	enum := func(schema, prop string, values ...any) {
		if sc, ok := schemas[schema]; ok && sc.Properties[prop] != nil {
			sc.Properties[prop].Enum = values
		}
	}
	statuses := []any{incident.StatusReceived, incident.StatusCommunity, incident.StatusTriage, incident.StatusDispatched,
		incident.StatusVerifying, incident.StatusAwaitingFeedback, incident.StatusSuspended, incident.StatusClosed, incident.StatusRejected}
	taskStatuses := []any{incident.TaskPendingAck, incident.TaskAcknowledged, incident.TaskReturned, incident.TaskCompleted, incident.TaskCancelled}
	tiers := []any{incident.TierCommunity, incident.TierStreet, incident.TierDepartment}
	enum("Incident", "status", statuses...)
	enum("IncidentView", "status", statuses...)
	enum("IncidentView", "tier", tiers...)
	enum("OriginalSummary", "status", statuses...)
	enum("OriginalTask", "status", taskStatuses...)
	enum("Incident", "tier", tiers...)
	enum("Item", "tier", tiers...)
	enum("Task", "status", taskStatuses...)
	enum("Task", "role", incident.TaskLead, incident.TaskCooperating)
	enum("TaskRow", "status", taskStatuses...)
	enum("TaskRow", "role", incident.TaskLead, incident.TaskCooperating)
	enum("TaskRow", "incident_status", statuses...)
	enum("Feedback", "rating", incident.RatingSatisfied, incident.RatingBasicallySatisfied, incident.RatingUnsatisfied)
	for _, name := range []string{"Incident", "IncidentView"} {
		if in, ok := schemas[name]; ok {
			if fb := in.Properties["feedback"]; fb != nil && fb.Ref != "" {
				in.Properties["feedback"] = &huma.Schema{OneOf: []*huma.Schema{{Ref: fb.Ref}, {Type: "null"}}}
			}
		}
	}
}
