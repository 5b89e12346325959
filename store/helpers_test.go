package store

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/whistle-city/whistle/devstack/devtest"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store/storetest"
)

// TestMain stops the private PostgreSQL the tests may have started.
func TestMain(m *testing.M) { devtest.Main(m) }

// freshDB returns the URL of an empty database of its own for this test,
// dropped when the test ends (DATABASE_URL's server, else a private one).
func freshDB(t testing.TB) string {
	return devtest.Postgres(t)
}

// newStore returns a Store on a fresh, migrated database whose clock reads
// *clock.
func newStore(t testing.TB, clock *time.Time) *Store {
	t.Helper()
	ctx := context.Background()
	dbURL := freshDB(t)
	if err := Migrate(ctx, dbURL); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s, err := Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(s.Close)
	s.SetClock(func() time.Time { return *clock })
	return s
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

const (
	minute = storetest.Minute
	hour   = storetest.Hour
	day    = storetest.Day
)

func ids(items []*incident.Incident) []string {
	out := make([]string, len(items))
	for i, in := range items {
		out[i] = in.ID
	}
	return out
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func count(t testing.TB, s *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func ptr[T any](v T) *T { return &v }

// mustJSON is v as JSON, for comparing snapshots independently of time
// zones and pointer identity.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
