// Package wait is how Whistle's tests wait for something to happen: poll a
// condition often, with a deadline, never sleep a fixed time and hope.
package wait

import (
	"testing"
	"time"
)

// Interval is how often a condition is polled.
const Interval = 20 * time.Millisecond

// Within polls cond every Interval until it holds or d has passed, and
// reports whether it held.
func Within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
}

// For polls cond until it holds, failing t when timeout has passed without
// it: "timed out after 5s waiting for what".
func For(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Within(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}
