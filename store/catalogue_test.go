package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

// body is an item body as JSON with the given lead.
func body(code, lead string) json.RawMessage {
	return json.RawMessage(`{"code":"` + code + `","name":"事项","tier":"department","lead":"` + lead + `","sla":{"ack":"1h0m0s","resolve":"3wd","feedback":"3wd"}}`)
}

// versions returns the (version, source, retired, reason) of each version
// of code, for compact comparisons.
func versions(t *testing.T, s *Store, code string) []string {
	t.Helper()
	hist, err := s.CatalogueHistory(context.Background(), code)
	require.NoError(t, err)
	out := make([]string, len(hist))
	for i, v := range hist {
		state := "active"
		if v.Retired {
			state = "retired"
		}
		out[i] = v.Source + " " + state + " " + v.Reason
		require.Equal(t, i+1, v.Version, "versions of %s are numbered 1, 2, …", code)
	}
	return out
}

func leadOf(t *testing.T, v CatalogueVersion) string {
	t.Helper()
	var it struct{ Lead string }
	require.NoError(t, json.Unmarshal(v.Body, &it))
	return it.Lead
}

func TestCatalogueVersions(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)

	v, created, written, err := s.PutCatalogueItem(ctx, "SR-001", body("SR-001", "CG"), "admin-1", "new item", nil)
	require.NoError(t, err)
	assert.True(t, created)
	assert.True(t, written)
	assert.Equal(t, 1, v.Version)
	assert.Equal(t, CatalogueSourceAPI, v.Source)
	assert.WithinDuration(t, time.Now(), v.At, time.Minute)

	// The same body again (keys in another order) writes nothing.
	same := json.RawMessage(`{"sla":{"feedback":"3wd","resolve":"3wd","ack":"1h0m0s"},"lead":"CG","tier":"department","name":"事项","code":"SR-001"}`)
	v, created, written, err = s.PutCatalogueItem(ctx, "SR-001", same, "admin-2", "again", nil)
	require.NoError(t, err)
	assert.False(t, created)
	assert.False(t, written)
	assert.Equal(t, 1, v.Version)
	assert.Equal(t, "admin-1", v.Actor)

	// A change with the wrong expected version is refused.
	_, _, _, err = s.PutCatalogueItem(ctx, "SR-001", body("SR-001", "ZJ"), "admin-2", "lead moves", ptr(0))
	require.Equal(t, incident.CodeConflict, incident.ErrorCode(err), "%v", err)
	var de *incident.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "version 1", de.Status)

	v, created, written, err = s.PutCatalogueItem(ctx, "SR-001", body("SR-001", "ZJ"), "admin-2", "lead moves", ptr(1))
	require.NoError(t, err)
	assert.False(t, created)
	assert.True(t, written)
	assert.Equal(t, 2, v.Version)

	// Retiring repeats the body; retiring twice is a conflict.
	r, err := s.RetireCatalogueItem(ctx, "SR-001", "admin-3", "no longer the street's", nil)
	require.NoError(t, err)
	assert.Equal(t, 3, r.Version)
	assert.True(t, r.Retired)
	assert.Equal(t, "ZJ", leadOf(t, r))
	_, err = s.RetireCatalogueItem(ctx, "SR-001", "admin-3", "again", nil)
	require.Equal(t, incident.CodeConflict, incident.ErrorCode(err), "%v", err)
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "retired", de.Status)
	_, err = s.RetireCatalogueItem(ctx, "NOPE", "admin-3", "gone", nil)
	assert.Equal(t, incident.CodeNotFound, incident.ErrorCode(err), "%v", err)

	// Putting the same body back brings the retired item back as a new version.
	v, created, written, err = s.PutCatalogueItem(ctx, "SR-001", body("SR-001", "ZJ"), "admin-4", "back again", nil)
	require.NoError(t, err)
	assert.False(t, created)
	assert.True(t, written)
	assert.Equal(t, 4, v.Version)
	assert.False(t, v.Retired)

	hist, err := s.CatalogueHistory(ctx, "SR-001")
	require.NoError(t, err)
	require.Len(t, hist, 4)
	for i, want := range []struct {
		actor, reason, lead string
		retired             bool
	}{
		{"admin-1", "new item", "CG", false},
		{"admin-2", "lead moves", "ZJ", false},
		{"admin-3", "no longer the street's", "ZJ", true},
		{"admin-4", "back again", "ZJ", false},
	} {
		h := hist[i]
		assert.Equal(t, i+1, h.Version)
		assert.Equal(t, want.actor, h.Actor)
		assert.Equal(t, want.reason, h.Reason)
		assert.Equal(t, want.lead, leadOf(t, h))
		assert.Equal(t, want.retired, h.Retired)
		assert.Equal(t, CatalogueSourceAPI, h.Source)
		if i > 0 {
			assert.False(t, h.At.Before(hist[i-1].At), "versions are in time order")
		}
	}

	none, err := s.CatalogueHistory(ctx, "NOPE")
	require.NoError(t, err)
	assert.Empty(t, none)
}

// TestCatalogueSyncRule checks "the file is applied when it changes".
func TestCatalogueSyncRule(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)
	const actor = "jurisdiction file district.yaml"
	file := func(items ...CatalogueFileItem) []CatalogueFileItem { return items }
	item := func(code, lead string) CatalogueFileItem {
		return CatalogueFileItem{Code: code, Body: body(code, lead)}
	}
	sync := func(items []CatalogueFileItem) []string {
		t.Helper()
		written, err := s.SyncCatalogueFile(ctx, actor, items, nil)
		require.NoError(t, err)
		out := make([]string, len(written))
		for i, v := range written {
			out[i] = v.Code
			assert.Equal(t, CatalogueSourceFile, v.Source)
			assert.Equal(t, actor, v.Actor)
		}
		return out
	}

	assert.Equal(t, []string{"A", "B"}, sync(file(item("A", "CG"), item("B", "CG"))), "a first start writes every item")
	assert.Empty(t, sync(file(item("A", "CG"), item("B", "CG"))), "an unchanged file writes nothing")

	// An admin changes A and adds C through the API.
	_, _, _, err := s.PutCatalogueItem(ctx, "A", body("A", "ZJ"), "admin", "A moves to ZJ", nil)
	require.NoError(t, err)
	_, _, _, err = s.PutCatalogueItem(ctx, "C", body("C", "SCJG"), "admin", "new item", nil)
	require.NoError(t, err)

	// A restart with the unchanged file keeps the admin's change.
	assert.Empty(t, sync(file(item("A", "CG"), item("B", "CG"))))
	latest, err := s.CatalogueLatest(ctx)
	require.NoError(t, err)
	require.Len(t, latest, 3)
	assert.Equal(t, []string{"A", "B", "C"}, []string{latest[0].Code, latest[1].Code, latest[2].Code}, "in order of first appearance")
	assert.Equal(t, "ZJ", leadOf(t, latest[0]))

	// A changed file wins over the admin's change.
	assert.Equal(t, []string{"A"}, sync(file(item("A", "GA"), item("B", "CG"))))
	assert.Equal(t, []string{
		"file active " + ReasonLoadedFromFile, "api active A moves to ZJ", "file active " + ReasonLoadedFromFile,
	}, versions(t, s, "A"))

	// An item removed from the file is retired, once; C, which only the API
	// ever wrote, is not touched.
	assert.Equal(t, []string{"B"}, sync(file(item("A", "GA"))))
	assert.Empty(t, sync(file(item("A", "GA"))))
	assert.Equal(t, []string{"file active " + ReasonLoadedFromFile, "file retired " + ReasonRemovedFromFile}, versions(t, s, "B"))
	assert.Equal(t, []string{"api active new item"}, versions(t, s, "C"))
	latest, err = s.CatalogueLatest(ctx)
	require.NoError(t, err)
	assert.True(t, latest[1].Retired)
	assert.Equal(t, "CG", leadOf(t, latest[1]), "the retired version keeps the body")

	// An item the admin retired stays retired while the file is unchanged;
	// put back into the file it comes back.
	_, err = s.RetireCatalogueItem(ctx, "A", "admin", "obsolete", nil)
	require.NoError(t, err)
	assert.Empty(t, sync(file(item("A", "GA"))))
	assert.Equal(t, []string{"B"}, sync(file(item("A", "GA"), item("B", "CG"))))
	assert.Equal(t, "file active "+ReasonLoadedFromFile, versions(t, s, "B")[2])

	// A check that refuses the outcome leaves everything as it was.
	refused := errors.New("lead of C is not a department any more")
	var seen []CatalogueVersion
	_, err = s.SyncCatalogueFile(ctx, actor, file(item("B", "ZJ")), func(latest []CatalogueVersion) error {
		seen = latest
		return refused
	})
	require.ErrorIs(t, err, refused)
	require.Len(t, seen, 3)
	assert.Equal(t, "ZJ", leadOf(t, seen[1]), "the check sees the list as it would be")
	assert.True(t, seen[0].Retired, "A, no longer in the file, would be retired")
	assert.Len(t, versions(t, s, "B"), 3, "nothing written")
	assert.Len(t, versions(t, s, "A"), 4, "nothing written")
}

// TestCatalogueConcurrentPuts numbers versions without gaps when admins
// write at once.
func TestCatalogueConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)
	leads := []string{"CG", "ZJ", "SCJG", "GA", "SF", "SW", "MZ", "JT"}
	errs := make(chan error, len(leads))
	for _, l := range leads {
		go func() {
			_, _, _, err := s.PutCatalogueItem(ctx, "SR-009", body("SR-009", l), "admin-"+l, "race", nil)
			errs <- err
		}()
	}
	for range leads {
		require.NoError(t, <-errs)
	}
	assert.Len(t, versions(t, s, "SR-009"), len(leads))
}
