package ranking

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/Masterminds/semver/v3"

	"buzhou.dev/platform/errs"
)

// Version is the version= filter: a version, optionally of a named subject
// ("1.4.2", "openai@1.4.2", "python 3.11").
type Version struct {
	// Name is the subject, lower-case; "" matches entries of any subject.
	Name string
	V    *semver.Version
}

// maxVersionLen bounds version= and each applicable-version entry.
const maxVersionLen = 100

// ParseVersion reads the version= parameter.
func ParseVersion(s string) (*Version, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if len(s) > maxVersionLen {
		return nil, fmt.Errorf("%w: version is %d characters long; give a version such as 1.4.2 or openai@1.4.2", errs.ErrInvalid, len(s))
	}
	name, rest := splitName(s)
	rest = strings.TrimLeft(rest, "@= ")
	v, err := semver.NewVersion(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: version %q is not a version; give one such as 1.4.2, 2.0 or openai@1.4.2", errs.ErrInvalid, s)
	}
	return &Version{Name: name, V: v}, nil
}

// splitName cuts a leading subject name off a version or constraint:
// "openai>=1.0" → "openai", ">=1.0"; "python 3.11" → "python", "3.11";
// ">=1.2 <2" → "", ">=1.2 <2".
func splitName(s string) (string, string) {
	i := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsDigit(r) || strings.ContainsRune("<>=~^!*@ ,|", r)
	})
	// A name ends in a letter: "python3" stays a name only before a
	// separator, and "v1.2" is a version.
	if i <= 0 || s[0] == 'v' && i == 1 {
		return "", s
	}
	name := s[:i]
	rest := strings.TrimSpace(s[i:])
	if rest == "" {
		return "", s
	}
	return strings.ToLower(name), rest
}

// Admits reports whether an article with these applicable versions is kept:
// one without entries (for the subject asked about) always is; otherwise one
// of its entries must admit the version. A version without a name weighs
// every entry; one with a name only the entries naming that subject.
// Entries that parse as neither a constraint nor a version are ignored.
func (v *Version) Admits(entries []string) bool {
	counted := false
	for _, e := range entries {
		if len(e) > maxVersionLen {
			continue
		}
		name, rest := splitName(strings.TrimSpace(e))
		if v.Name != "" && name != v.Name {
			continue // another subject's, or nobody's: it says nothing of this one
		}
		c, err := semver.NewConstraint(strings.TrimLeft(rest, "@"))
		if err != nil {
			continue
		}
		counted = true
		if c.Check(v.V) {
			return true
		}
	}
	return !counted
}
