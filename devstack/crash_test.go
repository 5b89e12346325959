package devstack

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/whistle-city/whistle/devstack/internal/testutil"
	"github.com/whistle-city/whistle/devstack/wait"
)

// These tests run part of themselves in a child process (this test binary
// again) that exits abruptly, as a killed `whistle dev` would.

func TestPostgresDiesWithItsParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux only")
	}
	dir := reachableTempDir(t)
	pid, err := strconv.Atoi(testutil.RunHelper(t, "TestHelperPostgresCrash", dir))
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, time.Minute, "orphaned postgres to exit", func() bool { return !processAlive(pid) })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := StartPostgres(ctx, PostgresOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if got := queryString(t, ctx, p.URL(), `SELECT v FROM kept`); got != "committed" {
		t.Fatalf("after the crash got %q", got)
	}
}

func TestHelperPostgresCrash(t *testing.T) {
	dir := os.Getenv(testutil.HelperEnv)
	if dir == "" {
		t.Skip("runs as a child of TestPostgresDiesWithItsParent")
	}
	ctx := context.Background()
	p, err := StartPostgres(ctx, PostgresOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, ctx, p.URL(), `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('committed')`)
	fmt.Printf("READY %d\n", p.proc.cmd.Process.Pid)
	os.Exit(0) // no Stop
}
