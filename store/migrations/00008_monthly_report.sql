-- The monthly report (issue 5, GET /v1/reports/monthly, whistle report):
-- per item, the incidents reported in a month and in the month before it,
-- duplicates left out, and the repeats (重复诉求) among them, for the whole
-- district or for one street. Each is a count grouped by category over two
-- months of reported_at: at district scale (a million incidents a month)
-- reading the table rows behind incidents_category_reported only to test
-- duplicate_of and repeat_of would touch every row of the two months. The
-- partial indexes below carry exactly the rows each list counts, with
-- category in the key, so each list can be one index-only range scan (the
-- query leaves item names out for that; store.itemNames looks them up for
-- the few listed items). The satisfaction list reads the rollups
-- (metrics_daily) by their day key.

-- +goose Up

-- Cases, district: incidents that are no duplicate, by report time.
CREATE INDEX incidents_report_cases ON incidents (reported_at, category)
    WHERE duplicate_of IS NULL;

-- Cases, one street (a street's own report).
CREATE INDEX incidents_report_cases_street ON incidents (street, reported_at, category)
    WHERE duplicate_of IS NULL;

-- Repeats, district and one street: few rows (only repeats), so one index
-- with street after the time serves both; a street's scan of a month's
-- repeats filters on the index entries.
CREATE INDEX incidents_report_repeats ON incidents (reported_at, street, category)
    WHERE repeat_of IS NOT NULL AND duplicate_of IS NULL;

-- +goose Down
DROP INDEX incidents_report_repeats;
DROP INDEX incidents_report_cases_street;
DROP INDEX incidents_report_cases;
