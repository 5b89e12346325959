package whatif

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/whistle-city/whistle/jurisdiction"
)

// Job statuses.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// Job is a replay asked for through the API: its progress and, once
// done, its answer.
type Job struct {
	ID          string     `json:"id"`
	Month       string     `json:"month"`
	RequestedBy string     `json:"requested_by"`
	RequestedAt time.Time  `json:"requested_at"`
	Status      string     `json:"status" enum:"queued,running,done,failed"`
	Progress    Progress   `json:"progress"`
	FinishedAt  *time.Time `json:"finished_at"`
	// Error says why a failed job failed.
	Error string `json:"error,omitempty"`
	// Answer is the answer of a job done (not in lists).
	Answer *Answer `json:"answer,omitempty"`
}

// ErrNoJob is returned for a job id that names no job.
var ErrNoJob = errors.New("whatif: no such job")

// Jobs runs replays in the background of a serve, one at a time (the
// others queue), and keeps them in PostgreSQL (whatif_jobs), so that every
// serve sharing the database answers for every job.
type Jobs struct {
	pool    *pgxpool.Pool
	current func() *jurisdiction.Jurisdiction
	log     *slog.Logger
	slot    chan struct{}
	// Beat is how often a job's heartbeat (and progress) is written;
	// Stale how old a heartbeat may be before its job reads as failed.
	Beat, Stale time.Duration
	// Timeout bounds one replay.
	Timeout time.Duration
	wg      sync.WaitGroup
}

// NewJobs returns the jobs of the database in pool; current returns the
// jurisdiction in force (the rules a month ran by).
func NewJobs(pool *pgxpool.Pool, current func() *jurisdiction.Jurisdiction, log *slog.Logger) *Jobs {
	if log == nil {
		log = slog.Default()
	}
	return &Jobs{pool: pool, current: current, log: log, slot: make(chan struct{}, 1),
		Beat: 2 * time.Second, Stale: 2 * time.Minute, Timeout: time.Hour}
}

// Start checks the proposed file rules and the month, records a job by
// who and starts it in the background. A file that is not a valid
// jurisdiction returns its *jurisdiction.ValidationError (or the parse
// error), nothing recorded.
func (js *Jobs) Start(ctx context.Context, month time.Time, rules []byte, who string) (*Job, error) {
	proposed, err := jurisdiction.Parse("proposed.yaml", rules)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	j := &Job{ID: id.String(), Month: month.Format("2006-01"), RequestedBy: who, RequestedAt: now, Status: JobQueued}
	if _, err := js.pool.Exec(ctx, `
INSERT INTO whatif_jobs (id, month, rules, requested_by, requested_at, status, heartbeat) VALUES ($1, $2, $3, $4, $5, $6, $5)`,
		j.ID, j.Month, string(rules), who, now, j.Status); err != nil {
		return nil, fmt.Errorf("whatif: record the job: %w", err)
	}
	js.wg.Add(1)
	go js.run(j.ID, month, proposed)
	return j, nil
}

// Wait waits for the jobs this process runs to end (tests, shutdown).
func (js *Jobs) Wait() { js.wg.Wait() }

// run waits for the slot, replays and records the outcome, beating the
// job's heartbeat throughout.
func (js *Jobs) run(id string, month time.Time, proposed *jurisdiction.Jurisdiction) {
	defer js.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), js.Timeout)
	defer cancel()
	var mu sync.Mutex
	p, status := Progress{}, JobQueued
	beat := func() {
		mu.Lock()
		q, s := p, status
		mu.Unlock()
		if _, err := js.pool.Exec(ctx, `UPDATE whatif_jobs SET heartbeat = now(), done = $2, total = $3, status = $4 WHERE id = $1 AND finished_at IS NULL`,
			id, q.Done, q.Total, s); err != nil {
			js.log.Warn("whatif job: heartbeat", "job", id, "error", err)
		}
	}
	stop := make(chan struct{})
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		t := time.NewTicker(js.Beat)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				beat()
			case <-stop:
				return
			}
		}
	}()
	finish := func(a *Answer, err error) {
		close(stop)
		<-beating
		msg, answer := "", []byte(nil)
		s := JobDone
		if err == nil {
			answer, err = json.Marshal(a)
		}
		if err != nil {
			s, msg = JobFailed, err.Error()
			js.log.Error("whatif job failed", "job", id, "error", err)
		}
		mu.Lock()
		q := p
		mu.Unlock()
		if _, err := js.pool.Exec(context.WithoutCancel(ctx), `
UPDATE whatif_jobs SET status = $2, error = $3, answer = $4, done = $5, total = $6, finished_at = now(), heartbeat = now() WHERE id = $1`,
			id, s, msg, answer, q.Done, q.Total); err != nil {
			js.log.Error("whatif job: record the outcome", "job", id, "error", err)
		}
	}
	select {
	case js.slot <- struct{}{}:
	case <-ctx.Done():
		finish(nil, fmt.Errorf("waited %s for another replay to end", js.Timeout))
		return
	}
	defer func() { <-js.slot }()
	mu.Lock()
	status = JobRunning
	mu.Unlock()
	beat()
	a, err := Run(ctx, js.pool, Options{Month: month, Current: js.current(), Proposed: proposed, Workers: 1,
		Progress: func(q Progress) {
			mu.Lock()
			p = q
			mu.Unlock()
		}})
	if err == nil {
		mu.Lock()
		p = Progress{Done: a.Incidents, Total: a.Incidents}
		mu.Unlock()
	}
	finish(a, err)
}

const jobColumns = `id, month, requested_by, requested_at, status, done, total, finished_at, error, heartbeat`

// Job returns job id with its answer; ErrNoJob when there is none. A job
// not finished whose heartbeat is older than Stale reads as failed: the
// serve running it stopped.
func (js *Jobs) Job(ctx context.Context, id string) (*Job, error) {
	var answer []byte
	j, err := js.scan(js.pool.QueryRow(ctx, `SELECT `+jobColumns+`, answer FROM whatif_jobs WHERE id = $1`, id), &answer)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoJob
	}
	if err != nil {
		return nil, fmt.Errorf("whatif: read job %s: %w", id, err)
	}
	if answer != nil {
		j.Answer = &Answer{}
		if err := json.Unmarshal(answer, j.Answer); err != nil {
			return nil, fmt.Errorf("whatif: job %s: its answer: %w", id, err)
		}
	}
	return j, nil
}

// List returns the latest n jobs, newest first, without their answers.
func (js *Jobs) List(ctx context.Context, n int) ([]Job, error) {
	rows, err := js.pool.Query(ctx, `SELECT `+jobColumns+` FROM whatif_jobs ORDER BY requested_at DESC, id DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("whatif: list jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := js.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("whatif: list jobs: %w", err)
		}
		out = append(out, *j)
	}
	return out, rows.Err()
}

func (js *Jobs) scan(row pgx.Row, extra ...any) (*Job, error) {
	var j Job
	var heartbeat time.Time
	if err := row.Scan(append([]any{&j.ID, &j.Month, &j.RequestedBy, &j.RequestedAt, &j.Status, &j.Progress.Done, &j.Progress.Total,
		&j.FinishedAt, &j.Error, &heartbeat}, extra...)...); err != nil {
		return nil, err
	}
	if j.FinishedAt == nil && time.Since(heartbeat) > js.Stale {
		j.Status, j.Error = JobFailed, "the serve running it stopped before it finished (last heard of "+heartbeat.UTC().Format(time.RFC3339)+"): ask again"
	}
	return &j, nil
}
