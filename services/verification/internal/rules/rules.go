// Package rules is the inspection rule engine: pure functions from an
// article and what is known about it (its verification records, its links'
// check results, similar articles) to findings, each with a rule key, a
// severity and the field it concerns, and for the safe cases a fix.
//
// Rules are grouped by what they read, so a change of one input re-evaluates
// only the rules that read it: a new record re-runs RecordRules alone, and
// rules whose input is missing (links not checked, search not answering) are
// not evaluated at all, which leaves their earlier findings as they were.
package rules

import (
	"encoding/json"
	"fmt"
	"strings"

	"buzhou.dev/platform/vocab"
)

// Rule keys.
const (
	KeyMissingLocale   = "bilingual.missing_locale"
	KeyMissingRecord   = "verification.missing_record"
	KeyStaleRecord     = "verification.stale_record"
	KeyLinkUnreachable = "link.unreachable"
	KeyLinkRedirected  = "link.redirected"
	KeyLinkCheckFailed = "link.check_failed"
	KeyCodeLanguage    = "code.missing_language"
	KeyTooFewQA        = "qa.too_few"
	KeySummaryTooLong  = "summary.too_long"
	KeyNearDuplicate   = "content.near_duplicate"
	KeyUnsafeForAgents = "content.unsafe_for_agents"
	KeyTagsNormalized  = "tags.not_normalized"
	KeyKeywordsMissing = "keywords.missing"
	// ReportedPrefix starts the keys of agents' problem reports
	// ("reported.outdated", …), which no rule evaluates.
	ReportedPrefix = "reported."
)

// ContentKeys are the rules that read only the article.
func ContentKeys() []string {
	return []string{KeyMissingLocale, KeyCodeLanguage, KeyTooFewQA, KeySummaryTooLong, KeyUnsafeForAgents, KeyTagsNormalized, KeyKeywordsMissing}
}

// RecordKeys are the rules that read the verification records.
func RecordKeys() []string { return []string{KeyMissingRecord, KeyStaleRecord} }

// LinkKeys are the rules that read the link check results.
func LinkKeys() []string { return []string{KeyLinkUnreachable, KeyLinkRedirected, KeyLinkCheckFailed} }

// DuplicateKeys are the rules that read the similar articles.
func DuplicateKeys() []string { return []string{KeyNearDuplicate} }

// Finding is one rule hit.
type Finding struct {
	RuleKey  string
	Severity string
	// FieldPath is the article field concerned in the API's JSON names,
	// e.g. "content.zh", "references[2].url"; one finding per rule and path.
	FieldPath string
	Title     string
	Evidence  string
	// Fix is the safe repair, nil when the finding needs a person.
	Fix *Fix
}

// SeverityRank orders severities (and risk levels): low 1 … critical 4, 0 for
// anything else.
func SeverityRank(s string) int {
	for i, l := range vocab.RiskLevels() {
		if l == s {
			return i + 1
		}
	}
	return 0
}

// Risk is the risk level of open findings of these severities: the highest,
// low when there is none.
func Risk(severities []string) string {
	risk := vocab.RiskLow
	for _, s := range severities {
		if SeverityRank(s) > SeverityRank(risk) {
			risk = s
		}
	}
	return risk
}

// Clip shortens s to at most n runes for evidence, marking the cut.
func Clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// jsonOf is v as JSON, for evidence, patches and audit entries.
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%q", fmt.Sprint(v))
	}
	return string(b)
}

// index is a field path element, e.g. index("references", 2) = "references[2]".
func index(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

// Plural is n and the noun, plural when n is not 1.
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
