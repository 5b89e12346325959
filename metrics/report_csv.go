package metrics

import (
	"encoding/csv"
	"io"
	"math"
	"strconv"
)

// Sections of the monthly report's CSV layout, in the order written.
const (
	SectionDepartments        = "departments"
	SectionStreets            = "streets"
	SectionMostCases          = "most_cases"
	SectionMostRepeats        = "most_repeats"
	SectionLowestSatisfaction = "lowest_satisfaction"
)

// ReportCSVColumns is the header of the monthly report's CSV layout (one
// table for a spreadsheet: the section column says which part of the
// report a row belongs to; a column a section does not have is empty, as
// is a figure that is null in the JSON).
var ReportCSVColumns = []string{
	"section", "month", "rank", "key", "name",
	"score", "previous_score", "score_delta", "previous_rank", "rank_change",
	"satisfaction_rate", "previous_satisfaction_rate", "satisfaction_rate_delta", "rated", "satisfied", "previous_rated",
	"response_rate", "on_time_resolution_rate", "resolution_rate", "mean_rating", "tasks", "meets_target", "too_few_cases",
	"count", "previous_count", "count_change",
	"definition_version",
	// Added with definitions v4 (after the others, so that positions hold).
	"ack_pending", "resolve_pending", "response_target_met", "on_time_resolution_target_met", "resolution_target_met",
	"satisfaction_target_met", "meets_all_targets",
}

// WriteCSV writes r in the CSV layout of ReportCSVColumns (docs/api.md):
// a UTF-8 byte order mark (so that spreadsheets read the Chinese names as
// UTF-8), the header, then the rows of each section in the order of the
// JSON. Rates and scores are fractions rounded to 6 decimals.
func (r *MonthlyReport) WriteCSV(w io.Writer) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(ReportCSVColumns); err != nil {
		return err
	}
	col := make(map[string]int, len(ReportCSVColumns))
	for i, c := range ReportCSVColumns {
		col[c] = i
	}
	row := func(section string, set map[string]string) error {
		rec := make([]string, len(ReportCSVColumns))
		rec[0], rec[col["month"]], rec[col["definition_version"]] = section, r.Month, r.DefinitionVersion
		for k, v := range set {
			rec[col[k]] = v
		}
		return cw.Write(rec)
	}
	for _, t := range []struct {
		section string
		rows    []ReportRow
	}{{SectionDepartments, r.Departments}, {SectionStreets, r.Streets}} {
		for _, x := range t.rows {
			if err := row(t.section, map[string]string{
				"rank": csvInt(x.Rank), "key": x.Key, "name": x.Name,
				"score": csvFloat(x.Score), "previous_score": csvFloat(x.Change.PreviousScore), "score_delta": csvFloat(x.Change.ScoreDelta),
				"previous_rank": csvInt(x.Change.PreviousRank), "rank_change": csvInt(x.Change.RankChange),
				"satisfaction_rate": csvFloat(x.SatisfactionRate), "previous_satisfaction_rate": csvFloat(x.Change.PreviousSatisfactionRate),
				"satisfaction_rate_delta": csvFloat(x.Change.SatisfactionRateDelta),
				"rated":                   strconv.FormatInt(x.Rated, 10), "satisfied": strconv.FormatInt(x.Satisfied, 10),
				"response_rate": csvFloat(x.ResponseRate), "on_time_resolution_rate": csvFloat(x.OnTimeResolutionRate),
				"resolution_rate": csvFloat(x.ResolutionRate), "mean_rating": csvFloat(x.MeanRating),
				"tasks": strconv.FormatInt(x.Tasks, 10), "meets_target": strconv.FormatBool(x.MeetsTarget),
				"too_few_cases": strconv.FormatBool(x.TooFewCases),
				"ack_pending":   strconv.FormatInt(x.AckPending, 10), "resolve_pending": strconv.FormatInt(x.ResolvePending, 10),
				"response_target_met": csvBool(x.TargetsMet.Response), "on_time_resolution_target_met": csvBool(x.TargetsMet.OnTimeResolution),
				"resolution_target_met": csvBool(x.TargetsMet.Resolution), "satisfaction_target_met": csvBool(x.TargetsMet.Satisfaction),
				"meets_all_targets": strconv.FormatBool(x.MeetsAllTargets),
			}); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		section string
		items   []ItemFigure
	}{{SectionMostCases, r.MostCases}, {SectionMostRepeats, r.MostRepeats}} {
		for _, x := range t.items {
			if err := row(t.section, map[string]string{
				"rank": strconv.Itoa(x.Rank), "key": x.Item, "name": x.Name,
				"count": strconv.FormatInt(x.Count, 10), "previous_count": strconv.FormatInt(x.PreviousCount, 10),
				"count_change": strconv.FormatInt(x.Change, 10),
			}); err != nil {
				return err
			}
		}
	}
	for _, x := range r.LowestSatisfaction {
		if err := row(SectionLowestSatisfaction, map[string]string{
			"rank": strconv.Itoa(x.Rank), "key": x.Item, "name": x.Name,
			"satisfaction_rate": csvFloat(&x.SatisfactionRate), "previous_satisfaction_rate": csvFloat(x.PreviousSatisfactionRate),
			"satisfaction_rate_delta": csvFloat(x.SatisfactionRateDelta),
			"rated":                   strconv.FormatInt(x.Rated, 10), "satisfied": strconv.FormatInt(x.Satisfied, 10),
			"previous_rated": strconv.FormatInt(x.PreviousRated, 10),
		}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvFloat is f rounded to 6 decimals, or "" for nil.
func csvFloat(f *float64) string {
	if f == nil {
		return ""
	}
	v := math.Round(*f*1e6) / 1e6
	if v == 0 {
		v = 0 // no "-0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// csvInt is *n, or "" for nil.
func csvInt(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

// csvBool is *b, or "" for nil.
func csvBool(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}
