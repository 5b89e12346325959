package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"
)

// namespaceCmd makes sure the Temporal namespace Whistle runs in exists with
// the given retention. A standalone Temporal server starts with no
// namespace but its own system one; whistle dev's embedded server makes
// its own, so only a cluster needs this, once, before serve and worker.
type namespaceCmd struct {
	TemporalAddress   string        `name:"temporal-address" env:"TEMPORAL_ADDRESS" default:"127.0.0.1:7233" help:"Temporal frontend host:port."`
	TemporalNamespace string        `name:"temporal-namespace" env:"TEMPORAL_NAMESPACE" default:"default" help:"Temporal namespace."`
	Retention         time.Duration `name:"retention" default:"720h" help:"How long Temporal keeps a closed incident's history (the read model in PostgreSQL keeps the record)."`
	Wait              time.Duration `name:"wait" default:"60s" help:"How long to wait for the frontend to answer."`
}

// Run registers the namespace, or sets its retention when it exists. It
// waits up to --wait for a server that is still starting.
func (c *namespaceCmd) Run(ctx context.Context, log *slog.Logger) error {
	if c.Retention < 24*time.Hour {
		return fmt.Errorf("--retention %s: Temporal keeps a closed workflow at least a day", c.Retention)
	}
	ctx, cancel := context.WithTimeout(ctx, c.Wait)
	defer cancel()
	var nc client.NamespaceClient
	err := retry(ctx, func() error {
		var err error
		nc, err = client.NewNamespaceClient(client.Options{
			HostPort: c.TemporalAddress, Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		})
		if err != nil {
			return err
		}
		// Answers once the frontend serves; an unknown namespace is an
		// answer too.
		_, err = nc.Describe(ctx, "temporal-system")
		if err != nil {
			nc.Close()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("temporal at %s does not answer: %w", c.TemporalAddress, err)
	}
	defer nc.Close()
	ttl := durationpb.New(c.Retention)
	err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        c.TemporalNamespace,
		Description:                      "Whistle incidents",
		WorkflowExecutionRetentionPeriod: ttl,
	})
	var exists *serviceerror.NamespaceAlreadyExists
	switch {
	case err == nil:
		log.Info("namespace registered", "namespace", c.TemporalNamespace, "retention", c.Retention)
	case errors.As(err, &exists):
		if err := nc.Update(ctx, &workflowservice.UpdateNamespaceRequest{
			Namespace: c.TemporalNamespace,
			Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: ttl},
		}); err != nil {
			return fmt.Errorf("set the retention of namespace %q: %w", c.TemporalNamespace, err)
		}
		log.Info("namespace exists; retention set", "namespace", c.TemporalNamespace, "retention", c.Retention)
	default:
		return fmt.Errorf("register namespace %q: %w", c.TemporalNamespace, err)
	}
	// A namespace just registered reaches every frontend's cache a few
	// seconds later; wait until this one serves it.
	return retry(ctx, func() error {
		_, err := nc.Describe(ctx, c.TemporalNamespace)
		return err
	})
}

// retry calls f every half second until it returns nil or ctx is done,
// and returns f's last error then.
func retry(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}
