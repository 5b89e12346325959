package metrics

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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
	// Channel, when not empty, narrows the report to the incidents that
	// came in by that channel (incident.ChannelOf): both league tables,
	// without latencies, and the items.
	Channel string
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
	Channel           string    `json:"channel,omitempty" doc:"Set when the report is narrowed to the incidents of one channel (grid, hotline, api, delegation, open311:<client>); its league tables then have no latencies."`
	DefinitionVersion string    `json:"definition_version" example:"2026-12-v4" doc:"Version of the metric definitions (docs/metrics.md)."`
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

// MonthlyReport builds the monthly report of q, all from the monthly
// rollups: the league tables (League; last month's, and for a street the
// departments' work on its incidents, without latencies) and the item lists
// (incidents and repeats on the day reported, return visits on the day of
// the visit), both months of the item lists in one read; all of it from
// one snapshot, so its tables agree while projections commit.
func (m *Metrics) MonthlyReport(ctx context.Context, q MonthlyReportQuery) (*MonthlyReport, error) {
	if q.Month < time.January || q.Month > time.December {
		return nil, fmt.Errorf("metrics: monthly report: month %d out of range", q.Month)
	}
	if q.Top <= 0 {
		q.Top = DefaultReportTop
	}
	if q.MinRated <= 0 {
		q.MinRated = DefaultReportMinRated
	}
	var r *MonthlyReport
	err := m.inSnapshot(ctx, func(tx pgx.Tx) error {
		var err error
		r, err = monthlyReport(ctx, tx, q)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// monthlyReport is MonthlyReport on db.
func monthlyReport(ctx context.Context, db querier, q MonthlyReportQuery) (*MonthlyReport, error) {
	loc, err := metricsTimezone(ctx, db)
	if err != nil {
		return nil, err
	}
	from := time.Date(q.Year, q.Month, 1, 0, 0, 0, 0, loc)
	to, prev := from.AddDate(0, 1, 0), from.AddDate(0, -1, 0)
	r := &MonthlyReport{
		Month: from.Format("2006-01"), PreviousMonth: prev.Format("2006-01"), From: from, To: to, Street: q.Street, Channel: q.Channel,
		DefinitionVersion: DefinitionVersion, Target: q.Grading.Target, MinCases: q.Grading.MinCases,
		MinRated: q.MinRated, Top: q.Top,
	}

	for _, t := range []struct {
		d   Dimension
		out *[]ReportRow
	}{{ByDepartment, &r.Departments}, {ByStreet, &r.Streets}} {
		// A street's report narrows the departments' table to its
		// incidents (its row of the streets' table is ranked among all);
		// a channel's narrows both.
		n := narrow{channel: q.Channel}
		if t.d == ByDepartment {
			n.street = q.Street
		}
		var cur []LeagueRow
		if n != (narrow{}) {
			cur, err = countsLeague(ctx, db, t.d, from, to, n, q.Grading)
		} else {
			cur, err = league(ctx, db, t.d, from, to, q.Grading)
		}
		if err != nil {
			return nil, err
		}
		// Last month's score, satisfaction and rank do not need its
		// latencies.
		last, err := countsLeague(ctx, db, t.d, prev, from, n, q.Grading)
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

	items, err := itemMonths(ctx, db, prev, from, narrow{q.Street, q.Channel})
	if err != nil {
		return nil, err
	}
	if r.MostCases, err = itemCounts(ctx, db, items, func(m *itemMonth) [2]int64 { return m.incidents }, prev, to, q.Top); err != nil {
		return nil, err
	}
	if r.MostRepeats, err = itemCounts(ctx, db, items, func(m *itemMonth) [2]int64 { return m.repeats }, prev, to, q.Top); err != nil {
		return nil, err
	}
	if r.LowestSatisfaction, err = itemSatisfaction(ctx, db, items, prev, to, q.Top, q.MinRated); err != nil {
		return nil, err
	}
	return r, nil
}

// itemMonth is what the report lists of an item, this month ([0]) and
// last month ([1]): incidents reported (duplicates left out), repeats
// among them, rated return visits and satisfied ones.
type itemMonth struct {
	item                                 string
	incidents, repeats, rated, satisfied [2]int64
}

// itemMonths reads the items' figures of the months from and prev from
// the monthly rollups (the incident's rows, department ""), for the whole
// district or one street's incidents.
func itemMonths(ctx context.Context, db querier, prev, from time.Time, n narrow) ([]*itemMonth, error) {
	rows, err := db.Query(ctx, `
SELECT item, `+strings.Join(func() []string {
		var out []string
		for _, c := range []string{"incidents", "repeats", "rated", "satisfied"} {
			out = append(out, "coalesce(sum("+c+") FILTER (WHERE month = $2::date), 0)", "coalesce(sum("+c+") FILTER (WHERE month = $1::date), 0)")
		}
		return out
	}(), ", ")+`
FROM metrics_monthly
WHERE month IN ($1::date, $2::date) AND department = '' AND ($3 = '' OR street = $3) AND ($4 = '' OR channel = $4)
GROUP BY item`, dateOf(prev), dateOf(from), n.street, n.channel)
	if err != nil {
		return nil, fmt.Errorf("metrics: report items: %w", err)
	}
	defer rows.Close()
	var out []*itemMonth
	for rows.Next() {
		m := &itemMonth{}
		if err := rows.Scan(&m.item, &m.incidents[0], &m.incidents[1], &m.repeats[0], &m.repeats[1],
			&m.rated[0], &m.rated[1], &m.satisfied[0], &m.satisfied[1]); err != nil {
			return nil, fmt.Errorf("metrics: report items: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("metrics: report items: %w", err)
	}
	return out, nil
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

// countsLeague is League's table of d without the latencies, for the
// whole district or narrowed by n to the incidents of a street or a
// channel: the same counters (filtered by their street and channel
// columns), the same grading and ranking. The latency rollups keep one
// dimension per row, so they cannot be narrowed; the latencies stay nil.
func countsLeague(ctx context.Context, db querier, d Dimension, from, to time.Time, n narrow, g Grading) ([]LeagueRow, error) {
	byKey, err := leagueCounts(ctx, db, d, from, to, n)
	if err != nil {
		return nil, err
	}
	return finish(byKey, g), nil
}

// itemCounts returns the top items of the month by the count figure
// picks (this month, last month), those with a count this month only.
func itemCounts(ctx context.Context, db querier, items []*itemMonth, figure func(*itemMonth) [2]int64, prev, to time.Time, top int) ([]ItemFigure, error) {
	all := []ItemFigure{}
	for _, m := range items {
		n := figure(m)
		if n[0] > 0 {
			all = append(all, ItemFigure{Item: m.item, Count: n[0], PreviousCount: n[1], Change: n[0] - n[1]})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Count != all[j].Count {
			return all[i].Count > all[j].Count
		}
		return all[i].Item < all[j].Item
	})
	return rankAndName(ctx, db, all, top, prev, to,
		func(a, b ItemFigure) bool { return a.Count == b.Count },
		func(f *ItemFigure) (string, *int, *string) { return f.Item, &f.Rank, &f.Name })
}

// itemSatisfaction returns the items with at least minRated rated visits
// in the month, lowest satisfaction rate first.
func itemSatisfaction(ctx context.Context, db querier, items []*itemMonth, prev, to time.Time, top, minRated int) ([]ItemSatisfaction, error) {
	all := []ItemSatisfaction{}
	for _, m := range items {
		it := ItemSatisfaction{Item: m.item, Rated: m.rated[0], Satisfied: m.satisfied[0],
			PreviousRated: m.rated[1], PreviousSatisfied: m.satisfied[1]}
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
	// Rates compared exactly, as fractions: a/b < c/d ⇔ a·d < c·b.
	cmp := func(a, b ItemSatisfaction) int64 { return a.Satisfied*b.Rated - b.Satisfied*a.Rated }
	sort.Slice(all, func(i, j int) bool {
		if c := cmp(all[i], all[j]); c != 0 {
			return c < 0
		}
		return all[i].Item < all[j].Item
	})
	return rankAndName(ctx, db, all, top, prev, to,
		func(a, b ItemSatisfaction) bool { return cmp(a, b) == 0 },
		func(it *ItemSatisfaction) (string, *int, *string) { return it.Item, &it.Rank, &it.Name })
}

// rankAndName ranks the sorted items (1, 2, 2, 4: equal ones share a rank),
// keeps those ranked within top, and names them (itemNames over [prev, to)).
// fields gives an item's code and where its rank and name go.
func rankAndName[T any](ctx context.Context, db querier, all []T, top int, prev, to time.Time,
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
	names, err := itemNames(ctx, db, codes, prev, to)
	if err != nil {
		return nil, err
	}
	for i := range all {
		code, _, name := fields(&all[i])
		*name = names[code]
	}
	return all, nil
}

// itemNames returns the names of the items codes: the latest version's in
// the responsibility list (catalogue_items, retired items too), else, for
// an item never written there, the name one of its incidents of [from, to)
// was reported with. It reads a few rows per item, for the listed items
// only.
func itemNames(ctx context.Context, db querier, codes []string, from, to time.Time) (map[string]string, error) {
	names := map[string]string{}
	if len(codes) == 0 {
		return names, nil
	}
	rows, err := db.Query(ctx, `
SELECT c.code, coalesce(
    (SELECT body->>'name' FROM catalogue_items ci WHERE ci.code = c.code ORDER BY version DESC LIMIT 1),
    (SELECT item_name FROM incidents i WHERE i.category = c.code AND i.reported_at >= $2 AND i.reported_at < $3
       AND i.duplicate_of IS NULL LIMIT 1),
    '')
FROM unnest($1::text[]) AS c(code)`, codes, from, to)
	if err != nil {
		return nil, fmt.Errorf("metrics: report item names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code, name string
		if err := rows.Scan(&code, &name); err != nil {
			return nil, fmt.Errorf("metrics: report item names: %w", err)
		}
		names[code] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("metrics: report item names: %w", err)
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
