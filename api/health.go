package api

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/nats-io/nats.go"
	"go.temporal.io/sdk/client"
)

// natsConner is a publisher that exposes its NATS connection (*bus.Bus).
type natsConner interface {
	Conn() *nats.Conn
}

// readyTimeout bounds each readiness check.
const readyTimeout = 2 * time.Second

type healthOutput struct {
	Body struct {
		Status  string `json:"status" example:"ok" doc:"ok"`
		Version string `json:"version" doc:"Server version."`
	}
}

type readyOutput struct {
	Body struct {
		Status string            `json:"status" example:"ready" doc:"ready"`
		Checks map[string]string `json:"checks" doc:"Each dependency checked (postgres, nats, temporal, extra) and \"ok\"."`
	}
}

func (s *Server) registerHealth() {
	huma.Register(s.api, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Tags: []string{"Health"},
		Summary:     "Liveness",
		Description: "Answers 200 while the process is alive. Checks nothing else.",
	}, func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
		out := &healthOutput{}
		out.Body.Status, out.Body.Version = "ok", s.cfg.Version
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Tags: []string{"Health"},
		Summary:     "Readiness",
		Description: "Answers 200 when Postgres, NATS and Temporal are reachable, else 503 (type unavailable) naming each failed dependency in `errors`.",
		Errors:      []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*readyOutput, error) {
		checks, failed := s.checkReady(ctx)
		if len(failed) > 0 {
			p := newProblem(http.StatusServiceUnavailable, "not ready: %s", strings.Join(failedNames(failed), ", "))
			for _, name := range failedNames(failed) {
				p.Errors = append(p.Errors, &huma.ErrorDetail{Location: name, Message: failed[name].Error()})
			}
			return nil, p
		}
		out := &readyOutput{}
		out.Body.Status, out.Body.Checks = "ready", checks
		return out, nil
	})
}

// checkReady runs every readiness check concurrently, each bounded by
// readyTimeout: it returns "ok" per passed check and the error per failed one.
func (s *Server) checkReady(ctx context.Context) (map[string]string, map[string]error) {
	probes := map[string]func(context.Context) error{"postgres": s.cfg.Store.Ping}
	switch p := s.cfg.Publisher.(type) {
	case nil:
		probes["nats"] = func(context.Context) error { return errors.New("no publisher configured") }
	case pinger:
		probes["nats"] = p.Ping
	case natsConner:
		// A PING/PONG round trip to the server (*bus.Bus).
		probes["nats"] = func(ctx context.Context) error { return p.Conn().FlushWithContext(ctx) }
	}
	if t := s.cfg.Temporal; t != nil {
		probes["temporal"] = func(ctx context.Context) error {
			_, err := t.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}
	} else {
		probes["temporal"] = func(context.Context) error { return errors.New("no Temporal client configured") }
	}
	if s.cfg.Ready != nil {
		probes["extra"] = s.cfg.Ready
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	checks, failed := map[string]string{}, map[string]error{}
	for name, probe := range probes {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			err := probe(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[name] = err
				return
			}
			checks[name] = "ok"
		})
	}
	wg.Wait()
	return checks, failed
}

func failedNames(failed map[string]error) []string {
	names := make([]string, 0, len(failed))
	for n := range failed {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
