-- Duplicates and repeats (issue 4). A report of the same item within
-- duplicates.distance_m (default 50 m) of an incident still open that was
-- reported at most duplicates.window (24 h) before it is a duplicate of that
-- incident; otherwise, within the same distance of one closed at most
-- duplicates.repeat_window (30 days) before it, a repeat (重复诉求).
--
-- The dispatcher asks this (store.Near) once for every report, before it
-- starts the report's workflow, so the question has to stay cheap at
-- district scale (tens of thousands of reports a day) and without PostGIS.
-- Near narrows in three steps, each served by the index below it: the
-- report's item (category), a time range (the window), and a bounding box of
-- latitude and longitude around the report, a few metres square; only rows
-- inside the box are read from the table and measured with the haversine
-- formula.

-- +goose Up

-- lat and lng are the report's location in degrees (WGS 84), NULL when it
-- has none: the API takes {lat: 0, lng: 0} as "no location given", and such
-- a report is never linked, nor linked to.
--
-- duplicate_of and repeat_of mirror the snapshot's links (doc holds them
-- too) so that lists can filter on them, and so that an incident that is
-- itself a duplicate is never taken as an original. Every snapshot projected
-- before this migration has both null, so only the location is backfilled.
ALTER TABLE incidents
    ADD COLUMN lat          double precision,
    ADD COLUMN lng          double precision,
    ADD COLUMN duplicate_of text,
    ADD COLUMN repeat_of    text;

UPDATE incidents
SET lat = (doc -> 'location' ->> 'lat')::double precision,
    lng = (doc -> 'location' ->> 'lng')::double precision
WHERE coalesce((doc -> 'location' ->> 'lat')::double precision, 0) <> 0
   OR coalesce((doc -> 'location' ->> 'lng')::double precision, 0) <> 0;

-- Duplicates: incidents of the item reported within the window before the
-- report. (category, reported_at) makes that one index range scan; lat and
-- lng as trailing key columns let the bounding box be checked on the index
-- entries themselves, so a table row is visited only for the few candidates
-- inside the box (for its status, and the exact distance). Partial: an
-- incident without a location, or one that is itself a duplicate, can never
-- be an original. Rows still "received" are in it: the API writes them
-- before it publishes the report, which is what lets two reports dispatched
-- at the same moment see each other.
CREATE INDEX incidents_near_open ON incidents (category, reported_at, lat, lng)
    WHERE duplicate_of IS NULL AND lat IS NOT NULL;

-- Repeats: closed incidents of the item, by when they closed (the repeat
-- window counts from the closing); the box again on the index entries.
-- Only closed rows are in it: an incident enters it when it closes.
CREATE INDEX incidents_near_closed ON incidents (category, closed_at, lat, lng)
    WHERE status = 'closed' AND duplicate_of IS NULL AND lat IS NOT NULL;

-- GET /v1/incidents?duplicate_of=<id>: the duplicates of one incident, in
-- list order. Partial: most incidents are no duplicate.
CREATE INDEX incidents_duplicate_of ON incidents (duplicate_of, reported_at DESC, id DESC)
    WHERE duplicate_of IS NOT NULL;

-- GET /v1/incidents?repeat=true: a street looks for its repeats, newest
-- first.
CREATE INDEX incidents_repeat_street_newest ON incidents (street, reported_at DESC, id DESC)
    WHERE repeat_of IS NOT NULL;

-- +goose Down
DROP INDEX incidents_repeat_street_newest;
DROP INDEX incidents_duplicate_of;
DROP INDEX incidents_near_closed;
DROP INDEX incidents_near_open;
ALTER TABLE incidents
    DROP COLUMN repeat_of,
    DROP COLUMN duplicate_of,
    DROP COLUMN lng,
    DROP COLUMN lat;
