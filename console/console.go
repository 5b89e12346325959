// Package console is Whistle's web console: server-rendered pages (html/
// template with htmx) for the people in the loop — the grid worker on a
// phone, the department clerk's inbox, the street's wall board and triage,
// the district's league tables and the admin's responsibility list — served
// by the same binary, in Chinese first (English switchable).
//
// The console holds no rule of its own. Every read and every command goes
// through the JSON API (package api) in process, with the signed-in
// person's token, so it gets exactly the API's answers — the same scope, the
// same 403/404/409/422 — and shows them in words (see call.go).
//
// Sign-in: GET /login is a form whose input "token" takes a JWT as minted by
// `whistle token`; POST /login keeps it in an HttpOnly, SameSite=Strict
// cookie and redirects to the role's home; POST /logout ends it. Every
// state-changing request carries a CSRF token bound to the session; every
// page is sent with a Content-Security-Policy that allows scripts and styles
// from this origin only.
package console

import (
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/klauspost/compress/gzhttp"
	"github.com/nats-io/nats.go"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

//go:embed static templates
var files embed.FS

// Config wires the console to the API and the bus.
type Config struct {
	// API is the JSON API's handler (required): every read and command of
	// the console is a request to it.
	API http.Handler
	// Secret is the JWT secret (required): it verifies the session's token
	// and keys the CSRF tokens.
	Secret []byte
	// Jurisdiction returns the jurisdiction in force (required): names of
	// streets, departments and items, and the district's time zone.
	Jurisdiction func() *jurisdiction.Jurisdiction
	// Conn receives the escalation and task events (core NATS
	// subscriptions on the JetStream subjects) that make the boards live;
	// nil leaves them as they were loaded.
	Conn *nats.Conn
	// TileURL is the map's tile address template
	// (https://{s}.tile.example/{z}/{x}/{y}.png); "" draws the markers on
	// a plain background.
	TileURL string
	// Logger logs failures; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// ErrConfig is wrapped by the error New returns for an incomplete Config.
var ErrConfig = errors.New("console: incomplete config")

// Console serves the console's pages (an http.Handler).
type Console struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	mux    *http.ServeMux
	pages  *pages
	static http.Handler
}

// Paths the console serves; everything else belongs to the API.
var Paths = []string{"/{$}", "/login", "/logout", "/lang", "/static/", "/c/", "/docs"}

// New returns the console for c, or an error wrapping ErrConfig.
func New(c Config) (*Console, error) {
	switch {
	case c.API == nil:
		return nil, errors.Join(ErrConfig, errors.New("console: Config.API is nil"))
	case len(c.Secret) == 0:
		return nil, errors.Join(ErrConfig, errors.New("console: Config.Secret is empty"))
	case c.Jurisdiction == nil:
		return nil, errors.Join(ErrConfig, errors.New("console: Config.Jurisdiction is nil"))
	}
	con := &Console{cfg: c, log: c.Logger, now: c.Now, mux: http.NewServeMux()}
	if con.log == nil {
		con.log = slog.Default()
	}
	con.log = con.log.With("component", "console")
	if con.now == nil {
		con.now = time.Now
	}
	var err error
	if con.pages, err = parsePages(); err != nil {
		return nil, err
	}
	sub, _ := fs.Sub(files, "static")
	con.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	con.routes()
	return con, nil
}

// ServeHTTP serves a console request with the console's security headers.
func (con *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", con.csp())
	con.mux.ServeHTTP(w, r)
}

// csp is the Content-Security-Policy of every console response: scripts,
// styles and connections to this origin only (no inline script or style
// anywhere), images also from the map's tile server.
func (con *Console) csp() string {
	img := "'self' data:"
	if t := tileOrigin(con.cfg.TileURL); t != "" {
		img += " " + t
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src " + img +
		"; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// tileOrigin returns the scheme and host pattern of a tile URL template for
// the CSP ("https://*.tile.example" for "{s}" subdomains).
func tileOrigin(tmpl string) string {
	scheme, rest, ok := strings.Cut(tmpl, "://")
	if !ok {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	host = strings.ReplaceAll(host, "{s}.", "*.")
	return scheme + "://" + host
}

func (con *Console) routes() {
	m := con.mux
	m.HandleFunc("GET /{$}", con.home)
	m.HandleFunc("GET /login", con.loginForm)
	m.HandleFunc("POST /login", con.login)
	m.HandleFunc("POST /logout", con.logout)
	m.HandleFunc("POST /lang", con.setLang)
	m.Handle("GET /static/", gzhttp.GzipHandler(con.cacheStatic(con.static)))
	m.HandleFunc("GET /docs", con.docs)

	// Pages and their fragments; signed in, any role unless said.
	m.Handle("GET /c/report", con.page(con.reportPage, incident.RoleGridWorker))
	m.Handle("POST /c/report", con.action(con.sendReport, incident.RoleGridWorker))
	m.Handle("GET /c/mine", con.page(con.minePage, incident.RoleGridWorker))
	m.Handle("GET /c/board", con.page(con.boardPage, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin))
	m.Handle("GET /c/board/rows", con.page(con.boardRows, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin))
	m.Handle("GET /c/triage", con.page(con.triagePage, incident.RoleStreet))
	m.Handle("GET /c/incidents", con.page(con.incidentsPage))
	m.Handle("GET /c/incidents/{id}", con.page(con.incidentPage))
	m.Handle("GET /c/inbox", con.page(con.inboxPage, incident.RoleDepartment))
	m.Handle("GET /c/inbox/rows", con.page(con.inboxRows, incident.RoleDepartment))
	m.Handle("POST /c/inbox/ack", con.action(con.bulkAck, incident.RoleDepartment))
	m.Handle("GET /c/disputes", con.page(con.disputesPage, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin))
	m.Handle("GET /c/map", con.page(con.mapPage, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin))
	m.Handle("GET /c/map/points", con.page(con.mapPoints, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin))
	m.Handle("GET /c/league", con.page(con.leaguePage, incident.RoleDistrict, incident.RoleAdmin, incident.RoleStreet))
	m.Handle("GET /c/league/trend", con.page(con.leagueTrend, incident.RoleDistrict, incident.RoleAdmin, incident.RoleStreet))
	m.Handle("GET /c/report.csv", con.page(con.monthlyCSV, incident.RoleDistrict, incident.RoleAdmin))
	m.Handle("GET /c/whatif", con.page(con.whatifPage, incident.RoleDistrict, incident.RoleAdmin))
	m.Handle("POST /c/whatif", con.action(con.startWhatif, incident.RoleDistrict, incident.RoleAdmin))
	m.Handle("GET /c/whatif/{id}", con.page(con.whatifJobPage, incident.RoleDistrict, incident.RoleAdmin))
	m.Handle("GET /c/open311", con.page(con.open311Page, incident.RoleAdmin, incident.RoleDistrict))
	m.Handle("POST /c/open311", con.action(con.createOpen311Key, incident.RoleAdmin))
	m.Handle("POST /c/open311/{id}/revoke", con.action(con.revokeOpen311Key, incident.RoleAdmin))
	m.Handle("GET /c/catalogue", con.page(con.cataloguePage))
	m.Handle("GET /c/catalogue/{code}", con.page(con.catalogueItemPage))
	m.Handle("POST /c/catalogue/{code}/retire", con.action(con.retireItem, incident.RoleAdmin))
	m.Handle("POST /c/catalogue/{code}", con.action(con.editItem, incident.RoleAdmin))
	m.Handle("POST /c/cmd/{name}/{id}", con.action(con.command))
	m.Handle("GET /c/events", con.page(con.events, incident.RoleStreet, incident.RoleDistrict, incident.RoleAdmin, incident.RoleDepartment))
	m.HandleFunc("/", con.notFound)
}

// cacheStatic lets browsers keep the static files for a day: they change
// only with the binary.
func (con *Console) cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		h.ServeHTTP(w, r)
	})
}

// Handler returns one handler serving the console on its Paths and the API
// on every other path.
func Handler(con *Console, api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	for _, p := range Paths {
		mux.Handle(p, con)
	}
	return mux
}
