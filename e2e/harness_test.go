package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/whistle-city/whistle/app"
	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/devstack/temporaldev"
	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/metrics"
	"github.com/whistle-city/whistle/whatif"
)

// spans records every span ended in this test binary.
var spans *tracetest.SpanRecorder

func TestMain(m *testing.M) {
	spans = devtest.RecordSpans()
	devtest.Main(m)
}

// smallOrg is the organisation of the small districts some tests write:
// one street with one grid and two departments. A test appends its items.
const smallOrg = `
district: {code: DA, name: 大安区, timezone: Asia/Shanghai}
departments:
  - {code: CG, name: 区城市管理局}
  - {code: ZJ, name: 区住房和城乡建设局}
streets:
  - code: FH
    name: 凤凰街道
    communities:
      - {code: FH-01, name: 凤凰社区, grids: [FH-01-01]}
`

var secret = []byte("e2e-secret-0123456789abcdef0123456789")

// stack is one Whistle with its own Temporal, NATS and database.
type stack struct {
	t        *testing.T
	base     string
	svc      *app.Services
	natsURL  string
	nc       *nats.Conn
	stopWork context.CancelFunc
	workDone chan error
	ctx      context.Context
	cfg      app.Config
	// stopServe stops the HTTP server; serveDone reports its end.
	stopServe context.CancelFunc
	serveDone chan error

	mu     sync.Mutex
	events []*nats.Msg

	// checked is set by checkMetrics, which every test ends with.
	checked bool
}

func newStack(t *testing.T) *stack {
	t.Helper()
	return newStackWith(t, devtest.Postgres(t), "")
}

// newStackOn is newStack on the given database.
func newStackOn(t *testing.T, databaseURL string) *stack {
	t.Helper()
	return newStackWith(t, databaseURL, "")
}

// newStackWith is newStack on the given database with the jurisdiction in
// the file ("" for the shipped one).
func newStackWith(t *testing.T, databaseURL, jurisdictionFile string) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tmp, err := temporaldev.Start(ctx, temporaldev.Options{Logger: log})
	require.NoError(t, err)
	natsURL := devtest.NATS(t)
	cfg := app.Config{
		DatabaseURL: databaseURL, NATSURL: natsURL, JurisdictionFile: jurisdictionFile, TemporalAddress: tmp.HostPort(),
		TemporalNamespace: tmp.Namespace(), JWTSecret: secret, Logger: log,
		UpdateTimeout: 3 * time.Second, // the worker-restart test waits this long for a command with no worker
		SweepInterval: 200 * time.Millisecond, SweepAge: time.Second,
	}
	s := &stack{t: t, natsURL: natsURL, ctx: ctx, cfg: cfg}

	// Watch every event Whistle publishes.
	s.nc, err = nats.Connect(natsURL)
	require.NoError(t, err)
	_, err = s.nc.Subscribe("whistle.>", func(m *nats.Msg) {
		s.mu.Lock()
		s.events = append(s.events, m)
		s.mu.Unlock()
	})
	require.NoError(t, err)

	t.Cleanup(func() {
		if !s.checked && !t.Failed() {
			t.Error("the test did not end with s.checkMetrics(): every end-to-end test checks the rollups against the record")
		}
	})
	s.open()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-s.serveDone)
		<-s.workDone
		s.nc.Close()
		s.svc.Close()
		require.NoError(t, tmp.Stop())
	})
	return s
}

// checkMetrics ends every test: the rollups of every month the record
// touches equal their recomputation from the record, row by row (what
// `whistle metrics check --all` runs), and the record has something in it.
// It reads one snapshot, so it may run while projections commit.
func (s *stack) checkMetrics() {
	s.t.Helper()
	ctx := context.Background()
	st := s.svc.Metrics
	months, err := st.RecordMonths(ctx)
	require.NoError(s.t, err)
	require.NotEmpty(s.t, months, "nothing reported: nothing to check")
	g := metrics.GradingOf(s.svc.Jurisdiction.Assessment)
	var incidents int64
	for _, m := range months {
		diffs, err := st.CheckRollups(ctx, m, m.AddDate(0, 1, 0), g)
		require.NoError(s.t, err)
		for _, d := range diffs {
			s.t.Errorf("metrics check %s: %s %q (rollups ≠ record): %s", m.Format("2006-01"), d.Dimension, d.Key, strings.Join(d.Changes(), "; "))
		}
		rows, err := st.League(ctx, metrics.ByStreet, m, m.AddDate(0, 1, 0), g)
		require.NoError(s.t, err)
		for _, r := range rows {
			incidents += r.Incidents
		}
	}
	require.Positive(s.t, incidents, "the rollups count no incident")
	s.checkWhatif(months, g)
	s.checked = true
}

// checkWhatif checks whatif's identity on every month of the record:
// replayed from its steps under the rules it ran by, each incident writes
// its recorded timeline again, and the month's tables equal both the
// record's and Recompute's, row for row. The record is live (a timer may
// fire between the readings), so it polls until they agree.
func (s *stack) checkWhatif(months []time.Time, g metrics.Grading) {
	s.t.Helper()
	ctx := context.Background()
	j := s.svc.Jurisdiction
	var problems []string
	ok := wait.Within(30*time.Second, func() bool {
		problems = nil
		for _, m := range months {
			a, err := whatif.Run(ctx, s.svc.Store.Pool(), whatif.Options{Month: m, Current: j, Proposed: j, Limit: 10})
			require.NoError(s.t, err)
			if !a.Identity.Holds || a.Identity.Incidents > 0 || a.Changes.FlipsTotal > 0 || a.Changes.RefusedTotal > 0 {
				problems = append(problems, fmt.Sprintf("%s: identity %+v, %d flips %v, %d refused %+v", a.Month, a.Identity,
					a.Changes.FlipsTotal, a.Changes.Flips, a.Changes.RefusedTotal, a.Changes.Refused))
			}
			for _, d := range []metrics.Dimension{metrics.ByDepartment, metrics.ByStreet, metrics.ByItem} {
				want, err := s.svc.Metrics.Recompute(ctx, d, m, m.AddDate(0, 1, 0), g)
				require.NoError(s.t, err)
				for _, diff := range metrics.CompareLeagues(d, a.Current.Of(d), want) {
					problems = append(problems, fmt.Sprintf("%s %s %q (whatif ≠ recompute): %s", a.Month, d, diff.Key, strings.Join(diff.Changes(), "; ")))
				}
			}
		}
		return len(problems) == 0
	})
	if !ok {
		s.t.Errorf("whatif's identity check fails:\n%s", strings.Join(problems, "\n"))
	}
}

// open starts Whistle (the API on a fresh port and a worker) with s.cfg.
func (s *stack) open() {
	s.t.Helper()
	svc, err := app.Open(s.ctx, s.cfg)
	require.NoError(s.t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(s.t, err)
	s.svc, s.base = svc, "http://"+ln.Addr().String()
	ctx, cancel := context.WithCancel(s.ctx)
	s.stopServe, s.serveDone = cancel, make(chan error, 1)
	go func() { s.serveDone <- svc.Serve(ctx, ln) }()
	s.startWorker()
}

// restart stops Whistle's API and worker and starts them again with the
// jurisdiction in file, on the same Temporal, NATS and database: what an
// operator does to roll out a changed jurisdiction.
func (s *stack) restart(jurisdictionFile string) {
	s.t.Helper()
	s.stopWorker()
	s.stopServe()
	require.NoError(s.t, <-s.serveDone)
	s.svc.Close()
	s.cfg.JurisdictionFile = jurisdictionFile
	s.open()
}

// startWorker runs the Temporal worker in its own context so a test can
// stop it mid-incident and start it again.
func (s *stack) startWorker() {
	ctx, cancel := context.WithCancel(s.ctx)
	s.stopWork, s.workDone = cancel, make(chan error, 1)
	go func() { s.workDone <- s.svc.Worker(ctx) }()
}

func (s *stack) stopWorker() {
	s.stopWork()
	require.NoError(s.t, <-s.workDone)
}

func token(t *testing.T, role incident.Role, org string) string {
	tok, err := auth.Sign(secret, incident.Actor{Sub: string(role) + "-user", Role: role, Org: org}, time.Hour)
	require.NoError(t, err)
	return tok
}

// response is an HTTP answer with its JSON body decoded.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

func (s *stack) do(method, path, tok string, body any, hdr ...string) response {
	s.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		require.NoError(s.t, err)
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	require.NoError(s.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(s.t, err)
	out := response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if len(raw) > 0 && (strings.Contains(res.Header.Get("Content-Type"), "json")) {
		_ = json.Unmarshal(raw, &out.Body)
	}
	return out
}

// must asserts the status and returns the response.
func (s *stack) must(want int, method, path, tok string, body any, hdr ...string) response {
	s.t.Helper()
	res := s.do(method, path, tok, body, hdr...)
	require.Equal(s.t, want, res.Status, "%s %s: %s", method, path, res.Raw)
	return res
}

func (s *stack) incident(id, tok string) incident.Incident {
	s.t.Helper()
	res := s.must(200, "GET", "/v1/incidents/"+id, tok, nil)
	var in incident.Incident
	require.NoError(s.t, json.Unmarshal(res.Raw, &in))
	return in
}

// waitFor polls the incident until cond holds, failing after a deadline.
func (s *stack) waitFor(id, tok, what string, cond func(incident.Incident) bool) incident.Incident {
	s.t.Helper()
	var in incident.Incident
	if !wait.Within(30*time.Second, func() bool { in = s.incident(id, tok); return cond(in) }) {
		s.t.Fatalf("incident %s: waited 30s for %s; it is %s: %+v", id, what, in.Status, in.Timeline)
	}
	return in
}

func (s *stack) waitStatus(id, tok string, st incident.Status) incident.Incident {
	s.t.Helper()
	return s.waitFor(id, tok, "status "+string(st), func(in incident.Incident) bool { return in.Status == st })
}

// eventsOn returns the data of the events received on subject so far.
func (s *stack) eventsOn(subject string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, m := range s.events {
		if m.Subject == subject {
			var e map[string]any
			_ = json.Unmarshal(m.Data, &e)
			out = append(out, e)
		}
	}
	return out
}

// waitEvents polls until n events of the incident arrived on subject.
func (s *stack) waitEvents(subject, incidentID string, n int) []map[string]any {
	s.t.Helper()
	var mine []map[string]any
	if !wait.Within(30*time.Second, func() bool {
		mine = nil
		for _, e := range s.eventsOn(subject) {
			if e["incident_id"] == incidentID {
				mine = append(mine, e)
			}
		}
		return len(mine) >= n
	}) {
		s.t.Fatalf("waited 30s for %d events of %s on %s, got %d", n, incidentID, subject, len(mine))
	}
	return mine
}

// place is a point on the map (WGS 84 degrees).
type place struct{ lat, lng float64 }

// metresPerDegree is the length of a degree of latitude, near enough.
const metresPerDegree = 111195.08

// north and east return the point m metres north or east of p.
func (p place) north(m float64) place { return place{p.lat + m/metresPerDegree, p.lng} }
func (p place) east(m float64) place {
	return place{p.lat, p.lng + m/(metresPerDegree*math.Cos(p.lat*math.Pi/180))}
}

// spots numbers the places report hands out.
var spots atomic.Int64

// nextSpot returns a place no other call returned, about 220 m from the
// nearest: reports at them are never duplicates of one another.
func nextSpot() place {
	n := spots.Add(1)
	return place{29.30 + float64(n%1000)*0.002, 104.70 + float64(n/1000)*0.002}
}

// report is a report body of category in grid at a place of its own.
func report(category, grid string) map[string]any {
	return reportAt(category, grid, nextSpot())
}

// reportAt is a report body of category in grid at p.
func reportAt(category, grid string, p place) map[string]any {
	return map[string]any{
		"category": category, "grid": grid, "description": fmt.Sprintf("%s seen at %s", category, grid),
		"location": map[string]any{"lat": p.lat, "lng": p.lng, "address": "凤凰路 12 号"},
		"photos":   []string{"https://photos.example.org/1.jpg"},
	}
}
