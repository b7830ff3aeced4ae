package auth

import (
	"errors"
	"strings"
	"testing"

	"buzhou.dev/platform/errs"
)

// FuzzParseAuthorization feeds arbitrary Authorization and x-api-key values:
// parsing never panics, refusals are always UNAUTHENTICATED (malformed) with a
// hint, and an accepted key is printable ASCII without spaces that
// round-trips through either header.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer abc", "BEARER  abc ", "Token abc", "Basic YTpi", "abc", "", " ", "Bearer", "Bearer a b",
		"Bearer \tx", "Bearer\u00a0x", "Bearer x\u00a0", "Bearer x\xff", "Bearer x\r\n", "Bearer bzk_0123456789abcdefghijklmnopqrstuv"} {
		f.Add(s, "")
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, authorization, apiKey string) {
		key, err := PresentedKey([]string{authorization}, []string{apiKey})
		if err != nil {
			if !errors.Is(err, errs.ErrUnauthenticated) || ReasonOf(err) != ReasonMalformed {
				t.Fatalf("refusal %v is not a malformed-key refusal", err)
			}
			if !strings.Contains(err.Error(), "Bearer") {
				t.Fatalf("refusal %q does not say how to send a key", err)
			}
			return
		}
		if key == "" {
			if trimBlanks(authorization) != "" || trimBlanks(apiKey) != "" {
				t.Fatalf("no key from %q / %q", authorization, apiKey)
			}
			return
		}
		if err := CheckKey(key); err != nil {
			t.Fatalf("accepted key %q from %q / %q: %v", key, authorization, apiKey, err)
		}
		for _, h := range [][2][]string{{{"Bearer " + key}, nil}, {nil, {key}}, {{"Bearer " + key}, {"other"}}} {
			if again, err := PresentedKey(h[0], h[1]); err != nil || again != key {
				t.Fatalf("round trip of %q: %q, %v", key, again, err)
			}
		}
	})
}
