// Package app wires Whistle's parts together: it is the composition root
// shared by the `serve`, `worker` and `dev` commands and by the end-to-end
// tests, so the tests run exactly what users run.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/whistle-city/whistle/activities"
	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/bus"
	"github.com/whistle-city/whistle/catalogue"
	"github.com/whistle-city/whistle/console"
	"github.com/whistle-city/whistle/dispatcher"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/metrics"
	"github.com/whistle-city/whistle/open311"
	"github.com/whistle-city/whistle/store"
	"github.com/whistle-city/whistle/whatif"
	"github.com/whistle-city/whistle/workflows"
)

// Config is where the services are and how Whistle runs (DESIGN.md §6).
type Config struct {
	DatabaseURL string
	NATSURL     string
	// StreamReplicas is how many servers of a NATS cluster keep each
	// stream (bus.WithReplicas); 0 is 1.
	StreamReplicas    int
	TemporalAddress   string
	TemporalNamespace string
	HTTPAddr          string
	// JurisdictionFile is the jurisdiction YAML; "" means the shipped default.
	JurisdictionFile string
	JWTSecret        []byte
	// UpdateTimeout bounds how long an API command waits for its workflow;
	// zero means the API's default.
	UpdateTimeout time.Duration
	// SweepInterval and SweepAge tune the sweeper that publishes again the
	// reports left "received" (see dispatcher.Sweeper); zero means defaults.
	SweepInterval, SweepAge time.Duration
	// CatalogueReload is how often the responsibility list is reloaded from
	// Postgres in case a change notice was missed; zero means
	// catalogue.DefaultReloadEvery.
	CatalogueReload time.Duration
	Version         string
	Logger          *slog.Logger
	// MapTiles is the console map's tile address template
	// (https://{s}.tile.example/{z}/{x}/{y}.png); "" draws the markers on a
	// plain background.
	MapTiles string
}

// Services are the open connections every role of the binary needs.
type Services struct {
	Config Config
	Store  *store.Store
	// Metrics reads and rebuilds the metrics of Store's database.
	Metrics  *metrics.Metrics
	Bus      *bus.Bus
	Temporal client.Client
	// Jurisdiction is the jurisdiction file as loaded. Its organisation is
	// in force; its items were applied to the Catalogue at Open, whose
	// Current() is the list in force.
	Jurisdiction *jurisdiction.Jurisdiction
	// Catalogue is the living responsibility list.
	Catalogue *catalogue.Catalogue
	Logger    *slog.Logger

	workerPolling atomic.Bool // set once Worker has started polling
}

// Open loads the jurisdiction, migrates and opens Postgres, connects to NATS
// (creating the streams), opens the living catalogue (applying the file's
// items where the file changed) and connects to Temporal. On error
// everything opened so far is closed.
func Open(ctx context.Context, cfg Config) (_ *Services, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Services{Config: cfg, Logger: log}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	var raw []byte
	fileName := cfg.JurisdictionFile
	if cfg.JurisdictionFile == "" {
		fileName = jurisdiction.DefaultFilename + " (shipped)"
		s.Jurisdiction, raw = jurisdiction.Default(), jurisdiction.DefaultYAML()
	} else if s.Jurisdiction, raw, err = jurisdiction.Load(cfg.JurisdictionFile); err != nil {
		return nil, err
	}
	if years := s.Jurisdiction.MissingCalendarYears(time.Now()); len(years) > 0 {
		log.Warn("the working-day calendar has no official holidays for these years: working days there count weekends only; add them under calendar: in the jurisdiction file", "years", years)
	}

	if err := store.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	if s.Store, err = store.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	s.Metrics = metrics.New(s.Store.Pool())
	if err := s.Store.SaveJurisdiction(ctx, s.Jurisdiction, raw); err != nil {
		return nil, fmt.Errorf("save jurisdiction: %w", err)
	}
	// The metrics count on the district's calendar days, under this
	// binary's definitions.
	start := time.Now()
	if rebuilt, err := s.Metrics.SyncRollups(ctx, s.Jurisdiction.Timezone()); err != nil {
		return nil, fmt.Errorf("metrics rollups: %w", err)
	} else if rebuilt {
		log.Info("metrics rollups rebuilt for the district's time zone and this version's definitions",
			"timezone", s.Jurisdiction.Timezone(), "definition", metrics.DefinitionVersion, "took", time.Since(start).Round(time.Millisecond))
	}

	if s.Bus, err = bus.Connect(ctx, cfg.NATSURL, "whistle"); err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.NATSURL, err)
	}
	if err := ensureStreams(ctx, s.Bus, max(cfg.StreamReplicas, 1), log); err != nil {
		return nil, fmt.Errorf("create NATS streams: %w", err)
	}
	if s.Catalogue, err = catalogue.Open(ctx, catalogue.Config{
		Store: s.Store, File: s.Jurisdiction, FileName: fileName, Conn: s.Bus.Conn(),
		ReloadEvery: cfg.CatalogueReload, Logger: log,
	}); err != nil {
		return nil, fmt.Errorf("open the responsibility list: %w", err)
	}

	tracing, err := opentelemetry.NewTracingInterceptor(opentelemetry.TracerOptions{})
	if err != nil {
		return nil, err
	}
	s.Temporal, err = client.DialContext(ctx, client.Options{
		HostPort:     cfg.TemporalAddress,
		Namespace:    cfg.TemporalNamespace,
		Logger:       tlog.NewStructuredLogger(log.With("component", "temporal-client")),
		Interceptors: []interceptor.ClientInterceptor{tracing},
	})
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", cfg.TemporalAddress, err)
	}
	return s, nil
}

// streamsTimeout bounds how long Open waits for NATS to take the streams:
// a cluster that has just started elects its meta leader first.
const streamsTimeout = 30 * time.Second

// streamsTry bounds one try of ensureStreams.
const streamsTry = 5 * time.Second

// ensureStreams creates or updates the streams with replicas copies,
// retrying until streamsTimeout while the cluster is not ready for them.
func ensureStreams(ctx context.Context, b *bus.Bus, replicas int, log *slog.Logger) error {
	if replicas > 5 {
		return fmt.Errorf("%d stream replicas: JetStream keeps 1 to 5", replicas)
	}
	ctx, cancel := context.WithTimeout(ctx, streamsTimeout)
	defer cancel()
	for {
		// Each try has a few seconds of its own: a request sent before the
		// cluster has its meta leader gets no answer at all, and waiting
		// the whole streamsTimeout for it would leave no time to retry.
		try, cancelTry := context.WithTimeout(ctx, streamsTry)
		err := b.EnsureStreams(try, bus.WithReplicas(replicas))
		cancelTry()
		if err == nil {
			return nil
		}
		log.Warn("NATS streams not ready; retrying", "replicas", replicas, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Close closes every connection that is open.
func (s *Services) Close() {
	if s.Temporal != nil {
		s.Temporal.Close()
	}
	if s.Catalogue != nil {
		s.Catalogue.Close()
	}
	if s.Bus != nil {
		s.Bus.Close()
	}
	if s.Store != nil {
		s.Store.Close()
	}
}

// Handler returns the HTTP API, the web console (package console) and
// the Open311 endpoint (package open311) on the paths they serve.
func (s *Services) Handler() http.Handler {
	srv, err := api.NewServer(api.Config{
		Store:         s.Store,
		Metrics:       s.Metrics,
		Publisher:     s.Bus,
		Temporal:      s.Temporal,
		Jurisdiction:  s.Catalogue.Current,
		Catalogue:     s.Catalogue,
		JWTSecret:     s.Config.JWTSecret,
		Logger:        s.Logger,
		Version:       s.Config.Version,
		UpdateTimeout: s.Config.UpdateTimeout,
		Whatif:        whatif.NewJobs(s.Store.Pool(), s.Catalogue.Current, s.Logger),
	})
	if err != nil {
		panic(err) // Open checked the store, the catalogue and the secret
	}
	con, err := console.New(console.Config{
		API: srv, Secret: s.Config.JWTSecret, Jurisdiction: s.Catalogue.Current, Conn: s.Bus.Conn(),
		TileURL: s.Config.MapTiles, Logger: s.Logger,
	})
	if err != nil {
		panic(err) // the API's own config was complete, so is the console's
	}
	o311, err := open311.New(open311.Config{
		Reports: srv, Store: s.Store, Jurisdiction: s.Catalogue.Current, Logger: s.Logger,
	})
	if err != nil {
		panic(err)
	}
	return open311.Handler(o311, console.Handler(con, srv))
}

// Serve runs the HTTP API on ln, the dispatcher and the sweeper of stranded
// reports until ctx is done, then shuts them down gracefully.
func (s *Services) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	g.Go(func() error {
		d := &dispatcher.Dispatcher{Bus: s.Bus, Temporal: s.Temporal, Logger: s.Logger, Near: s.Store,
			Jurisdiction: s.Catalogue.Current, Item: s.Catalogue.Item}
		if err := d.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("dispatcher: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		sw := &dispatcher.Sweeper{Store: s.Store, Bus: s.Bus, Logger: s.Logger,
			Interval: s.Config.SweepInterval, Age: s.Config.SweepAge}
		return sw.Run(ctx)
	})
	g.Go(func() error { s.keepMonthsAhead(ctx); return nil })
	return g.Wait()
}

// monthsAhead is how many months after this one keepMonthsAhead keeps
// partitioned ahead, and monthsEvery how often it looks.
const (
	monthsAhead = 2
	monthsEvery = 6 * time.Hour
)

// keepMonthsAhead makes the read model's partitions of this month and the
// next monthsAhead at once and then every monthsEvery until ctx is done, so
// that the first report of a month never waits for its partition to be
// made (a writer that finds one missing makes it, store.Store.EnsureMonths).
// A failure is logged and tried again at the next look.
func (s *Services) keepMonthsAhead(ctx context.Context) {
	t := time.NewTicker(monthsEvery)
	defer t.Stop()
	for {
		if err := s.Store.EnsureMonthsAhead(ctx, monthsAhead); err != nil && ctx.Err() == nil {
			s.Logger.WarnContext(ctx, "partitions ahead not made; writers will make them", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SetWorkflowCache sets how many workflows the process's Temporal workers
// keep in memory between their steps (the SDK's sticky cache, one for the
// whole process); n <= 0 leaves the SDK's default (10,000). A workflow not
// in it is replayed from its history at its next step. The cache is made
// when the first worker of the process starts (in whistle dev, one of the
// embedded Temporal server's own), so call it before anything starts.
func SetWorkflowCache(n int) {
	if n > 0 {
		worker.SetStickyWorkflowCacheSize(n)
	}
}

// Worker runs the Temporal worker for incidents until ctx is done.
func (s *Services) Worker(ctx context.Context) error {
	w := worker.New(s.Temporal, workflows.TaskQueue, worker.Options{})
	workflows.Register(w)
	(&activities.Activities{Store: s.Store, Bus: s.Bus}).Register(w)
	if err := w.Start(); err != nil {
		return err
	}
	s.workerPolling.Store(true)
	<-ctx.Done()
	s.workerPolling.Store(false)
	w.Stop()
	return nil
}

// WorkerReady reports whether Worker is polling and this process reaches
// PostgreSQL, NATS JetStream (recording an incident publishes its entries)
// and Temporal: what a worker's readiness probe asks.
func (s *Services) WorkerReady(ctx context.Context) error {
	if !s.workerPolling.Load() {
		return errors.New("the worker is not polling yet")
	}
	if err := s.Store.Pool().Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := s.Bus.Ping(ctx); err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	if _, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("temporal: %w", err)
	}
	return nil
}

// RunAll runs the API, the dispatcher and the worker in one process until
// ctx is done or one of them fails.
func (s *Services) RunAll(ctx context.Context, ln net.Listener) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.Worker(ctx) })
	g.Go(func() error { return s.Serve(ctx, ln) })
	return g.Wait()
}
