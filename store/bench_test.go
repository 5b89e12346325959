package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// BenchmarkProjectLifecycle projects the seven snapshots of one incident's
// life (dispatched to two departments, acknowledged, completed, verified,
// feedback) per iteration, as the workflow's activities would.
func BenchmarkProjectLifecycle(b *testing.B) {
	ctx := context.Background()
	now := t0
	s := newStore(b, &now)
	b.ResetTimer()
	for i := range b.N {
		in := newIncident(fmt.Sprintf("bench-%d", i), "FH", itemCG, t0)
		snaps := []*incident.Incident{}
		add := func(a incident.Actor, c incident.Command, d time.Duration) {
			if err := in.Apply(a, c, t0.Add(d), due); err != nil {
				b.Fatal(err)
			}
			snaps = append(snaps, clone(b, in))
		}
		snaps = append(snaps, clone(b, in))
		cg, sc := in.Tasks[0].ID, in.Tasks[1].ID
		add(deptActor("CG"), incident.Ack{TaskID: cg}, time.Minute)
		add(deptActor("SCJG"), incident.Ack{TaskID: sc}, 2*time.Minute)
		add(deptActor("CG"), incident.Complete{TaskID: cg, Result: "ok"}, time.Hour)
		add(deptActor("SCJG"), incident.Complete{TaskID: sc, Result: "ok"}, 2*time.Hour)
		add(streetActor("FH"), incident.Verify{Passed: true}, 3*time.Hour)
		add(streetActor("FH"), incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}, 4*time.Hour)
		for _, snap := range snaps {
			if err := s.Project(ctx, snap); err != nil {
				b.Fatal(err)
			}
		}
	}
}
