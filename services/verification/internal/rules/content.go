package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// Limits of the content rules.
const (
	// MinQAPairs is how many question-answer pairs an article should carry.
	MinQAPairs = 3
	// A summary is one short paragraph: this many characters at most per
	// language (Chinese says as much in fewer).
	maxSummaryEN = 500
	maxSummaryZH = 250
)

// ContentRules evaluates the rules that read only the article (ContentKeys).
func ContentRules(a *articlev1.Article) []Finding {
	var out []Finding
	out = append(out, missingLocales(a)...)
	out = append(out, codeLanguages(a)...)
	if n := len(a.GetQaPairs()); n < MinQAPairs {
		out = append(out, Finding{RuleKey: KeyTooFewQA, Severity: vocab.RiskLow, FieldPath: "qaPairs",
			Title:    fmt.Sprintf("Fewer than %d question-answer pairs", MinQAPairs),
			Evidence: fmt.Sprintf("%s; agents answer follow-up questions from them, add at least %d", Plural(n, "pair"), MinQAPairs-n)})
	}
	out = append(out, longSummaries(a)...)
	out = append(out, Unsafe(a)...)
	out = append(out, tags(a)...)
	return out
}

// localized names the text fields that must exist in both languages.
func localized(a *articlev1.Article) []struct {
	field string
	text  *articlev1.LocalizedText
} {
	return []struct {
		field string
		text  *articlev1.LocalizedText
	}{{"title", a.GetTitle()}, {"summary", a.GetSummary()}, {"content", a.GetContent()}}
}

func missingLocales(a *articlev1.Article) []Finding {
	var out []Finding
	for _, l := range localized(a) {
		en, zh := strings.TrimSpace(l.text.GetEn()), strings.TrimSpace(l.text.GetZh())
		missing, has := "", ""
		switch {
		case en != "" && zh == "":
			missing, has = vocab.LangZH, vocab.LangEN
		case zh != "" && en == "":
			missing, has = vocab.LangEN, vocab.LangZH
		default:
			continue
		}
		out = append(out, Finding{RuleKey: KeyMissingLocale, Severity: vocab.RiskHigh, FieldPath: l.field + "." + missing,
			Title:    fmt.Sprintf("%s has no %s version", l.field, langName(missing)),
			Evidence: fmt.Sprintf("%s.%s has %d characters, %s.%s is empty", l.field, has, utf8.RuneCountInString(l.text.GetEn()+l.text.GetZh()), l.field, missing)})
	}
	return out
}

func langName(lang string) string {
	if lang == vocab.LangZH {
		return "Chinese (zh)"
	}
	return "English (en)"
}

// fence is a markdown code fence line: its marker and info string.
var fence = regexp.MustCompile("^ {0,3}(```+|~~~+)\\s*([^\\s`]*)")

func codeLanguages(a *articlev1.Article) []Finding {
	var out []Finding
	for i, cb := range a.GetCodeBlocks() {
		if strings.TrimSpace(cb.GetLanguage()) != "" {
			continue
		}
		f := Finding{RuleKey: KeyCodeLanguage, Severity: vocab.RiskLow, FieldPath: index("codeBlocks", i) + ".language",
			Title: "Code block without a language"}
		if lang := DetectLanguage(cb.GetCode()); lang != "" {
			f.Evidence = fmt.Sprintf("code block %d (%s) has no language; it reads as %s", i+1, cb.GetId(), lang)
			f.Fix = &Fix{Kind: FixCodeLanguage, Index: i, Value: lang}
		} else {
			f.Evidence = fmt.Sprintf("code block %d (%s) has no language, and it is not clear which one it is; set it", i+1, cb.GetId())
		}
		out = append(out, f)
	}
	for _, lang := range vocab.Langs() {
		text := a.GetContent().GetEn()
		if lang == vocab.LangZH {
			text = a.GetContent().GetZh()
		}
		if lines := unlabelledFences(text); len(lines) > 0 {
			out = append(out, Finding{RuleKey: KeyCodeLanguage, Severity: vocab.RiskLow, FieldPath: "content." + lang,
				Title:    "Fenced code without a language",
				Evidence: fmt.Sprintf("the fence opening at line %s names no language; write e.g. ```bash", joinInts(lines))})
		}
	}
	return out
}

// unlabelledFences returns the 1-based lines of opening fences without an
// info string.
func unlabelledFences(md string) []int {
	var (
		out    []int
		closer string
	)
	for i, line := range strings.Split(md, "\n") {
		m := fence.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if closer != "" {
			if strings.HasPrefix(strings.TrimSpace(line), closer) && m[2] == "" {
				closer = ""
			}
			continue
		}
		closer = m[1][:3]
		if m[2] == "" {
			out = append(out, i+1)
		}
	}
	return out
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

func longSummaries(a *articlev1.Article) []Finding {
	var out []Finding
	for _, l := range []struct {
		lang, text string
		limit      int
	}{{vocab.LangEN, a.GetSummary().GetEn(), maxSummaryEN}, {vocab.LangZH, a.GetSummary().GetZh(), maxSummaryZH}} {
		if n := utf8.RuneCountInString(l.text); n > l.limit {
			out = append(out, Finding{RuleKey: KeySummaryTooLong, Severity: vocab.RiskLow, FieldPath: "summary." + l.lang,
				Title:    "Summary too long",
				Evidence: fmt.Sprintf("%d characters, more than %d; keep it to one short paragraph and move the rest into the content", n, l.limit)})
		}
	}
	return out
}

// NormalizeTag is a tag as Buzhou writes them: lower case, words joined by
// '-' (spaces and underscores become one '-'), no '-' at either end.
func NormalizeTag(t string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimSpace(t)) {
		if unicode.IsSpace(r) || r == '_' || r == '-' {
			dash = b.Len() > 0
			continue
		}
		if dash {
			b.WriteByte('-')
			dash = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tags evaluates tags.not_normalized and keywords.missing, both fixable.
func tags(a *articlev1.Article) []Finding {
	var (
		out        []Finding
		normalized []string
		changed    []string
	)
	for _, t := range a.GetTags() {
		n := NormalizeTag(t)
		if n != t {
			changed = append(changed, fmt.Sprintf("%q → %q", t, n))
		}
		if n != "" && !slices.Contains(normalized, n) {
			normalized = append(normalized, n)
		} else if n == t {
			changed = append(changed, fmt.Sprintf("%q repeated", t))
		}
	}
	if len(changed) > 0 {
		out = append(out, Finding{RuleKey: KeyTagsNormalized, Severity: vocab.RiskLow, FieldPath: "tags",
			Title:    "Tags not normalised",
			Evidence: Clip(strings.Join(changed, ", "), 400),
			Fix:      &Fix{Kind: FixTags, Values: normalized}})
	}
	if len(a.GetKeywords()) == 0 && len(normalized) > 0 {
		kw := make([]string, len(normalized))
		for i, t := range normalized {
			kw[i] = strings.ReplaceAll(t, "-", " ")
		}
		out = append(out, Finding{RuleKey: KeyKeywordsMissing, Severity: vocab.RiskLow, FieldPath: "keywords",
			Title:    "No keywords",
			Evidence: fmt.Sprintf("no search keywords; filled from the %s", Plural(len(normalized), "tag")),
			Fix:      &Fix{Kind: FixKeywords, Values: kw}})
	}
	return out
}
