package devstack

import (
	"context"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/whistle-city/whistle/devstack/internal/ports"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestStartNATSJetStreamSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()

	n, err := StartNATS(ctx, NATSOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(n.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() != "127.0.0.1" || u.Port() == "4222" {
		t.Fatalf("client URL %s: want 127.0.0.1 on a random port", n.ClientURL())
	}

	nc, js := connectJS(t, n.ClientURL())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t.one", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	n.Stop()
	n.Stop() // idempotent

	n2, err := StartNATS(ctx, NATSOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	nc2, js2 := connectJS(t, n2.ClientURL())
	defer nc2.Close()
	cons, err := js2.CreateOrUpdateConsumer(ctx, "T", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data()) != "hello" || msg.Subject() != "t.one" {
		t.Fatalf("got %q on %s, want hello on t.one", msg.Data(), msg.Subject())
	}
	if err := msg.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStartNATSTemporaryStoreRemoved(t *testing.T) {
	n, err := StartNATS(context.Background(), NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := n.tempDir
	if dir == "" {
		t.Fatal("no temporary store")
	}
	nc, js := connectJS(t, n.ClientURL())
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	n.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("temporary store %s still there after Stop (stat: %v)", dir, err)
	}
}

func TestStartNATSPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = StartNATS(context.Background(), NATSOptions{Port: port})
	if err == nil {
		t.Fatalf("StartNATS on taken port %d succeeded", port)
	}
	t.Log(err)

	// A free fixed port is used as given.
	free, err := ports.Free("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	n, err := StartNATS(context.Background(), NATSOptions{Port: free})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	if want := "nats://127.0.0.1:" + strconv.Itoa(free); n.ClientURL() != want {
		t.Fatalf("client URL %s, want %s", n.ClientURL(), want)
	}
}

func connectJS(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	return nc, js
}
