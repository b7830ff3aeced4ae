package ledger

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"buzhou.dev/platform/errs"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/rules"
)

// Limits of what a caller sends.
const (
	maxEnvRunes      = 64
	maxExtras        = 16
	maxExtraKeyRunes = 64
	maxExtraValRunes = 256
	maxNotesBytes    = 4 << 10
	maxEvidenceBytes = 16 << 10
	maxDetailsRunes  = 4000
	maxNoteRunes     = 1000
)

// checkText refuses text over limit bytes (or runes, when runes is set),
// with control characters other than newlines and tabs, invisible format
// characters (which hide text on a page that agents then read), or
// instructions to the agents who read it.
func checkText(field, s string, limit int, runes, multiline bool) error {
	n, unit := len(s), "bytes"
	if runes {
		n, unit = utf8.RuneCountInString(s), "characters"
	}
	if n > limit {
		return fmt.Errorf("%w: %s is %d %s, more than %d; shorten it", errs.ErrInvalid, field, n, unit, limit)
	}
	for i, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			if !multiline {
				return fmt.Errorf("%w: %s has a line break or tab at byte %d; keep it on one line", errs.ErrInvalid, field, i)
			}
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return fmt.Errorf("%w: %s has the invisible character U+%04X at byte %d; remove it", errs.ErrInvalid, field, r, i)
		}
	}
	// What callers write is shown to other agents beside the article.
	if what := rules.InstructsAgent(s); what != "" {
		return fmt.Errorf("%w: %s contains %s; describe what happened instead of addressing the agents who will read it", errs.ErrInvalid, field, what)
	}
	return nil
}

// checkEnvironment validates where something ran.
func checkEnvironment(field string, env *verificationv1.Environment) error {
	for _, f := range []struct{ name, v string }{{"os", env.GetOs()}, {"runtime", env.GetRuntime()}, {"runtimeVersion", env.GetRuntimeVersion()}} {
		if err := checkText(field+"."+f.name, f.v, maxEnvRunes, true, false); err != nil {
			return err
		}
	}
	extras := env.GetExtras()
	if len(extras) > maxExtras {
		return fmt.Errorf("%w: %s.extras has %d entries, more than %d; keep the ones that matter", errs.ErrInvalid, field, len(extras), maxExtras)
	}
	for _, k := range slices.Sorted(maps.Keys(extras)) {
		if strings.TrimSpace(k) == "" {
			return fmt.Errorf("%w: %s.extras has an empty key; name each entry", errs.ErrInvalid, field)
		}
		if err := checkText(field+".extras key "+fmt.Sprintf("%q", rules.Clip(k, 20)), k, maxExtraKeyRunes, true, false); err != nil {
			return err
		}
		if err := checkText(field+".extras."+k, extras[k], maxExtraValRunes, true, false); err != nil {
			return err
		}
	}
	return nil
}

// checkPageSize refuses a negative page size; 0 means the default.
func checkPageSize(n int32, max int) error {
	if n < 0 {
		return fmt.Errorf("%w: pageSize must be between 1 and %d, or 0 for the default", errs.ErrInvalid, max)
	}
	return nil
}

// pageSize is the store page size for a request's (default def, at most max).
func pageSize(size int32, def, max int) int {
	switch {
	case size <= 0:
		return def
	case int(size) > max:
		return max
	}
	return int(size)
}
