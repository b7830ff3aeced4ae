package auth

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"google.golang.org/grpc/metadata"

	"buzhou.dev/platform/errs"
)

// FuzzParseAuthorization feeds arbitrary Authorization headers: parsing never
// panics, refusals are always UNAUTHENTICATED with a hint, and an accepted key
// is one token that round-trips through "Bearer <key>".
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer abc", "BEARER  abc ", "Token abc", "Basic YTpi", "abc", "", " ", "Bearer", "Bearer a b", "Bearer \tx", "Bearer\u00a0x", "Bearer bzk_0123456789abcdefghijklmnopqrstuv"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		key, err := ParseAuthorization(h)
		if err != nil {
			if !errors.Is(err, errs.ErrUnauthenticated) {
				t.Fatalf("refusal %v is not ErrUnauthenticated", err)
			}
			if !strings.Contains(err.Error(), "Bearer") {
				t.Fatalf("refusal %q does not say how to send a key", err)
			}
			return
		}
		if key == "" || strings.ContainsAny(key, " \t") {
			t.Fatalf("accepted key %q from %q", key, h)
		}
		if strings.TrimFunc(key, unicode.IsSpace) != key {
			t.Fatalf("accepted key %q keeps surrounding space", key)
		}
		again, err := ParseAuthorization("Bearer " + key)
		if err != nil || again != key {
			t.Fatalf("round trip of %q: %q, %v", key, again, err)
		}
		md := metadata.Pairs("authorization", h, "x-api-key", "ignored-when-authorization-is-set")
		if got, err := SecretFromMetadata(md); err != nil || got != key {
			t.Fatalf("SecretFromMetadata(%q) = %q, %v", h, got, err)
		}
	})
}
