package loadgen

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of the zero fields of a Config.
const (
	DefaultN               = 1000
	DefaultConcurrency     = 50
	DefaultTimeout         = 10 * time.Minute
	DefaultIncidentTimeout = 2 * time.Minute
	DefaultRequestTimeout  = 30 * time.Second
	DefaultPollInterval    = 25 * time.Millisecond
	DefaultMaxAttempts     = 8
)

// ErrConfig is wrapped by every error Run returns for an unusable Config.
var ErrConfig = errors.New("loadgen: invalid config")

// ErrSetup is wrapped by every error Run returns when the run cannot start:
// the catalogue cannot be read or offers nothing to report.
var ErrSetup = errors.New("loadgen: setup failed")

// Config says where the load goes and how much of it there is.
type Config struct {
	// BaseURL is the API root, e.g. http://127.0.0.1:8080 (without /v1).
	// Required. Unless AllowRemote is set its host must be a loopback
	// address or "localhost": a bench creates real incidents.
	BaseURL string
	// OtherURLs are more roots of the same Whistle (other serve processes
	// behind no load balancer). Requests go to BaseURL and OtherURLs in
	// turn, and a retried request goes to the next one, so a run rides
	// out the loss of one. Each obeys the same loopback rule.
	OtherURLs []string
	// RunID names the run: its reports carry Idempotency-Key
	// bench-RUNID-i and description "whistle bench RUNID #i", which is how
	// a check finds them in the database afterwards. Letters, digits, '-'
	// and '_'; random when empty.
	RunID string
	// NATSURL, when set, is used to see task_created events on
	// whistle.tasks.> as they are published; otherwise tasks are found by
	// polling GET /v1/incidents/{id}. It obeys the same loopback rule.
	NATSURL string
	// AllowRemote permits a BaseURL or NATSURL that is not on this machine.
	AllowRemote bool
	// Secret is the HS256 secret the server verifies tokens with. Required.
	Secret []byte
	// N is how many incidents to report; DefaultN when zero.
	N int
	// Concurrency is how many incidents are in flight at once (the size of
	// the worker pool); DefaultConcurrency when zero.
	Concurrency int
	// Categories are the item codes to report, used round-robin; when empty,
	// every department-tier item of the catalogue.
	Categories []string
	// Timeout bounds the whole run, catalogue included; DefaultTimeout when
	// zero. Incidents not closed by then count as failed.
	Timeout time.Duration
	// IncidentTimeout bounds one incident's loop; DefaultIncidentTimeout
	// when zero.
	IncidentTimeout time.Duration
	// RequestTimeout bounds one HTTP attempt; DefaultRequestTimeout when zero.
	RequestTimeout time.Duration
	// PollInterval is the pause between reads of an incident while waiting
	// for it to move; DefaultPollInterval when zero.
	PollInterval time.Duration
	// MaxAttempts bounds the tries of one request that fails with a 5xx,
	// 429, timeout or network error; DefaultMaxAttempts when zero.
	MaxAttempts int
	// HTTPClient sends the requests; when nil, a client with a connection
	// pool sized for Concurrency.
	HTTPClient *http.Client
	// Logger receives progress and warnings; slog.Default() when nil.
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields defaulted, or an error
// wrapping ErrConfig.
func (c Config) withDefaults() (Config, error) {
	if c.N == 0 {
		c.N = DefaultN
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.IncidentTimeout == 0 {
		c.IncidentTimeout = DefaultIncidentTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.N < 0:
		return c, fmt.Errorf("%w: n must be positive, got %d", ErrConfig, c.N)
	case c.Concurrency < 0:
		return c, fmt.Errorf("%w: concurrency must be positive, got %d", ErrConfig, c.Concurrency)
	case c.Timeout < 0 || c.IncidentTimeout < 0 || c.RequestTimeout < 0 || c.PollInterval < 0:
		return c, fmt.Errorf("%w: timeouts and poll interval must be positive", ErrConfig)
	case c.MaxAttempts < 0:
		return c, fmt.Errorf("%w: max attempts must be positive, got %d", ErrConfig, c.MaxAttempts)
	case len(c.Secret) == 0:
		return c, fmt.Errorf("%w: no JWT secret", ErrConfig)
	}
	if c.Concurrency > c.N {
		c.Concurrency = c.N
	}
	for _, raw := range append([]string{c.BaseURL}, c.OtherURLs...) {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("%w: base URL %q is not an http(s) URL", ErrConfig, raw)
		}
		if !c.AllowRemote && !isLoopback(u.Hostname()) {
			return c, fmt.Errorf("%w: base URL %s is not on this machine (a bench creates real incidents; allow it explicitly)", ErrConfig, raw)
		}
	}
	if c.RunID == "" {
		c.RunID = newRunID()
	} else if !validRunID(c.RunID) {
		return c, fmt.Errorf("%w: run id %q: use letters, digits, '-' and '_' (at most 64)", ErrConfig, c.RunID)
	}
	if c.NATSURL != "" {
		// Several servers of a cluster, comma-separated, as nats.Connect takes them.
		for _, raw := range strings.Split(c.NATSURL, ",") {
			n, err := url.Parse(strings.TrimSpace(raw))
			if err != nil || n.Host == "" {
				return c, fmt.Errorf("%w: NATS URL %q is not a URL", ErrConfig, raw)
			}
			if !c.AllowRemote && !isLoopback(n.Hostname()) {
				return c, fmt.Errorf("%w: NATS URL %s is not on this machine", ErrConfig, raw)
			}
		}
	}
	return c, nil
}

// isLoopback reports whether host names this machine: "localhost" or a
// loopback IP address.
// validRunID reports whether id is 1–64 letters, digits, '-' and '_'.
func validRunID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
