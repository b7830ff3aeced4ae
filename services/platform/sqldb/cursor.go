package sqldb

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// EncodeCursor makes the page token of a list sorted by (created_at, id): the
// sort key of the last row of a page, so the next page starts strictly after
// it however many rows were written since. A non-empty kind goes first, so a
// token of one list is refused by another instead of silently skipping rows.
func EncodeCursor(kind string, createdAt time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + strconv.FormatInt(createdAt.UnixMicro(), 10) + "." + id))
}

// DecodeCursor returns the sort key EncodeCursor put into tok, in UTC; ok is
// false for anything EncodeCursor did not make with this kind. The caller
// words the error, which names its own list.
func DecodeCursor(kind, tok string) (createdAt time.Time, id string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return time.Time{}, "", false
	}
	rest, ok := strings.CutPrefix(string(b), kind)
	if !ok {
		return time.Time{}, "", false
	}
	micros, id, ok := strings.Cut(rest, ".")
	if !ok || id == "" {
		return time.Time{}, "", false
	}
	n, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		return time.Time{}, "", false
	}
	return time.UnixMicro(n).UTC(), id, true
}
