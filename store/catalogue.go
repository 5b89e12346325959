package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/incident"
)

// Sources of a catalogue version: who wrote it.
const (
	// CatalogueSourceFile marks a version the jurisdiction file wrote at start.
	CatalogueSourceFile = "file"
	// CatalogueSourceAPI marks a version an admin wrote through the API.
	CatalogueSourceAPI = "api"
)

// Reasons the file's sync records.
const (
	// ReasonLoadedFromFile is the reason of a version the file added or changed.
	ReasonLoadedFromFile = "loaded from file"
	// ReasonRemovedFromFile is the reason of a retirement because the item
	// is no longer in the file.
	ReasonRemovedFromFile = "removed from the jurisdiction file"
)

// catalogueLockID serialises the writers of catalogue_items across
// processes, so versions are numbered without gaps or races and two
// processes starting with the same file write its changes once.
const catalogueLockID int64 = 0x77686973746c63

// CatalogueVersion is one version of one item of the responsibility list,
// as stored in catalogue_items.
type CatalogueVersion struct {
	Code    string
	Version int // 1, 2, … per item
	// Body is the item as JSON (a jurisdiction.Item). A retired version
	// repeats the body of the version it retired.
	Body    json.RawMessage
	Retired bool
	Source  string // CatalogueSourceFile or CatalogueSourceAPI
	Actor   string
	Reason  string
	At      time.Time
}

// CatalogueFileItem is one item of the jurisdiction file: its code and its
// body as JSON.
type CatalogueFileItem struct {
	Code string
	Body json.RawMessage
}

const catalogueColumns = `code, version, body, retired, source, actor, reason, at`

// SyncCatalogueFile applies the jurisdiction file's items to the catalogue,
// by the rule "the file is applied when it changes":
//
//   - an item of the file whose latest version written by the file
//     (source 'file') is missing, retired or has a different body gets a
//     new version with the file's body (source 'file', reason
//     ReasonLoadedFromFile), even when an admin changed the item since:
//     a changed file wins;
//   - an item whose latest file version exists and is not retired, but
//     which is no longer in the file, gets a retired version (reason
//     ReasonRemovedFromFile);
//   - everything else is left alone: an unchanged file writes nothing, so
//     an admin's change made through the API survives a restart, and items
//     only ever written through the API are never touched.
//
// actor names the file (e.g. "jurisdiction file default.yaml"). Before
// committing, check (when not nil) is called with the latest version of
// every item as they would then be (see CatalogueLatest); if it returns an
// error nothing is written and the error is returned, so a file under which
// the list would be invalid changes nothing. It returns the versions
// written, in the file's order followed by the retirements.
func (s *Store) SyncCatalogueFile(ctx context.Context, actor string, items []CatalogueFileItem, check func(latest []CatalogueVersion) error) ([]CatalogueVersion, error) {
	var written []CatalogueVersion
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, catalogueLockID); err != nil {
			return err
		}
		fileLatest, err := latestVersions(ctx, tx, `WHERE source = 'file'`)
		if err != nil {
			return err
		}
		latest, err := latestVersions(ctx, tx, ``)
		if err != nil {
			return err
		}
		byCode := func(vs []CatalogueVersion) map[string]CatalogueVersion {
			m := make(map[string]CatalogueVersion, len(vs))
			for _, v := range vs {
				m[v.Code] = v
			}
			return m
		}
		lastFile, last := byCode(fileLatest), byCode(latest)

		inFile := make(map[string]bool, len(items))
		for _, it := range items {
			inFile[it.Code] = true
			body := cleanJSON(it.Body)
			if f, ok := lastFile[it.Code]; ok && !f.Retired && sameJSON(f.Body, body) {
				continue
			}
			v := CatalogueVersion{Code: it.Code, Version: last[it.Code].Version + 1, Body: body,
				Source: CatalogueSourceFile, Actor: actor, Reason: ReasonLoadedFromFile}
			if err := insertVersion(ctx, tx, &v); err != nil {
				return err
			}
			written = append(written, v)
		}
		for _, f := range fileLatest { // ordered by code
			if inFile[f.Code] || f.Retired {
				continue
			}
			cur := last[f.Code]
			v := CatalogueVersion{Code: f.Code, Version: cur.Version + 1, Body: cur.Body, Retired: true,
				Source: CatalogueSourceFile, Actor: actor, Reason: ReasonRemovedFromFile}
			if err := insertVersion(ctx, tx, &v); err != nil {
				return err
			}
			written = append(written, v)
		}
		if check == nil {
			return nil
		}
		now, err := latestVersions(ctx, tx, ``)
		if err != nil {
			return err
		}
		if err := check(now); err != nil {
			return checkError{err}
		}
		return nil
	})
	if err != nil {
		var ce checkError
		if errors.As(err, &ce) {
			return nil, ce.err // the check's verdict, as it is
		}
		return nil, fmt.Errorf("store: sync the catalogue with the jurisdiction file: %w", err)
	}
	return written, nil
}

// PutCatalogueItem writes a new version of the item code with body (the
// item as JSON) through the API (source 'api'), by actor for reason.
//
// When expected is not nil the item's latest version must be *expected (0:
// the item must not exist yet), else nothing is written and the error is a
// CodeConflict *incident.Error whose Status is "version N" (the current
// version, "version 0" for none). When the latest version is not retired
// and has the same body, nothing is written and that version is returned
// with written false. Otherwise the new version is returned with written
// true; created is true when the item had no version before (a retired
// item brought back is not created, it gets its next version).
func (s *Store) PutCatalogueItem(ctx context.Context, code string, body json.RawMessage, actor, reason string, expected *int) (v CatalogueVersion, created, written bool, err error) {
	body = cleanJSON(body)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, catalogueLockID); err != nil {
			return err
		}
		cur, found, err := latestVersion(ctx, tx, code)
		if err != nil {
			return err
		}
		if expected != nil && cur.Version != *expected {
			return versionConflict(code, cur.Version, *expected)
		}
		if found && !cur.Retired && sameJSON(cur.Body, body) {
			v = cur
			return nil
		}
		v = CatalogueVersion{Code: code, Version: cur.Version + 1, Body: body,
			Source: CatalogueSourceAPI, Actor: clean(actor), Reason: clean(reason)}
		if err := insertVersion(ctx, tx, &v); err != nil {
			return err
		}
		created, written = !found, true
		return nil
	})
	if err != nil {
		var de *incident.Error
		if errors.As(err, &de) {
			return CatalogueVersion{}, false, false, err
		}
		return CatalogueVersion{}, false, false, fmt.Errorf("store: put catalogue item %s: %w", code, err)
	}
	return v, created, written, nil
}

// RetireCatalogueItem writes a retired version of the item code through the
// API (source 'api'), by actor for reason, repeating the body of the
// current version, and returns it. An unknown code is a CodeNotFound
// *incident.Error; an item already retired is a CodeConflict one with
// Status "retired". When expected is not nil the latest version must be
// *expected, as in PutCatalogueItem.
func (s *Store) RetireCatalogueItem(ctx context.Context, code, actor, reason string, expected *int) (CatalogueVersion, error) {
	var v CatalogueVersion
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, catalogueLockID); err != nil {
			return err
		}
		cur, found, err := latestVersion(ctx, tx, code)
		if err != nil {
			return err
		}
		switch {
		case !found:
			return incident.Errorf(incident.CodeNotFound, "no item %q in the responsibility list", code)
		case expected != nil && cur.Version != *expected:
			return versionConflict(code, cur.Version, *expected)
		case cur.Retired:
			return incident.Conflict("retired", "item %s is already retired (version %d, %s, by %s: %s)",
				code, cur.Version, cur.At.UTC().Format(time.RFC3339), cur.Actor, cur.Reason)
		}
		v = CatalogueVersion{Code: code, Version: cur.Version + 1, Body: cur.Body, Retired: true,
			Source: CatalogueSourceAPI, Actor: clean(actor), Reason: clean(reason)}
		return insertVersion(ctx, tx, &v)
	})
	if err != nil {
		var de *incident.Error
		if errors.As(err, &de) {
			return CatalogueVersion{}, err
		}
		return CatalogueVersion{}, fmt.Errorf("store: retire catalogue item %s: %w", code, err)
	}
	return v, nil
}

// CatalogueHistory returns every version of the item code, oldest first;
// none (an empty slice) for an unknown code.
func (s *Store) CatalogueHistory(ctx context.Context, code string) ([]CatalogueVersion, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+catalogueColumns+` FROM catalogue_items WHERE code = $1 ORDER BY version`, code)
	if err != nil {
		return nil, fmt.Errorf("store: catalogue history of %s: %w", code, err)
	}
	vs, err := pgx.CollectRows(rows, scanVersion)
	if err != nil {
		return nil, fmt.Errorf("store: catalogue history of %s: %w", code, err)
	}
	return vs, nil
}

// CatalogueLatest returns the latest version of every item, retired ones
// included, in the order the items first appeared (the file's order for
// the file's items, then the items added later).
func (s *Store) CatalogueLatest(ctx context.Context) ([]CatalogueVersion, error) {
	vs, err := latestVersions(ctx, s.pool, ``)
	if err != nil {
		return nil, fmt.Errorf("store: read the catalogue: %w", err)
	}
	return vs, nil
}

// querier is what a pool and a transaction both offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// latestVersions returns the latest version of each item among the rows
// matching where ("" for all, or "WHERE …" on catalogue_items), in the order
// the items first appeared.
func latestVersions(ctx context.Context, q querier, where string) ([]CatalogueVersion, error) {
	rows, err := q.Query(ctx, `
SELECT `+catalogueColumns+` FROM (
    SELECT DISTINCT ON (code) *, min(id) OVER (PARTITION BY code) AS first_id
    FROM catalogue_items `+where+`
    ORDER BY code, version DESC
) latest
ORDER BY first_id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanVersion)
}

// latestVersion returns the latest version of code and whether there is one;
// with none, its Version is 0.
func latestVersion(ctx context.Context, tx pgx.Tx, code string) (CatalogueVersion, bool, error) {
	rows, err := tx.Query(ctx, `SELECT `+catalogueColumns+` FROM catalogue_items WHERE code = $1 ORDER BY version DESC LIMIT 1`, code)
	if err != nil {
		return CatalogueVersion{}, false, err
	}
	v, err := pgx.CollectExactlyOneRow(rows, scanVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return CatalogueVersion{Code: code}, false, nil
	}
	return v, err == nil, err
}

func scanVersion(row pgx.CollectableRow) (CatalogueVersion, error) {
	var v CatalogueVersion
	err := row.Scan(&v.Code, &v.Version, &v.Body, &v.Retired, &v.Source, &v.Actor, &v.Reason, &v.At)
	return v, err
}

// insertVersion adds v, setting v.At to the time recorded.
func insertVersion(ctx context.Context, tx pgx.Tx, v *CatalogueVersion) error {
	return tx.QueryRow(ctx, `
INSERT INTO catalogue_items (code, version, body, retired, source, actor, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING at`, clean(v.Code), v.Version, []byte(v.Body), v.Retired, v.Source, clean(v.Actor), clean(v.Reason)).Scan(&v.At)
}

// versionConflict is the error of a write that expected another version.
func versionConflict(code string, current, expected int) error {
	return incident.Conflict("version "+strconv.Itoa(current),
		"item %s is at version %d, not %d: someone changed it in the meantime; read it again", code, current, expected)
}

// sameJSON reports whether two JSON documents are equal as values (key
// order and spacing aside), as jsonb compares them.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// checkError carries the verdict of SyncCatalogueFile's check out of its
// transaction, to be returned unwrapped.
type checkError struct{ err error }

func (e checkError) Error() string { return e.err.Error() }
