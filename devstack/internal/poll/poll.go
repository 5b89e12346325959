// Package poll waits for something with a deadline.
package poll

import (
	"context"
	"errors"
	"time"
)

// Until calls f every 100ms until it succeeds or ctx ends, and returns the
// last error with ctx's.
func Until[T any](ctx context.Context, f func() (T, error)) (T, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		v, err := f()
		if err == nil {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, errors.Join(ctx.Err(), err)
		case <-tick.C:
		}
	}
}
