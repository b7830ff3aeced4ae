package domain

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// maxListedProblems bounds the error message. Clients should see every
// problem of an honest article at once, but a hostile one with thousands of
// bad tags must not turn into a megabyte error answer.
const maxListedProblems = 100

// Validate checks the client-supplied part of a (normally after Normalize)
// and returns nil or one error wrapping errs.ErrInvalid. Its message lists
// every problem, separated by "; ", each as "<JSON field path>: <what is
// wrong>, <how to fix it>", so a client (often an agent) can fix all of them
// in one round trip. Server-made fields are not checked. Nil sub-messages are
// treated as empty.
//
// Status may be any known status here, because an updated article may already
// be archived or deprecated; create additionally calls ValidateStatusForCreate.
func Validate(a *articlev1.Article) error {
	if a == nil {
		return fmt.Errorf("%w: article: is missing, send the article object", errs.ErrInvalid)
	}
	var p problems

	p.localized("title", a.GetTitle(), true, func(path, s string) {
		p.maxRunes(path, s, MaxTitleRunes)
	})
	p.localized("summary", a.GetSummary(), true, func(path, s string) {
		p.maxRunes(path, s, MaxSummaryRunes)
	})
	p.localized("content", a.GetContent(), true, func(path, s string) {
		p.maxBytes(path, s, MaxContentBytes, "shorten it or split it into several articles")
	})

	switch d := a.GetDomain(); {
	case isBlank(d):
		p.add("domain", "is required, use one of %s", strings.Join(vocab.Domains(), ", "))
	case !vocab.ValidDomain(d):
		p.add("domain", "%s is not a known domain, use one of %s", quote(d), strings.Join(vocab.Domains(), ", "))
	}
	if s := a.GetStatus(); s != "" && !vocab.ValidStatus(s) {
		p.add("status", "%s is not a known status, use one of %s, %s, %s or %s",
			quote(s), vocab.StatusDraft, vocab.StatusPublished, vocab.StatusArchived, vocab.StatusDeprecated)
	}

	p.tags(a.GetTags())
	p.count("keywords", len(a.GetKeywords()), MaxKeywords, "keywords", "keep the most useful ones")
	for i, k := range a.GetKeywords() {
		p.listItem(index("keywords", i), k)
	}
	p.codeBlocks(a.GetCodeBlocks())
	p.qaPairs(a.GetQaPairs())
	p.references(a.GetReferences())
	for i, v := range a.GetApplicableVersions() {
		p.listItem(index("applicableVersions", i), v)
	}
	for i, env := range a.GetRuntimeEnv() {
		path := index("runtimeEnv", i)
		if name := env.GetName(); p.text(path+".name", name) && isBlank(name) {
			p.add(path+".name", "is empty, name the runtime (e.g. python, node) or remove the entry")
		}
		p.text(path+".version", env.GetVersion())
	}
	p.text("author", a.GetAuthor())
	p.text("deprecationReason", a.GetDeprecationReason())

	return p.err()
}

// ValidateStatusForCreate checks the (normalised) status a new article may
// start in: empty (a draft), draft or published. Archiving and deprecating have their own
// calls, which record why and tell followers.
func ValidateStatusForCreate(status string) error {
	switch status {
	case "", vocab.StatusDraft, vocab.StatusPublished:
		return nil
	case vocab.StatusArchived:
		return fmt.Errorf("%w: status: %s cannot be set when creating, use %s or %s (or leave it empty for a draft), then archive the article with DELETE /api/v1/articles/{id}",
			errs.ErrInvalid, quote(status), vocab.StatusDraft, vocab.StatusPublished)
	case vocab.StatusDeprecated:
		return fmt.Errorf("%w: status: %s cannot be set when creating, use %s or %s (or leave it empty for a draft), then deprecate the article with POST /api/v1/articles/{id}:deprecate",
			errs.ErrInvalid, quote(status), vocab.StatusDraft, vocab.StatusPublished)
	}
	return fmt.Errorf("%w: status: %s is not a status a new article can have, use %s or %s (or leave it empty for a draft)",
		errs.ErrInvalid, quote(status), vocab.StatusDraft, vocab.StatusPublished)
}

// ValidateBatchSize checks the number of articles in one batchCreate call.
func ValidateBatchSize(n int) error {
	switch {
	case n < 1:
		return fmt.Errorf("%w: articles: is empty, send between 1 and %d articles", errs.ErrInvalid, MaxBatch)
	case n > MaxBatch:
		return fmt.Errorf("%w: articles: has %d articles, over the limit of %d per batch, split them into several batchCreate calls",
			errs.ErrInvalid, n, MaxBatch)
	}
	return nil
}

// problems collects what is wrong with one article.
type problems struct {
	list []string
	more int // problems found beyond maxListedProblems
}

func (p *problems) add(path, format string, args ...any) {
	if len(p.list) >= maxListedProblems {
		p.more++
		return
	}
	p.list = append(p.list, path+": "+fmt.Sprintf(format, args...))
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	msg := strings.Join(p.list, "; ")
	if p.more > 0 {
		msg += fmt.Sprintf("; and %d more problems not listed, fix these first", p.more)
	}
	return fmt.Errorf("%w: %s", errs.ErrInvalid, msg)
}

// text reports text that cannot be stored or shown safely and returns whether
// s is fine. protojson rejects invalid UTF-8, but strings set through gRPC or Go
// may carry it, and NUL bytes break PostgreSQL text columns and C-based tools.
func (p *problems) text(path, s string) bool {
	switch {
	case !utf8.ValidString(s):
		p.add(path, "is not valid UTF-8, send UTF-8 text")
		return false
	case strings.IndexByte(s, 0) >= 0:
		p.add(path, "contains a NUL byte (\\u0000), remove it")
		return false
	}
	return true
}

// localized checks both languages of t with check (called only for clean,
// non-empty text) and, when required, that at least one language is given.
func (p *problems) localized(path string, t *articlev1.LocalizedText, required bool, check func(path, s string)) {
	blank := true
	for _, l := range [...]struct{ lang, s string }{{vocab.LangZH, t.GetZh()}, {vocab.LangEN, t.GetEn()}} {
		lp := path + "." + l.lang
		if !p.text(lp, l.s) {
			blank = false // the text is there, just broken; do not also call it missing
			continue
		}
		if isBlank(l.s) {
			continue
		}
		blank = false
		if check != nil {
			check(lp, l.s)
		}
	}
	if required && blank {
		p.add(path, "is empty, give %s.en or %s.zh (at least one language)", path, path)
	}
}

func (p *problems) maxRunes(path, s string, limit int) {
	if n := utf8.RuneCountInString(s); n > limit {
		p.add(path, "is %d characters long, over the limit of %d, shorten it", n, limit)
	}
}

func (p *problems) maxBytes(path, s string, limit int, fix string) {
	if n := len(s); n > limit {
		p.add(path, "is %d bytes, over the limit of %d bytes (%d KiB), %s", n, limit, limit>>10, fix)
	}
}

func (p *problems) count(path string, n, limit int, noun, fix string) {
	if n > limit {
		p.add(path, "has %d %s, over the limit of %d, %s", n, noun, limit, fix)
	}
}

// listItem checks one entry of a plain string list; Normalize drops empty
// entries, so one here means the caller skipped it.
func (p *problems) listItem(path, s string) bool {
	if !p.text(path, s) {
		return false
	}
	if isBlank(s) {
		p.add(path, "is empty, remove it")
		return false
	}
	return true
}

func (p *problems) tags(tags []string) {
	p.count("tags", len(tags), MaxTags, "tags", fmt.Sprintf("keep the %d most telling ones", MaxTags))
	for i, t := range tags {
		path := index("tags", i)
		if !p.listItem(path, t) {
			continue
		}
		if n := utf8.RuneCountInString(t); n > MaxTagRunes {
			p.add(path, "is %d characters long, over the limit of %d, use a shorter tag", n, MaxTagRunes)
			continue
		}
		if why := tagProblem(t); why != "" {
			p.add(path, "%s %s (tags such as \"mcp\", \"-32602\", \"c++\", \"node.js\" are fine)", quote(t), why)
		}
	}
}

// tagProblem says what keeps t (normalised: trimmed, lower-case) from being
// a tag, "" when nothing does. Tags are what people tag with — error codes
// like -32602, c++, c#, node.js, 认证 — so only what cannot work as one is
// refused: inner spaces (a tag is one word), control characters, and commas,
// which separate tags in the search filter (?tags=a,b).
func tagProblem(t string) string {
	for _, r := range t {
		switch {
		case unicode.IsSpace(r):
			return "contains a space, use one word per tag (join words with - or _, e.g. \"rate-limit\")"
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return "contains a control or invisible character, remove it"
		case r == ',':
			return "contains a comma, which separates tags in search filters, so send each tag as its own list item"
		}
	}
	return ""
}

func (p *problems) codeBlocks(blocks []*articlev1.CodeBlock) {
	p.count("codeBlocks", len(blocks), MaxCodeBlocks, "code blocks", "merge related blocks or split the article")
	ids := make(map[string]int, len(blocks))
	for i, cb := range blocks {
		path := index("codeBlocks", i)
		if id := cb.GetId(); p.text(path+".id", id) && id != "" {
			if j, dup := ids[id]; dup {
				p.add(path+".id", "%s is already used by codeBlocks[%d], give each block its own id or leave it empty to have one made", quote(id), j)
			} else {
				ids[id] = i
			}
		}
		p.text(path+".language", cb.GetLanguage())
		if code := cb.GetCode(); p.text(path+".code", code) {
			if isBlank(code) {
				p.add(path+".code", "is empty, put the code in it or remove the block")
			} else {
				p.maxBytes(path+".code", code, MaxCodeBytes, "shorten it or split it into several blocks")
			}
		}
		p.text(path+".description", cb.GetDescription())
		if out := cb.GetExpectedOutput(); p.text(path+".expectedOutput", out) {
			p.maxBytes(path+".expectedOutput", out, MaxCodeBytes, "keep the lines that show the block worked")
		}
	}
}

func (p *problems) qaPairs(pairs []*articlev1.QaPair) {
	p.count("qaPairs", len(pairs), MaxQAPairs, "pairs", "keep the most asked questions")
	for i, qa := range pairs {
		path := index("qaPairs", i)
		p.localized(path+".question", qa.GetQuestion(), true, nil)
		p.localized(path+".answer", qa.GetAnswer(), true, nil)
	}
}

func (p *problems) references(refs []*articlev1.Reference) {
	p.count("references", len(refs), MaxReferences, "references", "keep the most useful ones")
	for i, r := range refs {
		path := index("references", i)
		title, link := r.GetTitle(), r.GetUrl()
		titleOK := p.text(path+".title", title)
		linkOK := p.text(path+".url", link)
		if titleOK && linkOK && isBlank(title) && isBlank(link) {
			p.add(path, "is empty, give a title and a url (at least one)")
			continue
		}
		if linkOK && !isBlank(link) && !absoluteHTTP(link) {
			p.add(path+".url", "%s is not an absolute http(s) URL, give a full link such as https://example.com/page", quote(link))
		}
	}
}

// absoluteHTTP reports whether s is an http or https URL with a host, the only
// links readers and agents can follow from anywhere.
func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	// url.Parse lower-cases the scheme.
	return (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != ""
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// quote shows a client value in a message, cut so a huge value cannot blow up
// the message.
func quote(s string) string {
	const limit = 60
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	n := limit
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strconv.Quote(s[:n]) + "…"
}
