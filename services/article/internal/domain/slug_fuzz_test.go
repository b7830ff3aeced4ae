package domain

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSlugify: whatever the title, the slug is lower-case ASCII letters and
// digits in words joined by single dashes, at most MaxSlugLen long, and a
// slug slugifies to itself.
func FuzzSlugify(f *testing.F) {
	for _, s := range []string{"Fixing EADDRINUSE on port 8080", "解决 EADDRINUSE", "Crème brûlée — déjà vu", "--a--b--", "", strings.Repeat("long ", 40), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, title string) {
		s := Slugify(title)
		if len(s) > MaxSlugLen || strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-") || strings.Contains(s, "--") {
			t.Fatalf("Slugify(%q) = %q: too long or badly dashed", title, s)
		}
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				t.Fatalf("Slugify(%q) = %q has %q", title, s, r)
			}
		}
		if !utf8.ValidString(s) || Slugify(s) != s {
			t.Fatalf("Slugify(%q) = %q, which slugifies to %q", title, s, Slugify(s))
		}
	})
}
