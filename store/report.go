package store

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Defaults of a MonthlyReportQuery.
const (
	// DefaultReportTop is how many items each top list holds (more when
	// items tie with the last one).
	DefaultReportTop = 10
	// DefaultReportMinRated is the fewest rated return visits an item
	// needs in the month to be in the lowest-satisfaction list.
	DefaultReportMinRated = 5
)

// MonthlyReportQuery says which monthly report to build.
type MonthlyReportQuery struct {
	// Year and Month name the month: its local days in the rollups' time
	// zone (metrics_settings, the district's).
	Year  int
	Month time.Month
	// Street, when not empty, narrows the report to that street: the
	// departments' work on its incidents, its own row of the streets'
	// table (ranked among all streets) and its incidents' items.
	Street string
	// Grading scores and ranks the league tables.
	Grading Grading
	// Top is how many items each list holds; DefaultReportTop when 0 or
	// less. Items tied with the last one are kept.
	Top int
	// MinRated is the fewest rated visits an item needs in the month for
	// the lowest-satisfaction list; DefaultReportMinRated when 0 or less.
	MinRated int
}

// MonthlyReport is the monthly report (月度通报): the league tables of
// departments and streets with the change from the previous month, and the
// candidates for 每月一题 (the month's priority problem): the items with the
// most cases, the most repeats and the lowest satisfaction.
type MonthlyReport struct {
	Month             string    `json:"month" example:"2026-10" doc:"The month, YYYY-MM."`
	PreviousMonth     string    `json:"previous_month" example:"2026-09" doc:"The month compared with."`
	From              time.Time `json:"from" doc:"Start of the month (inclusive): midnight of its first day in the district's time zone."`
	To                time.Time `json:"to" doc:"End of the month (exclusive)."`
	Street            string    `json:"street,omitempty" doc:"Set when the report is narrowed to one street (a street's own report)."`
	DefinitionVersion string    `json:"definition_version" example:"2026-11-v3" doc:"Version of the metric definitions (docs/metrics.md)."`
	Target            float64   `json:"target" example:"0.95" doc:"The satisfaction target (meets_target)."`
	MinCases          int       `json:"min_cases" example:"10" doc:"Rows with fewer dispatched tasks are too_few_cases and not ranked."`
	MinRated          int       `json:"min_rated" example:"5" doc:"Fewest rated return visits an item needs for lowest_satisfaction."`
	Top               int       `json:"top" example:"10" doc:"Items per top list (more when items tie with the last)."`

	Departments []ReportRow `json:"departments" doc:"The departments' league table of the month, ranked; for a street, their work on its incidents."`
	Streets     []ReportRow `json:"streets" doc:"The streets' league table, ranked; for a street, its own row only (rank among all streets)."`

	MostCases          []ItemFigure       `json:"most_cases" doc:"Items with the most incidents reported in the month, duplicates (duplicate_of set) not counted."`
	MostRepeats        []ItemFigure       `json:"most_repeats" doc:"Items with the most repeats (重复诉求: repeat_of set) reported in the month."`
	LowestSatisfaction []ItemSatisfaction `json:"lowest_satisfaction" doc:"Items with at least min_rated rated return visits in the month, lowest satisfaction rate first."`
}

// ReportRow is one row of a league table of the report: the month's row
// and its change from the previous month.
type ReportRow struct {
	Name string `json:"name,omitempty" doc:"The department's or street's name."`
	LeagueRow
	Change LeagueChange `json:"change" doc:"The change from the previous month."`
}

// LeagueChange compares a league row with the same key's row of the
// previous month. Each field is nil when either month lacks the figure.
type LeagueChange struct {
	PreviousScore            *float64 `json:"previous_score" doc:"Last month's weighted score."`
	ScoreDelta               *float64 `json:"score_delta" doc:"This month's score minus last month's."`
	PreviousSatisfactionRate *float64 `json:"previous_satisfaction_rate" doc:"Last month's satisfaction rate."`
	SatisfactionRateDelta    *float64 `json:"satisfaction_rate_delta" doc:"This month's satisfaction rate minus last month's."`
	PreviousRank             *int     `json:"previous_rank" doc:"Last month's rank."`
	RankChange               *int     `json:"rank_change" doc:"Places gained: last month's rank minus this month's (positive = moved up)."`
}

// ItemFigure is an item's count of incidents in the month and in the
// previous month.
type ItemFigure struct {
	Rank          int    `json:"rank" doc:"1 for the most; equal counts share a rank."`
	Item          string `json:"item" example:"SR-001" doc:"Code of the responsibility-list item."`
	Name          string `json:"name" example:"占道经营"`
	Count         int64  `json:"count" doc:"Incidents in the month."`
	PreviousCount int64  `json:"previous_count" doc:"Incidents in the previous month."`
	Change        int64  `json:"change" doc:"count minus previous_count."`
}

// ItemSatisfaction is an item's satisfaction rate over its rated return
// visits in the month, and in the previous month.
type ItemSatisfaction struct {
	Rank                     int      `json:"rank" doc:"1 for the lowest rate; equal rates share a rank."`
	Item                     string   `json:"item" example:"SR-001"`
	Name                     string   `json:"name" example:"占道经营"`
	Rated                    int64    `json:"rated" doc:"Rated return visits in the month."`
	Satisfied                int64    `json:"satisfied" doc:"Of them, satisfied or basically satisfied."`
	SatisfactionRate         float64  `json:"satisfaction_rate" doc:"satisfied / rated."`
	PreviousRated            int64    `json:"previous_rated"`
	PreviousSatisfied        int64    `json:"previous_satisfied"`
	PreviousSatisfactionRate *float64 `json:"previous_satisfaction_rate" doc:"Null when the previous month had no rated visit."`
	SatisfactionRateDelta    *float64 `json:"satisfaction_rate_delta" doc:"This month's rate minus last month's; null with it."`
}

// MonthlyReport builds the monthly report of q. Its league tables come from
// the rollups (League, or for a street the same counters narrowed to its
// incidents, without latencies); the item lists from the incidents table
// (cases and repeats, by reported_at) and the rollups (return visits, on
// the day of the visit), both months in one pass each.
func (s *Store) MonthlyReport(ctx context.Context, q MonthlyReportQuery) (*MonthlyReport, error) {
	if q.Month < time.January || q.Month > time.December {
		return nil, fmt.Errorf("store: monthly report: month %d out of range", q.Month)
	}
	if q.Top <= 0 {
		q.Top = DefaultReportTop
	}
	if q.MinRated <= 0 {
		q.MinRated = DefaultReportMinRated
	}
	loc, err := s.MetricsTimezone(ctx)
	if err != nil {
		return nil, err
	}
	from := time.Date(q.Year, q.Month, 1, 0, 0, 0, 0, loc)
	to, prev := from.AddDate(0, 1, 0), from.AddDate(0, -1, 0)
	r := &MonthlyReport{
		Month: from.Format("2006-01"), PreviousMonth: prev.Format("2006-01"), From: from, To: to, Street: q.Street,
		DefinitionVersion: MetricsDefinitionVersion, Target: q.Grading.Target, MinCases: q.Grading.MinCases,
		MinRated: q.MinRated, Top: q.Top,
	}

	league := func(d Dimension, from, to time.Time) ([]LeagueRow, error) {
		if q.Street != "" && d == ByDepartment {
			return s.streetLeague(ctx, d, from, to, q.Street, q.Grading)
		}
		return s.League(ctx, d, from, to, q.Grading)
	}
	for _, t := range []struct {
		d   Dimension
		out *[]ReportRow
	}{{ByDepartment, &r.Departments}, {ByStreet, &r.Streets}} {
		cur, err := league(t.d, from, to)
		if err != nil {
			return nil, err
		}
		last, err := league(t.d, prev, from)
		if err != nil {
			return nil, err
		}
		rows := compare(cur, last)
		if q.Street != "" && t.d == ByStreet {
			own := []ReportRow{}
			for _, row := range rows {
				if row.Key == q.Street {
					own = append(own, row)
				}
			}
			rows = own
		}
		*t.out = rows
	}

	if r.MostCases, err = s.itemCounts(ctx, "duplicate_of IS NULL", prev, from, to, q.Street, q.Top); err != nil {
		return nil, err
	}
	if r.MostRepeats, err = s.itemCounts(ctx, "repeat_of IS NOT NULL AND duplicate_of IS NULL", prev, from, to, q.Street, q.Top); err != nil {
		return nil, err
	}
	if r.LowestSatisfaction, err = s.itemSatisfaction(ctx, prev, from, to, q.Street, q.Top, q.MinRated); err != nil {
		return nil, err
	}
	return r, nil
}

// compare pairs each row of cur with the row of the same key in last.
func compare(cur, last []LeagueRow) []ReportRow {
	before := make(map[string]*LeagueRow, len(last))
	for i := range last {
		before[last[i].Key] = &last[i]
	}
	out := make([]ReportRow, 0, len(cur))
	for _, row := range cur {
		rr := ReportRow{LeagueRow: row}
		if p := before[row.Key]; p != nil {
			c := &rr.Change
			c.PreviousScore, c.PreviousSatisfactionRate, c.PreviousRank = p.Score, p.SatisfactionRate, p.Rank
			if row.Score != nil && p.Score != nil {
				c.ScoreDelta = ptrFloat(*row.Score - *p.Score)
			}
			if row.SatisfactionRate != nil && p.SatisfactionRate != nil {
				c.SatisfactionRateDelta = ptrFloat(*row.SatisfactionRate - *p.SatisfactionRate)
			}
			if row.Rank != nil && p.Rank != nil {
				n := *p.Rank - *row.Rank
				c.RankChange = &n
			}
		}
		out = append(out, rr)
	}
	return out
}

// streetLeague is League's table of d narrowed to the incidents of street:
// the same counters of metrics_daily (filtered by its street column), the
// same grading and ranking. metrics_latency keeps one dimension per row, so
// it cannot be narrowed to a street: the latencies stay nil.
func (s *Store) streetLeague(ctx context.Context, d Dimension, from, to time.Time, street string, g Grading) ([]LeagueRow, error) {
	byKey, err := s.leagueCounts(ctx, d, from, to, street)
	if err != nil {
		return nil, err
	}
	return finish(byKey, g), nil
}

// itemCounts counts the incidents matching cond reported in [prev, from)
// and in [from, to) per item, in one range of the partial indexes of
// migration 00008, and returns the top items of the month (count > 0).
func (s *Store) itemCounts(ctx context.Context, cond string, prev, from, to time.Time, street string, top int) ([]ItemFigure, error) {
	q := `SELECT category, count(*) FILTER (WHERE reported_at >= $2), count(*) FILTER (WHERE reported_at < $2)
FROM incidents WHERE reported_at >= $1 AND reported_at < $3 AND ` + cond
	args := []any{prev, from, to}
	if street != "" {
		q += ` AND street = $4`
		args = append(args, street)
	}
	rows, err := s.pool.Query(ctx, q+` GROUP BY category`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: report items: %w", err)
	}
	defer rows.Close()
	all := []ItemFigure{}
	for rows.Next() {
		var f ItemFigure
		if err := rows.Scan(&f.Item, &f.Count, &f.PreviousCount); err != nil {
			return nil, fmt.Errorf("store: report items: %w", err)
		}
		if f.Count > 0 {
			f.Change = f.Count - f.PreviousCount
			all = append(all, f)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: report items: %w", err)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Count != all[j].Count {
			return all[i].Count > all[j].Count
		}
		return all[i].Item < all[j].Item
	})
	return rankAndName(ctx, s, all, top, prev, to,
		func(a, b ItemFigure) bool { return a.Count == b.Count },
		func(f *ItemFigure) (string, *int, *string) { return f.Item, &f.Rank, &f.Name })
}

// itemSatisfaction sums the items' rated and satisfied return visits of
// the two months from the rollups (the incident's rows, department ”, as
// League by item) and returns the items with at least minRated rated
// visits in the month, lowest rate first.
func (s *Store) itemSatisfaction(ctx context.Context, prev, from, to time.Time, street string, top, minRated int) ([]ItemSatisfaction, error) {
	q := `SELECT item, sum(rated) FILTER (WHERE day >= $2::date), sum(satisfied) FILTER (WHERE day >= $2::date),
       sum(rated) FILTER (WHERE day < $2::date), sum(satisfied) FILTER (WHERE day < $2::date)
FROM metrics_daily WHERE day >= $1::date AND day < $3::date AND department = ''`
	args := []any{dateOf(prev), dateOf(from), dateOf(to)}
	if street != "" {
		q += ` AND street = $4`
		args = append(args, street)
	}
	rows, err := s.pool.Query(ctx, q+` GROUP BY item`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: report satisfaction: %w", err)
	}
	defer rows.Close()
	all := []ItemSatisfaction{}
	for rows.Next() {
		var it ItemSatisfaction
		var rated, sat, prated, psat *int64
		if err := rows.Scan(&it.Item, &rated, &sat, &prated, &psat); err != nil {
			return nil, fmt.Errorf("store: report satisfaction: %w", err)
		}
		it.Rated, it.Satisfied, it.PreviousRated, it.PreviousSatisfied = deref(rated), deref(sat), deref(prated), deref(psat)
		if it.Rated < int64(minRated) || it.Rated == 0 {
			continue
		}
		it.SatisfactionRate = float64(it.Satisfied) / float64(it.Rated)
		if it.PreviousRated > 0 {
			it.PreviousSatisfactionRate = ptrFloat(float64(it.PreviousSatisfied) / float64(it.PreviousRated))
			it.SatisfactionRateDelta = ptrFloat(it.SatisfactionRate - *it.PreviousSatisfactionRate)
		}
		all = append(all, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: report satisfaction: %w", err)
	}
	// Rates compared exactly, as fractions: a/b < c/d ⇔ a·d < c·b.
	cmp := func(a, b ItemSatisfaction) int64 { return a.Satisfied*b.Rated - b.Satisfied*a.Rated }
	sort.Slice(all, func(i, j int) bool {
		if c := cmp(all[i], all[j]); c != 0 {
			return c < 0
		}
		return all[i].Item < all[j].Item
	})
	return rankAndName(ctx, s, all, top, prev, to,
		func(a, b ItemSatisfaction) bool { return cmp(a, b) == 0 },
		func(it *ItemSatisfaction) (string, *int, *string) { return it.Item, &it.Rank, &it.Name })
}

// rankAndName ranks the sorted items (1, 2, 2, 4: equal ones share a rank),
// keeps those ranked within top, and names them (itemNames over [prev, to)).
// fields gives an item's code and where its rank and name go.
func rankAndName[T any](ctx context.Context, s *Store, all []T, top int, prev, to time.Time,
	equal func(a, b T) bool, fields func(*T) (code string, rank *int, name *string)) ([]T, error) {
	for i := range all {
		_, rank, _ := fields(&all[i])
		*rank = i + 1
		if i > 0 && equal(all[i], all[i-1]) {
			_, prevRank, _ := fields(&all[i-1])
			*rank = *prevRank
		}
		if *rank > top {
			all = all[:i]
			break
		}
	}
	codes := make([]string, len(all))
	for i := range all {
		codes[i], _, _ = fields(&all[i])
	}
	names, err := s.itemNames(ctx, codes, prev, to)
	if err != nil {
		return nil, err
	}
	for i := range all {
		code, _, name := fields(&all[i])
		*name = names[code]
	}
	return all, nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// itemNames returns the names of the items codes: the latest version's in
// the responsibility list (catalogue_items, retired items too), else, for
// an item never written there, the name one of its incidents of [from, to)
// was reported with. It reads a few rows per item: the counts above stay
// index-only because they leave the names out.
func (s *Store) itemNames(ctx context.Context, codes []string, from, to time.Time) (map[string]string, error) {
	names := map[string]string{}
	if len(codes) == 0 {
		return names, nil
	}
	rows, err := s.pool.Query(ctx, `
SELECT c.code, coalesce(
    (SELECT body->>'name' FROM catalogue_items ci WHERE ci.code = c.code ORDER BY version DESC LIMIT 1),
    (SELECT item_name FROM incidents i WHERE i.category = c.code AND i.reported_at >= $2 AND i.reported_at < $3
       AND i.duplicate_of IS NULL LIMIT 1),
    '')
FROM unnest($1::text[]) AS c(code)`, codes, from, to)
	if err != nil {
		return nil, fmt.Errorf("store: report item names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code, name string
		if err := rows.Scan(&code, &name); err != nil {
			return nil, fmt.Errorf("store: report item names: %w", err)
		}
		names[code] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: report item names: %w", err)
	}
	return names, nil
}

// NameRows sets the names of the league rows from the given maps of
// department and street codes to names (a code not in them keeps no name).
func (r *MonthlyReport) NameRows(departments, streets map[string]string) {
	for i := range r.Departments {
		r.Departments[i].Name = departments[r.Departments[i].Key]
	}
	for i := range r.Streets {
		r.Streets[i].Name = streets[r.Streets[i].Key]
	}
}
