package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxBody bounds how much of a response body is read.
const maxBody = 8 << 20

// Backoff between retries of one request: base·2^attempt with jitter, capped.
const (
	backoffBase = 50 * time.Millisecond
	backoffMax  = 2 * time.Second
)

// Steps of an incident's loop, the first part of an error key.
const (
	stepCatalogue = "catalogue"
	stepReport    = "report"
	stepRead      = "read"
	stepAck       = "ack"
	stepComplete  = "complete"
	stepVerify    = "verify"
	stepFeedback  = "feedback"
	stepLoop      = "loop"
)

// Kinds of failure that are not an HTTP status (those are "http_NNN").
const (
	kindTimeout  = "timeout"  // one attempt ran out of time
	kindNetwork  = "network"  // connection refused, reset, …
	kindDecode   = "decode"   // a 2xx body that is not the expected JSON
	kindDeadline = "deadline" // the incident's or the run's time is up
)

// StepError is a request or step of an incident's loop that failed.
type StepError struct {
	Step string // "report", "ack", "verify", …
	Kind string // "http_503", "timeout", "network", "decode", "deadline", "status_rejected", …
	// Status is the HTTP status, 0 when no response came.
	Status int
	// CurrentStatus is the current_status of a 409 problem: the incident's
	// or task's status the command did not fit.
	CurrentStatus string
	// Detail is the problem's detail or the transport error.
	Detail string
}

// Error describes the failure.
func (e *StepError) Error() string {
	s := e.Step + ": " + e.Kind
	if e.CurrentStatus != "" {
		s += " (current status " + e.CurrentStatus + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Key is "step:kind", the key of Result.Errors and Result.Failures.
func (e *StepError) Key() string { return e.Step + ":" + e.Kind }

// retriable reports whether the same request may succeed if sent again:
// a 5xx, a 429, a timeout or a network error.
func (e *StepError) retriable() bool {
	return e.Kind == kindTimeout || e.Kind == kindNetwork || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// counter counts error keys; it is safe for concurrent use.
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counter) add(key string) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[key]++
	c.mu.Unlock()
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// client sends JSON requests to the API, retrying what may be retried, and
// counts every failed attempt.
type client struct {
	bases       []string // API roots, taken in turn
	next        atomic.Uint64
	hc          *http.Client
	reqTimeout  time.Duration
	maxAttempts int
	errs        *counter
}

// request is one API call.
type request struct {
	step   string
	method string
	path   string // from the root, e.g. /v1/reports
	token  string
	body   any               // encoded as JSON when not nil
	header map[string]string // extra headers
}

// do sends r, retrying a 5xx, 429, timeout or network error with backoff up
// to maxAttempts times, and decodes a 2xx JSON body into out (when not nil).
// Every failed attempt is counted. The error is a *StepError.
func (c *client) do(ctx context.Context, r request, out any) error {
	var body []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return &StepError{Step: r.step, Kind: "encode", Detail: err.Error()}
		}
		body = b
	}
	var last *StepError
	first := c.next.Add(1)
	for attempt := 0; attempt < c.maxAttempts; attempt++ {
		if attempt > 0 {
			if err := pause(ctx, backoff(attempt)); err != nil {
				return &StepError{Step: r.step, Kind: kindDeadline, Detail: "gave up retrying after: " + last.Error()}
			}
		}
		last = c.once(ctx, c.bases[(first+uint64(attempt))%uint64(len(c.bases))], r, body, out)
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			// The attempt failed because the caller's time is up: not the server's fault.
			return &StepError{Step: r.step, Kind: kindDeadline, Detail: ctx.Err().Error()}
		}
		c.errs.add(last.Key())
		if !last.retriable() {
			return last
		}
	}
	return last
}

// once sends one attempt of r.
func (c *client) once(ctx context.Context, base string, r request, body []byte, out any) *StepError {
	ctx, cancel := context.WithTimeout(ctx, c.reqTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, base+r.path, rd)
	if err != nil {
		return &StepError{Step: r.step, Kind: "request", Detail: err.Error()}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return &StepError{Step: r.step, Kind: transportKind(err), Detail: err.Error()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return &StepError{Step: r.step, Kind: transportKind(err), Status: resp.StatusCode, Detail: "read body: " + err.Error()}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &StepError{Step: r.step, Kind: fmt.Sprintf("http_%d", resp.StatusCode), Status: resp.StatusCode}
		var p struct {
			Detail        string `json:"detail"`
			CurrentStatus string `json:"current_status"`
		}
		if json.Unmarshal(data, &p) == nil {
			e.Detail, e.CurrentStatus = p.Detail, p.CurrentStatus
		} else {
			e.Detail = strings.TrimSpace(string(data[:min(len(data), 200)]))
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &StepError{Step: r.step, Kind: kindDecode, Status: resp.StatusCode, Detail: err.Error()}
		}
	}
	return nil
}

// transportKind classifies an error of sending a request or reading its answer.
func transportKind(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return kindTimeout
	}
	return kindNetwork
}

// backoff is the pause before retry number attempt (from 1).
func backoff(attempt int) time.Duration {
	d := backoffBase << min(attempt-1, 10)
	if d > backoffMax {
		d = backoffMax
	}
	return d/2 + rand.N(d/2+1)
}

// pause waits for d or until ctx is done, whichever is first.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
