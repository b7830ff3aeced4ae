package sqldb

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"buzhou.dev/platform/errs"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	mcp := []Filter{{Column: "domain", Values: []string{"mcp"}}, {Column: "status"}}
	tests := []struct {
		name    string
		kind    string
		filters []Filter
		at      time.Time
		id      string
	}{
		{"plain", "a", nil, time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), "art_x"},
		{"separator in id", "a", nil, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "a|b.c"},
		{"before 1970", "p", nil, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), "prn_old"},
		{"unicode id", "k", nil, time.Unix(0, 0).UTC(), "文章"},
		{"filtered", "a", mcp, time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), "art_x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			at, id, err := decodeCursor(tt.kind, tt.filters, encodeCursor(tt.kind, tt.filters, tt.at, tt.id))
			if err != nil {
				t.Fatalf("decodeCursor refused its own token: %v", err)
			}
			if !at.Equal(tt.at) || id != tt.id || at.Location() != time.UTC {
				t.Fatalf("got (%v, %q), want (%v, %q)", at, id, tt.at, tt.id)
			}
			if _, _, err := decodeCursor("x", tt.filters, encodeCursor(tt.kind, tt.filters, tt.at, tt.id)); !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("a token of one list was taken for another's: %v", err)
			}
		})
	}
}

// A token binds the filters in force (as sets of values), not the page size
// or filters that are not set.
func TestCursorFilters(t *testing.T) {
	t.Parallel()
	f := func(domain string, statuses ...string) []Filter {
		var d []string
		if domain != "" {
			d = []string{domain}
		}
		return []Filter{{Column: "domain", Values: d}, {Column: "status", Values: statuses}}
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	tests := []struct {
		name     string
		made, as []Filter
		ok       bool
	}{
		{"same", f("mcp", "published"), f("mcp", "published"), true},
		{"values in another order", f("", "published", "deprecated"), f("", "deprecated", "published"), true},
		{"repeated value", f("", "published", "published"), f("", "published"), true},
		{"no filters either time", f(""), nil, true},
		{"other domain", f("mcp"), f("agent"), false},
		{"domain dropped", f("mcp"), f(""), false},
		{"domain added", f(""), f("mcp"), false},
		{"other statuses", f("", "published"), f("", "published", "draft"), false},
		{"value moved to another filter", f("mcp"), []Filter{{Column: "domain"}, {Column: "status", Values: []string{"mcp"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := decodeCursor("a", tt.as, encodeCursor("a", tt.made, at, "art_x"))
			if tt.ok {
				if err != nil {
					t.Fatalf("decodeCursor = %v, want the token taken", err)
				}
				return
			}
			if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "other filters") ||
				!strings.Contains(err.Error(), "restart paging without pageToken") {
				t.Fatalf("decodeCursor = %v, want an invalid-argument error about other filters", err)
			}
		})
	}
}

func TestCursorInvalid(t *testing.T) {
	t.Parallel()
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tok := range []string{
		"%%%", "", b64("a||123"), b64("a||x|art"), b64("a||123|"), b64("a|123|art"), b64("k||123|key"),
		b64("1767323045000006.art_x"), // the format before filters were bound
		"eyJ9fQ==",
	} {
		if _, _, err := decodeCursor("a", nil, tok); !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "page token is not valid") {
			t.Errorf("decodeCursor(%q) = %v, want it refused as invalid", tok, err)
		}
	}
}
