package main

import (
	"os"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestComposeRunsTheTestedReleases: docker-compose.yml runs the Temporal
// server and nats-server this binary embeds and the tests exercise, and
// every long-running service it starts has a healthcheck or waits on one.
func TestComposeRunsTheTestedReleases(t *testing.T) {
	info, ok := debug.ReadBuildInfo()
	require.True(t, ok)
	tested := map[string]string{}
	for _, d := range info.Deps {
		tested[d.Path] = strings.TrimPrefix(d.Version, "v")
	}
	require.NotEmpty(t, tested["go.temporal.io/server"])
	require.NotEmpty(t, tested["github.com/nats-io/nats-server/v2"])

	b, err := os.ReadFile("../../docker-compose.yml")
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Image       string         `yaml:"image"`
			Healthcheck map[string]any `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(b, &compose))
	image := func(name string) string { return compose.Services[name].Image }

	require.Equal(t, "temporalio/server:"+tested["go.temporal.io/server"], image("temporal"))
	require.Equal(t, "temporalio/admin-tools:"+tested["go.temporal.io/server"], image("temporal-schema"))
	require.Equal(t, "nats:"+tested["github.com/nats-io/nats-server/v2"]+"-alpine", image("nats"))
	for name, svc := range compose.Services {
		require.NotContains(t, svc.Image, "auto-setup", "%s runs the deprecated image", name)
	}
	for _, name := range []string{"postgres", "temporal-db", "temporal", "nats", "serve"} {
		require.NotEmpty(t, compose.Services[name].Healthcheck, "%s has no healthcheck", name)
	}
}
