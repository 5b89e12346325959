package main

// Helpers of the smoke tests: build the real binary once, run it as child
// processes whose output is kept for failure messages, talk to its HTTP API,
// and poll with deadlines.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/whistle-city/whistle/devstack"
	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
)

// TestMain runs the tests, then removes the binary they built and stops the
// private PostgreSQL server [database] may have started (what devtest.Main
// does, which cannot be used here as it exits before the binary is removed).
func TestMain(m *testing.M) {
	code := m.Run()
	if err := stopSharedPostgres(); err != nil {
		fmt.Fprintln(os.Stderr, "smoke:", err)
		if code == 0 {
			code = 1
		}
	}
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// built is the whistle binary of this test run, built on first use.
var built struct {
	once sync.Once
	dir  string
	path string
	took time.Duration
	err  error
}

// whistleBinary returns the path of the whistle binary built from this
// package, building it the first time (`go build -o DIR/whistle .`).
func whistleBinary(t testing.TB) string {
	t.Helper()
	first := false
	built.once.Do(func() {
		first = true
		built.dir, built.err = os.MkdirTemp("", "whistle-smoke-bin-")
		if built.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		path := filepath.Join(built.dir, "whistle")
		start := time.Now()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", path, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build -o %s .: %w\n%s", path, err, out)
			return
		}
		built.path, built.took = path, time.Since(start)
	})
	if built.err != nil {
		t.Fatalf("build whistle: %v", built.err)
	}
	if first {
		t.Logf("built %s in %s", built.path, built.took.Round(100*time.Millisecond))
	}
	return built.path
}

// sharedPG is the private PostgreSQL server of this test binary, started by
// the first [database] call when DATABASE_URL is not set.
var sharedPG struct {
	once sync.Once
	dir  string
	pg   *devstack.Postgres
	err  error
}

// database returns the URL of a fresh database dropped at t.Cleanup
// (devtest.Postgres), on the server DATABASE_URL names or else on a private
// server shared by this test binary.
func database(t *testing.T) string {
	t.Helper()
	if os.Getenv("DATABASE_URL") == "" {
		sharedPG.once.Do(func() {
			if sharedPG.dir, sharedPG.err = traversableDir(); sharedPG.err != nil {
				return
			}
			sharedPG.pg, sharedPG.err = devstack.StartPostgres(context.Background(), devstack.PostgresOptions{
				DataDir: sharedPG.dir, Database: "postgres",
			})
		})
		if sharedPG.err != nil {
			t.Fatalf("start PostgreSQL: %v", sharedPG.err)
		}
		t.Setenv("DATABASE_URL", sharedPG.pg.URL())
	}
	return devtest.Postgres(t)
}

func stopSharedPostgres() error {
	var err error
	if sharedPG.pg != nil {
		err = sharedPG.pg.Stop()
		if c := sharedPG.pg.ClusterDir(); c != "" {
			_ = os.RemoveAll(c)
		}
	}
	if sharedPG.dir != "" {
		_ = os.RemoveAll(sharedPG.dir)
	}
	return err
}

// traversableDir makes a fresh directory under os.TempDir() that every user
// may traverse: PostgreSQL runs as the postgres user when we are root.
func traversableDir() (string, error) {
	dir, err := os.MkdirTemp("", "whistle-smoke-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// whistleVars are the variables the binary reads; children get only those a
// test gives them.
func whistleVar(name string) bool {
	switch name {
	case "DATABASE_URL", "NATS_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE":
		return true
	}
	return strings.HasPrefix(name, "WHISTLE_") || strings.HasPrefix(name, "OTEL_")
}

// childEnv returns this process's environment without Whistle's variables
// (nor OTEL_*), plus kv ("NAME=value").
func childEnv(kv ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		if name, _, _ := strings.Cut(e, "="); !whistleVar(name) {
			env = append(env, e)
		}
	}
	return append(env, kv...)
}

// lockedBuffer is an io.Writer safe for a child's output copier and the test
// reading it at the same time.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[… %d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// proc is one whistle child process running in the background.
type proc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	exited         chan struct{} // closed once cmd.Wait returned
	waitErr        error
}

// startProc starts `whistle args...` with env; at t.Cleanup the process is
// stopped (SIGTERM, then SIGKILL after 30 s) if it still runs, and its
// output's tail logged if the test failed.
func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, exited: make(chan struct{})}
	p.cmd = exec.Command(whistleBinary(t), args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.SysProcAttr = childAttr()
	p.cmd.WaitDelay = 5 * time.Second // a grandchild holding the pipes must not hang Wait
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s (pid %d, %s):\n%s", p.name, p.cmd.Process.Pid, p.state(), p.tail())
		}
	})
	return p
}

// running reports whether the process has not exited.
func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitExit waits up to d for the process to exit and reports whether it did.
func (p *proc) waitExit(d time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// exitCode is the exit status once exited (-1 when killed by a signal).
func (p *proc) exitCode() int { return p.cmd.ProcessState.ExitCode() }

func (p *proc) state() string {
	if p.running() {
		return "running"
	}
	return p.cmd.ProcessState.String()
}

// signal sends sig to the process.
func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s to %s: %v", sig, p.name, err)
	}
}

// stop ends the process if it still runs: SIGTERM, then SIGKILL.
func (p *proc) stop() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if p.waitExit(30 * time.Second) {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// tail returns the end of the process's stderr and stdout.
func (p *proc) tail() string {
	return fmt.Sprintf("--- stderr (tail) ---\n%s\n--- stdout (tail) ---\n%s", tail(p.stderr.String(), 40), tail(p.stdout.String(), 15))
}

// waitStdout polls until the process's stdout contains s; it fails the test
// if the process exits first or d passes.
func (p *proc) waitStdout(t *testing.T, s string, d time.Duration) {
	t.Helper()
	ok := wait.Within(d, func() bool { return strings.Contains(p.stdout.String(), s) || !p.running() })
	if !ok || !strings.Contains(p.stdout.String(), s) {
		t.Fatalf("%s: waited %s for %q on stdout; process %s\n%s", p.name, d, s, p.state(), p.tail())
	}
}

// result is how a short-lived whistle command ended.
type result struct {
	stdout, stderr string
	code           int
}

// run runs `whistle args...` with env to completion, killing it after
// timeout (a test failure).
func run(t *testing.T, env []string, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, whistleBinary(t), args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
	cmd.SysProcAttr = childAttr()
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("whistle %s: did not finish within %s\nstderr:\n%s\nstdout:\n%s", strings.Join(args, " "), timeout, tail(stderr.String(), 40), tail(stdout.String(), 15))
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("whistle %s: %v", strings.Join(args, " "), err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// api is a client of one Whistle's HTTP API.
type api struct {
	base string
	hc   *http.Client
}

func newAPI(addr string) *api {
	return &api{base: "http://" + addr, hc: &http.Client{Timeout: 60 * time.Second}}
}

// do sends one request (body marshalled as JSON unless nil) and returns the
// status and body of the answer.
func (a *api) do(ctx context.Context, method, path, tok string, body any, hdr ...string) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return res.StatusCode, raw, err
}

// must sends one request and fails the test unless it answers want.
func (a *api) must(t *testing.T, want int, method, path, tok string, body any, hdr ...string) []byte {
	t.Helper()
	code, raw, err := a.do(context.Background(), method, path, tok, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		t.Fatalf("%s %s: got %d, want %d: %s", method, path, code, want, raw)
	}
	return raw
}

// incident reads one incident.
func (a *api) incident(ctx context.Context, id, tok string) (*incident.Incident, error) {
	code, raw, err := a.do(ctx, http.MethodGet, "/v1/incidents/"+id, tok, nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/incidents/%s: %d %s", id, code, raw)
	}
	var in incident.Incident
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("GET /v1/incidents/%s: %w", id, err)
	}
	return &in, nil
}

// waitIncident polls the incident until cond holds; it returns an error
// describing the incident as last read when ctx ends first.
func (a *api) waitIncident(ctx context.Context, id, tok, what string, cond func(*incident.Incident) bool) (*incident.Incident, error) {
	var last *incident.Incident
	var lastErr error
	for {
		in, err := a.incident(ctx, id, tok)
		if err == nil && cond(in) {
			return in, nil
		}
		if err == nil {
			last = in
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("incident %s: gave up waiting for %s: %w; last read: %s (error %v)", id, what, ctx.Err(), describe(last), lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitReady polls /readyz until it answers 200, failing the test when p
// exits first or d passes.
func (a *api) waitReady(t *testing.T, p *proc, d time.Duration) {
	t.Helper()
	var last string
	ok := wait.Within(d, func() bool {
		if !p.running() {
			return true
		}
		code, raw, err := a.do(context.Background(), http.MethodGet, "/readyz", "", nil)
		last = fmt.Sprintf("%d %s %v", code, raw, err)
		return err == nil && code == http.StatusOK
	})
	if !ok || !p.running() {
		t.Fatalf("%s: /readyz not 200 within %s (last: %s); process %s\n%s", p.name, d, last, p.state(), p.tail())
	}
}

// describe summarises an incident for failure messages.
func describe(in *incident.Incident) string {
	if in == nil {
		return "nothing"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s status=%s version=%d tasks=[", in.ID, in.Status, in.Version)
	for i, tk := range in.Tasks {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s:%s:%s", tk.ID, tk.Department, tk.Status)
	}
	b.WriteString("] timeline=[")
	for i, e := range in.Timeline {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(e.Type)
		if e.TaskID != "" {
			b.WriteString("(" + e.TaskID + ")")
		}
	}
	b.WriteString("]")
	return b.String()
}

// spots numbers the places reportBody hands out.
var spots atomic.Int64

// reportBody is a grid worker's report of category in grid, at a place of
// its own (about 220 m from the next), so that no two are duplicates.
func reportBody(category, grid, description string) map[string]any {
	n := spots.Add(1)
	return map[string]any{
		"category": category, "grid": grid, "description": description,
		"location": map[string]any{"lat": 29.30 + float64(n%1000)*0.002, "lng": 104.70 + float64(n/1000)*0.002, "address": "凤凰路 12 号"},
	}
}

// statusIs is a wait condition: the incident has one of the statuses.
func statusIs(st ...incident.Status) func(*incident.Incident) bool {
	return func(in *incident.Incident) bool {
		for _, s := range st {
			if in.Status == s {
				return true
			}
		}
		return false
	}
}

// taskIs is a wait condition: task id has one of the statuses.
func taskIs(id string, st ...incident.TaskStatus) func(*incident.Incident) bool {
	return func(in *incident.Incident) bool {
		tk := in.Task(id)
		if tk == nil {
			return false
		}
		for _, s := range st {
			if tk.Status == s {
				return true
			}
		}
		return false
	}
}

// dispatchedWith is a wait condition: dispatched with n tasks.
func dispatchedWith(n int) func(*incident.Incident) bool {
	return func(in *incident.Incident) bool { return in.Status == incident.StatusDispatched && len(in.Tasks) == n }
}

// checkClosedLoop checks a department-tier SR-001 incident that went through
// the plain loop once: closed, its two tasks (CG lead, SCJG cooperating)
// completed, and every step exactly once in its timeline.
func checkClosedLoop(in *incident.Incident) error {
	var errs []error
	if in.Status != incident.StatusClosed {
		errs = append(errs, fmt.Errorf("status %s, want closed", in.Status))
	}
	wantDept := []string{"CG", "SCJG"}
	if len(in.Tasks) != len(wantDept) {
		errs = append(errs, fmt.Errorf("%d tasks, want %d", len(in.Tasks), len(wantDept)))
	} else {
		for i, tk := range in.Tasks {
			if tk.ID != incident.TaskID(in.ID, i+1) || tk.Department != wantDept[i] || tk.Status != incident.TaskCompleted {
				errs = append(errs, fmt.Errorf("task %d is %s of %s %s, want %s of %s completed", i+1, tk.ID, tk.Department, tk.Status, incident.TaskID(in.ID, i+1), wantDept[i]))
			}
		}
	}
	count := map[string]int{}
	perTask := map[string]int{}
	for _, e := range in.Timeline {
		count[e.Type]++
		if e.TaskID != "" {
			perTask[e.Type+" "+e.TaskID]++
		}
	}
	for typ, n := range map[string]int{
		incident.EventReported: 1, incident.EventTaskCreated: 2, incident.EventAcknowledged: 2,
		incident.EventCompleted: 2, incident.EventAllCompleted: 1, incident.EventVerified: 1,
		incident.EventFeedback: 1, incident.EventClosed: 1,
		incident.EventReopened: 0, incident.EventReturned: 0, incident.EventVerificationFailed: 0,
	} {
		if count[typ] != n {
			errs = append(errs, fmt.Errorf("%d %q entries in the timeline, want %d", count[typ], typ, n))
		}
	}
	for i := range in.Tasks {
		id := incident.TaskID(in.ID, i+1)
		for _, typ := range []string{incident.EventTaskCreated, incident.EventAcknowledged, incident.EventCompleted} {
			if n := perTask[typ+" "+id]; n != 1 {
				errs = append(errs, fmt.Errorf("%d %q entries for task %s, want 1", n, typ, id))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("incident %s: %w\n%s", in.ID, err, describe(in))
	}
	return nil
}

// metricsCheck runs `whistle metrics check --all` with env and args, what
// every smoke test ends with, and fails the test unless it exits 0 having
// found every month's rollups equal to their recomputation.
func metricsCheck(t *testing.T, env []string, args ...string) {
	t.Helper()
	r := run(t, env, 3*time.Minute, append([]string{"metrics", "check", "--all"}, args...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "the rollups equal the recomputation from the record") {
		t.Fatalf("whistle metrics check --all: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("whistle metrics check --all:\n%s", r.stdout)
}
