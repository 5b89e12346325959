package store

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/metrics/rollup"
)

// The metrics rollups (migrations 00007, 00009 and 00010; package
// metrics) hold the sum of every incident's contribution, a pure function
// of its stored rows (metrics/rollup), per local day and per month.
// Project keeps them exact by adding, in its transaction, the contribution
// of the rows it leaves minus the contribution of the rows it found; Load
// adds the contribution of the incidents it inserts.

// queueRollupBefore queues, first in Project's batch, the locks that order
// projections (the rollup lock shared, then the incident's own) and the
// record of the incident's current contribution: in the
// transaction-local settings whistle.rollup_old and whistle.latency_old as
// JSON when the snapshot will be applied (the stored version is older or
// there is no row), else empty (then nothing changes and queueRollupAfter
// adds nothing).
func queueRollupBefore(b *pgx.Batch, in *incident.Incident) {
	b.Queue(rollup.PlansSQL)
	b.Queue(rollup.LockSQL)
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 5))`, in.ID)
	b.Queue(rollup.OldSQL, []string{in.ID}, in.Version)
}

// queueRollupAfter queues, last in Project's batch, the difference between
// the incident's contribution now and the one queueRollupBefore recorded
// (into whistle.rollup_delta and whistle.latency_delta, computed once), its
// addition to the days and then to the months, and its record in the
// journal while a rebuild runs. Only keys whose counters change are
// written, each table in key order, days before months, so that
// concurrent projections lock rollup rows in one order (no deadlock) and
// an acknowledgement touches few rows.
func queueRollupAfter(b *pgx.Batch, in *incident.Incident) {
	b.Queue(rollup.DeltaSQL, []string{in.ID})
	for _, q := range rollup.AddLive {
		b.Queue(q)
	}
}

// maxLevel is the highest escalation level either of t's ladders ever
// reached: the largest Level of its ack_overdue and resolve_overdue
// entries (tasks.max_level).
func maxLevel(in *incident.Incident, t *incident.Task) int32 {
	var l int
	for _, e := range in.Timeline {
		if e.TaskID == t.ID && (e.Type == incident.EventAckOverdue || e.Type == incident.EventResolveOverdue) {
			l = max(l, e.Level)
		}
	}
	return int32(l)
}

// taskRating is t's rating as tasks.rating and tasks.rated_at.
func taskRating(t *incident.Task) (*int32, *time.Time) {
	if t.Rating == nil {
		return nil, nil
	}
	s, at := int32(t.Rating.Score), t.Rating.At
	return &s, &at
}
