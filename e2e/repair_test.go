package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/activities"
	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/metrics"
	"github.com/whistle-city/whistle/repair"
	"github.com/whistle-city/whistle/store"
)

// The read model is lost (PostgreSQL restored empty): repair.Reproject
// finds every incident behind its workflow, records each as the workflow
// would have, and the rebuilt read model equals the one that was lost, its
// rollups equal to their recomputation. A second run finds nothing, and on
// the live read model nothing is behind.
func TestReprojectRebuildsALostReadModel(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	st := token(t, incident.RoleStreet, street)
	cg := token(t, incident.RoleDepartment, "CG")

	acked := s.report("SR-001")
	in := s.waitStatus(acked, st, incident.StatusDispatched)
	s.must(200, "POST", "/v1/tasks/"+in.Tasks[0].ID+"/ack", cg, map[string]any{})
	acked1 := s.waitFor(acked, st, "acknowledged", func(in incident.Incident) bool { return in.Tasks[0].AckedAt != nil })
	waiting := s.waitStatus(s.report("SR-001"), st, incident.StatusDispatched)
	var err error

	// Temporal's visibility, which lists the workflows, is written after
	// the fact: both are waited for.
	rec := &activities.Activities{Store: s.svc.Store, Bus: s.svc.Bus}
	var live repair.Result
	require.True(t, wait.Within(10*time.Second, func() bool {
		live, err = repair.Reproject(ctx, s.svc.Temporal, s.svc.Store, rec, repair.Options{})
		return err == nil && live.Workflows == 2
	}), "%d workflows listed, %v", live.Workflows, err)
	assert.Empty(t, live.Behind, "the live read model is up to date")

	// An empty read model of the same district.
	url := devtest.Postgres(t)
	require.NoError(t, store.Migrate(ctx, url))
	lost, err := store.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(lost.Close)
	rec = &activities.Activities{Store: lost, Bus: s.svc.Bus}

	dry, err := repair.Reproject(ctx, s.svc.Temporal, lost, rec, repair.Options{})
	require.NoError(t, err)
	require.Len(t, dry.Behind, 2)
	assert.Zero(t, dry.Recorded)
	for _, b := range dry.Behind {
		assert.Equal(t, -1, b.Stored, b.ID)
	}
	_, err = lost.Incident(ctx, store.Everything, acked)
	assert.Equal(t, incident.CodeNotFound, incident.ErrorCode(err), "a dry run writes nothing")

	done, err := repair.Reproject(ctx, s.svc.Temporal, lost, rec, repair.Options{Apply: true, Concurrency: 2})
	require.NoError(t, err)
	assert.Equal(t, 2, done.Recorded)
	for _, want := range []incident.Incident{acked1, waiting} {
		got, err := lost.Incident(ctx, store.Everything, want.ID)
		require.NoError(t, err)
		assert.Equal(t, want.Version, got.Version, want.ID)
		assert.Equal(t, want.Status, got.Status, want.ID)
		assert.Equal(t, len(want.Timeline), len(got.Timeline), want.ID)
	}
	again, err := repair.Reproject(ctx, s.svc.Temporal, lost, rec, repair.Options{Apply: true})
	require.NoError(t, err)
	assert.Empty(t, again.Behind, "a second run finds nothing behind")

	// The rebuilt read model's rollups equal their recomputation.
	m := metrics.New(lost.Pool())
	months, err := m.RecordMonths(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, months)
	for _, mo := range months {
		diffs, err := m.CheckRollups(ctx, mo, mo.AddDate(0, 1, 0), metrics.GradingOf(s.svc.Jurisdiction.Assessment))
		require.NoError(t, err)
		for _, d := range diffs {
			t.Errorf("rebuilt read model, %s: %s %q: %s", mo.Format("2006-01"), d.Dimension, d.Key, strings.Join(d.Changes(), "; "))
		}
	}
	s.checkMetrics()
}
