package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/whistle-city/whistle/devstack/temporaldev"
)

// TestNamespaceCommand registers a namespace on a real Temporal server, then
// runs again on the namespace it made and only sets its retention.
func TestNamespaceCommand(t *testing.T) {
	ts, err := temporaldev.Start(t.Context(), temporaldev.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ts.Stop() })
	log := slog.New(slog.DiscardHandler)
	cmd := namespaceCmd{TemporalAddress: ts.HostPort(), TemporalNamespace: "district-fh", Retention: 72 * time.Hour, Wait: 30 * time.Second}

	require.NoError(t, cmd.Run(t.Context(), log))
	nc, err := client.NewNamespaceClient(client.Options{HostPort: ts.HostPort()})
	require.NoError(t, err)
	defer nc.Close()
	desc, err := nc.Describe(t.Context(), "district-fh")
	require.NoError(t, err)
	require.Equal(t, 72*time.Hour, desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())

	cmd.Retention = 30 * 24 * time.Hour
	require.NoError(t, cmd.Run(t.Context(), log), "a second run finds the namespace")
	desc, err = nc.Describe(t.Context(), "district-fh")
	require.NoError(t, err)
	require.Equal(t, 30*24*time.Hour, desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())

	cmd.Retention = time.Hour
	require.ErrorContains(t, cmd.Run(t.Context(), log), "at least a day")

	// Nothing listening: it says so within --wait.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	gone := namespaceCmd{TemporalAddress: "127.0.0.1:1", TemporalNamespace: "x", Retention: 48 * time.Hour, Wait: time.Second}
	require.ErrorContains(t, gone.Run(ctx, log), "does not answer")
}
