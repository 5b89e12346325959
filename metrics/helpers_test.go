package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/store"
	"github.com/whistle-city/whistle/store/storetest"
)

// TestMain stops the private PostgreSQL the tests may have started.
func TestMain(m *testing.M) { devtest.Main(m) }

// testDB is a fresh, migrated database: its read model, which the tests
// project incidents into, and its metrics.
type testDB struct {
	*store.Store
	*Metrics
}

// newStore returns a testDB whose clock reads *clock.
func newStore(t testing.TB, clock *time.Time) *testDB {
	t.Helper()
	ctx := context.Background()
	url := devtest.Postgres(t)
	if err := store.Migrate(ctx, url); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(s.Close)
	s.SetClock(func() time.Time { return *clock })
	return &testDB{Store: s, Metrics: New(s.Pool())}
}

// The fixtures of storetest, under the names the tests use.
var (
	t0              = storetest.T0
	due             = storetest.Due
	dueAt           = storetest.DueAt
	itemCG          = storetest.ItemCG
	itemStreet      = storetest.ItemStreet
	lead            = storetest.Lead
	report          = storetest.Report
	newIncident     = storetest.NewIncident
	streetActor     = storetest.StreetActor
	deptActor       = storetest.DeptActor
	clone           = storetest.Clone
	project         = storetest.Project
	step            = storetest.Step
	taskOf          = storetest.TaskOf
	withDuplicateOf = storetest.WithDuplicateOf
)

type ladderRules = storetest.LadderRules

const (
	minute = storetest.Minute
	hour   = storetest.Hour
	day    = storetest.Day
)

func count(t testing.TB, s *testDB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Store.Pool().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func ptr[T any](v T) *T { return &v }
