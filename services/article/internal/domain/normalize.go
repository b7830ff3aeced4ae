package domain

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// Normalize cleans the client-supplied fields of a in place so that equal
// intent gives equal articles: surrounding spaces trimmed from every text
// (only trailing whitespace from content and code, whose leading indentation
// means something), tags lower-cased, empty and repeated tags, keywords and
// applicable versions dropped (first occurrence kept), code blocks without an
// id numbered "cb1", "cb2", …, and code language, domain and status
// lower-cased. Nil entries of repeated messages are dropped: they carry nothing
// and only Go callers can make them.
//
// Normalize is idempotent and never fails; Validate reports what it cannot
// fix. Server-made fields (id, slug, trust fields, timestamps) are left alone.
func Normalize(a *articlev1.Article) {
	if a == nil {
		return
	}
	trimText(a.Title, strings.TrimSpace)
	trimText(a.Summary, strings.TrimSpace)
	trimText(a.Content, trimRight)
	a.Domain = lower(strings.TrimSpace(a.Domain))
	a.Status = lower(strings.TrimSpace(a.Status))
	a.Author = strings.TrimSpace(a.Author)
	a.DeprecationReason = strings.TrimSpace(a.DeprecationReason)

	a.Tags = cleanList(a.Tags, func(s string) string { return lower(strings.TrimSpace(s)) })
	a.Keywords = cleanList(a.Keywords, strings.TrimSpace)
	a.ApplicableVersions = cleanList(a.ApplicableVersions, strings.TrimSpace)

	a.CodeBlocks = dropNil(a.CodeBlocks)
	for _, cb := range a.CodeBlocks {
		cb.Id = strings.TrimSpace(cb.Id)
		cb.Language = lower(strings.TrimSpace(cb.Language))
		cb.Code = trimRight(cb.Code)
		cb.Description = strings.TrimSpace(cb.Description)
		cb.ExpectedOutput = trimRight(cb.ExpectedOutput)
	}
	numberCodeBlocks(a.CodeBlocks)

	a.QaPairs = dropNil(a.QaPairs)
	for _, qa := range a.QaPairs {
		trimText(qa.Question, strings.TrimSpace)
		trimText(qa.Answer, strings.TrimSpace)
	}

	a.References = dropNil(a.References)
	for _, r := range a.References {
		r.Title = strings.TrimSpace(r.Title)
		r.Url = strings.TrimSpace(r.Url)
	}

	a.RuntimeEnv = dropNil(a.RuntimeEnv)
	for _, env := range a.RuntimeEnv {
		env.Name = strings.TrimSpace(env.Name)
		env.Version = strings.TrimSpace(env.Version)
	}
}

// numberCodeBlocks gives every block without an id "cb" and its 1-based
// position, or the next number not taken when a client already used that id,
// so that assigned ids never clash with client-chosen ones.
func numberCodeBlocks(blocks []*articlev1.CodeBlock) {
	taken := make(map[string]bool, len(blocks))
	for _, cb := range blocks {
		if cb.Id != "" {
			taken[cb.Id] = true
		}
	}
	for i, cb := range blocks {
		if cb.Id != "" {
			continue
		}
		n := i + 1
		for taken["cb"+strconv.Itoa(n)] {
			n++
		}
		cb.Id = "cb" + strconv.Itoa(n)
		taken[cb.Id] = true
	}
}

func trimText(t *articlev1.LocalizedText, trim func(string) string) {
	if t == nil {
		return
	}
	t.Zh = trim(t.Zh)
	t.En = trim(t.En)
}

func trimRight(s string) string {
	return strings.TrimRightFunc(s, unicode.IsSpace)
}

// lower lower-cases s. Invalid UTF-8 gets only its ASCII letters lowered:
// strings.ToLower would replace the bad bytes with U+FFFD and so hide them
// from Validate, which must tell the client its text was not UTF-8.
func lower(s string) string {
	if utf8.ValidString(s) {
		return strings.ToLower(s)
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// cleanList applies clean to every item and keeps the first occurrence of each
// non-empty result, in order.
func cleanList(items []string, clean func(string) string) []string {
	if len(items) == 0 {
		return items
	}
	seen := make(map[string]bool, len(items))
	out := items[:0]
	for _, s := range items {
		s = clean(s)
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func dropNil[T any](items []*T) []*T {
	if len(items) == 0 {
		return items
	}
	out := items[:0]
	for _, x := range items {
		if x != nil {
			out = append(out, x)
		}
	}
	// Clear the tail so dropped slots do not keep pointers alive.
	clear(items[len(out):])
	if len(out) == 0 {
		return nil
	}
	return out
}
