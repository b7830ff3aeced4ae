package sqldb

import (
	"errors"
	"strings"
	"testing"
	"time"

	"buzhou.dev/platform/errs"
)

// FuzzPageToken: a page token from outside is either refused with
// ErrInvalid or names a sort key; a token this package made decodes back to
// what went in, for its own list and filters only.
func FuzzPageToken(f *testing.F) {
	f.Add("", "articles", "art_1", int64(1700000000000000), "")
	f.Add("not base64!", "keys", "key_1", int64(0), "published")
	f.Add(encodeCursor("articles", nil, time.UnixMicro(5), "art_x"), "articles", "a|b", int64(-1), "x")
	f.Fuzz(func(t *testing.T, tok, kind, id string, micros int64, status string) {
		filters := []Filter{{Column: "status", Values: []string{status}}}
		if _, _, err := decodeCursor(kind, filters, tok); err != nil && !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("decodeCursor(%q) = %v, not ErrInvalid", tok, err)
		}
		if id == "" || strings.Contains(kind, "|") {
			return // kinds are the stores' constants, never with the separator
		}
		at := time.UnixMicro(micros).UTC()
		own := encodeCursor(kind, filters, at, id)
		gotAt, gotID, err := decodeCursor(kind, filters, own)
		if err != nil || !gotAt.Equal(at) || gotID != id {
			t.Fatalf("round trip of (%q, %v, %q) = %v, %q, %v", kind, at, id, gotAt, gotID, err)
		}
		if _, _, err := decodeCursor(kind+"x", filters, own); !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("a token of list %q is accepted by list %q: %v", kind, kind+"x", err)
		}
		other := []Filter{{Column: "status", Values: []string{status + "x"}}}
		if _, _, err := decodeCursor(kind, other, own); !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("a token of status %q is accepted for status %q: %v", status, status+"x", err)
		}
	})
}
