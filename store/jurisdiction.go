package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/whistle-city/whistle/incident"
)

// jurisdictionLockID serialises SaveJurisdiction across processes so that
// two starts with the same new file add one row, not two.
const jurisdictionLockID int64 = 0x77686973746c66

// SaveJurisdiction stores the loaded jurisdiction document (doc, typically a
// *jurisdiction.Jurisdiction, encoded as JSON) and the file it was read from
// (raw, may be nil), keeping history: a new row is added only when the
// document's content hash (SHA-256 of its JSON) differs from the latest
// row's, so restarting with an unchanged file adds nothing, and going back to
// an earlier file is recorded as a new version.
func (s *Store) SaveJurisdiction(ctx context.Context, doc any, raw []byte) error {
	_, _, err := s.saveJurisdiction(ctx, doc, raw)
	return err
}

func (s *Store) saveJurisdiction(ctx context.Context, doc any, raw []byte) (hash string, added bool, err error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return "", false, fmt.Errorf("store: encode jurisdiction: %w", err)
	}
	sum := sha256.Sum256(b)
	hash = hex.EncodeToString(sum[:])
	var rawText *string
	if raw != nil {
		r := string(raw)
		rawText = &r
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, jurisdictionLockID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
INSERT INTO jurisdictions (hash, doc, raw)
SELECT $1, $2, $3
WHERE $1 IS DISTINCT FROM (SELECT hash FROM jurisdictions ORDER BY id DESC LIMIT 1)`, hash, b, rawText)
		added = tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return "", false, fmt.Errorf("store: save jurisdiction: %w", err)
	}
	return hash, added, nil
}

// JurisdictionVersion is one stored version of the jurisdiction document.
type JurisdictionVersion struct {
	ID       int64           `json:"id"`
	Hash     string          `json:"hash"` // hex SHA-256 of the document's JSON as encoded when saved
	LoadedAt time.Time       `json:"loaded_at"`
	Doc      json.RawMessage `json:"doc"`
	Raw      string          `json:"raw,omitempty"` // the file as read; "" when not saved
}

// LatestJurisdiction returns the jurisdiction document saved last. With none
// saved it is a CodeNotFound *incident.Error.
func (s *Store) LatestJurisdiction(ctx context.Context) (*JurisdictionVersion, error) {
	var v JurisdictionVersion
	var raw *string
	err := s.pool.QueryRow(ctx, `
SELECT id, hash, loaded_at, doc, raw FROM jurisdictions ORDER BY id DESC LIMIT 1`).
		Scan(&v.ID, &v.Hash, &v.LoadedAt, &v.Doc, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, incident.Errorf(incident.CodeNotFound, "no jurisdiction saved yet")
	}
	if err != nil {
		return nil, fmt.Errorf("store: read jurisdiction: %w", err)
	}
	if raw != nil {
		v.Raw = *raw
	}
	return &v, nil
}
