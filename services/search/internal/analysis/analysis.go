// Package analysis turns text into the terms the search service indexes and
// queries: lower-cased, lightly stemmed Latin words; identifiers split on '.',
// '_', '-' and camelCase and also kept whole; error codes (-32602, 429,
// ECONNREFUSED) kept whole; CJK text as character bigrams; and character
// trigrams of Latin words, so that misspellings still share most features
// with the word they miss.
//
// Everything here is pure and safe for concurrent use; the index and the
// query go through exactly the same code.
package analysis

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// GramPrefix starts every character n-gram term, so a gram never collides
// with a word ("#ion" is a gram, "ion" a word).
const GramPrefix = "#"

// MaxTokenBytes bounds one Latin token: longer runs (base64 blobs, minified
// code) carry no searchable meaning and would only bloat the index.
const MaxTokenBytes = 64

// Terms returns the lexical terms of text in order of appearance, with
// repeats: words and identifier parts (stemmed), whole identifiers and error
// codes (unstemmed), and CJK bigrams. Stop words are dropped.
func Terms(text string) []string {
	var out []string
	Scan(text, func(t Token) {
		out = append(out, t.Terms()...)
	})
	return out
}

// Grams returns the character trigrams of the Latin words in text, one set of
// grams per distinct word, prefixed with GramPrefix. Words shorter than four
// letters get none: their misspellings are other words.
func Grams(text string) []string {
	var out []string
	seen := map[string]bool{}
	Scan(text, func(t Token) {
		if t.CJK {
			return
		}
		for _, w := range t.gramWords() {
			if seen[w] {
				continue
			}
			seen[w] = true
			out = append(out, WordGrams(w)...)
		}
	})
	return out
}

// WordGrams returns the trigrams of one lower-case word padded with '^' and
// '$' ("redis" → ^re red edi dis is$), so the start and end of a word count
// too. Words shorter than four letters get none.
func WordGrams(w string) []string {
	r := []rune(w)
	if len(r) < 4 {
		return nil
	}
	p := make([]rune, 0, len(r)+2)
	p = append(p, '^')
	p = append(p, r...)
	p = append(p, '$')
	out := make([]string, 0, len(p)-2)
	for i := 0; i+3 <= len(p); i++ {
		out = append(out, GramPrefix+string(p[i:i+3]))
	}
	return out
}

// Token is one run of text: a Latin token (letters, digits and the
// identifier connectors between them) or a run of CJK characters.
type Token struct {
	// Text is the token as written.
	Text string
	// CJK is true for a run of Han, kana or hangul characters.
	CJK bool
}

// Scan calls fn for every token of text in order. Invalid UTF-8 is treated
// as a separator.
func Scan(text string, fn func(Token)) {
	start, kind := -1, 0 // kind: 1 Latin, 2 CJK
	flush := func(end int) {
		if start >= 0 {
			t := strings.Trim(text[start:end], ".-_")
			if kind == 1 && strings.HasPrefix(text[start:end], "-") && isCode(strings.TrimPrefix(t, "-")) {
				t = "-" + t // a negative error code such as -32602
			}
			if t != "" && (kind == 2 || len(t) <= MaxTokenBytes) {
				fn(Token{Text: t, CJK: kind == 2})
			}
		}
		start, kind = -1, 0
	}
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		k := 0
		switch {
		case r == utf8.RuneError && size == 1:
		case IsCJK(r):
			k = 2
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			k = 1
		case r == '.' || r == '_' || r == '-':
			// A connector belongs to a Latin token when a letter or digit
			// follows it; "-" also starts one before a digit (-32602).
			next, _ := utf8.DecodeRuneInString(text[i+size:])
			if (unicode.IsLetter(next) || unicode.IsDigit(next)) && !IsCJK(next) && (kind == 1 || r == '-' && unicode.IsDigit(next)) {
				k = 1
			}
		}
		if k != kind {
			flush(i)
			if k != 0 {
				start, kind = i, k
			}
		}
		i += size
	}
	flush(len(text))
}

// Terms returns the lexical terms of the token.
func (t Token) Terms() []string {
	if t.CJK {
		return cjkBigrams(t.Text)
	}
	whole := strings.ToLower(t.Text)
	parts := splitIdentifier(t.Text)
	var out []string
	if len(parts) > 1 || isCode(t.Text) || hasDigitAndLetter(whole) {
		// Identifiers and codes are searched as written, too.
		out = append(out, whole)
	}
	for _, p := range parts {
		lp := strings.ToLower(p)
		if isStopWord(lp) {
			continue
		}
		if isCode(p) || hasDigitAndLetter(lp) {
			if len(parts) > 1 || lp != whole {
				out = append(out, lp)
			}
			continue
		}
		out = append(out, Stem(lp))
	}
	return dedupeAdjacent(out)
}

// gramWords returns the lower-case words of the token that get n-grams: its
// identifier parts, and the whole when it is a code such as ECONNREFUSED.
func (t Token) gramWords() []string {
	var out []string
	for _, p := range splitIdentifier(t.Text) {
		lp := strings.ToLower(p)
		if !isStopWord(lp) && !isDigits(lp) {
			out = append(out, lp)
		}
	}
	return out
}

// splitIdentifier splits on '.', '_', '-' and camelCase boundaries:
// "openai.AuthenticationError" → openai Authentication Error,
// "ECONNREFUSED" stays whole, "HTTPServer" → HTTP Server, "x-api-key" → x api key.
func splitIdentifier(s string) []string {
	var out []string
	for _, seg := range strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '_' || r == '-' }) {
		out = append(out, splitCamel(seg)...)
	}
	return out
}

func splitCamel(s string) []string {
	r := []rune(s)
	var out []string
	start := 0
	for i := 1; i < len(r); i++ {
		prev, cur := r[i-1], r[i]
		boundary := unicode.IsLower(prev) && unicode.IsUpper(cur) ||
			// "HTTPServer": the last capital of a run starts the next word.
			unicode.IsUpper(prev) && unicode.IsUpper(cur) && i+1 < len(r) && unicode.IsLower(r[i+1]) ||
			unicode.IsLetter(prev) != unicode.IsLetter(cur) && (unicode.IsDigit(prev) || unicode.IsDigit(cur)) && !isCode(s)
		if boundary {
			out = append(out, string(r[start:i]))
			start = i
		}
	}
	return append(out, string(r[start:]))
}

// isCode reports tokens kept whole as codes: numbers (429, -32602, 24.04) and
// upper-case words with at least four letters (ECONNREFUSED, EADDRINUSE).
func isCode(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	if isDigits(strings.ReplaceAll(s, ".", "")) {
		return true
	}
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			letters++
		case unicode.IsDigit(r) || r == '_':
		default:
			return false
		}
	}
	return letters >= 4
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func hasDigitAndLetter(s string) bool {
	return strings.ContainsFunc(s, unicode.IsDigit) && strings.ContainsFunc(s, unicode.IsLetter)
}

func dedupeAdjacent(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i > 0 && v == s[i-1] {
			continue
		}
		out = append(out, v)
	}
	return out
}

// IsCJK reports Han, Hiragana, Katakana and Hangul characters.
func IsCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// cjkBigrams returns the overlapping character bigrams of a CJK run; a single
// character stands alone.
func cjkBigrams(s string) []string {
	r := []rune(s)
	if len(r) == 1 {
		return []string{s}
	}
	out := make([]string, 0, len(r)-1)
	for i := 0; i+2 <= len(r); i++ {
		out = append(out, string(r[i:i+2]))
	}
	return out
}

// Stem lightly normalises a lower-case English word: plurals, -ed and -ing,
// and a final e, so that "retries", "retried" and "retry", or "caching",
// "cached" and "cache", meet. Short words are left alone.
func Stem(w string) string {
	if len(w) <= 3 || !isASCIILetters(w) {
		return w
	}
	switch {
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
	case strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "zes"), strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "s"):
		w = w[:len(w)-1]
	}
	switch {
	case strings.HasSuffix(w, "ied") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "eed"):
	case strings.HasSuffix(w, "ed") && len(w) > 4 && hasVowel(w[:len(w)-2]):
		w = undouble(w[:len(w)-2])
	case strings.HasSuffix(w, "ing") && len(w) > 5 && hasVowel(w[:len(w)-3]):
		w = undouble(w[:len(w)-3])
	}
	if strings.HasSuffix(w, "e") && len(w) > 4 {
		w = w[:len(w)-1]
	}
	return w
}

// undouble turns "stopp" (from "stopped") back into "stop".
func undouble(w string) string {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] && !strings.ContainsRune("aeioulsz", rune(w[n-1])) {
		return w[:n-1]
	}
	return w
}

func hasVowel(s string) bool { return strings.ContainsAny(s, "aeiouy") }

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// isStopWord reports English words too common to say anything about an
// article. A switch rather than a map keeps the list immutable.
func isStopWord(w string) bool {
	switch w {
	case "a", "an", "and", "are", "as", "at", "be", "but", "by", "do", "does", "did", "for", "from",
		"has", "have", "had", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not",
		"of", "on", "or", "our", "so", "than", "that", "the", "their", "them", "then", "there", "these",
		"they", "this", "to", "too", "us", "was", "we", "were", "what", "when", "where", "which",
		"while", "who", "why", "will", "with", "would", "you", "your", "can", "could", "should", "just",
		"only", "also", "about", "after", "before", "all", "any", "get", "got", "am", "been", "being",
		"very", "more", "most", "some", "such", "own", "same", "each", "other", "again", "once", "here",
		"both", "few", "off", "out", "over", "under", "up", "down":
		return true
	}
	return false
}
