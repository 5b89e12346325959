// Package testutil holds what devstack's tests share: child-process
// helpers that die abruptly, polling with a deadline, and a test logger.
package testutil

import (
	"bufio"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// HelperEnv names the variable that tells a test binary it runs as a helper
// child; its value is the data directory the child uses.
const HelperEnv = "DEVSTACK_CRASH_HELPER"

// RunHelper runs the named helper test in a child process with dir and
// returns the value it prints after "READY ".
func RunHelper(t *testing.T, name, dir string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), HelperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ready string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
			ready = v
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper %s: %v", name, err)
	}
	if ready == "" {
		t.Fatalf("helper %s never got ready", name)
	}
	return ready
}

// Logger logs to t at debug level and above.
func Logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
