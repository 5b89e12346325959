package metrics

import (
	"reflect"
	"testing"
)

// TestDifferenceChanges: what metrics check prints for a differing row.
func TestDifferenceChanges(t *testing.T) {
	one, half := 1, 0.5
	rollup := LeagueRow{Key: "CG", Counts: Counts{Tasks: 3, Visits: 2}, ResolutionRate: &half, Rank: &one,
		ack: Histogram{1: 2}, complete: Histogram{}}
	record := rollup
	record.Counts.Tasks = 2
	record.Rank = nil
	record.ack = Histogram{1: 1, 3: 1}

	for _, c := range []struct {
		name string
		d    Difference
		want []string
	}{
		{"counter, rank and latencies", Difference{Dimension: ByDepartment, Key: "CG", Rollup: &rollup, Record: &record},
			[]string{"tasks: 3 ≠ 2", "rank: 1 ≠ null", "ack latencies"}},
		{"equal rows", Difference{Rollup: &rollup, Record: &rollup}, nil},
		{"no rollup row", Difference{Record: &record}, []string{"no row in the rollups"}},
		{"no record row", Difference{Rollup: &rollup}, []string{"no row in the record"}},
		{"a month", Difference{Dimension: ByMonth, Key: "2026-10 CG/FH/SR-001/市容环境"}, nil},
	} {
		if got := c.d.Changes(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Changes() = %q, want %q", c.name, got, c.want)
		}
	}
}
