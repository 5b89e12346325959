package main

// Smoke tests of the real binary: they build `whistle` once and run its
// subcommands as child processes, the way an operator would.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/devstack/temporaldev"
	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/workflows"
)

const (
	smokeGrid   = "FH-01-01"
	smokeStreet = "FH"
	// startTimeout bounds a start of `whistle dev` up to /readyz answering 200
	// (the first start creates Temporal's SQLite schema and may run initdb).
	startTimeout = 2 * time.Minute
)

// TestDevSmoke runs `whistle dev`, takes an incident halfway, stops it with
// Ctrl-C, starts it again on the same data directory and finishes the
// incident: once with PostgreSQL from DATABASE_URL, once with the private
// server `whistle dev` starts itself.
func TestDevSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the whistle binary with embedded Temporal, NATS and PostgreSQL")
	}
	t.Run("DATABASE_URL", func(t *testing.T) {
		devSmoke(t, filepath.Join(t.TempDir(), "data"), database(t))
	})
	t.Run("private PostgreSQL", func(t *testing.T) {
		// PostgreSQL runs as the postgres user when we are root: the data
		// directory must be reachable by it (t.TempDir() is 0700).
		dir, err := traversableDir()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) }) // after the process is stopped
		devSmoke(t, filepath.Join(dir, "data"), "")
	})
}

// devSmoke is TestDevSmoke with one data directory; databaseURL "" leaves
// DATABASE_URL unset.
func devSmoke(t *testing.T, dataDir, databaseURL string) {
	whistleBinary(t) // built before any clock starts
	env := childEnv()
	if databaseURL != "" {
		env = append(env, "DATABASE_URL="+databaseURL)
	}
	addr := freeAddr(t)
	a := newAPI(addr)
	startDev := func(name string) *proc {
		t.Helper()
		start := time.Now()
		p := startProc(t, name, env, "dev", "--http", addr, "--data-dir", dataDir, "--temporal-port", "127.0.0.1:0")
		p.waitStdout(t, "Whistle is running", startTimeout)
		a.waitReady(t, p, startTimeout)
		t.Logf("%s ready in %s", name, time.Since(start).Round(10*time.Millisecond))
		return p
	}
	stopDev := func(p *proc) {
		t.Helper()
		start := time.Now()
		p.signal(t, os.Interrupt)
		if !p.waitExit(60 * time.Second) {
			t.Fatalf("%s: still running 60s after SIGINT\n%s", p.name, p.tail())
		}
		if p.exitCode() != 0 {
			t.Fatalf("%s: after SIGINT: %s, want exit status 0\n%s", p.name, p.state(), p.tail())
		}
		t.Logf("%s stopped cleanly in %s", p.name, time.Since(start).Round(10*time.Millisecond))
	}
	cluster := filepath.Join(dataDir, "postgres", "pg")

	dev := startDev("whistle dev (first run)")

	// What it leaves in its data directory.
	raw, err := os.ReadFile(filepath.Join(dataDir, "dev.json"))
	if err != nil {
		t.Fatalf("dev.json: %v", err)
	}
	var ep struct {
		HTTP        string `json:"http"`
		NATS        string `json:"nats"`
		Temporal    string `json:"temporal"`
		DatabaseURL string `json:"database_url"`
	}
	if err := json.Unmarshal(raw, &ep); err != nil {
		t.Fatalf("dev.json: %v: %s", err, raw)
	}
	if ep.HTTP != a.base || ep.NATS == "" || ep.Temporal == "" || ep.DatabaseURL == "" {
		t.Fatalf("dev.json = %s, want http %s and every endpoint", raw, a.base)
	}
	fi, err := os.Stat(filepath.Join(dataDir, "jwt-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("jwt-secret has mode %v, want 0600", fi.Mode().Perm())
	}
	_, err = os.Stat(filepath.Join(cluster, "PG_VERSION"))
	if databaseURL != "" && err == nil {
		t.Fatalf("with DATABASE_URL set, whistle dev created a PostgreSQL cluster in %s", cluster)
	}
	if databaseURL == "" && err != nil {
		t.Fatalf("without DATABASE_URL, no PostgreSQL cluster in %s: %v", cluster, err)
	}

	// Tokens from `whistle token`, signed with the secret whistle dev keeps.
	token := func(role, org string) string {
		t.Helper()
		r := run(t, env, time.Minute, "token", "--role", role, "--org", org, "--data-dir", dataDir)
		tok := strings.TrimSuffix(r.stdout, "\n")
		if r.code != 0 || tok == "" || strings.ContainsAny(tok, " \t\r\n") || strings.Count(tok, ".") != 2 {
			t.Fatalf("whistle token --role %s --org %s: exit %d, stdout %q, want one token alone\n%s", role, org, r.code, r.stdout, r.stderr)
		}
		return tok
	}
	grid := token("grid_worker", smokeGrid)
	street := token("street", smokeStreet)
	cg := token("department", "CG")
	scjg := token("department", "SCJG")

	var rep struct {
		IncidentID string `json:"incident_id"`
	}
	raw = a.must(t, http.StatusAccepted, "POST", "/v1/reports", grid, reportBody("SR-001", smokeGrid, "vendors block the school gate"))
	if err := json.Unmarshal(raw, &rep); err != nil || rep.IncidentID == "" {
		t.Fatalf("POST /v1/reports: %s (%v)", raw, err)
	}
	id := rep.IncidentID
	t1, t2 := incident.TaskID(id, 1), incident.TaskID(id, 2)
	wait := func(what string, cond func(*incident.Incident) bool) *incident.Incident {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		in, err := a.waitIncident(ctx, id, street, what, cond)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	in := wait("dispatched with 2 tasks", dispatchedWith(2))
	if in.Tasks[0].ID != t1 || in.Tasks[0].Department != "CG" || in.Tasks[1].ID != t2 || in.Tasks[1].Department != "SCJG" {
		t.Fatalf("tasks: %s", describe(in))
	}
	a.must(t, http.StatusOK, "POST", "/v1/tasks/"+t1+"/ack", cg, map[string]any{"note": "on our way"})
	wait("task 1 acknowledged", taskIs(t1, incident.TaskAcknowledged))

	stopDev(dev)
	if _, err := os.Stat(filepath.Join(cluster, "postmaster.pid")); err == nil {
		t.Fatalf("whistle dev exited 0 but left PostgreSQL running in %s", cluster)
	}

	dev = startDev("whistle dev (second run)")
	in, err = a.incident(context.Background(), id, street)
	if err != nil {
		t.Fatal(err)
	}
	if in.Status != incident.StatusDispatched || in.Task(t1).Status != incident.TaskAcknowledged || in.Task(t2).Status != incident.TaskPendingAck {
		t.Fatalf("after the restart: %s, want dispatched with task 1 acknowledged and task 2 pending", describe(in))
	}
	command := func(path, tok string, body any, want incident.Status) {
		t.Helper()
		var after incident.Incident
		raw := a.must(t, http.StatusOK, "POST", path, tok, body)
		if err := json.Unmarshal(raw, &after); err != nil {
			t.Fatalf("POST %s: %v: %s", path, err, raw)
		}
		if after.Status != want {
			t.Fatalf("POST %s: incident is %s, want %s", path, after.Status, want)
		}
	}
	command("/v1/tasks/"+t2+"/ack", scjg, map[string]any{}, incident.StatusDispatched)
	command("/v1/tasks/"+t1+"/complete", cg, map[string]any{"result": "stalls moved to the night market"}, incident.StatusDispatched)
	command("/v1/tasks/"+t2+"/complete", scjg, map[string]any{"result": "licences checked"}, incident.StatusVerifying)
	command("/v1/incidents/"+id+"/verify", street, map[string]any{"passed": true}, incident.StatusAwaitingFeedback)
	command("/v1/incidents/"+id+"/feedback", street, map[string]any{"resolved": true, "rating": "satisfied"}, incident.StatusClosed)

	in = wait("closed", statusIs(incident.StatusClosed))
	if err := checkClosedLoop(in); err != nil {
		t.Fatal(err)
	}
	metricsCheck(t, env, "--data-dir", dataDir) // the database whistle dev names in dev.json
	stopDev(dev)
}

// TestServeAndWorkersSmoke runs `whistle migrate`, one `whistle serve` and
// two `whistle worker`s against Temporal, NATS and PostgreSQL started by the
// test, pushes incidents through the whole loop, and kills one worker with
// SIGKILL in the middle of a batch: the other carries every incident on.
func TestServeAndWorkersSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the whistle binary against Temporal, NATS and PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tmp, err := temporaldev.Start(ctx, temporaldev.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tmp.Stop(); err != nil {
			t.Errorf("stop Temporal: %v", err)
		}
	})
	natsURL := devtest.NATS(t)
	db := database(t)
	const secret = "smoke-serve-secret-0123456789abcdef"
	services := []string{"DATABASE_URL=" + db, "NATS_URL=" + natsURL, "TEMPORAL_ADDRESS=" + tmp.HostPort(), "TEMPORAL_NAMESPACE=" + tmp.Namespace()}

	t.Run("serve without WHISTLE_JWT_SECRET", func(t *testing.T) {
		r := run(t, childEnv(services...), time.Minute, "serve", "--http", "127.0.0.1:0")
		if r.code == 0 || !strings.Contains(r.stderr, "WHISTLE_JWT_SECRET is not set") {
			t.Fatalf("exit %d, stderr:\n%s\nwant a non-zero exit saying WHISTLE_JWT_SECRET is not set", r.code, r.stderr)
		}
	})

	for i := range 2 { // the second run finds nothing to do
		r := run(t, childEnv("DATABASE_URL="+db), time.Minute, "migrate")
		if r.code != 0 || !strings.Contains(r.stderr, "database is up to date") {
			t.Fatalf("whistle migrate (run %d): exit %d\n%s", i+1, r.code, r.stderr)
		}
	}

	env := childEnv(append(services, "WHISTLE_JWT_SECRET="+secret)...)
	addr := freeAddr(t)
	a := newAPI(addr)
	serve := startProc(t, "whistle serve", env, "serve", "--http", addr)
	workers := []*proc{startProc(t, "whistle worker 1", env, "worker"), startProc(t, "whistle worker 2", env, "worker")}
	a.waitReady(t, serve, startTimeout)

	tc, err := client.DialContext(ctx, client.Options{
		HostPort: tmp.HostPort(), Namespace: tmp.Namespace(),
		Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	identity := func(w *proc) string { return fmt.Sprintf("%d@", w.cmd.Process.Pid) }
	// Both workers poll before any work arrives, so both get some.
	var pollers []string
	if !wait.Within(startTimeout, func() bool {
		pollers = pollers[:0]
		res, err := tc.DescribeTaskQueue(ctx, workflows.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil {
			return false
		}
		for _, p := range res.GetPollers() {
			pollers = append(pollers, p.GetIdentity())
		}
		return hasPrefix(pollers, identity(workers[0])) && hasPrefix(pollers, identity(workers[1]))
	}) {
		t.Fatalf("workers %s and %s are not both polling %s: pollers %v\n%s\n%s", identity(workers[0]), identity(workers[1]), workflows.TaskQueue, pollers, workers[0].tail(), workers[1].tail())
	}

	sign := func(role incident.Role, org string) string {
		tok, err := auth.Sign([]byte(secret), incident.Actor{Sub: string(role) + "-smoke", Role: role, Org: org}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	d := &driver{api: a, grid: sign(incident.RoleGridWorker, smokeGrid), street: sign(incident.RoleStreet, smokeStreet),
		cg: sign(incident.RoleDepartment, "CG"), scjg: sign(incident.RoleDepartment, "SCJG")}

	// Batch 1: 20 incidents, report to closed, all at once.
	start := time.Now()
	batch1 := d.parallel(t, ctx, 20, func(ctx context.Context, i int) (string, error) {
		id, err := d.report(ctx, fmt.Sprintf("b1-%d", i))
		if err != nil {
			return id, err
		}
		return id, d.steps(ctx, id, d.loop(id)...)
	})
	t.Logf("batch 1: 20 incidents report → closed in %s", time.Since(start).Round(10*time.Millisecond))
	d.checkAll(t, ctx, batch1)

	// Batch 2: 10 incidents to their first acknowledgement, then one worker
	// is killed, then the rest of the loop.
	start = time.Now()
	batch2 := d.parallel(t, ctx, 10, func(ctx context.Context, i int) (string, error) {
		id, err := d.report(ctx, fmt.Sprintf("b2-%d", i))
		if err != nil {
			return id, err
		}
		return id, d.steps(ctx, id, d.loop(id)[:1]...)
	})
	// Kill the worker that holds most of these workflows (the last to
	// complete a workflow task of each).
	held := map[int]int{}
	for _, id := range batch2 {
		ids := completedBy(t, ctx, tc, id)
		for i, w := range workers {
			if len(ids) > 0 && strings.HasPrefix(ids[len(ids)-1], identity(w)) {
				held[i]++
			}
		}
	}
	victim, survivor := workers[0], workers[1]
	if held[1] > held[0] {
		victim, survivor = workers[1], workers[0]
	}
	if !victim.running() || !survivor.running() {
		t.Fatalf("a worker exited on its own: %s: %s; %s: %s", victim.name, victim.state(), survivor.name, survivor.state())
	}
	victim.signal(t, syscall.SIGKILL)
	if !victim.waitExit(30 * time.Second) {
		t.Fatalf("%s still runs 30s after SIGKILL", victim.name)
	}
	t.Logf("killed %s, which held %d of the 10 workflows, %s after the batch began", victim.name, max(held[0], held[1]), time.Since(start).Round(10*time.Millisecond))
	d.parallel(t, ctx, len(batch2), func(ctx context.Context, i int) (string, error) {
		return batch2[i], d.steps(ctx, batch2[i], d.loop(batch2[i])[1:]...)
	})
	t.Logf("batch 2: 10 incidents report → closed across the kill in %s (%d commands retried)", time.Since(start).Round(10*time.Millisecond), d.retried.Load())
	d.checkAll(t, ctx, batch2)
	if !survivor.running() {
		t.Fatalf("%s exited: %s\n%s", survivor.name, survivor.state(), survivor.tail())
	}
	// The kill mattered: workflows the victim ran went on on the survivor.
	moved := 0
	for _, id := range batch2 {
		ids := completedBy(t, ctx, tc, id)
		for i := range ids {
			if strings.HasPrefix(ids[i], identity(victim)) && hasPrefix(ids[i+1:], identity(survivor)) {
				moved++
				break
			}
		}
	}
	if moved == 0 {
		t.Fatalf("no workflow of batch 2 went from %s to %s: the kill proved nothing", victim.name, survivor.name)
	}
	t.Logf("%d of the 10 workflows went on on %s after the kill", moved, survivor.name)
	metricsCheck(t, childEnv(services...))

	// serve and the surviving worker stop cleanly on SIGTERM.
	for _, p := range []*proc{serve, survivor} {
		p.signal(t, syscall.SIGTERM)
		if !p.waitExit(60 * time.Second) {
			t.Fatalf("%s: still running 60s after SIGTERM\n%s", p.name, p.tail())
		}
		if p.exitCode() != 0 {
			t.Fatalf("%s: after SIGTERM: %s, want exit status 0\n%s", p.name, p.state(), p.tail())
		}
	}
}

// hasPrefix reports whether one of ss starts with prefix.
func hasPrefix(ss []string, prefix string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// completedBy returns the identities of the workers that completed the
// workflow tasks of workflow id, in order.
func completedBy(t *testing.T, ctx context.Context, tc client.Client, id string) []string {
	t.Helper()
	var ids []string
	it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		if a := e.GetWorkflowTaskCompletedEventAttributes(); a != nil {
			ids = append(ids, a.GetIdentity())
		}
	}
	return ids
}

// driver pushes incidents through the loop over HTTP like the people in it
// would, retrying what a client should retry: an answer 503 (the command may
// or may not have taken effect) or a 409 while the read model catches up.
// Each step first reads the incident and sends its command only if the step
// is not done yet, so a retry never repeats what was applied.
type driver struct {
	api                    *api
	grid, street, cg, scjg string
	retried                atomic.Int64
}

// step is one command of the loop and how to tell it is done.
type step struct {
	name, path, tok string
	body            any
	done            func(*incident.Incident) bool
}

// loop is the plain department-tier loop of an SR-001 incident once dispatched.
func (d *driver) loop(id string) []step {
	t1, t2 := incident.TaskID(id, 1), incident.TaskID(id, 2)
	return []step{
		{"ack t1", "/v1/tasks/" + t1 + "/ack", d.cg, map[string]any{"note": "on our way"}, taskIs(t1, incident.TaskAcknowledged, incident.TaskCompleted)},
		{"ack t2", "/v1/tasks/" + t2 + "/ack", d.scjg, map[string]any{}, taskIs(t2, incident.TaskAcknowledged, incident.TaskCompleted)},
		{"complete t1", "/v1/tasks/" + t1 + "/complete", d.cg, map[string]any{"result": "stalls moved"}, taskIs(t1, incident.TaskCompleted)},
		{"complete t2", "/v1/tasks/" + t2 + "/complete", d.scjg, map[string]any{"result": "licences checked"}, taskIs(t2, incident.TaskCompleted)},
		{"verify", "/v1/incidents/" + id + "/verify", d.street, map[string]any{"passed": true}, statusIs(incident.StatusAwaitingFeedback, incident.StatusClosed)},
		{"feedback", "/v1/incidents/" + id + "/feedback", d.street, map[string]any{"resolved": true, "rating": "satisfied"}, statusIs(incident.StatusClosed)},
	}
}

// report files one SR-001 report (retrying with the same Idempotency-Key)
// and waits until it is dispatched with its two tasks.
func (d *driver) report(ctx context.Context, key string) (string, error) {
	key = fmt.Sprintf("smoke-%s-%d", key, time.Now().UnixNano())
	var last string
	for {
		code, raw, err := d.api.do(ctx, "POST", "/v1/reports", d.grid, reportBody("SR-001", smokeGrid, "smoke "+key), "Idempotency-Key", key)
		if err == nil && code == http.StatusAccepted {
			var rep struct {
				IncidentID string `json:"incident_id"`
			}
			if err := json.Unmarshal(raw, &rep); err != nil || rep.IncidentID == "" {
				return "", fmt.Errorf("POST /v1/reports: %s (%v)", raw, err)
			}
			if _, err := d.api.waitIncident(ctx, rep.IncidentID, d.street, "dispatched with 2 tasks", dispatchedWith(2)); err != nil {
				return rep.IncidentID, err
			}
			return rep.IncidentID, nil
		}
		if err == nil && code != http.StatusServiceUnavailable {
			return "", fmt.Errorf("POST /v1/reports: %d %s", code, raw)
		}
		last = fmt.Sprintf("%d %s %v", code, raw, err)
		d.retried.Add(1)
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("POST /v1/reports: gave up: %w; last answer %s", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// steps applies each step to incident id in turn.
func (d *driver) steps(ctx context.Context, id string, steps ...step) error {
	for _, st := range steps {
		if err := d.apply(ctx, id, st); err != nil {
			return err
		}
	}
	return nil
}

func (d *driver) apply(ctx context.Context, id string, st step) error {
	var last string
	for {
		in, err := d.api.incident(ctx, id, d.street)
		if err == nil && st.done(in) {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			code, raw, err := d.api.do(ctx, "POST", st.path, st.tok, st.body)
			switch {
			case err == nil && code == http.StatusOK:
				var after incident.Incident
				if err := json.Unmarshal(raw, &after); err != nil {
					return fmt.Errorf("%s of %s: %w: %s", st.name, id, err, raw)
				}
				if st.done(&after) {
					return nil
				}
				return fmt.Errorf("%s of %s: answered 200 but the incident does not show it: %s", st.name, id, describe(&after))
			case err == nil && code != http.StatusServiceUnavailable && code != http.StatusConflict:
				return fmt.Errorf("%s of %s: %d %s\n%s", st.name, id, code, raw, describe(in))
			}
			last = fmt.Sprintf("%d %s %v", code, raw, err)
			d.retried.Add(1)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s of %s: gave up: %w; last answer %s", st.name, id, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// parallel runs f for 0..n-1 at once, each bounded by two minutes, and
// returns the incident ids they return; it fails the test with every error.
func (d *driver) parallel(t *testing.T, ctx context.Context, n int, f func(ctx context.Context, i int) (string, error)) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ids := make([]string, n)
	var mu sync.Mutex
	var errs []string
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			id, err := f(ctx, i)
			ids[i] = id
			if err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d incidents failed:\n%s", len(errs), n, strings.Join(errs, "\n"))
	}
	return ids
}

// checkAll reads every incident and checks it went through the loop once.
func (d *driver) checkAll(t *testing.T, ctx context.Context, ids []string) {
	t.Helper()
	for _, id := range ids {
		in, err := d.api.incident(ctx, id, d.street)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkClosedLoop(in); err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// TestTokenCommand runs `whistle token`: the token is alone on stdout, has
// the claims asked for, honours --ttl, and bad input is refused.
func TestTokenCommand(t *testing.T) {
	const secret = "smoke-token-secret-0123456789abcdef"
	env := childEnv("WHISTLE_JWT_SECRET=" + secret)

	// mint runs `whistle token args...` and returns the token it printed,
	// with the time window in which it was minted.
	mint := func(t *testing.T, env []string, args ...string) (tok string, before, after time.Time) {
		t.Helper()
		before = time.Now()
		r := run(t, env, time.Minute, append([]string{"token"}, args...)...)
		after = time.Now()
		tok = strings.TrimSuffix(r.stdout, "\n")
		if r.code != 0 || tok == "" || strings.ContainsAny(tok, " \t\r\n") {
			t.Fatalf("whistle token %s: exit %d, stdout %q, want one token alone on stdout\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return tok, before, after
	}
	// expiry returns the token's exp claim.
	expiry := func(t *testing.T, tok string) time.Time {
		t.Helper()
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("token %q has %d parts", tok, len(parts))
		}
		b, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Exp int64 `json:"exp"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		return time.Unix(c.Exp, 0)
	}
	// within checks that exp is ttl after a moment in [before, after],
	// exp being whole seconds.
	within := func(t *testing.T, exp, before, after time.Time, ttl time.Duration) {
		t.Helper()
		lo, hi := before.Add(ttl).Truncate(time.Second), after.Add(ttl)
		if exp.Before(lo) || exp.After(hi) {
			t.Fatalf("exp %s, want within [%s, %s] (now + %s)", exp, lo, hi, ttl)
		}
	}

	t.Run("claims", func(t *testing.T) {
		tok, before, after := mint(t, env, "--role", "department", "--org", "CG", "--sub", "chen.cg")
		got, err := auth.Parse([]byte(secret), tok)
		if err != nil {
			t.Fatal(err)
		}
		if want := (incident.Actor{Sub: "chen.cg", Role: incident.RoleDepartment, Org: "CG"}); got != want {
			t.Fatalf("claims %+v, want %+v", got, want)
		}
		within(t, expiry(t, tok), before, after, 720*time.Hour) // the default --ttl
		if _, err := auth.Parse([]byte("another secret"), tok); err == nil {
			t.Fatal("the token verifies with another secret")
		}
	})
	t.Run("default sub", func(t *testing.T) {
		tok, _, _ := mint(t, env, "--role", "street", "--org", smokeStreet)
		got, err := auth.Parse([]byte(secret), tok)
		if err != nil {
			t.Fatal(err)
		}
		if want := (incident.Actor{Sub: "street-FH", Role: incident.RoleStreet, Org: smokeStreet}); got != want {
			t.Fatalf("claims %+v, want %+v", got, want)
		}
	})
	t.Run("an organisation the district does not have", func(t *testing.T) {
		// Minted (it may be for an organisation about to be added), with a
		// word on stderr; none for one the district has.
		r := run(t, env, time.Minute, "token", "--role", "street", "--org", "NOPE")
		if r.code != 0 || strings.Count(r.stdout, ".") != 2 || !strings.Contains(r.stderr, `street \"NOPE\"`) {
			t.Fatalf("exit %d\nstdout %q\nstderr:\n%s\nwant a token and a warning naming the street", r.code, r.stdout, r.stderr)
		}
		if r := run(t, env, time.Minute, "token", "--role", "street", "--org", smokeStreet); strings.Contains(r.stderr, "does not have") {
			t.Fatalf("a warning for street %s, which the district has:\n%s", smokeStreet, r.stderr)
		}
	})
	t.Run("ttl", func(t *testing.T) {
		tok, before, after := mint(t, env, "--role", "grid_worker", "--org", smokeGrid, "--ttl", "1h")
		if _, err := auth.Parse([]byte(secret), tok); err != nil {
			t.Fatal(err)
		}
		within(t, expiry(t, tok), before, after, time.Hour)
	})
	t.Run("secret from the data directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "jwt-secret"), []byte("kept-by-whistle-dev\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		tok, _, _ := mint(t, childEnv(), "--role", "district", "--org", "DA", "--data-dir", dir)
		if _, err := auth.Parse([]byte("kept-by-whistle-dev"), tok); err != nil {
			t.Fatalf("token does not verify with the secret in the data directory: %v", err)
		}
	})
	for _, c := range []struct {
		name string
		env  []string
		args []string
		says string // in stderr
	}{
		{"unknown role", env, []string{"--role", "mayor", "--org", "FH"}, "mayor"},
		{"no org", env, []string{"--role", "street"}, "--org"},
		{"non-positive ttl", env, []string{"--role", "street", "--org", "FH", "--ttl=0s"}, "ttl must be positive"},
		{"no secret", childEnv(), []string{"--role", "street", "--org", "FH", "--data-dir", filepath.Join(t.TempDir(), "none")}, "WHISTLE_JWT_SECRET"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.env, time.Minute, append([]string{"token"}, c.args...)...)
			if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, c.says) {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant a non-zero exit, nothing on stdout and %q in stderr", r.code, r.stdout, r.stderr, c.says)
			}
		})
	}
}
