package ranking

import (
	"strings"
	"unicode/utf8"

	"buzhou.dev/platform/vocab"
	"buzhou.dev/search/internal/analysis"
	"buzhou.dev/search/internal/document"
	"buzhou.dev/search/internal/index"
)

// snippetRunes is the longest snippet.
const snippetRunes = 240

// QueryLang guesses the language of a query: Chinese when it holds CJK
// text, else English.
func QueryLang(q string) string {
	cjk := false
	analysis.Scan(q, func(t analysis.Token) { cjk = cjk || t.CJK })
	if cjk {
		return vocab.LangZH
	}
	return vocab.LangEN
}

// Pick returns the text in lang, or in the other language when lang has
// none.
func Pick(lang, zh, en string) string {
	if lang == vocab.LangZH && zh != "" || en == "" {
		return zh
	}
	return en
}

// Snippet returns the line of the chunk's text (in lang, else the other
// language) that holds most of the query's terms, cut to about 240
// characters around the first match; the summary when nothing matches.
func Snippet(p *index.Payload, q document.Query, lang string) string {
	text := Pick(lang, p.TextZH, p.TextEN)
	want := map[string]bool{}
	for _, t := range q.Terms {
		want[t] = true
	}
	for _, g := range q.Grams {
		want[g] = true
	}
	best, bestScore := "", 0.0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "#>*-|` "))
		if line == "" {
			continue
		}
		score, seen := 0.0, map[string]bool{} // each term counts once per line
		for _, t := range analysis.Terms(line) {
			if want[t] && !seen[t] {
				seen[t] = true
				score++
			}
		}
		for _, g := range analysis.Grams(line) {
			if want[g] && !seen[g] {
				seen[g] = true
				score += 0.1
			}
		}
		if score > bestScore {
			best, bestScore = line, score
		}
	}
	if best == "" {
		return cut(Pick(lang, p.SummaryZH, p.SummaryEN), snippetRunes)
	}
	return cut(best, snippetRunes)
}

// cut shortens s to about n runes at a space when there is one near.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n]
	if i := strings.LastIndexByte(string(r), ' '); i > len(string(r))*3/4 {
		return string(r)[:i] + " …"
	}
	return string(r) + "…"
}
