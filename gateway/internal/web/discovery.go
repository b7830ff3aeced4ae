package web

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

const (
	// llmsPerDomain articles of each domain are listed in /llms.txt, the
	// most trusted of the llmsFetched newest.
	llmsPerDomain = 5
	llmsFetched   = 20
	// sitemapPageSize articles are read per call while building the sitemap.
	sitemapPageSize = 100
	// maxSitemapArticles keeps the sitemap within the protocol's 50,000
	// URLs (one per article and language, and the site's own pages).
	maxSitemapArticles = 24_990
)

// robots serves /robots.txt: everything may be crawled but the API beyond
// article reads (searches would only spend the crawler's rate limit) and
// the metrics.
func (s *Site) robots(w http.ResponseWriter, r *http.Request) {
	body := "# Buzhou: pages for people at /en/ and /zh/; agents, see /llms.txt and /openapi.json.\n" +
		"User-agent: *\nAllow: /\nAllow: /api/v1/articles/\nDisallow: /api/\nDisallow: /mcp\nDisallow: /metrics\n\n" +
		"Sitemap: " + s.baseURL(r) + "/sitemap.xml\n"
	s.send(w, r, "text/plain; charset=utf-8", []byte(body))
}

// llms serves /llms.txt (llmstxt.org): what Buzhou is, how to use its API,
// and the top articles of each domain, from live data.
func (s *Site) llms(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := rpcContext(r.Context(), w, mainTimeout)
	defer cancel()
	domains := vocab.Domains()
	lists := make([]*articlev1.ListArticlesResponse, len(domains))
	errs := make([]error, len(domains))
	var wg sync.WaitGroup
	for i, d := range domains {
		wg.Go(func() {
			lists[i], errs[i] = s.cfg.Articles.ListArticles(ctx, &articlev1.ListArticlesRequest{Domain: d, Status: vocab.StatusPublished, PageSize: llmsFetched})
		})
	}
	wg.Wait()

	base, t := s.baseURL(r), s.texts[vocab.LangEN]
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Buzhou\n\n> %s\n\n", t.Intro)
	b.WriteString("Every article is bilingual (zh/en) and carries its code blocks, FAQ, references, applicable versions, a risk level, " +
		"a confidence score and its verification records: who ran it, where, with what result — failures included. " +
		"Reads are public and rate-limited per client address (send an API key for more); writes need a key with a scope. " +
		"JSON fields are lowerCamelCase, times RFC 3339 UTC. Send `x-agent-id: <your-name>` so that your calls are counted as yours.\n\n")
	b.WriteString("## API\n\n")
	for _, l := range []struct{ name, path, what string }{
		{"OpenAPI document", "/openapi.json", "every route with its parameters, answers and errors"},
		{"Search", "/api/v1/search?q=ECONNREFUSED", "ranked articles; filters domain, status (verification), lang, tags, minConfidence, version; page, pageSize"},
		{"Resolve", "/api/v1/resolve?q=git+push+rejected", "the single best article for a question, whole, with alternatives and next steps"},
		{"Article as markdown", "/api/v1/articles/{slug}?format=markdown&lang=en", "every section in one document; lang=zh for Chinese"},
		{"Article as JSON", "/api/v1/articles/{slug}", "the article with its trust fields"},
		{"List articles", "/api/v1/articles?domain=error_codes&pageSize=20", "newest first; follow nextPageToken"},
		{"Verification records", "/api/v1/articles/{slug}/verifications", "who ran it where, newest first; POST one with a verifications:write key"},
		{"Related articles", "/api/v1/articles/{slug}/related", "the most similar articles"},
		{"MCP server", "/mcp", "the same as tools for MCP clients (Streamable HTTP): search, resolve, get_article, related, list_verifications; with a key submit_verification, report_problem, propose_article; articles as buzhou://articles/{slug}"},
	} {
		fmt.Fprintf(&b, "- [%s](%s%s): %s\n", l.name, base, l.path, l.what)
	}
	b.WriteString("\n## Articles by domain\n")
	listed, failed := 0, 0
	for i, d := range domains {
		if errs[i] != nil {
			failed++
			s.sectionOf(ctx, w, "llms.txt domain "+d, errs[i])
			continue
		}
		top := featured(lists[i].GetArticles(), llmsPerDomain)
		if len(top) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n### %s (%s)\n\n", label(t.Domains, d), d)
		for _, a := range top {
			title, summary := textIn(a.GetTitle(), vocab.LangEN), textIn(a.GetSummary(), vocab.LangEN)
			fmt.Fprintf(&b, "- [%s](%s%s?format=markdown&lang=%s): %s (%s, confidence %d%%)\n", markdownText(title.Text), base,
				apiArticleURL(a.GetSlug()), title.Lang, markdownText(oneLine(summary.Text, 300)), cmp.Or(a.GetVerificationStatus(), "pending"), a.GetConfidenceScore())
			listed++
		}
	}
	if failed == len(domains) {
		s.discoveryFailure(w, r, errs[0])
		return
	}
	if listed == 0 {
		b.WriteString("\nNo articles are published yet.\n")
	}
	fmt.Fprintf(&b, "\n## Optional\n\n- [Sitemap](%s/sitemap.xml): every published article's page in both languages\n"+
		"- [Web pages](%s/en/): the same articles for people, also at /zh/\n- [API docs](%s/en/api-docs): the OpenAPI document as a page\n", base, base, base)
	s.send(w, r, "text/plain; charset=utf-8", b.Bytes())
}

// discoveryFailure answers a discovery document that could not be made.
func (s *Site) discoveryFailure(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	if c := status.Code(err); c == codes.Unavailable || c == codes.DeadlineExceeded {
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	}
	s.cfg.Log.WarnContext(r.Context(), "discovery document failed", "path", r.URL.Path, "err", err, "request_id", requestID(w))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, "a Buzhou service is not reachable right now; retry in a few seconds")
}

type urlset struct {
	XMLName xml.Name     `xml:"urlset"`
	NS      string       `xml:"xmlns,attr"`
	XHTML   string       `xml:"xmlns:xhtml,attr"`
	URLs    []sitemapURL `xml:"url"`
}

type sitemapURL struct {
	Loc        string      `xml:"loc"`
	LastMod    string      `xml:"lastmod,omitempty"`
	Alternates []xhtmlLink `xml:"xhtml:link"`
}

type xhtmlLink struct {
	Rel      string `xml:"rel,attr"`
	Hreflang string `xml:"hreflang,attr"`
	Href     string `xml:"href,attr"`
}

// sitemap serves /sitemap.xml: the home and API docs pages and every
// published article, each in the languages it is written in, with lastmod
// and the other languages as hreflang alternates.
func (s *Site) sitemap(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := rpcContext(r.Context(), w, mainTimeout)
	defer cancel()
	base := s.baseURL(r)
	set := urlset{NS: "http://www.sitemaps.org/schemas/sitemap/0.9", XHTML: "http://www.w3.org/1999/xhtml"}
	for _, path := range []string{"/", "/api-docs"} {
		set.URLs = append(set.URLs, versions(base, path, "", vocab.Langs())...)
	}
	req := &articlev1.ListArticlesRequest{Status: vocab.StatusPublished, PageSize: sitemapPageSize}
	for n := 0; n < maxSitemapArticles; {
		resp, err := s.cfg.Articles.ListArticles(ctx, req)
		if err != nil {
			s.discoveryFailure(w, r, err)
			return
		}
		for _, a := range resp.GetArticles()[:min(len(resp.GetArticles()), maxSitemapArticles-n)] {
			var langs []string
			for _, l := range vocab.Langs() {
				if textOf(a.GetContent(), l) != "" {
					langs = append(langs, l)
				}
			}
			set.URLs = append(set.URLs, versions(base, "/articles/"+url.PathEscape(a.GetSlug()), newMoment(a.GetUpdatedAt()).ISO, langs)...)
			n++
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", " ")
	if err := enc.Encode(set); err != nil {
		s.discoveryFailure(w, r, err)
		return
	}
	b.WriteByte('\n')
	s.send(w, r, "application/xml; charset=utf-8", b.Bytes())
}

// versions are the sitemap entries of the page at path in each of langs,
// each naming all of them (and English as the default) as alternates.
func versions(base, path, lastmod string, langs []string) []sitemapURL {
	var alts []xhtmlLink
	for _, l := range langs {
		alts = append(alts, xhtmlLink{Rel: "alternate", Hreflang: l, Href: base + "/" + l + path})
	}
	if len(alts) > 1 {
		alts = append(alts, xhtmlLink{Rel: "alternate", Hreflang: "x-default", Href: base + "/" + vocab.LangEN + path})
	}
	var out []sitemapURL
	for _, l := range langs {
		out = append(out, sitemapURL{Loc: base + "/" + l + path, LastMod: lastmod, Alternates: alts})
	}
	return out
}
