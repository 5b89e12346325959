package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// progressEvery is how often Run logs how far it got.
const progressEvery = 5 * time.Second

// fallbackPoll is how often an incident is read while its task_created
// event is awaited on NATS, in case the event is late or never comes.
const fallbackPoll = 500 * time.Millisecond

// outcome is what became of one incident.
type outcome struct {
	started bool
	toTask  time.Duration // report sent → first task seen
	loop    time.Duration // 202 → closed
	err     *StepError    // nil when closed
}

// runner is one run's shared state.
type runner struct {
	cfg    Config
	c      *client
	tok    *tokens
	plan   plan
	watch  *taskWatch // nil when tasks are found by polling
	runID  string
	errs   *counter
	closed atomic.Int64
	failed atomic.Int64
}

// Run pushes cfg.N incidents through the whole loop of the Whistle at
// cfg.BaseURL, cfg.Concurrency at a time, and returns what it measured.
//
// Each incident is reported by a grid worker (with an Idempotency-Key, so a
// retried report creates nothing twice), its tasks are found (on NATS when
// cfg.NATSURL is set, else by polling), each department acknowledges and
// completes its task, the street verifies the result and records a
// satisfied return visit, and the incident is closed. An incident that fails
// on the way counts in Result.Failed and not in the latencies.
//
// Run returns an error only when the run cannot start (ErrConfig,
// ErrSetup); what goes wrong during the run is in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 2*cfg.Concurrency + 8
		tr.MaxIdleConnsPerHost = tr.MaxIdleConns
		defer tr.CloseIdleConnections()
		hc = &http.Client{Transport: tr}
	}
	var bases []string
	for _, raw := range append([]string{cfg.BaseURL}, cfg.OtherURLs...) {
		u, _ := url.Parse(raw) // checked by withDefaults
		bases = append(bases, u.Scheme+"://"+u.Host)
	}
	errs := &counter{}
	r := &runner{
		cfg:   cfg,
		c:     &client{bases: bases, hc: hc, reqTimeout: cfg.RequestTimeout, maxAttempts: cfg.MaxAttempts, errs: errs},
		tok:   &tokens{secret: cfg.Secret, ttl: cfg.Timeout + time.Hour},
		runID: cfg.RunID,
		errs:  errs,
	}

	reader, err := r.tok.get(incident.RoleDistrict, "bench")
	if err != nil {
		return nil, err
	}
	cat, err := fetchCatalogue(ctx, r.c, reader)
	if err != nil {
		return nil, err
	}
	if r.plan, err = newPlan(cat, cfg.Categories); err != nil {
		return nil, err
	}
	res := &Result{RunID: cfg.RunID, N: cfg.N, Concurrency: cfg.Concurrency, TaskSignal: "poll"}
	if cfg.NATSURL != "" {
		w, err := watchTasks(cfg.NATSURL, errs)
		if err != nil {
			cfg.Logger.Warn("bench: no NATS, finding tasks by polling", "err", err)
			errs.add("nats:connect")
		} else {
			defer w.close()
			r.watch, res.TaskSignal = w, "nats"
		}
	}
	cfg.Logger.Info("bench: starting", "n", cfg.N, "concurrency", cfg.Concurrency,
		"categories", r.plan.categories, "grids", len(r.plan.grids), "tasks_seen_by", res.TaskSignal, "run", r.runID)

	outcomes := make([]outcome, cfg.N)
	start := time.Now()
	stopProgress := r.logProgress(ctx, start)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			for i := range jobs {
				o := r.incident(ctx, i)
				if o.err != nil {
					r.failed.Add(1)
				} else {
					r.closed.Add(1)
				}
				outcomes[i] = o
			}
		})
	}
feed:
	for i := range cfg.N {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.Wall = time.Since(start)
	stopProgress()

	failures := &counter{}
	var toTask, loop []time.Duration
	for _, o := range outcomes {
		switch {
		case !o.started:
			res.Failed++
			failures.add("run:" + kindDeadline)
		case o.err != nil:
			res.Failed++
			failures.add(o.err.Key())
		default:
			res.Closed++
			toTask = append(toTask, o.toTask)
			loop = append(loop, o.loop)
		}
	}
	res.ReportToTask, res.Loop = Summarize(toTask), Summarize(loop)
	res.Errors, res.Failures = errs.snapshot(), failures.snapshot()
	return res, nil
}

// logProgress logs the closed and failed counts every progressEvery until
// the returned stop is called.
func (r *runner) logProgress(ctx context.Context, start time.Time) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.cfg.Logger.Info("bench: progress", "closed", r.closed.Load(), "failed", r.failed.Load(),
					"of", r.cfg.N, "elapsed", time.Since(start).Round(time.Second))
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// incident drives incident number i through the loop.
func (r *runner) incident(ctx context.Context, i int) outcome {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.IncidentTimeout)
	defer cancel()
	o := outcome{started: true}
	fail := func(err error) outcome {
		var se *StepError
		if !errors.As(err, &se) {
			se = &StepError{Step: stepLoop, Kind: "internal", Detail: err.Error()}
		}
		o.err = se
		return o
	}

	g := r.plan.grids[i%len(r.plan.grids)]
	category := r.plan.categories[i%len(r.plan.categories)]
	gridTok, err := r.tok.get(incident.RoleGridWorker, g.code)
	if err != nil {
		return fail(err)
	}
	streetTok, err := r.tok.get(incident.RoleStreet, g.street)
	if err != nil {
		return fail(err)
	}

	sent := time.Now()
	var acc struct {
		IncidentID string `json:"incident_id"`
	}
	err = r.c.do(ctx, request{
		step: stepReport, method: http.MethodPost, path: "/v1/reports", token: gridTok,
		header: map[string]string{"Idempotency-Key": fmt.Sprintf("bench-%s-%d", r.runID, i)},
		body: map[string]any{
			"category":    category,
			"grid":        g.code,
			"description": fmt.Sprintf("whistle bench %s #%d", r.runID, i),
			"location":    benchLocation(i, g.code),
		},
	}, &acc)
	accepted := time.Now()
	if err != nil {
		return fail(err)
	}
	if acc.IncidentID == "" {
		return fail(&StepError{Step: stepReport, Kind: kindDecode, Detail: "202 without incident_id"})
	}
	id := acc.IncidentID
	if r.watch != nil {
		defer r.watch.forget(id)
	}

	in, seen, err := r.awaitTasks(ctx, id, streetTok)
	if err != nil {
		return fail(err)
	}
	if err := r.drive(ctx, in, streetTok); err != nil {
		return fail(err)
	}
	o.loop = time.Since(accepted)

	// With NATS the task counts as created when its event arrived (asked
	// only now, so the event had the whole loop to come); without, or if the
	// event never came, when a read first showed it.
	if r.watch != nil {
		if at, ok := r.watch.firstTask(id); ok {
			seen = at
		} else {
			r.errs.add("nats:task_event_missing")
		}
	}
	o.toTask = max(0, seen.Sub(sent))
	return o
}

// awaitTasks waits until incident id has left status received (its tasks
// are out) and returns it with the moment a read first showed that. With
// NATS it waits for the task_created event, then reads the incident until
// the read model shows the tasks; meanwhile it reads it every fallbackPoll
// in case the event is late or lost. Without NATS it reads the incident
// every PollInterval.
func (r *runner) awaitTasks(ctx context.Context, id, token string) (*incident.Incident, time.Time, error) {
	var signal <-chan struct{}
	every := r.cfg.PollInterval
	if r.watch != nil {
		signal, every = r.watch.signal(id), fallbackPoll
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		in, err := r.get(ctx, id, token)
		if err != nil {
			return nil, time.Time{}, err
		}
		if in.Status != incident.StatusReceived {
			return in, time.Now(), nil
		}
		select {
		case <-t.C:
		case <-signal:
			signal = nil // seen: from now on read at the normal pace until the read model shows it
			t.Reset(r.cfg.PollInterval)
		case <-ctx.Done():
			return nil, time.Time{}, &StepError{Step: stepRead, Kind: kindDeadline, Detail: "waiting for the tasks of " + id}
		}
	}
}

// drive takes an incident whose tasks are out to closed: departments ack and
// complete their open tasks, the street verifies and records the return
// visit. It follows the incident's status, so a refused command (409) or a
// stale read is answered by reading the incident again.
func (r *runner) drive(ctx context.Context, in *incident.Incident, streetTok string) error {
	id := in.ID
	maxSteps := int(r.cfg.IncidentTimeout/r.cfg.PollInterval) + 100
	for range maxSteps {
		if ctx.Err() != nil {
			return &StepError{Step: stepLoop, Kind: kindDeadline, Detail: fmt.Sprintf("incident %s still %s", id, in.Status)}
		}
		var (
			next *incident.Incident
			err  error
		)
		switch in.Status {
		case incident.StatusClosed:
			return nil
		case incident.StatusDispatched:
			t := openTask(in)
			if t == nil { // the read model has not caught up yet
				next, err = r.reread(ctx, id, streetTok)
				break
			}
			tok, terr := r.tok.get(incident.RoleDepartment, t.Department)
			if terr != nil {
				return terr
			}
			if t.Status == incident.TaskPendingAck {
				next, err = r.command(ctx, stepAck, "/v1/tasks/"+url.PathEscape(t.ID)+"/ack", tok, map[string]any{})
			} else {
				next, err = r.command(ctx, stepComplete, "/v1/tasks/"+url.PathEscape(t.ID)+"/complete", tok, map[string]any{"result": "done"})
			}
		case incident.StatusVerifying:
			next, err = r.command(ctx, stepVerify, "/v1/incidents/"+url.PathEscape(id)+"/verify", streetTok, map[string]any{"passed": true})
		case incident.StatusAwaitingFeedback:
			next, err = r.command(ctx, stepFeedback, "/v1/incidents/"+url.PathEscape(id)+"/feedback", streetTok,
				map[string]any{"resolved": true, "rating": incident.RatingSatisfied})
		case incident.StatusReceived, "":
			next, err = r.reread(ctx, id, streetTok)
		default:
			return &StepError{Step: stepLoop, Kind: "status_" + string(in.Status), Detail: "incident " + id + " left the loop"}
		}
		var se *StepError
		if errors.As(err, &se) && se.Status == http.StatusConflict {
			// The command did not fit what the server holds: read it again.
			next, err = r.reread(ctx, id, streetTok)
		}
		if err != nil {
			return err
		}
		if next.Status == "" {
			// A command answered without the incident: read it.
			if next, err = r.reread(ctx, id, streetTok); err != nil {
				return err
			}
		}
		in = next
	}
	return &StepError{Step: stepLoop, Kind: "too_many_steps", Detail: fmt.Sprintf("incident %s still %s after %d steps", id, in.Status, maxSteps)}
}

// openTask returns the first task of the incident's current round still
// waiting on its department, or nil.
func openTask(in *incident.Incident) *incident.Task {
	for _, t := range in.Tasks {
		if t != nil && t.Open() && (t.Round == 0 || t.Round == in.Round) {
			return t
		}
	}
	return nil
}

// command posts a command and returns the incident it answers with.
func (r *runner) command(ctx context.Context, step, path, token string, body any) (*incident.Incident, error) {
	var in incident.Incident
	if err := r.c.do(ctx, request{step: step, method: http.MethodPost, path: path, token: token, body: body}, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// get reads incident id.
func (r *runner) get(ctx context.Context, id, token string) (*incident.Incident, error) {
	var in incident.Incident
	if err := r.c.do(ctx, request{step: stepRead, method: http.MethodGet, path: "/v1/incidents/" + url.PathEscape(id), token: token}, &in); err != nil {
		return nil, err
	}
	if in.ID == "" {
		in.ID = id
	}
	return &in, nil
}

// reread pauses for PollInterval and reads incident id again.
func (r *runner) reread(ctx context.Context, id, token string) (*incident.Incident, error) {
	if err := pause(ctx, r.cfg.PollInterval); err != nil {
		return nil, &StepError{Step: stepRead, Kind: kindDeadline, Detail: "waiting for incident " + id}
	}
	return r.get(ctx, id, token)
}

// newRunID returns a random id that keeps this run's Idempotency-Keys apart
// from every other run's.
// benchLocation is the location of the run's i-th report: a place of its
// own on a lattice about 110 m apart, so that no report of a run is linked
// as a duplicate of another (within 50 m, by default); it still costs the
// dispatcher its look-up. (A report may repeat an incident an earlier run
// closed at the same place; a repeat is handled as usual.)
func benchLocation(i int, grid string) map[string]any {
	return map[string]any{
		"lat": 29.30 + float64(i%1000)*0.001, "lng": 104.70 + float64(i/1000%1000)*0.001,
		"address": "whistle bench " + grid,
	}
}

func newRunID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
