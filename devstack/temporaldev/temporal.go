// Package temporaldev runs an embedded Temporal server (frontend, history,
// matching and worker services) persisting to SQLite in a file, for
// `whistle dev` and the tests. Only cmd/ and tests import it: it links the
// whole Temporal server.
package temporaldev

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whistle-city/whistle/devstack/internal/poll"
	"github.com/whistle-city/whistle/devstack/internal/ports"

	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	// DefaultNamespace is the Temporal namespace used when Options.Namespace is "".
	DefaultNamespace = "default"
	// DefaultRetention is how long closed workflows stay queryable when
	// Options.Retention is 0.
	DefaultRetention = 30 * 24 * time.Hour
	// DefaultTemporalHostPort is the frontend address used when
	// Options.HostPort is "": loopback, any free port.
	DefaultTemporalHostPort = "127.0.0.1:0"

	// TemporalDBFile is the SQLite file StartTemporal keeps in DataDir.
	TemporalDBFile = "temporal.db"

	// temporalStartTimeout bounds StartTemporal when ctx has no deadline.
	temporalStartTimeout = 90 * time.Second
	// historyShards is fixed when the SQLite file is created; one shard is
	// plenty for one process sharing a single SQLite connection.
	historyShards = 1
	clusterName   = "active"
)

// Options configures [StartTemporal].
type Options struct {
	// DataDir holds the SQLite file (DataDir/temporal.db), created with its
	// schema on first start and reused afterwards. "" keeps everything in
	// memory (tests).
	DataDir string
	// Namespace is created at start if missing; default "default".
	Namespace string
	// Retention is how long closed workflows stay queryable; default 30 days.
	// A namespace that already exists is updated to it at start.
	Retention time.Duration
	// HostPort is the frontend gRPC address. Default "127.0.0.1:0", where port
	// 0 picks a free port; when a fixed port (e.g. 7233) is taken, a free one
	// is used instead and a warning logged. Read the result from
	// [Temporal.HostPort].
	HostPort string
	// Logger receives the server's WARN and ERROR lines; nil discards them.
	Logger *slog.Logger
}

// Temporal is an embedded Temporal server (frontend, history, matching and
// worker services in this process) persisting to SQLite.
type Server struct {
	srv       temporal.Server
	hostPort  string
	namespace string
	stopping  *atomic.Bool // quiets the server's warnings once set

	once    sync.Once
	stopErr error
}

// StartTemporal starts an embedded Temporal server and returns once its
// frontend answers and the namespace exists with the configured retention.
// ctx bounds the start only; the server runs until [Temporal.Stop].
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Retention < 0 {
		return nil, fmt.Errorf("temporal: negative retention %s", o.Retention)
	}
	if o.HostPort == "" {
		o.HostPort = DefaultTemporalHostPort
	}
	if _, hasDeadline := ctx.Deadline(); !hasDeadline {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, temporalStartTimeout)
		defer cancel()
	}

	sqlCfg, err := sqliteConfig(o.DataDir)
	if err != nil {
		return nil, err
	}
	if err := prepareSQLite(sqlCfg, o.DataDir != "", o.Namespace, o.Retention); err != nil {
		return nil, err
	}

	// The ports are checked free, then bound by the server a moment later;
	// if another process wins that race, try again with fresh ones.
	var t *Server
	for attempt := 1; ; attempt++ {
		t, err = startTemporalServer(o, sqlCfg)
		if err == nil || attempt == 3 || !isAddrInUse(err) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := t.awaitNamespace(ctx, o.Retention); err != nil {
		_ = t.Stop()
		return nil, err
	}
	return t, nil
}

// HostPort returns the frontend's gRPC address, e.g. "127.0.0.1:7233".
func (t *Server) HostPort() string { return t.hostPort }

// Namespace returns the namespace created at start.
func (t *Server) Namespace() string { return t.namespace }

// Stop stops all server services and waits for them. Stop workers and close
// clients first. Calling Stop again returns the first result.
func (t *Server) Stop() error {
	t.once.Do(func() {
		t.stopping.Store(true)
		if err := t.srv.Stop(); err != nil {
			t.stopErr = fmt.Errorf("temporal: stop: %w", err)
		}
	})
	return t.stopErr
}

// startTemporalServer picks ports, builds the server and starts its services.
func startTemporalServer(o Options, sqlCfg *config.SQL) (*Server, error) {
	host, port, err := frontendAddr(o.HostPort, o.Logger)
	if err != nil {
		return nil, err
	}
	portOf := map[primitives.ServiceName]int{primitives.FrontendService: port}
	for _, svc := range []primitives.ServiceName{primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		if portOf[svc], err = ports.Free("127.0.0.1"); err != nil {
			return nil, fmt.Errorf("temporal: %w", err)
		}
	}
	frontend := net.JoinHostPort(host, strconv.Itoa(port))

	cfg := &config.Config{}
	cfg.Global.Membership.MaxJoinDuration = 30 * time.Second
	cfg.Global.Membership.BroadcastAddress = "127.0.0.1"
	cfg.Persistence = config.Persistence{
		DefaultStore:     "sqlite-default",
		VisibilityStore:  "sqlite-default",
		NumHistoryShards: historyShards,
		DataStores:       map[string]config.DataStore{"sqlite-default": {SQL: sqlCfg}},
	}
	cfg.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
		},
	}
	cfg.DCRedirectionPolicy.Policy = "noop"
	cfg.Services = make(map[string]config.Service, len(portOf))
	hosts := make(map[primitives.ServiceName]static.Hosts, len(portOf))
	for svc, p := range portOf {
		ip := "127.0.0.1"
		if svc == primitives.FrontendService {
			ip = host
		}
		cfg.Services[string(svc)] = config.Service{RPC: config.RPC{GRPCPort: p, BindOnIP: ip}}
		hosts[svc] = static.SingleLocalHost(net.JoinHostPort(ip, strconv.Itoa(p)))
	}
	cfg.Archival.History.State = "disabled"
	cfg.Archival.Visibility.State = "disabled"
	cfg.NamespaceDefaults.Archival.History.State = "disabled"
	cfg.NamespaceDefaults.Archival.Visibility.State = "disabled"
	cfg.PublicClient.HostPort = frontend

	stopping := new(atomic.Bool)
	logger := newTemporalLogger(o.Logger, stopping)
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("temporal: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("temporal: claim mapper: %w", err)
	}
	srv, err := runServer(stopping,
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	)
	if err != nil {
		return nil, err
	}
	return &Server{srv: srv, hostPort: frontend, namespace: o.Namespace, stopping: stopping}, nil
}

// runServer builds and starts the server. What the server reports as fatal
// while doing so (our logger panics with *serverFatal instead of exiting the
// process, e.g. when a port is taken) comes back as an error, after stopping
// whatever had started.
func runServer(stopping *atomic.Bool, opts ...temporal.ServerOption) (srv temporal.Server, err error) {
	defer hideOTelEnv()()
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		fatal, ok := r.(*serverFatal)
		if !ok {
			panic(r)
		}
		err = fmt.Errorf("temporal: start server: %w", fatal)
		if srv != nil {
			stopQuietly(srv, stopping)
		}
		srv = nil
	}()
	srv, err = temporal.NewServer(opts...)
	if err != nil {
		return nil, fmt.Errorf("temporal: build server: %w", err)
	}
	if err := srv.Start(); err != nil {
		stopQuietly(srv, stopping)
		return nil, fmt.Errorf("temporal: start server: %w", err)
	}
	return srv, nil
}

// hideOTelEnv unsets every OTEL_* variable of the process and returns the
// function that sets them back. The embedded server builds its trace
// exporters from these variables (and fails on a value it does not know,
// such as OTEL_TRACES_EXPORTER=console, which Whistle's own telemetry
// accepts): they are Whistle's settings, not the embedded server's, so it
// is built and started without them. Only whistle dev and the tests embed
// the server, at start, before anything else reads them.
func hideOTelEnv() (restore func()) {
	saved := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OTEL_") {
			saved[k] = v
			_ = os.Unsetenv(k)
		}
	}
	return func() {
		for k, v := range saved {
			_ = os.Setenv(k, v)
		}
	}
}

// stopQuietly stops a server that failed to start, whatever state it is in.
func stopQuietly(srv temporal.Server, stopping *atomic.Bool) {
	stopping.Store(true)
	defer func() { _ = recover() }()
	_ = srv.Stop()
}

// dynamicConfig keeps the single-process server light and fast.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// Starting a workflow hands its first task straight back to an
		// in-process worker (client.StartWorkflowOptions.EnableEagerStart).
		dynamicconfig.EnableEagerWorkflowStart.Key(): true,
		// One host: a single partition per task queue, no forwarding.
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
		// The default caches 128k workflows; a dev box needs far fewer.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8192,
	}
}

// frontendAddr resolves hostPort to the IP and port the frontend binds.
func frontendAddr(hostPort string, logger *slog.Logger) (string, int, error) {
	host, portStr, err := net.SplitHostPort(hostPort)
	if err != nil {
		return "", 0, fmt.Errorf("temporal: host port %q: %w", hostPort, err)
	}
	if host == "" || host == "localhost" {
		host = "127.0.0.1"
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("temporal: host port %q: host must be an IP address", hostPort)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("temporal: host port %q: bad port", hostPort)
	}
	if port != 0 && ports.IsFree(host, port) {
		return host, port, nil
	}
	free, err := ports.Free(host)
	if err != nil {
		return "", 0, fmt.Errorf("temporal: %w", err)
	}
	if port != 0 && logger != nil {
		logger.Warn("temporal: frontend port taken, using a free one", "wanted", hostPort, "port", free)
	}
	return host, free, nil
}

// awaitNamespace waits until the frontend serves the namespace and makes its
// retention the configured one (a namespace created by an earlier run may
// carry another).
func (t *Server) awaitNamespace(ctx context.Context, retention time.Duration) error {
	var c sdkclient.Client
	desc, err := poll.Until(ctx, func() (*workflowservice.DescribeNamespaceResponse, error) {
		if c == nil {
			cl, err := sdkclient.DialContext(ctx, sdkclient.Options{
				HostPort:  t.hostPort,
				Namespace: t.namespace,
				Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
			})
			if err != nil {
				return nil, err
			}
			c = cl
		}
		return c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: t.namespace})
	})
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		return fmt.Errorf("temporal: server at %s not ready: %w", t.hostPort, err)
	}
	if desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() == retention {
		return nil
	}
	_, err = c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: t.namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
	})
	if err != nil {
		return fmt.Errorf("temporal: set retention of namespace %q to %s: %w", t.namespace, retention, err)
	}
	return nil
}

func isAddrInUse(err error) bool {
	return err != nil && strings.Contains(err.Error(), "address already in use")
}

// temporalDBPath returns the SQLite file's absolute path in dataDir.
func temporalDBPath(dataDir string) (string, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", fmt.Errorf("temporal: data dir %q: %w", dataDir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("temporal: create data dir: %w", err)
	}
	return filepath.Join(abs, TemporalDBFile), nil
}
