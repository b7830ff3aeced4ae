package ranking

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"unicode"
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
		refs[i] = index.Ref{ArticleID: r.Payload.ArticleID, Chunk: r.Payload.Chunk, Lang: lang}
	}
	texts, err := e.idx.Texts(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("%w: read snippets: %w", errs.ErrUnavailable, err)
	}
	out := make([]string, len(results))
	for i, r := range results {
		p := *r.Payload // the texts join a copy: the result is shared
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
	var probes [][]byte
	for _, t := range append(slices.Clone(q.Terms), q.Corrections...) {
		if pr := t[:min(len(t), 4)]; !seen[pr] {
			seen[pr] = true
			probes = append(probes, []byte(pr))
		}
	}
	best, bestScore := "", 0
	// Lower-casing maps line to line (it neither makes nor takes a
	// newline), so the text's lines and its lower-cased lines are cut in
	// step: one pass over the whole text instead of one per line.
	lower := appendLower(nil, text)
	for n := 0; n < snippetLines && text != ""; n++ {
		var line string
		var low []byte
		line, text, _ = strings.Cut(text, "\n")
		low, lower, _ = bytes.Cut(lower, []byte{'\n'})
		score := 0
		for _, pr := range probes {
			if bytes.Contains(low, pr) {
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

// appendLower appends s lower-cased to b. It is strings.ToLower without
// the allocation, and without the case tables for CJK text, which has no
// case: snippets lower-case every line of every result shown.
func appendLower(b []byte, s string) []byte {
	b = slices.Grow(b, len(s))
	for len(s) > 0 {
		// Eight ASCII bytes at a time: 'A'–'Z' are the bytes with the top
		// bit of b+0x3f set and of b+0x25 clear; adding 0x20 (the mask
		// shifted down) lower-cases them, and no sum carries into the
		// next byte, every byte being under 0x80.
		for len(s) >= 8 {
			w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
				uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
			if w&0x8080808080808080 != 0 {
				break
			}
			upper := (w + 0x3f3f3f3f3f3f3f3f) &^ (w + 0x2525252525252525) & 0x8080808080808080
			b = binary.LittleEndian.AppendUint64(b, w|upper>>2)
			s = s[8:]
		}
		if len(s) == 0 {
			break
		}
		if c := s[0]; c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b, s = append(b, c), s[1:]
			continue
		}
		r, size := utf8.DecodeRuneInString(s)
		if r >= 0x3000 && r < 0xA000 || r >= 0xAC00 && r < 0xD7B0 { // CJK, kana, Hangul
			b = append(b, s[:size]...)
		} else {
			b = utf8.AppendRune(b, unicode.ToLower(r))
		}
		s = s[size:]
	}
	return b
}

// cut shortens s to about n runes, at a space when there is one near.
func cut(s string, n int) string {
	end := 0
	for range n {
		if end == len(s) {
			return s
		}
		_, size := utf8.DecodeRuneInString(s[end:])
		end += size
	}
	if end == len(s) {
		return s
	}
	head := s[:end]
	if i := strings.LastIndexByte(head, ' '); i > len(head)*3/4 {
		return head[:i] + " …"
	}
	return head + "…"
}
