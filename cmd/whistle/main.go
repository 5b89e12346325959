// Command whistle is the Whistle dispatch engine: one binary whose
// subcommands run everything on one machine (dev), the API and dispatcher
// (serve), the Temporal worker (worker), the migrations (migrate), mint a
// token (token), push load through the loop (bench), fill a read model with
// a synthetic year of the district (seed) and time the overdue board on it
// (bench-overdue). See DESIGN.md §6.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/whistle-city/whistle/telemetry"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Services is how to reach the external services (DESIGN.md §6).
type Services struct {
	DatabaseURL       string `name:"database-url" env:"DATABASE_URL" help:"PostgreSQL URL."`
	NATSURL           string `name:"nats-url" env:"NATS_URL" default:"nats://127.0.0.1:4222" help:"NATS URL (several, comma-separated, for a cluster)."`
	StreamReplicas    int    `name:"stream-replicas" env:"WHISTLE_STREAM_REPLICAS" default:"1" help:"Copies of each JetStream stream: 1 on a single NATS server, 3 on a cluster (survives the loss of a node)."`
	TemporalAddress   string `name:"temporal-address" env:"TEMPORAL_ADDRESS" default:"127.0.0.1:7233" help:"Temporal frontend host:port."`
	TemporalNamespace string `name:"temporal-namespace" env:"TEMPORAL_NAMESPACE" default:"default" help:"Temporal namespace."`
}

type cli struct {
	LogLevel slog.Level `name:"log-level" env:"WHISTLE_LOG_LEVEL" default:"info" help:"debug, info, warn or error."`

	Dev          devCmd          `cmd:"" help:"Run everything on one machine: embedded Temporal and NATS, PostgreSQL from DATABASE_URL or a private one."`
	Serve        serveCmd        `cmd:"" help:"Run the HTTP API and the dispatcher against external services."`
	Worker       workerCmd       `cmd:"" help:"Run the Temporal worker against external services."`
	Migrate      migrateCmd      `cmd:"" help:"Apply the database migrations."`
	Whatif       whatifCmd       `cmd:"" help:"Replay a month of the record under proposed rules (a jurisdiction file) and compare its league tables with the ones it was graded on."`
	Months       monthsCmd       `cmd:"" help:"List the read model's month partitions: incidents, open ones and size on disk (it counts every row: minutes on a city's years)."`
	Reproject    reprojectCmd    `cmd:"" help:"Find incidents whose read model is behind their workflow (PostgreSQL restored from a backup, or lost) and, with --apply, record them."`
	Namespace    namespaceCmd    `cmd:"" help:"Register the Temporal namespace (or set its retention) on a standalone Temporal server."`
	Token        tokenCmd        `cmd:"" help:"Print one signed token for a role, alone, on stdout."`
	Open311Key   open311KeyCmd   `cmd:"" name:"open311-key" help:"Print a new API key of an Open311 client, alone, on stdout."`
	Bench        benchCmd        `cmd:"" help:"Push N incidents through the whole loop against a running Whistle and report latencies."`
	Seed         seedCmd         `cmd:"" help:"Fill the read model with a synthetic year of the district (no workflows behind it): for measuring reads."`
	BenchOverdue benchOverdueCmd `cmd:"" name:"bench-overdue" help:"Measure the overdue board query on filter combinations and report p50/p95/p99/max."`
	Metrics      metricsCmd      `cmd:"" help:"Check the metrics rollups against the record."`
	Report       reportCmd       `cmd:"" help:"Print the monthly report (league tables, the change from last month, the 每月一题 candidates) as JSON or CSV."`
	Probe        probeCmd        `cmd:"" help:"Exit 0 when a serve answers /readyz (a container's healthcheck)."`
	Version      versionCmd      `cmd:"" help:"Print the version."`
}

type versionCmd struct{}

func (versionCmd) Run() error { fmt.Println(version); return nil }

func main() {
	var c cli
	parser := kong.Must(&c,
		kong.Name("whistle"),
		kong.Description("Whistle: 街道吹哨、部门报到 — the street blows the whistle, the departments report in."),
		kong.UsageOnError(),
	)
	kctx, err := parser.Parse(os.Args[1:])
	if err != nil {
		// The usage goes with the error to stderr, never into a
		// TOKEN=$(whistle token …) capturing stdout.
		parser.Stdout = os.Stderr
		parser.FatalIfErrorf(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: c.LogLevel}))
	slog.SetDefault(logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	shutdown, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "whistle", Version: version})
	if err != nil {
		logger.Error("telemetry", "error", err)
		os.Exit(1)
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	err = kctx.Run(logger)
	_ = shutdown(context.Background())
	if err != nil {
		logger.Error(kctx.Command(), "error", err)
		os.Exit(1)
	}
}
