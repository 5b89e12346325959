package dispatcher

import (
	"context"
	"log/slog"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// Sweeper defaults.
const (
	DefaultSweepInterval = 30 * time.Second
	DefaultSweepAge      = time.Minute
	sweepBatch           = 100
)

// StrandedFinder lists incidents still "received" that were reported before
// cutoff, oldest first (*store.Store).
type StrandedFinder interface {
	Stranded(ctx context.Context, cutoff time.Time, limit int) ([]*incident.Incident, error)
}

// ReportPublisher publishes a report for the dispatcher (*bus.Bus).
type ReportPublisher interface {
	PublishReport(ctx context.Context, r incident.Report) error
}

// Sweeper publishes again the reports of incidents that stayed "received"
// for longer than Age: the API records a report before publishing it, so a
// crash between the two would otherwise strand it. Publishing again is safe:
// JetStream de-duplicates by incident id within its window, and after that
// the dispatcher's workflow id (the incident id) refuses a second start.
// Several API processes may sweep at once.
type Sweeper struct {
	Store    StrandedFinder
	Bus      ReportPublisher
	Interval time.Duration // between sweeps; DefaultSweepInterval when zero
	Age      time.Duration // how long a report may stay received; DefaultSweepAge when zero
	Logger   *slog.Logger
	Now      func() time.Time // time.Now when nil
}

// Run sweeps every Interval until ctx is done.
func (s *Sweeper) Run(ctx context.Context) error {
	interval, age, now, log := s.Interval, s.Age, s.Now, s.Logger
	if interval <= 0 {
		interval = DefaultSweepInterval
	}
	if age <= 0 {
		age = DefaultSweepAge
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		n, err := s.Sweep(ctx, now().Add(-age))
		if err != nil {
			log.WarnContext(ctx, "sweep stranded reports", "err", err)
		} else if n > 0 {
			log.InfoContext(ctx, "stranded reports published again", "count", n)
		}
	}
}

// Sweep publishes again the reports of incidents still received that were
// reported before cutoff, and returns how many it published.
func (s *Sweeper) Sweep(ctx context.Context, cutoff time.Time) (int, error) {
	stranded, err := s.Store.Stranded(ctx, cutoff, sweepBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, in := range stranded {
		if err := s.Bus.PublishReport(ctx, in.Report()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
