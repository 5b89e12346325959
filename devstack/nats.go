package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/whistle-city/whistle/devstack/internal/ports"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// natsReadyTimeout bounds how long StartNATS waits for the server to listen
// when ctx has no earlier deadline.
const natsReadyTimeout = 15 * time.Second

// NATSOptions configures [StartNATS].
type NATSOptions struct {
	// DataDir is where JetStream keeps its streams; it is created if missing
	// and reused across restarts. "" means a temporary directory that Stop
	// removes.
	DataDir string
	// Port is the client port on 127.0.0.1; 0 or -1 picks a free port, so the
	// embedded server never collides with a NATS already listening on 4222.
	Port int
	// Logger receives the server's warnings and errors (notices at debug
	// level); nil discards them.
	Logger *slog.Logger
	// Name is the server's name, unique in a cluster; "whistle-devstack"
	// when empty.
	Name string
	// Cluster, when its Port is set, makes the server a node of a JetStream
	// cluster (StartNATSCluster sets it).
	Cluster NATSCluster
}

// NATSCluster is a node's part in a cluster: the cluster's name, the
// port of its route listener on 127.0.0.1, and the routes to every node
// (its own included, which NATS ignores).
type NATSCluster struct {
	Name   string
	Port   int
	Routes []string
}

// NATS is an embedded nats-server with JetStream enabled, listening on
// 127.0.0.1 only.
type NATS struct {
	srv     *natsserver.Server
	tempDir string // removed at Stop when DataDir was ""
	once    sync.Once
}

// StartNATS starts an embedded nats-server with JetStream and waits until it
// accepts client connections. ctx bounds the start only; the server runs
// until [NATS.Stop].
func StartNATS(ctx context.Context, o NATSOptions) (*NATS, error) {
	n := &NATS{}
	storeDir := o.DataDir
	if storeDir == "" {
		dir, err := os.MkdirTemp("", "whistle-nats-")
		if err != nil {
			return nil, fmt.Errorf("nats: create temporary store: %w", err)
		}
		storeDir, n.tempDir = dir, dir
	} else if err := os.MkdirAll(storeDir, 0o755); err != nil {
		return nil, fmt.Errorf("nats: create store %s: %w", storeDir, err)
	}
	fail := func(err error) (*NATS, error) {
		if n.tempDir != "" {
			_ = os.RemoveAll(n.tempDir)
		}
		return nil, err
	}

	port := o.Port
	if port <= 0 {
		port = natsserver.RANDOM_PORT
	} else if !ports.IsFree("127.0.0.1", port) {
		return fail(fmt.Errorf("nats: port 127.0.0.1:%d is already in use", port))
	}
	name := o.Name
	if name == "" {
		name = "whistle-devstack"
	}
	opts := &natsserver.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true, // the embedding process owns signal handling
		// No HTTP monitoring, gateway or leaf node listeners; a cluster
		// listener only when asked.
	}
	if c := o.Cluster; c.Port > 0 {
		opts.Cluster = natsserver.ClusterOpts{Name: c.Name, Host: "127.0.0.1", Port: c.Port}
		for _, r := range c.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return fail(fmt.Errorf("nats: route %q: %w", r, err))
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	srv, err := natsserver.NewServer(opts)
	if err != nil {
		return fail(fmt.Errorf("nats: configure server: %w", err))
	}
	logs := &natsLogger{log: o.Logger}
	srv.SetLoggerV2(logs, false, false, false)
	n.srv = srv

	srv.Start()
	wait := natsReadyTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		wait = max(time.Until(dl), 0)
	}
	if !srv.ReadyForConnections(wait) {
		srv.Shutdown()
		srv.WaitForShutdown()
		err := fmt.Errorf("nats: server not ready after %s", wait)
		if last := logs.lastFatal(); last != "" {
			err = fmt.Errorf("nats: server did not start: %s", last)
		} else if ctx.Err() != nil {
			err = fmt.Errorf("nats: %w", ctx.Err())
		}
		return fail(err)
	}
	if !srv.JetStreamEnabled() {
		n.Stop()
		return nil, errors.New("nats: JetStream did not start (see the server log)")
	}
	return n, nil
}

// StartNATSCluster starts n embedded nats-servers as one JetStream cluster
// on 127.0.0.1 (free client and route ports, nodes named <name>-1…n, each
// with a store of its own under o.DataDir or in temporary directories) and
// waits until every node accepts clients. Streams with up to n replicas
// can then be created once the cluster has elected its meta leader (a
// moment after the start; creating one fails until then, and a caller
// retries). On error, the nodes already started are stopped.
func StartNATSCluster(ctx context.Context, n int, o NATSOptions) ([]*NATS, error) {
	if n < 1 {
		return nil, fmt.Errorf("nats: a cluster of %d nodes", n)
	}
	name := o.Name
	if name == "" {
		name = "whistle"
	}
	routePorts := make([]int, n)
	routes := make([]string, n)
	for i := range n {
		p, err := ports.Free("127.0.0.1")
		if err != nil {
			return nil, fmt.Errorf("nats: route port: %w", err)
		}
		routePorts[i], routes[i] = p, fmt.Sprintf("nats-route://127.0.0.1:%d", p)
	}
	nodes := make([]*NATS, 0, n)
	for i := range n {
		no := o
		no.Name = fmt.Sprintf("%s-%d", name, i+1)
		no.Port = 0
		if o.DataDir != "" {
			no.DataDir = filepath.Join(o.DataDir, no.Name)
		}
		no.Cluster = NATSCluster{Name: name, Port: routePorts[i], Routes: routes}
		node, err := StartNATS(ctx, no)
		if err != nil {
			for _, started := range nodes {
				started.Stop()
			}
			return nil, err
		}
		nodes = append(nodes, node)
	}
	return nodes, nil
}

// Name returns the server's name.
func (n *NATS) Name() string { return n.srv.Name() }

// ClientURL returns the URL clients connect to, e.g. nats://127.0.0.1:40123.
func (n *NATS) ClientURL() string { return n.srv.ClientURL() }

// Stop shuts the server down gracefully (JetStream flushes its stores) and
// waits until it is down. It removes the temporary store when DataDir was "".
// Calling Stop again does nothing.
func (n *NATS) Stop() {
	n.once.Do(func() {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		if n.tempDir != "" {
			_ = os.RemoveAll(n.tempDir)
		}
	})
}

// natsLogger adapts slog to nats-server's logger. Notices are debug-level
// noise for an embedded server; warnings and errors stay what they are.
type natsLogger struct {
	log *slog.Logger

	mu    sync.Mutex
	fatal string // last fatal message, reported if the start fails
}

func (l *natsLogger) lastFatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}

func (l *natsLogger) logf(level slog.Level, format string, v []any) {
	if l.log == nil || !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "nats-server")
}

func (l *natsLogger) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.logf(slog.LevelWarn, format, v) }
func (l *natsLogger) Errorf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l *natsLogger) Debugf(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }
func (l *natsLogger) Tracef(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }

// Fatalf records the message (nats-server calls it when it cannot listen or
// start JetStream) instead of exiting the process.
func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.fatal = msg
	l.mu.Unlock()
	l.logf(slog.LevelError, "%s", []any{msg})
}
