package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

func TestSaveJurisdictionKeepsHistory(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)

	_, err := s.LatestJurisdiction(ctx)
	assert.Equal(t, incident.CodeNotFound, incident.ErrorCode(err))

	type district struct{ Code, Name, Timezone string }
	type doc struct {
		District district
		Items    []string
	}
	a := doc{District: district{"DA", "大安区", "Asia/Shanghai"}, Items: []string{"SR-001"}}
	b := doc{District: district{"DA", "大安区", "Asia/Shanghai"}, Items: []string{"SR-001", "SR-002"}}

	require.NoError(t, s.SaveJurisdiction(ctx, a, []byte("district: {code: DA}\n")))
	require.NoError(t, s.SaveJurisdiction(ctx, a, []byte("district: {code: DA}\n"))) // a restart, same file
	assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM jurisdictions`))

	require.NoError(t, s.SaveJurisdiction(ctx, b, nil))
	require.NoError(t, s.SaveJurisdiction(ctx, a, nil)) // back to the first version
	assert.Equal(t, 3, count(t, s, `SELECT count(*) FROM jurisdictions`))
	assert.Equal(t, 2, count(t, s, `SELECT count(DISTINCT hash) FROM jurisdictions`))

	v, err := s.LatestJurisdiction(ctx)
	require.NoError(t, err)
	var got doc
	require.NoError(t, json.Unmarshal(v.Doc, &got))
	assert.Equal(t, a, got)
	assert.Empty(t, v.Raw)
	assert.Len(t, v.Hash, 64)
	assert.WithinDuration(t, time.Now(), v.LoadedAt, time.Minute)

	var raw string
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT raw FROM jurisdictions ORDER BY id LIMIT 1`).Scan(&raw))
	assert.Equal(t, "district: {code: DA}\n", raw)
}

// TestSaveShippedJurisdiction stores the jurisdiction Whistle ships, as
// `whistle dev` does at start, twice.
func TestSaveShippedJurisdiction(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)

	j := jurisdiction.Default()
	require.NoError(t, s.SaveJurisdiction(ctx, j, jurisdiction.DefaultYAML()))
	require.NoError(t, s.SaveJurisdiction(ctx, jurisdiction.Default(), jurisdiction.DefaultYAML()))
	assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM jurisdictions`))
	assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM jurisdictions WHERE doc->'district'->>'code' = $1`, j.District.Code))
	assert.Equal(t, len(j.Items), count(t, s, `SELECT jsonb_array_length(doc->'items') FROM jurisdictions`))
}
