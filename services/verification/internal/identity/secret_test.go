package identity

import (
	"strings"
	"testing"
)

func TestAdminPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, secret, want string
	}{
		{"long", "s3cr3t-operator-key", "s3cr3t…"},
		{"twelve", "abcdefghijkl", "abcdef…"},
		{"short", "abcd", "ab…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := adminPrefix(tt.secret); got != tt.want {
				t.Fatalf("adminPrefix(%q) = %q, want %q", tt.secret, got, tt.want)
			}
		})
	}
}

// Every base62 character turns up, and nothing else does.
func TestRandomBase62(t *testing.T) {
	t.Parallel()
	s := randomBase62(20_000)
	if len(s) != 20_000 {
		t.Fatalf("got %d characters", len(s))
	}
	counts := map[rune]int{}
	for _, r := range s {
		if !strings.ContainsRune(base62, r) {
			t.Fatalf("character %q is not base62", r)
		}
		counts[r]++
	}
	if len(counts) != 62 {
		t.Fatalf("%d distinct characters, want 62", len(counts))
	}
	for r, n := range counts {
		// 20000/62 ≈ 323; a fair draw stays far inside these bounds.
		if n < 200 || n > 450 {
			t.Errorf("character %q drawn %d times, want about 323", r, n)
		}
	}
}

func TestHashSecret(t *testing.T) {
	t.Parallel()
	// SHA-256("abc"), the FIPS 180-2 test vector.
	if got := hashSecret("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("hashSecret(abc) = %s", got)
	}
}
