package sqldb_test

import (
	"encoding/base64"
	"testing"
	"time"

	"buzhou.dev/platform/sqldb"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kind string
		at   time.Time
		id   string
	}{
		{"plain", "", time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), "art_x"},
		{"dot in id", "", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "a.b.c"},
		{"before 1970", "", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), "art_old"},
		{"unicode id", "", time.Unix(0, 0).UTC(), "文章"},
		{"kind plain", "k", time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), "key_x"},
		{"kind dot in id", "k", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "a.b.c"},
		{"kind before 1970", "p", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), "prn_old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			at, id, ok := sqldb.DecodeCursor(tt.kind, sqldb.EncodeCursor(tt.kind, tt.at, tt.id))
			if !ok {
				t.Fatal("DecodeCursor refused its own token")
			}
			if !at.Equal(tt.at) || id != tt.id {
				t.Fatalf("got (%v, %q), want (%v, %q)", at, id, tt.at, tt.id)
			}
			if tt.kind == "" {
				return
			}
			if _, _, ok := sqldb.DecodeCursor("x", sqldb.EncodeCursor(tt.kind, tt.at, tt.id)); ok {
				t.Fatal("a token of one list was taken for another's")
			}
		})
	}
}

// Tokens already handed out must keep working: the bytes are the stores'
// from before the codec moved here.
func TestCursorFormat(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for kind, plain := range map[string]string{"": "1767323045000006.art_x", "k": "k1767323045000006.art_x"} {
		if got, want := sqldb.EncodeCursor(kind, at, "art_x"), base64.RawURLEncoding.EncodeToString([]byte(plain)); got != want {
			t.Errorf("EncodeCursor(%q) = %q, want %q", kind, got, want)
		}
	}
}

func TestCursorInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind string
		toks []string
	}{
		{"", []string{"%%%", "", "MTIz", "LmFydA", "eC5hcnQ"}},      // "123", ".art", "x.art"
		{"k", []string{"%%%", "", "azEyMw", "ay5rZXk", "a3gua2V5"}}, // "k123", "k.key", "kx.key"
	}
	for _, tt := range tests {
		for _, tok := range tt.toks {
			if _, _, ok := sqldb.DecodeCursor(tt.kind, tok); ok {
				t.Errorf("DecodeCursor(%q, %q) took it", tt.kind, tok)
			}
		}
	}
}
