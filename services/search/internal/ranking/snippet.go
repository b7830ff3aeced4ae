package ranking

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	"buzhou.dev/search/internal/analysis"
	"buzhou.dev/search/internal/document"
	"buzhou.dev/search/internal/index"
)

// Snippets returns a snippet for each result (see Snippet), reading the
// results' chunk texts from the index in one call.
func (e *Engine) Snippets(ctx context.Context, results []Result, q document.Query, lang string) ([]string, error) {
	refs := make([]index.Ref, len(results))
	for i, r := range results {
		refs[i] = index.Ref{ArticleID: r.Payload.ArticleID, Chunk: r.Payload.Chunk}
	}
	texts, err := e.idx.Texts(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("%w: read snippets: %w", errs.ErrUnavailable, err)
	}
	out := make([]string, len(results))
	for i, r := range results {
		p := r.Payload
		p.TextZH, p.TextEN = texts[i][0], texts[i][1]
		out[i] = Snippet(&p, q, lang)
	}
	return out, nil
}

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

// snippetLines bounds the lines a snippet is looked for in: a match that
// deep in a chunk is rare, and scanning costs on every result.
const snippetLines = 200

// Snippet returns the line of the chunk's text (in lang, else the other
// language) that holds most of the query's terms (or their spelling
// corrections), cut to about 240 characters; the summary when nothing
// matches. A line holds a term when it holds the term's first four bytes,
// lower-cased: analysing every line of every result would cost more than
// the whole search, and a stem's first bytes are the word's.
func Snippet(p *index.Payload, q document.Query, lang string) string {
	text := Pick(lang, p.TextZH, p.TextEN)
	seen := map[string]bool{}
	var probes []string
	for _, t := range append(slices.Clone(q.Terms), q.Corrections...) {
		if pr := t[:min(len(t), 4)]; !seen[pr] {
			seen[pr] = true
			probes = append(probes, pr)
		}
	}
	best, bestScore := "", 0
	for n, line := range strings.Split(text, "\n") {
		if n == snippetLines {
			break
		}
		lower := strings.ToLower(line)
		score := 0
		for _, pr := range probes {
			if strings.Contains(lower, pr) {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "#>*-|` ")), score
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
