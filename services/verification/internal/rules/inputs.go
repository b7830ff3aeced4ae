package rules

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"buzhou.dev/verification/internal/linkcheck"
)

// Ages past which the newest record is stale.
const (
	StaleAfter    = 30 * 24 * time.Hour
	CriticalAfter = 90 * 24 * time.Hour
)

// RecordRules evaluates the rules that read the records (RecordKeys), given
// the times of the article's records by verifiers that run the article (the
// inspection bot's own records do not count: they say the checks passed,
// not that the fix works).
func RecordRules(recordTimes []time.Time, now time.Time) []Finding {
	if len(recordTimes) == 0 {
		return []Finding{{RuleKey: KeyMissingRecord, Severity: vocab.RiskHigh, FieldPath: "verifications",
			Title:    "No verification record",
			Evidence: "nobody has recorded running this article's instructions; until someone does, agents cannot tell whether it works"}}
	}
	newest := recordTimes[0]
	for _, t := range recordTimes {
		if t.After(newest) {
			newest = t
		}
	}
	age := now.Sub(newest)
	severity := ""
	switch {
	case age > CriticalAfter:
		severity = vocab.RiskCritical
	case age > StaleAfter:
		severity = vocab.RiskHigh
	default:
		return nil
	}
	return []Finding{{RuleKey: KeyStaleRecord, Severity: severity, FieldPath: "verifications",
		Title:    "Verification is stale",
		Evidence: fmt.Sprintf("the newest record is %d days old (%s); run the article again and record the result", int(age.Hours()/24), newest.UTC().Format(time.DateOnly))}}
}

// LinkRules evaluates the rules that read link check results (LinkKeys);
// results[i] is the check of a.References[i].
func LinkRules(a *articlev1.Article, results []linkcheck.Result) []Finding {
	var out []Finding
	for i, r := range results {
		if i >= len(a.GetReferences()) {
			break
		}
		path := index("references", i) + ".url"
		switch r.Outcome {
		case linkcheck.Unreachable:
			out = append(out, Finding{RuleKey: KeyLinkUnreachable, Severity: vocab.RiskMedium, FieldPath: path,
				Title: "Reference link unreachable", Evidence: Clip(r.URL+": "+r.Reason, 400)})
		case linkcheck.Redirected:
			out = append(out, Finding{RuleKey: KeyLinkRedirected, Severity: vocab.RiskLow, FieldPath: path,
				Title: "Reference link moved permanently", Evidence: Clip(r.URL+" "+r.Reason, 400),
				Fix: &Fix{Kind: FixReferenceURL, Index: i, Value: r.FinalURL}})
		case linkcheck.Failed:
			out = append(out, Finding{RuleKey: KeyLinkCheckFailed, Severity: vocab.RiskLow, FieldPath: path,
				Title: "Reference link could not be checked", Evidence: Clip(r.URL+": "+r.Reason, 400)})
		}
	}
	return out
}

// Duplicate is another published article and how much of its text this
// article shares (Similarity, 0–1).
type Duplicate struct {
	ID, Slug   string
	Similarity float64
}

// NearDuplicateAt is the similarity from which an article is a near duplicate.
const NearDuplicateAt = 0.8

// DuplicateRules evaluates content.near_duplicate over the similar articles
// search proposed.
func DuplicateRules(similar []Duplicate) []Finding {
	var (
		dups []string
		best float64
	)
	for _, d := range similar {
		if d.Similarity >= NearDuplicateAt {
			dups = append(dups, fmt.Sprintf("%s (%s, %.0f%% shared)", d.Slug, d.ID, 100*d.Similarity))
			best = max(best, d.Similarity)
		}
	}
	if len(dups) == 0 {
		return nil
	}
	return []Finding{{RuleKey: KeyNearDuplicate, Severity: vocab.RiskMedium, FieldPath: "content",
		Title:    "Near duplicate of another published article",
		Evidence: Clip("shares most of its text with "+strings.Join(dups, ", ")+"; merge them or make the difference clear", 500)}}
}

// shingleSize is the number of words per shingle.
const shingleSize = 3

// Similarity is the Jaccard similarity of the two articles' word 3-shingles
// over title, summary and content in both languages (Chinese characters
// count as words): 1 for the same text, near 0 for unrelated ones.
func Similarity(a, b *articlev1.Article) float64 {
	sa, sb := shingles(a), shingles(b)
	if len(sa) == 0 || len(sb) == 0 {
		return 0
	}
	shared := 0
	for s := range sa {
		if sb[s] {
			shared++
		}
	}
	return float64(shared) / float64(len(sa)+len(sb)-shared)
}

func shingles(a *articlev1.Article) map[string]bool {
	var words []string
	for _, l := range localized(a) {
		words = append(words, tokens(l.text.GetEn())...)
		words = append(words, tokens(l.text.GetZh())...)
	}
	out := map[string]bool{}
	for i := 0; i+shingleSize <= len(words); i++ {
		out[strings.Join(words[i:i+shingleSize], " ")] = true
	}
	if len(out) == 0 && len(words) > 0 {
		out[strings.Join(words, " ")] = true
	}
	return out
}

// tokens splits text into lower-case words, each Han character a word.
func tokens(s string) []string {
	var (
		out []string
		cur strings.Builder
	)
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.Is(unicode.Han, r):
			flush()
			out = append(out, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return out
}
