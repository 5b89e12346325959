package whatif

import (
	"encoding/csv"
	"io"
	"slices"
	"strconv"
)

// WriteCSV writes the comparison for a spreadsheet, one number per line:
// dimension (departments, streets, items, or district for the escalation
// levels), key, measure (rank, score, a rate, a counter that changed, an
// escalation level), current, proposed and change; an empty cell is
// null. The flips and refused steps are in the JSON answer.
func (a *Answer) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"month", "dimension", "key", "measure", "current", "proposed", "change"})
	f := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	n := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	row := func(dim, key, measure, x, y, z string) { _ = cw.Write([]string{a.Month, dim, key, measure, x, y, z}) }
	for _, t := range []struct {
		dim  string
		rows []RowChange
	}{{"departments", a.Changes.Departments}, {"streets", a.Changes.Streets}, {"items", a.Changes.Items}} {
		for _, r := range t.rows {
			row(t.dim, r.Key, "rank", n(r.Rank.Current), n(r.Rank.Proposed), n(r.Rank.Change))
			row(t.dim, r.Key, "score", f(r.Score.Current), f(r.Score.Proposed), f(r.Score.Change))
			for _, k := range sortedKeys(r.Rates) {
				d := r.Rates[k]
				row(t.dim, r.Key, k, f(d.Current), f(d.Proposed), f(d.Change))
			}
			row(t.dim, r.Key, "meets_all_targets", strconv.FormatBool(r.MeetsAllTargets.Current), strconv.FormatBool(r.MeetsAllTargets.Proposed), "")
			for _, k := range sortedKeys(r.Counts) {
				d := r.Counts[k]
				row(t.dim, r.Key, k, n(d.Current), n(d.Proposed), n(d.Change))
			}
		}
	}
	for _, k := range sortedKeys(a.Changes.Levels) {
		d := a.Changes.Levels[k]
		row("district", "", k, n(d.Current), n(d.Proposed), n(d.Change))
	}
	cw.Flush()
	return cw.Error()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
