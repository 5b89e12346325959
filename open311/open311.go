// Package open311 serves Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2)
// at /open311/v2/, with its discovery document at /open311/discovery.json
// and .xml, so that civic apps that speak Open311 report to Whistle without
// glue code. A service is an item of the responsibility list; a service
// request is an incident.
//
// It has no rule of its own: a request goes through the same intake as a
// grid worker's report (api.Server.Report: the same checks, the same
// received row, duplicates and workflow), as an intake actor whose channel
// is "open311:<client>", and every read goes through the store with that
// actor's scope, so a client reads only the requests it sent.
package open311

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/store"
)

// Specification is the URL of the specification the endpoint implements.
const Specification = "http://wiki.open311.org/GeoReport_v2"

// Changeset names this implementation of the endpoint in the discovery
// document; it changes when the endpoint's behaviour does.
const Changeset = "2026-12-03T00:00:00Z"

// MaxBodyBytes is the most a POST body may hold before its api_key is
// known; each key's own limit (store.Open311Key.MaxBodyBytes) is then
// applied.
const MaxBodyBytes = 16 << 20

// maxRequests bounds a GET requests answer (the spec's default limit).
const maxRequests = 1000

// defaultWindow is how far back GET requests looks without dates (the
// spec's default: the last 90 days).
const defaultWindow = 90 * 24 * time.Hour

// Reporter is the intake: api.Server.Report.
type Reporter interface {
	// Report checks, records and dispatches a report of actor a, and
	// returns its incident id (the first one's for a repeated idemKey).
	Report(ctx context.Context, a incident.Actor, body api.ReportRequest, idemKey string) (string, error)
}

// Store is what the endpoint reads; *store.Store implements it.
type Store interface {
	// Incident returns an incident in scope, else a CodeNotFound error.
	Incident(ctx context.Context, sc store.Scope, id string) (*incident.Incident, error)
	// Incidents lists incidents in scope, newest first, a page at a time.
	Incidents(ctx context.Context, sc store.Scope, f store.IncidentFilter) ([]*incident.Incident, string, error)
	// Open311KeyFor returns the unrevoked key, else store.ErrOpen311Key.
	Open311KeyFor(ctx context.Context, key string) (store.Open311Key, error)
	// Updates lists the timeline entries of types made in [from, to) to
	// the incidents in scope, oldest first.
	Updates(ctx context.Context, sc store.Scope, from, to time.Time, types []string, limit int) ([]store.Update, error)
	// IncidentByKey returns the incident reporter sent with an
	// idempotency key, or "".
	IncidentByKey(ctx context.Context, reporter, key string) (string, time.Time, error)
}

var _ Store = (*store.Store)(nil)

// Config is what the endpoint needs.
type Config struct {
	Reports      Reporter
	Store        Store
	Jurisdiction func() *jurisdiction.Jurisdiction
	Logger       *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Contact is the discovery document's contact: how to reach the
	// people who run this endpoint.
	Contact string
}

// Server is the Open311 endpoint.
type Server struct {
	cfg      Config
	log      *slog.Logger
	limiters sync.Map // key id → *rate.Limiter
}

// New returns the endpoint for c. It fails when c lacks Reports, Store or
// Jurisdiction.
func New(c Config) (*Server, error) {
	if c.Reports == nil || c.Store == nil || c.Jurisdiction == nil {
		return nil, errors.New("open311: Config needs Reports, Store and Jurisdiction")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Contact == "" {
		c.Contact = "The district's 12345 office: ask it for the service's operators."
	}
	return &Server{cfg: c, log: c.Logger.With("component", "open311")}, nil
}

// Handler serves the endpoint on /open311/ and next on every other path.
func Handler(s *Server, next http.Handler) http.Handler {
	m := http.NewServeMux()
	m.Handle("/open311/", s)
	m.Handle("/", next)
	return m
}

// ServeHTTP routes /open311/discovery.{fmt} and /open311/v2/….{fmt}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, f := r.URL.Path, format("")
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		path, f = path[:i], format(path[i+1:])
	}
	if f != formatJSON && f != formatXML {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("Not found. Open311 paths end in .json or .xml, e.g. /open311/v2/services.json; the discovery document is /open311/discovery.json\n"))
		return
	}
	if path == "/open311/discovery" {
		if s.only(w, r, f, http.MethodGet) {
			s.discovery(w, r, f)
		}
		return
	}
	rest, ok := strings.CutPrefix(path, "/open311/v2/")
	if !ok {
		fail(w, f, http.StatusNotFound, "no such Open311 resource: "+r.URL.Path)
		return
	}
	size := 0
	if r.Method == http.MethodPost {
		if size, ok = readForm(w, r, f); !ok {
			return
		}
	}
	if !s.jurisdictionOK(w, r, f) {
		return
	}
	kind, id, hasID := strings.Cut(rest, "/")
	switch {
	case kind == "services" && !hasID:
		if s.only(w, r, f, http.MethodGet) {
			s.services(w, r, f)
		}
	case kind == "services" && id != "" && !strings.Contains(id, "/"):
		if s.only(w, r, f, http.MethodGet) {
			s.definition(w, r, f, id)
		}
	case kind == "requests" && !hasID:
		switch r.Method {
		case http.MethodPost:
			s.create(w, r, f, size)
		case http.MethodGet, http.MethodHead:
			s.list(w, r, f)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			fail(w, f, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed: GET or POST")
		}
	case kind == "requests" && id != "" && !strings.Contains(id, "/"):
		if s.only(w, r, f, http.MethodGet) {
			s.request(w, r, f, id)
		}
	case kind == "servicerequestupdates" && !hasID:
		if s.only(w, r, f, http.MethodGet) {
			s.updates(w, r, f)
		}
	case kind == "tokens" && id != "" && !strings.Contains(id, "/"):
		if s.only(w, r, f, http.MethodGet) {
			s.token(w, r, f, id)
		}
	default:
		fail(w, f, http.StatusNotFound, "no such Open311 resource: "+r.URL.Path)
	}
}

// readForm reads the body of a POST (at most MaxBodyBytes, else 413) and
// parses it as a form, URL-encoded or multipart (files are not kept), and
// returns its size; a body that is not a form is a 400.
func readForm(w http.ResponseWriter, r *http.Request, f format) (int, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		fail(w, f, http.StatusRequestEntityTooLarge, "the body is larger than "+itoa(MaxBodyBytes)+" bytes")
		return 0, false
	}
	if err != nil {
		fail(w, f, http.StatusBadRequest, "could not read the body: "+err.Error())
		return 0, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		err = r.ParseMultipartForm(1 << 20)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		fail(w, f, http.StatusBadRequest, "the body is not a form (application/x-www-form-urlencoded or multipart/form-data): "+err.Error())
		return 0, false
	}
	if r.MultipartForm != nil {
		_ = r.MultipartForm.RemoveAll()
	}
	return len(body), true
}

// postValue is the first value of a form field of a parsed POST body.
func postValue(r *http.Request, key string) string {
	if vs := postValues(r, key); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// postValues are the values of a form field of a parsed POST body
// (ParseMultipartForm puts a multipart body's fields in PostForm too).
func postValues(r *http.Request, key string) []string { return r.PostForm[key] }

func itoa(n int) string { return strconv.Itoa(n) }

// only answers 405 unless r's method is method (or HEAD for GET).
func (s *Server) only(w http.ResponseWriter, r *http.Request, f format, method string) bool {
	if r.Method == method || method == http.MethodGet && r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", method)
	fail(w, f, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed: "+method)
	return false
}

// jurisdictionOK accepts a request without jurisdiction_id or with the
// district's code (this endpoint serves one jurisdiction), and answers
// 404 for any other.
func (s *Server) jurisdictionOK(w http.ResponseWriter, r *http.Request, f format) bool {
	jid := r.URL.Query().Get("jurisdiction_id")
	if jid == "" && r.Method == http.MethodPost {
		jid = postValue(r, "jurisdiction_id")
	}
	code := s.cfg.Jurisdiction().District.Code
	if jid == "" || strings.EqualFold(jid, code) {
		return true
	}
	fail(w, f, http.StatusNotFound, "jurisdiction_id "+jid+" not found: this endpoint serves "+code)
	return false
}

// client authenticates the api_key of r (a form field or a query
// parameter) and applies its rate limit; it answers 403 or 429 and
// returns false when the request may not go on. optional lets a request
// without a key through with ok and a zero key.
func (s *Server) client(w http.ResponseWriter, r *http.Request, f format, optional bool) (store.Open311Key, bool) {
	key := r.URL.Query().Get("api_key")
	if key == "" && r.Method == http.MethodPost {
		key = postValue(r, "api_key")
	}
	if key == "" {
		if optional {
			return store.Open311Key{}, true
		}
		fail(w, f, http.StatusForbidden, "api_key is required: ask the district for a key (whistle open311-key)")
		return store.Open311Key{}, false
	}
	k, err := s.cfg.Store.Open311KeyFor(r.Context(), key)
	if errors.Is(err, store.ErrOpen311Key) {
		fail(w, f, http.StatusForbidden, "invalid api_key: unknown or revoked")
		return store.Open311Key{}, false
	}
	if err != nil {
		s.unavailable(w, r, f, err, "check the api_key")
		return store.Open311Key{}, false
	}
	if !s.limiter(k).Allow() {
		fail(w, f, http.StatusTooManyRequests,
			"client "+k.Client+" is over its rate limit of "+itoa(k.RatePerMinute)+" requests a minute; retry shortly")
		return store.Open311Key{}, false
	}
	return k, true
}

// limiter returns the token bucket of key k: its rate a minute, with a
// burst of a tenth of it (at least one). The buckets are per process.
func (s *Server) limiter(k store.Open311Key) *rate.Limiter {
	if l, ok := s.limiters.Load(k.ID); ok {
		return l.(*rate.Limiter)
	}
	burst := max(1, k.RatePerMinute/10)
	l, _ := s.limiters.LoadOrStore(k.ID, rate.NewLimiter(rate.Limit(float64(k.RatePerMinute)/60), burst))
	return l.(*rate.Limiter)
}

// unavailable answers a failure of the store: 503 when it is unreachable
// or the request was cancelled, else a logged 500.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, f format, err error, doing string) {
	if store.IsUnavailable(err) || r.Context().Err() != nil {
		s.log.WarnContext(r.Context(), doing, "err", err)
		w.Header().Set("Retry-After", "1")
		fail(w, f, http.StatusServiceUnavailable, "the database is unavailable, so could not "+doing+"; retry shortly")
		return
	}
	s.log.ErrorContext(r.Context(), doing, "err", err)
	fail(w, f, http.StatusInternalServerError, "internal error while trying to "+doing)
}

// actor is the intake actor of client k: its reports come in by its
// channel, and it reads what came in by it.
func actor(k store.Open311Key) incident.Actor {
	return incident.Actor{Sub: k.Channel(), Role: incident.RoleIntake, Org: k.Channel()}
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request, f format) {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	j := s.cfg.Jurisdiction()
	write(w, f, http.StatusOK, Discovery{
		Changeset: Changeset,
		Contact:   j.District.Name + " (" + j.District.Code + "): " + s.cfg.Contact,
		KeyService: "Ask the district's administrator for an API key; they mint it with " +
			"`whistle open311-key --client NAME` or POST /v1/open311/keys.",
		Endpoints: []Endpoint{{
			Specification: Specification, URL: scheme + "://" + r.Host + "/open311/v2", Changeset: Changeset,
			Type: "production", Formats: []string{"text/xml", "application/json"},
		}},
	})
}
