package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/devstack/devtest"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/bus"
	"github.com/whistle-city/whistle/catalogue"
	"github.com/whistle-city/whistle/devstack/temporaldev"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/metrics"
	"github.com/whistle-city/whistle/store"
)

var secret = []byte("api-test-secret")

// testJurisdiction is a small district: two streets, three grids, three
// departments, one item of each tier.
const testJurisdiction = `
district: {code: DA, name: 大安区, timezone: Asia/Shanghai}
departments:
  - {code: CG, name: 区城市管理局, enforcement: true}
  - {code: SCJG, name: 区市场监管局, enforcement: true}
  - {code: ZJ, name: 区住房和城乡建设局}
streets:
  - code: FH
    name: 凤凰街道
    communities:
      - {code: FH-01, name: 凤凰社区, grids: [FH-01-01, FH-01-02]}
  - code: MCK
    name: 马冲口街道
    communities:
      - {code: MCK-01, name: 马冲口社区, grids: [MCK-01-01]}
items:
  - code: SR-001
    name: 占道经营
    gloss: street vending that blocks the road
    domain: 市容环境
    tier: department
    lead: CG
    cooperating: [SCJG]
    legal_basis: 《城市市容和环境卫生管理条例》
    sla: {ack: 1h, resolve: 3wd, feedback: 3wd}
  - code: SR-002
    name: 乱堆乱放
    domain: 市容环境
    tier: community
    lead: CG
    sla: {ack: 1h, resolve: 2wd, feedback: 3wd}
  - code: LJ-001
    name: 邻里纠纷
    domain: 社会治理
    tier: street
    sla: {ack: 1h, resolve: 5wd, feedback: 3wd}
`

// env is one API server on a fresh database and an embedded NATS server.
type env struct {
	t     *testing.T
	url   string // base URL of the API
	store *store.Store
	bus   *bus.Bus
	jur   *jurisdiction.Jurisdiction
	cat   *catalogue.Catalogue // nil unless envOptions.catalogue
}

type envOptions struct {
	noStreams bool // do not create the JetStream streams: publishing fails
	ready     func(context.Context) error
	temporal  client.Client // nil: commands answer 503
	catalogue bool          // run the living catalogue (e.cat) over the test jurisdiction
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	j, err := jurisdiction.Parse("test.yaml", []byte(testJurisdiction))
	if err != nil {
		t.Fatalf("jurisdiction: %v", err)
	}
	dbURL := freshDB(t)
	if err := store.Migrate(ctx, dbURL); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	b, err := bus.Connect(ctx, devtest.NATS(t), "api-test")
	if err != nil {
		t.Fatalf("connect bus: %v", err)
	}
	t.Cleanup(b.Close)
	if !o.noStreams {
		if err := b.EnsureStreams(ctx); err != nil {
			t.Fatalf("ensure streams: %v", err)
		}
	}
	cfg := api.Config{
		Store: st, Metrics: metrics.New(st.Pool()), Publisher: b, Jurisdiction: func() *jurisdiction.Jurisdiction { return j },
		JWTSecret: secret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "test", Ready: o.ready,
		Temporal: o.temporal,
	}
	var cat *catalogue.Catalogue
	if o.catalogue {
		cat, err = catalogue.Open(ctx, catalogue.Config{Store: st, File: j, FileName: "test.yaml", Conn: b.Conn(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatalf("open catalogue: %v", err)
		}
		t.Cleanup(cat.Close)
		cfg.Jurisdiction, cfg.Catalogue = cat.Current, cat
	}
	srv, err := api.NewServer(cfg)
	if err != nil {
		t.Fatalf("api.NewServer: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &env{t: t, url: hs.URL, store: st, bus: b, jur: j, cat: cat}
}

// token mints a token for role and org.
func token(t *testing.T, role incident.Role, org string) string {
	t.Helper()
	tok, err := auth.Sign(secret, incident.Actor{Sub: "tester-" + org, Role: role, Org: org}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// response is an answer of the API with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v.
func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request with an optional bearer token and body (a string is
// sent as is, anything else as JSON).
func (e *env) do(method, path, tok string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// problem is the problem+json body of an error.
type problem struct {
	Type          string `json:"type"`
	Title         string `json:"title"`
	Status        int    `json:"status"`
	Detail        string `json:"detail"`
	CurrentStatus string `json:"current_status"`
	Errors        []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

// wantProblem checks that r is a problem+json of the given status and code
// and, when location is not empty, that one of its errors is at location.
func wantProblem(t *testing.T, r response, status int, code, location string) problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	r.json(t, &p)
	if want := api.ProblemTypeBase + code; p.Type != want {
		t.Errorf("type %q, want %q (%s)", p.Type, want, r.body)
	}
	if p.Status != status {
		t.Errorf("problem status %d, want %d", p.Status, status)
	}
	if p.Title == "" || p.Detail == "" {
		t.Errorf("problem without title or detail: %s", r.body)
	}
	if location != "" {
		found := false
		for _, e := range p.Errors {
			found = found || e.Location == location
		}
		if !found {
			t.Errorf("no error at %s: %s", location, r.body)
		}
	}
	return p
}

// count returns the number of rows of a table.
func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// published returns the number of messages in GRID_REPORTS.
func (e *env) published() uint64 {
	e.t.Helper()
	s, err := e.bus.JetStream().Stream(context.Background(), bus.StreamReports)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

// project stores an incident made by incident.New from a report in grid
// with the item category, then lets mutate change it before projecting.
func (e *env) project(grid, category string, mutate func(*incident.Incident)) *incident.Incident {
	e.t.Helper()
	street, community, ok := e.jur.LocateGrid(grid)
	if !ok {
		e.t.Fatalf("unknown grid %s", grid)
	}
	it, ok := e.jur.Item(category)
	if !ok {
		e.t.Fatalf("unknown item %s", category)
	}
	id := "inc-" + randomHex(6)
	now := time.Now().UTC().Truncate(time.Millisecond)
	r := incident.Report{IncidentID: id, Category: category, Street: street, Community: community, Grid: grid,
		Description: "test", ReportedAt: now, Reporter: "tester"}
	in := incident.New(r, it.Snapshot(), now, incident.DueFunc(func(_ incident.SLAKind, from time.Time) time.Time { return from.Add(time.Hour) }))
	if mutate != nil {
		mutate(in)
	}
	if err := e.store.Project(context.Background(), in); err != nil {
		e.t.Fatalf("project: %v", err)
	}
	return in
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestMain stops the private PostgreSQL the tests may have started.
func TestMain(m *testing.M) { devtest.Main(m) }

// freshDB returns the URL of an empty database of its own for this test,
// dropped when the test ends (DATABASE_URL's server, else a private one).
func freshDB(t *testing.T) string {
	return devtest.Postgres(t)
}

// startTemporal starts an embedded Temporal server kept in memory and
// returns a client of it; both stop when the test ends.
func startTemporal(t *testing.T) client.Client {
	t.Helper()
	ts, err := temporaldev.Start(t.Context(), temporaldev.Options{})
	if err != nil {
		t.Fatalf("start temporal: %v", err)
	}
	t.Cleanup(func() { _ = ts.Stop() })
	c, err := client.Dial(client.Options{HostPort: ts.HostPort(), Namespace: ts.Namespace(),
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
