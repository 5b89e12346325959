package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/incident"
)

// earthRadiusM is the mean radius of the Earth in metres (IUGG), the sphere
// on which Near measures distances.
const earthRadiusM = 6371008.8

// NearRules are the thresholds of Near: the jurisdiction's duplicates
// section (jurisdiction.Duplicates) in plain units.
type NearRules struct {
	// DistanceM is how far apart, in metres, two reports of an item may be
	// and still be at the same place.
	DistanceM float64
	// Window: an open incident reported at most this long before the report
	// makes it a duplicate. Zero or less: no duplicates.
	Window time.Duration
	// RepeatWindow: an incident closed at most this long before the report
	// makes it a repeat. Zero or less: no repeats.
	RepeatWindow time.Duration
}

// Link is what Near found for a report; at most one field is set.
type Link struct {
	// DuplicateOf is the open incident the report duplicates.
	DuplicateOf string
	// RepeatOf is the closed incident the report repeats (重复诉求).
	RepeatOf string
}

// Near finds the incident a report r is linked to, by its id, category,
// location and reported_at:
//
//   - a duplicate: the earliest-reported incident of the same category
//     within rules.DistanceM of r that is not closed or rejected (rows still
//     "received" count), is not itself a duplicate, and was reported before r
//     (ties by id) and at most rules.Window before it;
//   - otherwise a repeat: the incident of the same category within
//     rules.DistanceM, reported before r, not a duplicate, that closed most
//     recently, at most rules.RepeatWindow before r was reported.
//
// Distances are great-circle distances (haversine, on a sphere of the
// Earth's mean radius), computed in SQL for the rows inside a bounding box.
// A report without a location (lat and lng both 0) is never linked, and
// incidents without one are never found. The zero Link means neither.
func (s *Store) Near(ctx context.Context, r incident.Report, rules NearRules) (Link, error) {
	lat, lng := r.Location.Lat, r.Location.Lng
	if !hasLocation(r.Location) || !(rules.DistanceM > 0) || math.IsNaN(lat) || math.IsNaN(lng) {
		return Link{}, nil
	}
	if rules.Window <= 0 && rules.RepeatWindow <= 0 {
		return Link{}, nil
	}
	box := boundingBox(lat, lng, rules.DistanceM)
	at := r.ReportedAt
	// A window of zero or less gives a range that ends before it begins.
	dupFrom, repeatFrom := at.Add(-rules.Window), at.Add(-rules.RepeatWindow)
	if rules.Window <= 0 {
		dupFrom = at.Add(time.Hour)
	}
	if rules.RepeatWindow <= 0 {
		repeatFrom = at.Add(100 * 365 * 24 * time.Hour)
	}

	var kind, id string
	err := s.pool.QueryRow(ctx, nearSQL,
		r.Category, r.IncidentID, at, box.minLat, box.maxLat, box.minLng, box.maxLng,
		lat, lng, rules.DistanceM, dupFrom, repeatFrom).Scan(&kind, &id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Link{}, nil
	}
	if err != nil {
		return Link{}, fmt.Errorf("store: find incidents near %s: %w", r.IncidentID, err)
	}
	if kind == "duplicate" {
		return Link{DuplicateOf: id}, nil
	}
	return Link{RepeatOf: id}, nil
}

// earthRadiusSQL is earthRadiusM as an SQL literal.
const earthRadiusSQL = "6371008.8"

// nearCond is what both questions of nearSQL ask of a candidate: the
// report's category ($1), a location, not a duplicate, reported before the
// report ($3, ties by id $2), inside the box ($4-$7) and within $10 metres of
// the report's location ($8, $9).
const nearCond = `
  AND category = $1 AND lat IS NOT NULL AND duplicate_of IS NULL
  AND id <> $2 AND reported_at <= $3 AND (reported_at < $3 OR id < $2)
  AND lat BETWEEN $4 AND $5 AND lng BETWEEN $6 AND $7
  AND 2 * ` + earthRadiusSQL + ` * asin(least(1, sqrt(
        power(sin(radians(lat - $8) / 2), 2)
      + cos(radians($8)) * cos(radians(lat)) * power(sin(radians(lng - $9) / 2), 2)))) <= $10`

// nearSQL asks both of Near's questions in one round trip; the duplicate
// wins. Each branch is one range scan of its index (migration 00004):
// category, then time ($11: the duplicate window's start; $12: the repeat
// window's), then the box on the index entries, then the exact distance.
const nearSQL = `
(SELECT 'duplicate', id FROM incidents
 WHERE reported_at >= $11 AND status NOT IN ('closed', 'rejected')` + nearCond + `
 ORDER BY reported_at, id
 LIMIT 1)
UNION ALL
(SELECT 'repeat', id FROM incidents
 WHERE status = 'closed' AND closed_at >= $12` + nearCond + `
 ORDER BY closed_at DESC, id DESC
 LIMIT 1)
ORDER BY 1
LIMIT 1`

// hasLocation reports whether loc is a location: the API takes lat and lng
// both 0 as none given.
func hasLocation(loc incident.Location) bool { return loc.Lat != 0 || loc.Lng != 0 }

// box is a latitude/longitude rectangle, in degrees.
type box struct{ minLat, maxLat, minLng, maxLng float64 }

// boundingBox returns a rectangle that holds every point within d metres of
// (lat, lng) on the sphere, with a margin of 1% so rounding never cuts a
// point off: the exact distance is checked afterwards. Near the poles, or
// where the rectangle would cross the antimeridian, it spans every
// longitude.
func boundingBox(lat, lng, d float64) box {
	ang := d / earthRadiusM // the distance as an angle, in radians
	dLat := ang * 180 / math.Pi * 1.01
	b := box{minLat: lat - dLat, maxLat: lat + dLat, minLng: -180, maxLng: 180}
	// Every point within ang of the centre differs in longitude by at most
	// asin(sin(ang) / cos(lat)), when the circle does not reach a pole.
	if c := math.Cos(lat * math.Pi / 180); math.Sin(ang) < c {
		dLng := math.Asin(math.Sin(ang)/c) * 180 / math.Pi * 1.01
		if lng-dLng >= -180 && lng+dLng <= 180 {
			b.minLng, b.maxLng = lng-dLng, lng+dLng
		}
	}
	return b
}

// locationColumns returns the lat and lng columns of a location: NULL when
// it is none (see hasLocation).
func locationColumns(loc incident.Location) (lat, lng *float64) {
	if !hasLocation(loc) {
		return nil, nil
	}
	return &loc.Lat, &loc.Lng
}
