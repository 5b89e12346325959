package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whistle-city/whistle/devstack/internal/poll"
	"github.com/whistle-city/whistle/devstack/internal/ports"

	"github.com/jackc/pgx/v5"
)

// ErrNoPostgres is returned (wrapped) by [StartPostgres] when DATABASE_URL is
// not set and no PostgreSQL installation is found to run a private server.
var ErrNoPostgres = errors.New("no PostgreSQL server found: install PostgreSQL " +
	"(Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) or set DATABASE_URL")

const (
	// DefaultDatabase is the database StartPostgres creates in a private
	// server when PostgresOptions.Database is "".
	DefaultDatabase = "whistle"
	// postgresStartTimeout bounds the start when ctx has no deadline.
	postgresStartTimeout = 2 * time.Minute
	// postgresStopTimeout is how long Stop waits for a fast shutdown before
	// killing the server.
	postgresStopTimeout = time.Minute
)

// PostgresOptions configures [StartPostgres].
type PostgresOptions struct {
	// DatabaseURL, when set, names an existing database that is used as is:
	// StartPostgres only checks that it answers and creates nothing.
	DatabaseURL string
	// DataDir holds the private server's cluster (DataDir/pg), created on
	// first start and reused across restarts. "" means a temporary cluster
	// that Stop removes.
	DataDir string
	// Database is created in the private server if missing; default "whistle".
	Database string
	// Port is where the private server listens; 0 picks a free port at each
	// start. A fixed port keeps the URL across restarts (tests that stop and
	// start the server under a running stack use it).
	Port int
	// Logger receives what happens to the private server (where it lives,
	// unexpected exits); nil discards it. The server's own output goes to
	// postgres.log in its cluster directory.
	Logger *slog.Logger
}

// Postgres is a PostgreSQL database ready for connections: either an external
// one (DatabaseURL) or a private server run as a child process, listening on
// 127.0.0.1 only, on a port chosen at each start.
type Postgres struct {
	url string

	// The rest is for a private server only.
	cluster *pgCluster
	proc    *pgProc
	unwatch func() bool // stops watching StartPostgres's context
	logger  *slog.Logger
	port    int // fixed port, or 0

	once    sync.Once
	stopErr error
}

// pgProc is one run of the server process.
type pgProc struct {
	cmd      *exec.Cmd
	port     int
	exited   chan struct{} // closed once cmd.Wait returns
	waitErr  error         // cmd.Wait's result, read after exited is closed
	stopping chan struct{} // closed when we stop it on purpose
	stopOnce sync.Once
	ready    atomic.Bool // set once it accepted connections
}

// StartPostgres returns a database ready for connections. With DatabaseURL set
// it checks that database answers. Otherwise it runs a private PostgreSQL
// server: it finds initdb and postgres (PATH, /usr/lib/postgresql/*/bin and
// the like), creates the cluster on first use, starts the server on a free
// port of 127.0.0.1 and creates Database if missing. Without DatabaseURL and
// without PostgreSQL it fails with [ErrNoPostgres].
//
// When this process runs as root, the server runs as the postgres user (or
// nobody), as PostgreSQL requires; if that user cannot reach DataDir the
// cluster is kept under os.TempDir() instead, and the move is logged.
//
// A private server lives until [Postgres.Stop] or until ctx is done,
// whichever comes first (and, on Linux, no longer than this process): pass a
// context that lasts as long as the server is needed.
func StartPostgres(ctx context.Context, o PostgresOptions) (*Postgres, error) {
	startCtx := ctx
	if _, hasDeadline := ctx.Deadline(); !hasDeadline {
		var cancel context.CancelFunc
		startCtx, cancel = context.WithTimeout(ctx, postgresStartTimeout)
		defer cancel()
	}
	if o.DatabaseURL != "" {
		if err := pingPostgres(startCtx, o.DatabaseURL); err != nil {
			return nil, fmt.Errorf("postgres: %s does not answer: %w", redactURL(o.DatabaseURL), err)
		}
		return &Postgres{url: o.DatabaseURL}, nil
	}
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	c, err := openCluster(startCtx, o.DataDir, logger)
	if err != nil {
		return nil, err
	}
	p := &Postgres{cluster: c, logger: logger, port: o.Port}
	// The port is checked free, then bound by postgres a moment later; if
	// another process wins that race, try again with a fresh one.
	for attempt := 1; ; attempt++ {
		err = p.start(startCtx)
		if err == nil || attempt == 3 || o.Port != 0 || !errors.Is(err, errPortTaken) {
			break
		}
	}
	if err == nil {
		err = createDatabase(startCtx, p.urlFor("postgres"), o.Database)
	}
	if err != nil {
		if p.proc != nil {
			_ = p.proc.stop()
		}
		c.close()
		return nil, err
	}
	p.url = p.urlFor(o.Database)
	p.unwatch = context.AfterFunc(ctx, func() { _ = p.Stop() })
	return p, nil
}

// ClusterDir returns the private server's data directory (DataDir/pg, or
// where it was moved to, see StartPostgres), or "" for an external database.
func (p *Postgres) ClusterDir() string {
	if p.cluster == nil {
		return ""
	}
	return p.cluster.dir
}

// URL returns the database's pgx-compatible URL, e.g.
// postgres://postgres@127.0.0.1:41234/whistle?sslmode=disable.
func (p *Postgres) URL() string { return p.url }

// Stop stops a private server (fast shutdown: sessions are ended, everything
// committed is kept) and waits until its process has exited; it kills the
// server if it takes longer than a minute. It removes a temporary cluster.
// For an external database Stop does nothing. Calling Stop again returns the
// first result.
func (p *Postgres) Stop() error {
	if p.proc == nil {
		return nil
	}
	p.once.Do(func() {
		if p.unwatch != nil {
			p.unwatch()
		}
		p.stopErr = p.proc.stop()
		p.cluster.close()
	})
	return p.stopErr
}

// start runs the server once on a fresh port and waits until it accepts
// connections.
func (p *Postgres) start(ctx context.Context) error {
	c := p.cluster
	port := p.port
	if port == 0 {
		var err error
		if port, err = ports.Free("127.0.0.1"); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	logStart, err := c.openLog(port)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin.postgres,
		"-D", c.dir,
		"-h", "127.0.0.1",
		"-p", strconv.Itoa(port),
		"-k", c.socketDir(),
		// Commits return before their WAL reaches the disk: a crash of the
		// machine may lose the last moments, never corrupts anything.
		"-c", "synchronous_commit=off",
	)
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = c.log, c.log
	cmd.SysProcAttr = procAttr(c.as)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: run %s: %w", c.bin.postgres, err)
	}
	proc := &pgProc{cmd: cmd, port: port, exited: make(chan struct{}), stopping: make(chan struct{})}
	p.proc = proc
	go func() {
		proc.waitErr = cmd.Wait()
		close(proc.exited)
		select {
		case <-proc.stopping:
		default:
			if proc.ready.Load() { // a failed start is reported by start
				p.logger.Error("postgres: server exited unexpectedly", "err", proc.waitErr, "log", c.logPath)
			}
		}
	}()

	_, err = poll.Until(ctx, func() (struct{}, error) {
		select {
		case <-proc.exited:
			return struct{}{}, errExited
		default:
		}
		return struct{}{}, pingPostgres(ctx, p.urlFor("postgres"))
	})
	if err == nil {
		proc.ready.Store(true)
		return nil
	}
	_ = proc.stop()
	tail := c.logTail(logStart)
	switch {
	case strings.Contains(tail, "Address already in use"):
		return fmt.Errorf("postgres: %w: %d", errPortTaken, port)
	case errors.Is(err, errExited):
		return fmt.Errorf("postgres: server exited at start (%v); %s says:\n%s", proc.waitErr, c.logPath, tail)
	default:
		return fmt.Errorf("postgres: server not ready: %w; %s says:\n%s", err, c.logPath, tail)
	}
}

var (
	errPortTaken = errors.New("port taken")
	errExited    = errors.New("server exited")
)

// stop interrupts the server (fast shutdown) and waits for it to exit,
// killing it after postgresStopTimeout.
func (proc *pgProc) stop() error {
	proc.stopOnce.Do(func() { close(proc.stopping) })
	select {
	case <-proc.exited:
		return nil // already gone; an unexpected exit was logged
	default:
	}
	if err := interruptPID(proc.cmd.Process.Pid); err != nil {
		_ = proc.cmd.Process.Kill()
	}
	select {
	case <-proc.exited:
		return nil
	case <-time.After(postgresStopTimeout):
	}
	_ = proc.cmd.Process.Kill()
	<-proc.exited
	return fmt.Errorf("postgres: server did not shut down within %s; killed it", postgresStopTimeout)
}

// urlFor returns the URL of database db on the private server.
func (p *Postgres) urlFor(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     "127.0.0.1:" + strconv.Itoa(p.proc.port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// pingPostgres connects to dsn once and closes the connection.
func pingPostgres(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > 5*time.Second {
		cfg.ConnectTimeout = 5 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.Ping(ctx)
}

// createDatabase creates db through adminURL unless it exists.
func createDatabase(ctx context.Context, adminURL, db string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, db).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: look up database %q: %w", db, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
		return fmt.Errorf("postgres: create database %q: %w", db, err)
	}
	return nil
}

// redactURL hides the password in a database URL for error messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || !strings.Contains(s, "://") {
		return "DATABASE_URL" // key=value form: may hold password=...
	}
	return u.Redacted()
}
