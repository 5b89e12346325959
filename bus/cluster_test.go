package bus_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-city/whistle/bus"
	"github.com/whistle-city/whistle/devstack"
	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
)

// TestStreamsOnACluster: on a three-node JetStream cluster every stream is
// kept by three servers (bus.WithReplicas), and reports are still taken
// when the node leading the reports stream goes away.
func TestStreamsOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a three-node NATS cluster")
	}
	ctx := t.Context()
	nodes, err := devstack.StartNATSCluster(ctx, 3, devstack.NATSOptions{Name: "cluster-test"})
	if err != nil {
		t.Fatal(err)
	}
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		t.Cleanup(n.Stop)
		urls[i] = n.ClientURL()
	}
	b, err := bus.Connect(ctx, strings.Join(urls, ","), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)

	// The cluster elects its meta leader a moment after the start.
	var last error
	if !wait.Within(30*time.Second, func() bool { last = b.EnsureStreams(ctx, bus.WithReplicas(3)); return last == nil }) {
		t.Fatalf("streams on the cluster: %v", last)
	}
	if err := b.EnsureStreams(ctx, bus.WithReplicas(3)); err != nil {
		t.Fatalf("ensuring them again: %v", err)
	}
	if err := b.EnsureStreams(ctx, bus.WithReplicas(7)); err == nil {
		t.Error("7 replicas were taken")
	}
	js := b.JetStream()
	var leader string
	for _, name := range []string{bus.StreamReports, bus.StreamEvents, bus.StreamDeadLetter} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		var info *jetstream.StreamInfo
		if !wait.Within(30*time.Second, func() bool {
			info, err = s.Info(ctx)
			return err == nil && info.Cluster != nil && info.Cluster.Leader != "" && len(info.Cluster.Replicas) == 2
		}) {
			t.Fatalf("%s: %v %+v", name, err, info)
		}
		if info.Config.Replicas != 3 {
			t.Errorf("%s: %d replicas", name, info.Config.Replicas)
		}
		if name == bus.StreamReports {
			leader = info.Cluster.Leader
		}
	}

	report := func(i int) incident.Report {
		return incident.Report{IncidentID: fmt.Sprintf("cluster-%d", i), Category: "SR-001", Street: "FH", Grid: "FH-01-01",
			Description: "test", ReportedAt: time.Now().UTC(), Reporter: "t"}
	}
	if err := b.PublishReport(ctx, report(1)); err != nil {
		t.Fatal(err)
	}
	// The leader of the reports stream goes away: the two others elect
	// another and take the next report.
	for _, n := range nodes {
		if n.Name() == leader {
			n.Stop()
		}
	}
	if !wait.Within(30*time.Second, func() bool {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		last = b.PublishReport(c, report(2))
		return last == nil
	}) {
		t.Fatalf("a report after the leader %s stopped: %v", leader, last)
	}
	s, err := js.Stream(ctx, bus.StreamReports)
	if err != nil {
		t.Fatal(err)
	}
	var info *jetstream.StreamInfo
	if !wait.Within(30*time.Second, func() bool {
		info, err = s.Info(ctx)
		return err == nil && info.State.Msgs == 2 && info.Cluster.Leader != leader
	}) {
		t.Fatalf("reports stream after the leader stopped: %v %+v", err, info)
	}
}
