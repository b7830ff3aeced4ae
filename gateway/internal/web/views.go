package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
)

// page is what the layout of every page needs.
type page struct {
	Lang  string
	T     *texts
	Title string
	// Description is the page's meta description.
	Description string
	// Canonical is the page's absolute URL; Alternates are its versions by
	// language (hreflang), when it has them.
	Canonical  string
	Alternates []link
	// Switch is the same page in the other language.
	Switch link
	// MarkdownURL is the agent view of the page, when it has one.
	MarkdownURL string
	// APIEndpoint is the API route that serves this page's data.
	APIEndpoint  string
	AgentComment template.HTML
	CSS          template.CSS
	JS           template.JS
	Copyright    string
}

// link is a link to a version of a page in one language.
type link struct {
	Lang, Name, URL string
}

// newPage fills the layout's part for a page at path (the path without the
// language, e.g. "/articles/x", or "" for a page that has no versions).
func (s *Site) newPage(r *http.Request, lang, title, path string) page {
	t := s.texts[lang]
	p := page{
		Lang: lang, T: t, Title: title, Description: t.Intro, APIEndpoint: "/api/v1",
		CSS: s.css, JS: s.js, Copyright: fmt.Sprintf(t.Copyright, time.Now().UTC().Year()),
		Switch: link{Lang: otherLang(lang), Name: s.texts[otherLang(lang)].LangName, URL: "/" + otherLang(lang) + "/"},
	}
	p.AgentComment = agentComment("GET /api/v1/search?q=… (JSON)")
	if path == "" {
		return p
	}
	base := s.baseURL(r)
	p.Canonical = base + "/" + lang + path
	for _, l := range vocab.Langs() {
		p.Alternates = append(p.Alternates, link{Lang: l, URL: base + "/" + l + path})
	}
	p.Alternates = append(p.Alternates, link{Lang: "x-default", URL: base + "/" + vocab.LangEN + path})
	p.Switch.URL = "/" + otherLang(lang) + path
	return p
}

// validHost is a host name or IP, with an optional port: what a Host
// header may be taken for when no public URL is configured.
var validHost = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$`)

// baseURL is the site's absolute address: the configured public URL, else
// the request's own scheme and Host (a Host header that is not a host name
// gives way to localhost rather than reaching a link).
func (s *Site) baseURL(r *http.Request) string {
	if s.publicURL != nil {
		return s.publicURL.String()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if !validHost.MatchString(host) {
		host = "localhost"
	}
	return scheme + "://" + host
}

// agentComment is the HTML comment that tells an agent reading the page's
// source where the API is. html/template drops comments from templates, so
// it is made here; what it quotes cannot end it (see commentSafe).
func agentComment(read string) template.HTML {
	return template.HTML("<!-- Agents: this page's data is in the Buzhou API. Read it with " + commentSafe(read) +
		"; the whole API is described at /openapi.json, an overview is at /llms.txt; send x-agent-id: <your-name>. -->")
}

// commentSafe removes what could end or confuse an HTML comment.
func commentSafe(s string) string {
	return strings.NewReplacer("--", "-", ">", "", "<", "").Replace(s)
}

// localized is a text in the language it is written in.
type localized struct {
	Text, Lang string
}

// textIn returns t in lang, or in the other language when lang is missing.
func textIn(t *articlev1.LocalizedText, lang string) localized {
	if v := textOf(t, lang); v != "" {
		return localized{v, lang}
	}
	o := otherLang(lang)
	return localized{textOf(t, o), o}
}

func textOf(t *articlev1.LocalizedText, lang string) string {
	if lang == vocab.LangZH {
		return t.GetZh()
	}
	return t.GetEn()
}

// badge is a vocabulary value with its label; Key becomes a CSS class.
type badge struct {
	Key, Label string
}

// cssKey keeps a value usable as a class name (values come from the
// services, and a later version may add some).
var cssKey = regexp.MustCompile(`[^a-z0-9_-]`)

func newBadge(m map[string]string, v string) badge {
	return badge{Key: cssKey.ReplaceAllString(v, ""), Label: label(m, v)}
}

// moment is a time as the page shows it and as machines read it.
type moment struct {
	ISO, Text string
}

func newMoment(ts *timestamppb.Timestamp) moment {
	if ts == nil || (ts.GetSeconds() == 0 && ts.GetNanos() == 0) {
		return moment{}
	}
	t := ts.AsTime().UTC()
	return moment{ISO: t.Format(time.RFC3339), Text: t.Format("2006-01-02 15:04 UTC")}
}

// item is an article in a list: search results, related, recent.
type item struct {
	Title      localized
	Summary    localized
	URL        string
	Domain     badge
	Status     badge
	Confidence string
}

func (s *Site) articleItem(lang string, a *articlev1.Article) item {
	t := s.texts[lang]
	return item{
		Title: textIn(a.GetTitle(), lang), Summary: textIn(a.GetSummary(), lang),
		URL:    articleURL(lang, a.GetSlug()),
		Domain: newBadge(t.Domains, a.GetDomain()), Status: newBadge(t.Statuses, a.GetVerificationStatus()),
		Confidence: fmt.Sprintf("%s %d%%", t.ConfidenceScore, a.GetConfidenceScore()),
	}
}

func (s *Site) searchItem(lang string, it *searchv1.SearchItem) item {
	t := s.texts[lang]
	v := item{
		Title: textIn(it.GetTitle(), lang), Summary: textIn(it.GetSummary(), lang),
		URL:    articleURL(lang, it.GetSlug()),
		Domain: newBadge(t.Domains, it.GetDomain()), Status: newBadge(t.Statuses, it.GetVerificationStatus()),
		Confidence: fmt.Sprintf("%s %d%%", t.ConfidenceScore, it.GetConfidenceScore()),
	}
	if sn := plainSnippet(it.GetSnippet()); sn != "" {
		// The snippet is in the requested language when it can be.
		v.Summary = localized{Text: sn, Lang: lang}
	}
	return v
}

var (
	snippetMarker = regexp.MustCompile(`^(?:#{1,6}\s+|[-*+>]\s+|\d{1,3}[.)]\s+)+`)
	snippetLink   = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
)

// plainSnippet reads a snippet, a line of an article's markdown, as text:
// without list and heading markers, emphasis, backticks or link targets.
func plainSnippet(s string) string {
	s = snippetMarker.ReplaceAllString(strings.TrimSpace(s), "")
	s = snippetLink.ReplaceAllString(s, "$1")
	return strings.TrimSpace(strings.NewReplacer("**", "", "__", "", "`", "").Replace(s))
}

// articleURL is the page of an article; slugs are server-made, but escaped
// all the same.
func articleURL(lang, slug string) string {
	return "/" + lang + "/articles/" + url.PathEscape(slug)
}

// apiArticleURL is the API route of an article.
func apiArticleURL(slug string) string {
	return "/api/v1/articles/" + url.PathEscape(slug)
}

// oneLine collapses s's white space and cuts it to at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return strings.TrimSpace(string(r[:n-1])) + "…"
	}
	return s
}

// markdownText makes s safe as the text of a markdown link in one line.
func markdownText(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, "\n", " ", "\r", " ").Replace(s)
}
