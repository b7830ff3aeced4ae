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
	var lower []byte
	pr := probes(q)
	for i, r := range results {
		p := *r.Payload // the texts join a copy: the result is shared
		p.TextZH, p.TextEN = texts[i][0], texts[i][1]
		out[i], lower = snippet(&p, pr, lang, lower[:0])
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
	s, _ := snippet(p, probes(q), lang, nil)
	return s
}

// probes are the distinct first four bytes of the query's terms and
// corrections.
func probes(q document.Query) [][]byte {
	var out [][]byte
	for _, t := range append(slices.Clone(q.Terms), q.Corrections...) {
		if pr := []byte(t[:min(len(t), 4)]); !slices.ContainsFunc(out, func(o []byte) bool { return bytes.Equal(o, pr) }) {
			out = append(out, pr)
		}
	}
	return out
}

// snippet is Snippet for the query's probes, lower-casing into buf, which
// it returns for the next.
func snippet(p *index.Payload, probes [][]byte, lang string, buf []byte) (string, []byte) {
	text := Pick(lang, p.TextZH, p.TextEN)
	// Lower-casing maps line to line (it neither makes nor takes a
	// newline), so the lower-cased text's lines number the text's. Each
	// probe is looked for once in the whole of it, and its matches are
	// counted once per line: a search per line per probe cost more than
	// the search itself on short lines.
	end := 0 // of the first snippetLines lines
	for n := 0; n < snippetLines && end < len(text); n++ {
		i := strings.IndexByte(text[end:], '\n')
		if i < 0 {
			end = len(text)
			break
		}
		end += i + 1
	}
	lower := appendLower(buf, text[:end])
	var ends [snippetLines]int // each lower-cased line's newline (or the end)
	lines := 0
	for at := 0; at < len(lower) && lines < snippetLines; lines++ {
		i := bytes.IndexByte(lower[at:], '\n')
		if i < 0 {
			i = len(lower) - at
		}
		ends[lines] = at + i
		at += i + 1
	}
	var score [snippetLines]int
	for _, pr := range probes {
		for at := 0; at < len(lower); {
			i := bytes.Index(lower[at:], pr)
			if i < 0 {
				break
			}
			line, _ := slices.BinarySearch(ends[:lines], at+i)
			score[line]++
			// On to the next line: more matches on this one count nothing.
			at = ends[line] + 1
		}
	}
	bestLine, bestScore := -1, 0
	for l, sc := range score[:lines] {
		if sc > bestScore {
			bestLine, bestScore = l, sc
		}
	}
	best := ""
	if bestLine >= 0 {
		for range bestLine {
			_, text, _ = strings.Cut(text, "\n")
		}
		line, _, _ := strings.Cut(text, "\n")
		best = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "#>*-|` "))
	}
	if best == "" {
		return cut(Pick(lang, p.SummaryZH, p.SummaryEN), snippetRunes), lower
	}
	return cut(best, snippetRunes), lower
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
