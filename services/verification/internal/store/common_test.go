package store

import (
	"errors"
	"testing"
	"time"

	"buzhou.dev/platform/errs"
)

func TestPageTokenRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		at   time.Time
		id   string
	}{
		{"plain", time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), "key_x"},
		{"dot in id", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "a.b.c"},
		{"before 1970", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), "prn_old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			at, id, err := decodePageToken(tokenKeys, encodePageToken(tokenKeys, tt.at, tt.id))
			if err != nil {
				t.Fatal(err)
			}
			if !at.Equal(tt.at) || id != tt.id {
				t.Fatalf("got (%v, %q), want (%v, %q)", at, id, tt.at, tt.id)
			}
			if _, _, err := decodePageToken(tokenPrincipals, encodePageToken(tokenKeys, tt.at, tt.id)); !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("a key token was taken for a principal token: %v", err)
			}
		})
	}
}

func TestPageTokenInvalid(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"%%%", "", "azEyMw", "ay5rZXk", "a3gua2V5"} { // "k123", "k.key", "kx.key"
		t.Run(tok, func(t *testing.T) {
			t.Parallel()
			if _, _, err := decodePageToken(tokenKeys, tok); !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("decodePageToken(%q) = %v, want ErrInvalid", tok, err)
			}
		})
	}
}
