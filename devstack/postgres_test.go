package devstack

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/devstack/internal/ports"

	"github.com/jackc/pgx/v5"
)

func TestStartPostgresPrivateSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := reachableTempDir(t)

	p, err := StartPostgres(context.Background(), PostgresOptions{DataDir: dir, Database: "restart_test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	if !strings.HasPrefix(p.URL(), "postgres://postgres@127.0.0.1:") || !strings.Contains(p.URL(), "/restart_test?") {
		t.Fatalf("URL %s", p.URL())
	}
	if got, want := p.ClusterDir(), filepath.Join(dir, "pg"); got != want {
		t.Fatalf("cluster in %s, want %s", got, want)
	}
	execSQL(t, ctx, p.URL(), `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')`)
	pid := p.proc.cmd.Process.Pid
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if processAlive(pid) {
		t.Fatalf("postgres pid %d still running after Stop", pid)
	}
	if err := pingPostgres(ctx, p.URL()); err == nil {
		t.Fatal("server still answers after Stop")
	}

	p2, err := StartPostgres(context.Background(), PostgresOptions{DataDir: dir, Database: "restart_test"})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Stop()
	if got := queryString(t, ctx, p2.URL(), `SELECT v FROM kept`); got != "still here" {
		t.Fatalf("after restart got %q", got)
	}
	log, err := os.ReadFile(filepath.Join(dir, "pg", pgLogFile))
	if err != nil || !strings.Contains(string(log), "database system is ready to accept connections") {
		t.Fatalf("server log missing or incomplete (%v):\n%s", err, log)
	}
}

func TestStartPostgresStopsLeftoverServer(t *testing.T) {
	dir := reachableTempDir(t)
	p1, err := StartPostgres(context.Background(), PostgresOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p1.Stop()
	pid1 := p1.proc.cmd.Process.Pid
	if is, known := servesCluster(pid1, p1.cluster.dir); known && !is {
		t.Fatalf("servesCluster(%d, %s) = false for our own server", pid1, p1.cluster.dir)
	}

	// Same directory while the first server still runs, as after a crash of
	// the process that started it.
	p2, err := StartPostgres(context.Background(), PostgresOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Stop()
	if processAlive(pid1) {
		t.Fatalf("leftover server pid %d still running", pid1)
	}
	if err := pingPostgres(context.Background(), p2.URL()); err != nil {
		t.Fatal(err)
	}
}

func TestStartPostgresStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, err := StartPostgres(ctx, PostgresOptions{}) // temporary cluster
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	tmp := p.cluster.tempDir
	if tmp == "" {
		t.Fatal("no temporary cluster")
	}
	cancel()
	select {
	case <-p.proc.exited:
	case <-time.After(time.Minute):
		t.Fatal("server still running a minute after its context ended")
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("temporary cluster %s not removed (stat: %v)", tmp, err)
	}
}

func TestStartPostgresExternal(t *testing.T) {
	priv, err := StartPostgres(context.Background(), PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer priv.Stop()

	ext, err := StartPostgres(context.Background(), PostgresOptions{DatabaseURL: priv.URL(), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if ext.URL() != priv.URL() {
		t.Fatalf("external URL %s, want %s", ext.URL(), priv.URL())
	}
	if err := ext.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := pingPostgres(context.Background(), priv.URL()); err != nil {
		t.Fatalf("stopping an external database stopped the server: %v", err)
	}

	port, err := ports.Free("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = StartPostgres(ctx, PostgresOptions{DatabaseURL: "postgres://postgres:secret@127.0.0.1:" + strconv.Itoa(port) + "/x?sslmode=disable"})
	if err == nil {
		t.Fatal("StartPostgres with a dead DATABASE_URL succeeded")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error shows the password: %v", err)
	}
}

func TestStartPostgresNoInstallation(t *testing.T) {
	saved := pgBinDirs
	t.Cleanup(func() { pgBinDirs = saved })
	pgBinDirs = nil
	t.Setenv("PATH", t.TempDir())
	dir := filepath.Join(t.TempDir(), "data")

	_, err := StartPostgres(context.Background(), PostgresOptions{DataDir: dir})
	if !errors.Is(err, ErrNoPostgres) {
		t.Fatalf("err = %v, want ErrNoPostgres", err)
	}
	if !strings.Contains(err.Error(), "apt-get install postgresql") || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("error does not say what to install: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("failed start created %s (stat: %v)", dir, err)
	}
}

// As root, a data dir the postgres user cannot reach moves the cluster under
// os.TempDir().
func TestStartPostgresRootUnreachableDataDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	parent := filepath.Join(reachableTempDir(t), "private")
	if err := os.Mkdir(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "data")
	p, err := StartPostgres(context.Background(), PostgresOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Dir(p.cluster.dir)
	t.Cleanup(func() {
		_ = p.Stop()
		_ = os.RemoveAll(base)
	})
	if !strings.HasPrefix(p.cluster.dir, os.TempDir()) || strings.HasPrefix(p.cluster.dir, parent) {
		t.Fatalf("cluster in %s, want under %s and not under %s", p.cluster.dir, os.TempDir(), parent)
	}
	if err := pingPostgres(context.Background(), p.URL()); err != nil {
		t.Fatal(err)
	}
	// The same data dir maps to the same place next time.
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	p2, err := StartPostgres(context.Background(), PostgresOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Stop()
	if p2.cluster.dir != p.cluster.dir {
		t.Fatalf("second start uses %s, first used %s", p2.cluster.dir, p.cluster.dir)
	}
}

// reachableTempDir returns t.TempDir() opened up (it is 0700) so that, when
// the tests run as root, the postgres user can reach it.
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		for d := dir; d != filepath.Clean(os.TempDir()) && d != filepath.Dir(d); d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func execSQL(t *testing.T, ctx context.Context, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

func queryString(t *testing.T, ctx context.Context, url, sql string) string {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
