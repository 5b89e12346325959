package store

import (
	"encoding/base64"
	"encoding/json"

	"github.com/whistle-city/whistle/incident"
)

// Page sizes of the list queries.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// pageLimit returns the page size for a requested limit: DefaultLimit for 0
// or less, at most MaxLimit.
func pageLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// encodeCursor makes the opaque cursor of the row a page ended with: the
// row's sort key as base64url JSON. Clients must not look inside.
func encodeCursor(key any) string {
	b, err := json.Marshal(key)
	if err != nil {
		panic(err) // keys are plain structs of strings, numbers and times
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor made by encodeCursor into key; a cursor that
// is not one is a CodeInvalid *incident.Error on the field "cursor".
func decodeCursor(s string, key any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, key)
	}
	if err != nil {
		return incident.Invalid("cursor", "cursor is not one this server issued")
	}
	return nil
}
