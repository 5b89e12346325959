package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/whistle-city/whistle/app"
	"github.com/whistle-city/whistle/store"
)

type serveCmd struct {
	Services
	Debug
	HTTP         string `name:"http" env:"WHISTLE_HTTP_ADDR" default:"127.0.0.1:8080" help:"Address the API listens on."`
	Jurisdiction string `name:"jurisdiction" env:"WHISTLE_JURISDICTION" type:"existingfile" help:"Jurisdiction YAML (default: the shipped district)."`
	MapTiles     string `name:"map-tiles" env:"WHISTLE_MAP_TILES" help:"Tile address template of the console's map (https://{s}.tile.example/{z}/{x}/{y}.png); none draws the markers on a plain background."`
}

func (c *serveCmd) Run(ctx context.Context, log *slog.Logger) error {
	secret := os.Getenv("WHISTLE_JWT_SECRET")
	if secret == "" {
		return errors.New("WHISTLE_JWT_SECRET is not set: serve needs the secret that signs tokens")
	}
	if err := c.Debug.start(ctx, log); err != nil {
		return err
	}
	s, err := app.Open(ctx, c.config(log, []byte(secret)))
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", c.HTTP)
	if err != nil {
		return err
	}
	log.Info("serving the API", "addr", ln.Addr().String())
	return s.Serve(ctx, ln)
}

func (c *serveCmd) config(log *slog.Logger, secret []byte) app.Config {
	cfg := c.Services.config(log, secret, c.HTTP, c.Jurisdiction)
	cfg.MapTiles = c.MapTiles
	return cfg
}

func (s Services) config(log *slog.Logger, secret []byte, httpAddr, jur string) app.Config {
	return app.Config{
		DatabaseURL: s.DatabaseURL, NATSURL: s.NATSURL, TemporalAddress: s.TemporalAddress,
		TemporalNamespace: s.TemporalNamespace, HTTPAddr: httpAddr, JurisdictionFile: jur,
		JWTSecret: secret, Version: version, Logger: log, StreamReplicas: s.StreamReplicas,
	}
}

type workerCmd struct {
	Services
	Debug
	Jurisdiction  string `name:"jurisdiction" env:"WHISTLE_JURISDICTION" type:"existingfile" help:"Jurisdiction YAML (default: the shipped district)."`
	WorkflowCache int    `name:"workflow-cache" env:"WHISTLE_WORKFLOW_CACHE" default:"2000" help:"Incidents' workflows kept in memory between steps, about 95 KB each; one not kept costs nothing until its next step replays it (0: the SDK's 10000, about 1 GB)."`
	Health        string `name:"health" env:"WHISTLE_HEALTH_ADDR" help:"Serve /healthz (the process runs) and /readyz (polling; PostgreSQL, NATS and Temporal reached) on this address, e.g. :8081, for a probe; off when empty."`
}

func (c *workerCmd) Run(ctx context.Context, log *slog.Logger) error {
	if err := c.Debug.start(ctx, log); err != nil {
		return err
	}
	app.SetWorkflowCache(c.WorkflowCache)
	s, err := app.Open(ctx, c.Services.config(log, nil, "", c.Jurisdiction))
	if err != nil {
		return err
	}
	defer s.Close()
	if c.Health != "" {
		if err := serveWorkerHealth(ctx, c.Health, s, log); err != nil {
			return err
		}
	}
	log.Info("worker polling", "task_queue", "whistle-incidents", "temporal", c.TemporalAddress)
	return s.Worker(ctx)
}

// serveWorkerHealth serves the worker's /healthz and /readyz on addr until
// ctx is done.
func serveWorkerHealth(ctx context.Context, addr string, s *app.Services, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.WorkerReady(ctx); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	at, err := serveUntilDone(ctx, addr, mux)
	if err != nil {
		return err
	}
	log.Info("worker health on", "addr", at)
	return nil
}

type migrateCmd struct {
	DatabaseURL string `name:"database-url" env:"DATABASE_URL" required:"" help:"PostgreSQL URL."`
}

func (c *migrateCmd) Run(ctx context.Context, log *slog.Logger) error {
	if err := store.Migrate(ctx, c.DatabaseURL); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	log.Info("database is up to date")
	return nil
}
