package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/incident"
)

// Open311KeyPrefix starts every Open311 API key, so that one found in a
// log or a repository is recognised for what it is.
const Open311KeyPrefix = "w311_"

// Defaults of a new Open311 key's limits.
const (
	DefaultOpen311Rate    = 60       // requests a minute
	DefaultOpen311MaxBody = 64 << 10 // bytes of a POST body
)

// Open311Key is an API key of an Open311 client, without the key itself
// (only its hash is stored).
type Open311Key struct {
	ID     string `json:"id"`
	Client string `json:"client"`
	// Streets and Items limit where and what the client may report;
	// empty is everywhere and every item.
	Streets []string `json:"streets"`
	Items   []string `json:"items"`
	// RatePerMinute bounds the client's requests; MaxBodyBytes a POST body.
	RatePerMinute int        `json:"rate_per_minute"`
	MaxBodyBytes  int        `json:"max_body_bytes"`
	CreatedAt     time.Time  `json:"created_at"`
	CreatedBy     string     `json:"created_by"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
	RevokedBy     string     `json:"revoked_by,omitempty"`
}

// Channel is the channel the key's reports come in by: "open311:<client>".
func (k Open311Key) Channel() string { return incident.ChannelOpen311Prefix + k.Client }

// Validate checks the key's client name and limits.
func (k Open311Key) Validate() error {
	switch {
	case !incident.ValidClientName(k.Client):
		return incident.Invalid("client", "client %q: 1 to 64 letters, digits, '-', '_' or '.'", k.Client)
	case k.RatePerMinute < 1 || k.RatePerMinute > 100000:
		return incident.Invalid("rate_per_minute", "rate per minute must be 1 to 100000, not %d", k.RatePerMinute)
	case k.MaxBodyBytes < 1024 || k.MaxBodyBytes > 16<<20:
		return incident.Invalid("max_body_bytes", "body limit must be 1 KiB to 16 MiB, not %d", k.MaxBodyBytes)
	}
	return nil
}

// ErrOpen311Key is returned by Open311KeyFor for a key that is unknown,
// malformed or revoked.
var ErrOpen311Key = errors.New("store: unknown or revoked Open311 API key")

// managesKeys returns a CodeForbidden error unless sc may mint and revoke
// keys: the admin's, or Whistle's own (the command line).
func (sc Scope) managesKeys() error {
	if sc.role == incident.RoleAdmin || sc == Everything {
		return nil
	}
	return incident.Errorf(incident.CodeForbidden, "%s %s may not manage Open311 keys", sc.role, sc.org)
}

func hashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// CreateOpen311Key stores a new key for k's client and limits (k.ID,
// CreatedAt and the revocation are set here) and returns the key itself,
// which is not stored and cannot be read again. Only the admin may; the
// Everything scope is the command line's.
func (s *Store) CreateOpen311Key(ctx context.Context, sc Scope, k Open311Key) (Open311Key, string, error) {
	if err := sc.managesKeys(); err != nil {
		return Open311Key{}, "", err
	}
	if k.Streets == nil {
		k.Streets = []string{}
	}
	if k.Items == nil {
		k.Items = []string{}
	}
	if err := k.Validate(); err != nil {
		return Open311Key{}, "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Open311Key{}, "", fmt.Errorf("store: new Open311 key: %w", err)
	}
	key := Open311KeyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	id, err := uuid.NewV7()
	if err != nil {
		return Open311Key{}, "", fmt.Errorf("store: new Open311 key id: %w", err)
	}
	k.ID, k.CreatedAt, k.RevokedAt, k.RevokedBy = id.String(), s.now().UTC(), nil, ""
	if k.CreatedBy == "" {
		k.CreatedBy = "system"
	}
	_, err = s.pool.Exec(ctx, `
INSERT INTO open311_keys (id, client, key_hash, streets, items, rate_per_minute, max_body_bytes, created_at, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.Client, hashKey(key), k.Streets, k.Items, k.RatePerMinute, k.MaxBodyBytes, k.CreatedAt, clean(k.CreatedBy))
	if err != nil {
		return Open311Key{}, "", fmt.Errorf("store: create Open311 key: %w", err)
	}
	return k, key, nil
}

const open311KeyColumns = `id, client, streets, items, rate_per_minute, max_body_bytes, created_at, created_by, revoked_at, coalesce(revoked_by, '')`

func scanOpen311Key(row pgx.Row) (Open311Key, error) {
	var k Open311Key
	err := row.Scan(&k.ID, &k.Client, &k.Streets, &k.Items, &k.RatePerMinute, &k.MaxBodyBytes,
		&k.CreatedAt, &k.CreatedBy, &k.RevokedAt, &k.RevokedBy)
	return k, err
}

// Open311KeyFor returns the key that key is, unless it is unknown,
// malformed or revoked (ErrOpen311Key). It is how an Open311 request is
// authenticated, so it reads no scope.
func (s *Store) Open311KeyFor(ctx context.Context, key string) (Open311Key, error) {
	if !strings.HasPrefix(key, Open311KeyPrefix) || len(key) > 100 {
		return Open311Key{}, ErrOpen311Key
	}
	k, err := scanOpen311Key(s.pool.QueryRow(ctx,
		`SELECT `+open311KeyColumns+` FROM open311_keys WHERE key_hash = $1 AND revoked_at IS NULL`, hashKey(key)))
	if errors.Is(err, pgx.ErrNoRows) {
		return Open311Key{}, ErrOpen311Key
	}
	if err != nil {
		return Open311Key{}, fmt.Errorf("store: look up Open311 key: %w", err)
	}
	return k, nil
}

// Open311Keys lists every key, revoked ones included, by client and then
// oldest first. Only the admin and the district may.
func (s *Store) Open311Keys(ctx context.Context, sc Scope) ([]Open311Key, error) {
	if err := sc.only("Open311 keys", incident.RoleAdmin, incident.RoleDistrict); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+open311KeyColumns+` FROM open311_keys ORDER BY client, created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list Open311 keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Open311Key, error) { return scanOpen311Key(r) })
	if err != nil {
		return nil, fmt.Errorf("store: list Open311 keys: %w", err)
	}
	return keys, nil
}

// RevokeOpen311Key revokes the key with this id on behalf of by, at once:
// the next request with it is refused. Revoking a revoked key changes
// nothing and returns it as it is; an unknown id is CodeNotFound. Only the
// admin may.
func (s *Store) RevokeOpen311Key(ctx context.Context, sc Scope, id, by string) (Open311Key, error) {
	if err := sc.managesKeys(); err != nil {
		return Open311Key{}, err
	}
	k, err := scanOpen311Key(s.pool.QueryRow(ctx, `
UPDATE open311_keys SET revoked_at = coalesce(revoked_at, $2), revoked_by = coalesce(revoked_by, $3)
WHERE id = $1 RETURNING `+open311KeyColumns, id, s.now().UTC(), clean(by)))
	if errors.Is(err, pgx.ErrNoRows) {
		return Open311Key{}, incident.Errorf(incident.CodeNotFound, "no Open311 key %s", id)
	}
	if err != nil {
		return Open311Key{}, fmt.Errorf("store: revoke Open311 key: %w", err)
	}
	return k, nil
}

// IncidentByKey returns the id and report time of the incident reporter
// sent with the idempotency key (CreateReceived), or "" when there is none.
// It reads no scope: it is how the reporter's own repeat is recognised.
func (s *Store) IncidentByKey(ctx context.Context, reporter, key string) (string, time.Time, error) {
	var id string
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT incident_id, reported_at FROM incident_keys WHERE kind = 'idempotency' AND owner = $1 AND key = $2`,
		clean(reporter), clean(key)).Scan(&id, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("store: look up incident by key: %w", err)
	}
	return id, at, nil
}
