// Package domain holds the article rules that do not depend on storage or
// transport: the known domains, statuses and limits, id and slug making, and
// the normalisation and validation of client-supplied articles.
//
// Everything here is pure and safe for concurrent use, so the gRPC server, the
// batch path and the seeder all apply exactly the same rules.
package domain

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"unicode"
)

// Limits on a client-supplied article. They keep one article small enough to
// render, index and embed in one go, and keep error messages bounded.
const (
	MaxContentBytes = 256 << 10 // per language
	MaxCodeBlocks   = 50
	MaxTags         = 30
	MaxKeywords     = 50
	MaxTitleRunes   = 200
	MaxSummaryRunes = 2000
	MaxTagRunes     = 50
	MaxQAPairs      = 50
	MaxReferences   = 50
	MaxCodeBytes    = 64 << 10 // per code block
	MaxBatch        = 500
)

// MaxSlugLen bounds slugs so URLs stay readable and fit any index.
const MaxSlugLen = 80

// IDPrefix starts every article id, so ids and slugs never collide in
// GetArticle's id-or-slug lookup (slugs never contain '_').
const IDPrefix = "art_"

// NewID returns a new random article id: "art_" and 12 base64url characters
// (72 random bits), e.g. "art_yQUePTDy_sfd". 9 bytes encode to exactly 12
// characters without padding.
func NewID() string {
	var b [9]byte
	// Since Go 1.24 crypto/rand.Read never fails (it crashes the program
	// instead of handing out weak randomness), so the error is always nil.
	_, _ = rand.Read(b[:])
	return IDPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Slugify makes a URL name from an English title: lower-case ASCII letters and
// digits, common accented Latin letters folded to ASCII, every other run of
// characters turned into one '-', no '-' at either end, at most MaxSlugLen
// characters. It returns "" when nothing usable is left (e.g. a Chinese-only
// title); the caller then uses the id.
func Slugify(title string) string {
	var b strings.Builder
	b.Grow(min(len(title), 2*MaxSlugLen))
	dash := false // a separator is owed before the next kept character
	for _, r := range title {
		r = unicode.ToLower(r)
		var keep string
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			keep = string(r)
		default:
			keep = foldLatin(r)
		}
		if keep == "" {
			dash = true
			continue
		}
		if dash && b.Len() > 0 {
			b.WriteByte('-')
		}
		dash = false
		b.WriteString(keep)
		// Far enough past the limit to still know where the next word
		// boundary is; the rest of a huge title would be cut anyway.
		if b.Len() > 2*MaxSlugLen {
			break
		}
	}
	return cutSlug(b.String())
}

// cutSlug shortens s (ASCII, no '-' at either end, no "--") to MaxSlugLen,
// preferring to end at a word boundary so the slug does not end mid-word, but
// only when that keeps at least half the length: a title with one short first
// word and then a very long word would otherwise shrink to the first word.
func cutSlug(s string) string {
	if len(s) <= MaxSlugLen {
		return s
	}
	cut := s[:MaxSlugLen]
	if s[MaxSlugLen] != '-' {
		if i := strings.LastIndexByte(cut, '-'); i >= MaxSlugLen/2 {
			cut = cut[:i]
		}
	}
	return strings.TrimRight(cut, "-")
}

// foldLatin maps a lower-case accented Latin letter to its plain ASCII
// spelling, "" for anything else. golang.org/x/text is not a dependency, so this
// is a small table covering Latin-1 and Latin Extended-A, which is what English
// titles borrow (café, naïve, Gödel, Łukasiewicz).
func foldLatin(r rune) string {
	switch r {
	case 'à', 'á', 'â', 'ã', 'ä', 'å', 'ā', 'ă', 'ą':
		return "a"
	case 'æ':
		return "ae"
	case 'ç', 'ć', 'ĉ', 'ċ', 'č':
		return "c"
	case 'ð', 'ď', 'đ':
		return "d"
	case 'è', 'é', 'ê', 'ë', 'ē', 'ĕ', 'ė', 'ę', 'ě':
		return "e"
	case 'ĝ', 'ğ', 'ġ', 'ģ':
		return "g"
	case 'ĥ', 'ħ':
		return "h"
	case 'ì', 'í', 'î', 'ï', 'ĩ', 'ī', 'ĭ', 'į', 'ı':
		return "i"
	case 'ĳ':
		return "ij"
	case 'ĵ':
		return "j"
	case 'ķ':
		return "k"
	case 'ĺ', 'ļ', 'ľ', 'ŀ', 'ł':
		return "l"
	case 'ñ', 'ń', 'ņ', 'ň':
		return "n"
	case 'ò', 'ó', 'ô', 'õ', 'ö', 'ø', 'ō', 'ŏ', 'ő':
		return "o"
	case 'œ':
		return "oe"
	case 'ŕ', 'ŗ', 'ř':
		return "r"
	case 'ś', 'ŝ', 'ş', 'š':
		return "s"
	case 'ß':
		return "ss"
	case 'ţ', 'ť', 'ŧ':
		return "t"
	case 'þ':
		return "th"
	case 'ù', 'ú', 'û', 'ü', 'ũ', 'ū', 'ŭ', 'ů', 'ű', 'ų':
		return "u"
	case 'ŵ':
		return "w"
	case 'ý', 'ÿ', 'ŷ':
		return "y"
	case 'ź', 'ż', 'ž':
		return "z"
	}
	return ""
}
