package sqldb

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"buzhou.dev/platform/errs"
)

// Filter keeps the rows of a list whose Column holds one of Values. A filter
// without values keeps every row; it still names a filter the list has, for
// the error that refuses a token made for other filters.
type Filter struct {
	Column string
	Values []string
}

// encodeCursor makes the page token of a list sorted by (created_at, id): the
// sort key of the last row of a page, so the next page starts strictly after
// it however many rows were written since. The list's kind and a digest of
// its filters go first (AIP-158), so that a token is refused by another list,
// or by the same list asked with other filters, instead of silently skipping
// rows. The page size is not bound: it may change from page to page.
func encodeCursor(kind string, filters []Filter, createdAt time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + "|" + filterDigest(filters) + "|" +
		strconv.FormatInt(createdAt.UnixMicro(), 10) + "|" + id))
}

// decodeCursor returns the sort key encodeCursor put into tok, in UTC, and
// an ErrInvalid that says how to go on for anything else.
func decodeCursor(kind string, filters []Filter, tok string) (createdAt time.Time, id string, err error) {
	invalid := fmt.Errorf("%w: page token is not valid for this list; pass the nextPageToken of the previous answer unchanged, or leave pageToken empty for the first page", errs.ErrInvalid)
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return time.Time{}, "", invalid
	}
	parts := strings.SplitN(string(b), "|", 4)
	if len(parts) != 4 || parts[0] != kind || parts[3] == "" {
		return time.Time{}, "", invalid
	}
	micros, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return time.Time{}, "", invalid
	}
	if parts[1] != filterDigest(filters) {
		names := make([]string, 0, len(filters))
		for _, f := range filters {
			names = append(names, f.Column)
		}
		return time.Time{}, "", fmt.Errorf("%w: the page token belongs to a listing with other filters (%s) than this request; send the filters of the first page with it, or restart paging without pageToken",
			errs.ErrInvalid, strings.Join(names, ", "))
	}
	return time.UnixMicro(micros).UTC(), parts[3], nil
}

// filterDigest is a short digest of the filters in force, "" for none: the
// values of each are a set, so their order does not matter.
func filterDigest(filters []Filter) string {
	h := sha256.New()
	filtered := false
	for _, f := range filters {
		if len(f.Values) == 0 {
			continue
		}
		filtered = true
		// Lengths first, so no value can pass for two.
		fmt.Fprintf(h, "%d:%s=", len(f.Column), f.Column)
		for _, v := range slices.Compact(slices.Sorted(slices.Values(f.Values))) {
			fmt.Fprintf(h, "%d:%s,", len(v), v)
		}
	}
	if !filtered {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}
