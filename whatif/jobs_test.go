package whatif_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/whatif"
)

// A job runs in the background and keeps its answer; a file that is not a
// jurisdiction records nothing; a job whose serve stopped (its heartbeat
// old) reads as failed; an unknown id is ErrNoJob.
func TestJobs(t *testing.T) {
	ctx := context.Background()
	st := seeded(t)
	jobs := whatif.NewJobs(st.Pool(), jurisdiction.Default, nil)

	_, err := jobs.Start(ctx, october, []byte("district: {code: DA"), "district:DA:d")
	require.ErrorIs(t, err, jurisdiction.ErrInvalid)
	list, err := jobs.List(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, list)

	j, err := jobs.Start(ctx, october, jurisdiction.DefaultYAML(), "district:DA:d")
	require.NoError(t, err)
	require.Equal(t, whatif.JobQueued, j.Status)
	jobs.Wait()
	got, err := jobs.Job(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, whatif.JobDone, got.Status, got.Error)
	require.NotNil(t, got.FinishedAt)
	require.True(t, got.Answer.Identity.Holds)
	require.Equal(t, got.Answer.Incidents, got.Progress.Done)
	require.Equal(t, "2026-10", got.Answer.Month)

	// A serve that stopped mid-replay leaves its job running with a
	// heartbeat that no longer beats.
	_, err = st.Pool().Exec(ctx, `INSERT INTO whatif_jobs (id, month, rules, requested_by, requested_at, status, heartbeat)
VALUES ('left', '2026-10', '', 'district:DA:d', now() - interval '10 minutes', 'running', now() - interval '9 minutes')`)
	require.NoError(t, err)
	left, err := jobs.Job(ctx, "left")
	require.NoError(t, err)
	require.Equal(t, whatif.JobFailed, left.Status)
	require.Contains(t, left.Error, "stopped")

	list, err = jobs.List(ctx, 10)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, j.ID, list[0].ID) // newest first
	require.Nil(t, list[0].Answer)

	_, err = jobs.Job(ctx, "nothing")
	require.True(t, errors.Is(err, whatif.ErrNoJob), "%v", err)

	// Two asked at once both finish, the second queued behind the first.
	a, err := jobs.Start(ctx, october, jurisdiction.DefaultYAML(), "admin:DA:a")
	require.NoError(t, err)
	b, err := jobs.Start(ctx, october, jurisdiction.DefaultYAML(), "admin:DA:a")
	require.NoError(t, err)
	require.True(t, wait.Within(time.Minute, func() bool {
		x, err1 := jobs.Job(ctx, a.ID)
		y, err2 := jobs.Job(ctx, b.ID)
		return err1 == nil && err2 == nil && x.Status == whatif.JobDone && y.Status == whatif.JobDone
	}))
	jobs.Wait()
}
