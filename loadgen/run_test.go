package loadgen_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/loadgen"
)

var testSecret = []byte("bench-test-secret")

func startFake(t *testing.T, f *fakeAPI) string {
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func config(url string) loadgen.Config {
	return loadgen.Config{
		BaseURL: url, Secret: testSecret, N: 40, Concurrency: 8, Timeout: time.Minute,
		IncidentTimeout: 20 * time.Second, PollInterval: 5 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	}
}

// TestRunPolling drives every incident to closed through retries of lost
// report answers and refused acks, finding tasks by polling.
func TestRunPolling(t *testing.T) {
	f := newFakeAPI(t, testSecret)
	f.dispatchAfter, f.readLag = 10*time.Millisecond, 150*time.Millisecond
	f.lostReplyEvery = 5
	f.conflictFirstAck = true

	res, err := loadgen.Run(context.Background(), config(startFake(t, f)))
	require.NoError(t, err)
	t.Log("\n" + res.String())

	assert.Equal(t, 40, res.N)
	assert.Equal(t, 40, res.Closed)
	assert.Zero(t, res.Failed)
	assert.Equal(t, "poll", res.TaskSignal)
	all, closed := f.count()
	assert.Equal(t, 40, all, "a retried report must not create a second incident")
	assert.Equal(t, 40, closed)

	assert.Equal(t, 8, res.Errors["report:http_503"], "every fifth report answer was lost")
	// SR-001 (two tasks) and SR-002 (one task) alternate: 20·2 + 20·1 first acks refused.
	assert.Equal(t, 60, res.Errors["ack:http_409"])
	assert.Empty(t, res.Failures)

	// Polling only sees the tasks once the read model shows them.
	assert.Equal(t, 40, res.ReportToTask.Count)
	assert.GreaterOrEqual(t, res.ReportToTask.P50, f.dispatchAfter+f.readLag)
	assert.Equal(t, 40, res.Loop.Count)
	assert.GreaterOrEqual(t, res.Loop.P50, res.ReportToTask.P50/2)
	assert.LessOrEqual(t, res.Loop.Max, res.Wall)
	assert.Greater(t, res.Throughput(), 0.0)
}

// TestRunRidesOutALostServer spreads requests over two roots of the same
// API, one of which is gone: each request that meets the dead one is
// retried on the other, and every incident closes exactly once.
func TestRunRidesOutALostServer(t *testing.T) {
	f := newFakeAPI(t, testSecret)
	live := startFake(t, f)
	dead := httptest.NewServer(f.handler())
	deadURL := dead.URL
	dead.Close()

	cfg := config(deadURL)
	cfg.OtherURLs = []string{live}
	cfg.RunID = "lost-server"
	res, err := loadgen.Run(context.Background(), cfg)
	require.NoError(t, err)
	t.Log("\n" + res.String())

	assert.Equal(t, "lost-server", res.RunID)
	assert.Equal(t, 40, res.Closed)
	assert.Zero(t, res.Failed)
	assert.Positive(t, res.Errors["report:network"], "about half the reports met the dead server first")
	all, closed := f.count()
	assert.Equal(t, 40, all)
	assert.Equal(t, 40, closed)
}

// TestRunNATS sees task creation on whistle.tasks.> as it is published,
// before the (lagging) read model shows it.
func TestRunNATS(t *testing.T) {
	natsURL := devtest.NATS(t)
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	t.Cleanup(nc.Close)

	f := newFakeAPI(t, testSecret)
	f.nc = nc
	f.dispatchAfter, f.readLag = 10*time.Millisecond, 400*time.Millisecond

	cfg := config(startFake(t, f))
	cfg.NATSURL = natsURL
	cfg.Categories = []string{"SR-001"}
	res, err := loadgen.Run(context.Background(), cfg)
	require.NoError(t, err)
	t.Log("\n" + res.String())

	assert.Equal(t, "nats", res.TaskSignal)
	assert.Equal(t, 40, res.Closed)
	assert.Zero(t, res.Failed)
	assert.Zero(t, res.Errors["nats:task_event_missing"])
	assert.Zero(t, res.Errors["nats:decode"])
	assert.Less(t, res.ReportToTask.Max, f.dispatchAfter+f.readLag, "the event comes before the read model shows the tasks")
	assert.GreaterOrEqual(t, res.Loop.P50, f.dispatchAfter+f.readLag, "departments act once they can read their tasks")
	f.mu.Lock()
	assert.NoError(t, f.publishErr)
	f.mu.Unlock()
}

// TestRunNATSWithoutEvents still closes every incident when no task event
// ever arrives, finding the tasks by the slow fallback reads, and says so.
func TestRunNATSWithoutEvents(t *testing.T) {
	f := newFakeAPI(t, testSecret) // no NATS connection: publishes nothing
	cfg := config(startFake(t, f))
	cfg.NATSURL = devtest.NATS(t)
	cfg.N, cfg.Concurrency = 8, 8
	res, err := loadgen.Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, "nats", res.TaskSignal)
	assert.Equal(t, 8, res.Closed)
	assert.Equal(t, 8, res.Errors["nats:task_event_missing"])
	assert.Equal(t, 8, res.ReportToTask.Count)
}

// TestRunCountsFailures counts an incident the server will not let close as
// failed, by the step that failed, and keeps it out of the latencies.
func TestRunCountsFailures(t *testing.T) {
	f := newFakeAPI(t, testSecret)
	f.rejectVerify = "SR-002"
	cfg := config(startFake(t, f))
	cfg.N = 10
	res, err := loadgen.Run(context.Background(), cfg)
	require.NoError(t, err)

	assert.Equal(t, 5, res.Closed)
	assert.Equal(t, 5, res.Failed)
	assert.Equal(t, map[string]int{"verify:http_422": 5}, res.Failures)
	assert.Equal(t, 5, res.Errors["verify:http_422"], "a 422 is not retried")
	assert.Equal(t, 5, res.Loop.Count)
	assert.Equal(t, 5, res.ReportToTask.Count)
}

// TestRunDeadline fails incidents whose tasks never come out, within the
// incident timeout.
func TestRunDeadline(t *testing.T) {
	f := newFakeAPI(t, testSecret)
	f.dispatchAfter = time.Hour
	cfg := config(startFake(t, f))
	cfg.N, cfg.Concurrency, cfg.IncidentTimeout = 4, 4, 200*time.Millisecond
	start := time.Now()
	res, err := loadgen.Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Equal(t, 4, res.Failed)
	assert.Equal(t, map[string]int{"read:deadline": 4}, res.Failures)
	assert.Zero(t, res.Loop.Count)
}

func TestRunRefusesBadSetup(t *testing.T) {
	url := startFake(t, newFakeAPI(t, testSecret))

	cfg := config(url)
	cfg.Categories = []string{"NOPE"}
	_, err := loadgen.Run(context.Background(), cfg)
	assert.ErrorIs(t, err, loadgen.ErrSetup)

	cfg.Categories = []string{"ST-001"}
	_, err = loadgen.Run(context.Background(), cfg)
	assert.ErrorIs(t, err, loadgen.ErrSetup, "a street-tier item is not driven")

	cfg = config(url)
	cfg.Secret = []byte("wrong secret")
	_, err = loadgen.Run(context.Background(), cfg)
	assert.ErrorIs(t, err, loadgen.ErrSetup)
	assert.ErrorContains(t, err, "http_401")

	cfg = config("http://192.0.2.1:8080")
	_, err = loadgen.Run(context.Background(), cfg)
	assert.ErrorIs(t, err, loadgen.ErrConfig, "only this machine unless allowed")

	cfg = config(url)
	cfg.NATSURL = "nats://192.0.2.1:4222"
	_, err = loadgen.Run(context.Background(), cfg)
	assert.ErrorIs(t, err, loadgen.ErrConfig)

	cfg = config(url)
	cfg.OtherURLs = []string{"http://192.0.2.1:8080"}
	_, err = loadgen.Run(context.Background(), cfg)
	assert.ErrorIs(t, err, loadgen.ErrConfig, "every root obeys the loopback rule")

	cfg = config(url)
	cfg.RunID = "run id with spaces"
	_, err = loadgen.Run(context.Background(), cfg)
	assert.ErrorIs(t, err, loadgen.ErrConfig)

	cfg = config(url)
	cfg.Secret = nil
	_, err = loadgen.Run(context.Background(), cfg)
	assert.ErrorIs(t, err, loadgen.ErrConfig)
}
