package store

import (
	"bytes"
	"strings"
)

// Postgres refuses the NUL character in text and in jsonb (and invalid
// UTF-8 in text). A note carrying one would make every retry of a
// projection fail and stall the incident's workflow, so the projection
// replaces them with U+FFFD, the way encoding/json already treats invalid
// UTF-8.

// clean returns s with NUL and invalid UTF-8 replaced by U+FFFD.
func clean(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// cleanJSON returns doc (JSON from encoding/json) with every escaped NUL
// (\u0000) replaced by \ufffd. A backslash-escaped backslash followed by
// "u0000" is text, not a NUL, and is kept.
func cleanJSON(doc []byte) []byte {
	const nul = `\u0000`
	if !bytes.Contains(doc, []byte(nul)) {
		return doc
	}
	out := make([]byte, 0, len(doc))
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if c != '\\' || i+1 == len(doc) {
			out = append(out, c)
			continue
		}
		if bytes.HasPrefix(doc[i:], []byte(nul)) {
			out = append(out, `\ufffd`...)
			i += len(nul) - 1
			continue
		}
		// Any other escape: copy the backslash and the escaped byte.
		out = append(out, c, doc[i+1])
		i++
	}
	return out
}

// cleanPtr is clean for an optional text column: nil stays NULL.
func cleanPtr(s *string) *string {
	if s == nil {
		return nil
	}
	c := clean(*s)
	return &c
}
