package ranking

import (
	"errors"
	"strings"
	"testing"

	"buzhou.dev/platform/errs"
)

// FuzzVersion: version= and applicable-version entries from outside never
// panic; a version is refused with ErrInvalid or parses to a version with a
// lower-case name that parses back to itself and admits itself.
func FuzzVersion(f *testing.F) {
	for _, s := range [][2]string{{"1.4.2", ">=1.0 <2"}, {"openai@1.4.2", "openai>=1.0"}, {"python 3.11", "python 3.x"},
		{"v1.2", "^1.2 || ~2.0"}, {"", "*"}, {"1.2.3-beta+x", "node 18.x"}, {strings.Repeat("9", 200), ">=\xff"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, version, entry string) {
		v, err := ParseVersion(version)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("ParseVersion(%q) = %v, not ErrInvalid", version, err)
			}
			return
		}
		if v == nil {
			if strings.TrimSpace(version) != "" {
				t.Fatalf("ParseVersion(%q) = nil, nil", version)
			}
			return
		}
		if v.V == nil || v.Name != strings.ToLower(v.Name) {
			t.Fatalf("ParseVersion(%q) = %+v", version, v)
		}
		_ = v.Admits([]string{entry, version})
		if v.Name != "" {
			return // "openai@x" round trips through the subject, below without
		}
		again, err := ParseVersion(v.V.String())
		if err != nil || !again.V.Equal(v.V) {
			t.Fatalf("ParseVersion(%q) = %v, whose %q parses to %v, %v", version, v.V, v.V.String(), again, err)
		}
		if !v.Admits([]string{v.V.String()}) {
			t.Fatalf("version %s does not admit itself", v.V)
		}
	})
}
