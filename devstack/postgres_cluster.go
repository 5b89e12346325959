package devstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/whistle-city/whistle/devstack/internal/poll"
)

const (
	pgLogFile    = "postgres.log"
	pgLogMaxSize = 8 << 20 // rotated to postgres.log.old beyond this
	// maxSocketPath keeps "<dir>/.s.PGSQL.<port>.lock" within the smallest
	// Unix socket path limit (104 bytes on macOS).
	maxSocketPath = 100
)

// pgCluster is a private PostgreSQL cluster directory and how to run it.
type pgCluster struct {
	dir     string // the data directory (initdb -D)
	bin     pgBin
	as      *runAs // account to run as; nil = this process's
	logPath string
	log     *os.File
	tempDir string // removed by close when the cluster is temporary
	logger  *slog.Logger
}

// openCluster finds or creates the cluster for dataDir ("" = temporary) and
// makes it ready to start: installation found, initdb done, ownership right,
// no server of an earlier run left in it.
func openCluster(ctx context.Context, dataDir string, logger *slog.Logger) (_ *pgCluster, err error) {
	c := &pgCluster{logger: logger}
	if _, ok := findPostgres(""); !ok {
		return nil, fmt.Errorf("postgres: %w (looked on PATH and in %s)", ErrNoPostgres, strings.Join(pgBinDirs, ", "))
	}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if c.as, err = pgAccount(); err != nil {
		return nil, err
	}

	var base string
	if dataDir == "" {
		if base, err = os.MkdirTemp("", "whistle-pg-"); err != nil {
			return nil, fmt.Errorf("postgres: create temporary cluster directory: %w", err)
		}
		c.tempDir = base
		if c.as != nil { // MkdirTemp makes it 0700, closed to the postgres user
			if err := os.Chmod(base, 0o755); err != nil {
				return nil, fmt.Errorf("postgres: %w", err)
			}
		}
	} else {
		if base, err = filepath.Abs(dataDir); err != nil {
			return nil, fmt.Errorf("postgres: data dir %q: %w", dataDir, err)
		}
		if err := os.MkdirAll(base, 0o755); err != nil {
			return nil, fmt.Errorf("postgres: create data dir: %w", err)
		}
	}
	if c.as != nil && !c.as.canTraverse(base) {
		alt, err := c.fallbackBase(base)
		if err != nil {
			return nil, err
		}
		logger.Warn("postgres: the server's user cannot reach the data dir; keeping the cluster elsewhere",
			"user", c.as.name, "data_dir", base, "cluster", filepath.Join(alt, "pg"))
		base = alt
	}
	c.dir = filepath.Join(base, "pg")
	c.logPath = filepath.Join(c.dir, pgLogFile)

	var wantMajor string
	if b, err := os.ReadFile(filepath.Join(c.dir, "PG_VERSION")); err == nil {
		wantMajor = strings.TrimSpace(string(b))
	}
	bin, ok := findPostgres(wantMajor)
	if !ok {
		return nil, fmt.Errorf("postgres: %w (looked on PATH and in %s)", ErrNoPostgres, strings.Join(pgBinDirs, ", "))
	}
	c.bin = bin

	if wantMajor == "" {
		if err := c.initdb(ctx); err != nil {
			return nil, err
		}
	}
	if c.as != nil {
		if err := c.as.chownTree(c.dir); err != nil {
			return nil, fmt.Errorf("postgres: give %s to %s: %w", c.dir, c.as.name, err)
		}
	}
	if err := c.clearLeftover(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// fallbackBase returns a directory under os.TempDir() derived from base, for
// when the server's account cannot reach base (e.g. under /root).
func (c *pgCluster) fallbackBase(base string) (string, error) {
	sum := sha256.Sum256([]byte(base))
	alt := filepath.Join(os.TempDir(), "whistle-pg-"+hex.EncodeToString(sum[:8]))
	fi, err := os.Lstat(alt)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.Mkdir(alt, 0o755); err != nil {
			return "", fmt.Errorf("postgres: %w", err)
		}
		if err := os.Chmod(alt, 0o755); err != nil { // whatever the umask
			return "", fmt.Errorf("postgres: %w", err)
		}
	case err != nil:
		return "", fmt.Errorf("postgres: %w", err)
	case !fi.IsDir() || !c.as.ownedBy(fi):
		return "", fmt.Errorf("postgres: %s exists and is not a directory of root or %s; remove it", alt, c.as.name)
	}
	if !c.as.canTraverse(alt) {
		return "", fmt.Errorf("postgres: user %s can reach neither %s nor %s", c.as.name, base, alt)
	}
	return alt, nil
}

// initdb creates the cluster. It runs initdb in a side directory and renames
// it into place, so a cluster directory always holds a complete cluster.
func (c *pgCluster) initdb(ctx context.Context) error {
	if entries, err := os.ReadDir(c.dir); err == nil {
		if len(entries) > 0 {
			return fmt.Errorf("postgres: %s exists but holds no PostgreSQL cluster (no PG_VERSION); move it away", c.dir)
		}
		if err := os.Remove(c.dir); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	tmp := c.dir + ".initdb"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("postgres: remove unfinished %s: %w", tmp, err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if c.as != nil {
		if err := c.as.chownTree(tmp); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, c.bin.initdb,
		"-D", tmp,
		"-A", "trust",
		"-U", "postgres",
		"--encoding", "UTF8",
		"--locale", "C",
	)
	cmd.Dir = tmp
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = procAttr(c.as)
	if err := cmd.Run(); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("postgres: %s failed: %w:\n%s", c.bin.initdb, err, tail(out.Bytes(), 3000))
	}
	if err := os.Rename(tmp, c.dir); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	c.logger.Info("postgres: created cluster", "dir", c.dir, "initdb", c.bin.initdb)
	return nil
}

// clearLeftover deals with a postmaster.pid left by an earlier run. A dead
// process's file is left to PostgreSQL, which handles it. A live server in
// this directory (our process died in a way the kernel did not pass on) is
// shut down. A live process that is not such a server (the pid was reused
// after a reboot) would make PostgreSQL refuse to start, so its file goes.
func (c *pgCluster) clearLeftover(ctx context.Context) error {
	pidFile := filepath.Join(c.dir, "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 || !processAlive(pid) {
		return nil
	}
	serves, known := servesCluster(pid, c.dir)
	if !known {
		return nil // PostgreSQL will say whether another server runs here
	}
	if !serves {
		c.logger.Warn("postgres: removing stale postmaster.pid naming an unrelated process", "pid", pid, "dir", c.dir)
		if err := os.Remove(pidFile); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		return nil
	}
	c.logger.Warn("postgres: stopping a server left running in the cluster by an earlier run", "pid", pid, "dir", c.dir)
	_ = interruptPID(pid)
	waitCtx, cancel := context.WithTimeout(ctx, postgresStopTimeout)
	defer cancel()
	if _, err := poll.Until(waitCtx, func() (struct{}, error) {
		if processAlive(pid) {
			return struct{}{}, errors.New("still running")
		}
		return struct{}{}, nil
	}); err == nil {
		return nil
	}
	_ = killPID(pid)
	killCtx, cancel2 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel2()
	if _, err := poll.Until(killCtx, func() (struct{}, error) {
		if processAlive(pid) {
			return struct{}{}, errors.New("still running")
		}
		return struct{}{}, nil
	}); err != nil {
		return fmt.Errorf("postgres: the server left running in %s (pid %d) does not stop: %w", c.dir, pid, err)
	}
	return nil
}

// socketDir is where the server puts its Unix socket: the cluster directory,
// or none ("", TCP only) when that path is too long for a socket.
func (c *pgCluster) socketDir() string {
	if len(c.dir)+len("/.s.PGSQL.65535.lock") > maxSocketPath {
		return ""
	}
	return c.dir
}

// openLog opens the server's log (once) and marks the start of a run on
// port; it returns the offset where this run's output begins.
func (c *pgCluster) openLog(port int) (int64, error) {
	if c.log == nil {
		if fi, err := os.Stat(c.logPath); err == nil && fi.Size() > pgLogMaxSize {
			_ = os.Rename(c.logPath, c.logPath+".old")
		}
		f, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return 0, fmt.Errorf("postgres: open log: %w", err)
		}
		c.log = f
	}
	off, err := c.log.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("postgres: log: %w", err)
	}
	fmt.Fprintf(c.log, "--- whistle devstack: starting %s on 127.0.0.1:%d at %s\n", c.bin.postgres, port, time.Now().Format(time.RFC3339))
	return off, nil
}

// logTail returns the end of what the server logged since offset.
func (c *pgCluster) logTail(offset int64) string {
	f, err := os.Open(c.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "(no log: " + err.Error() + ")"
	}
	b, _ := io.ReadAll(f)
	return tail(b, 3000)
}

// close releases the log and removes a temporary cluster.
func (c *pgCluster) close() {
	if c.log != nil {
		_ = c.log.Close()
		c.log = nil
	}
	if c.tempDir != "" {
		_ = os.RemoveAll(c.tempDir)
	}
}

// tail returns at most the last n bytes of b, starting at a line.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimSpace(string(b))
}
