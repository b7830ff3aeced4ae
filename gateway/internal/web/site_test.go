package web

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"buzhou.dev/gateway/internal/openapi"
	"buzhou.dev/platform/vocab"
)

// TestRoot sends / to the home page in the language the browser prefers.
func TestRoot(t *testing.T) {
	t.Parallel()
	cases := []struct{ path, acceptLanguage, want string }{
		{"/", "", "/en/"},
		{"/", "en-US,en;q=0.9", "/en/"},
		{"/", "zh-CN,zh;q=0.9,en;q=0.8", "/zh/"},
		{"/", "zh-TW", "/zh/"},
		{"/", "fr-FR, de;q=0.5", "/en/"},
		{"/", "fr, zh;q=0.4", "/zh/"},
		{"/", "en;q=0.2, zh;q=0.8", "/zh/"},
		{"/", "garbage;;q=x", "/en/"},
		{"/?q=ECONNREFUSED&domain=transport", "zh", "/zh/?q=ECONNREFUSED&domain=transport"},
	}
	a, s, v := fixtures()
	h := newHandler(t, a, s, v, "")
	for _, tc := range cases {
		rec := get(t, h, tc.path, "Accept-Language", tc.acceptLanguage)
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != tc.want {
			t.Errorf("%s with Accept-Language %q: %d to %q, want %q", tc.path, tc.acceptLanguage, rec.Code, rec.Header().Get("Location"), tc.want)
		}
		if !slices.Contains(rec.Header().Values("Vary"), "Accept-Language") {
			t.Errorf("%s: no Vary: Accept-Language", tc.path)
		}
	}
	if rec := get(t, h, "/zh"); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/zh/" {
		t.Errorf("/zh: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
}

// TestNotFoundPage gives browsers the 404 page in their language and
// everyone else the API's JSON 404.
func TestNotFoundPage(t *testing.T) {
	t.Parallel()
	a, s, v := fixtures()
	h := newHandler(t, a, s, v, "")
	cases := []struct {
		path, accept, acceptLanguage string
		html                         bool
		want                         string
	}{
		{"/nope", "text/html,*/*;q=0.8", "", true, "Page not found"},
		{"/nope", "text/html", "zh-CN", true, "页面不存在"},
		{"/zh/nope/deeper", "text/html", "en", true, "页面不存在"},
		{"/en/articles/", "text/html", "zh", true, "Page not found"},
		{"/fr/articles/x", "text/html", "", true, "Page not found"},
		{"/nope", "", "", false, `"NOT_FOUND"`},
		{"/nope", "*/*", "", false, `"NOT_FOUND"`},
		{"/nope", "application/json", "", false, `"NOT_FOUND"`},
	}
	for _, tc := range cases {
		rec := get(t, h, tc.path, "Accept", tc.accept, "Accept-Language", tc.acceptLanguage)
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s (Accept %q): %d\n%.200s", tc.path, tc.accept, rec.Code, rec.Body)
		}
		if isHTML := strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html"); isHTML != tc.html {
			t.Errorf("%s (Accept %q): Content-Type %q", tc.path, tc.accept, rec.Header().Get("Content-Type"))
		}
	}
}

// TestTooManyRequests is the page the gateway's rate limit answers with.
func TestTooManyRequests(t *testing.T) {
	t.Parallel()
	a, s, v := fixtures()
	site, err := New(Config{Articles: a, Search: s, Verification: v})
	if err != nil {
		t.Fatal(err)
	}
	req, rec := newRequest("/zh/articles/x")
	site.TooManyRequests(rec, req, "rate limit of 100 requests per minute exceeded for this client address; retry after 7 s")
	d := parseHTML(t, rec.Body.String())
	if rec.Code != http.StatusTooManyRequests || d.text("h1") != "请求过于频繁" || !strings.Contains(d.text("main"), "retry after 7 s") {
		t.Errorf("%d %q", rec.Code, d.text("main"))
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("a refusal may be cached")
	}
}

// TestAPIDocsPage lists every route of the OpenAPI document, in both
// languages.
func TestAPIDocsPage(t *testing.T) {
	t.Parallel()
	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapi.Document(), &spec); err != nil {
		t.Fatal(err)
	}
	var want []string
	for path, ops := range spec.Paths {
		for method := range ops {
			want = append(want, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(want)
	for _, lang := range vocab.Langs() {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			a, s, v := fixtures()
			rec := get(t, newHandler(t, a, s, v, ""), "/"+lang+"/api-docs")
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			d := parseHTML(t, rec.Body.String())
			got := d.texts("section.op h3")
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("routes on the page (-want +got):\n%s", diff)
			}
			if !strings.Contains(d.text("#ArticleService_GetArticle"), "idOrSlug path string") {
				t.Errorf("GetArticle's parameters: %q", d.text("#ArticleService_GetArticle"))
			}
			if attr(d.one("html"), "lang") != lang || d.text("h1") != s2(lang, "API Documentation", "API 文档") {
				t.Errorf("h1 %q", d.text("h1"))
			}
			for _, route := range []string{"/llms.txt", "/sitemap.xml", "/robots.txt", "/openapi.json"} {
				if !strings.Contains(d.text("#site-routes"), route) {
					t.Errorf("the page does not list %s", route)
				}
			}
			assertHeadingOrder(t, d)
			if rec.Body.Len() > 100<<10 {
				t.Errorf("the API docs page is %d bytes", rec.Body.Len())
			}
		})
	}
}

func s2(lang, en, zh string) string {
	if lang == vocab.LangZH {
		return zh
	}
	return en
}

// TestRobots names the sitemap and keeps crawlers out of the searches.
func TestRobots(t *testing.T) {
	t.Parallel()
	a, s, v := fixtures()
	rec := get(t, newHandler(t, a, s, v, "https://buzhou.example/"), "/robots.txt")
	body := rec.Body.String()
	for _, want := range []string{"User-agent: *", "Allow: /api/v1/articles/", "Disallow: /api/\n", "Sitemap: https://buzhou.example/sitemap.xml"} {
		if !strings.Contains(body, want) {
			t.Errorf("robots.txt lacks %q:\n%s", want, body)
		}
	}
}

// TestLLMsTxt is made from live data: the API, and the top articles of each
// domain with links to their markdown.
func TestLLMsTxt(t *testing.T) {
	t.Parallel()
	a, s, v := fixtures()
	h := newHandler(t, a, s, v, "https://buzhou.example")
	rec := get(t, h, "/llms.txt")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(body, "# Buzhou\n\n> ") {
		t.Fatalf("status %d\n%s", rec.Code, body)
	}
	for _, want := range []string{
		"## API", "- [OpenAPI document](https://buzhou.example/openapi.json)",
		"- [Search](https://buzhou.example/api/v1/search?q=ECONNREFUSED)",
		"### Error Codes (error_codes)",
		"- [API Key Authentication Failure: 401 vs 403](https://buzhou.example/api/v1/articles/api-key-401-vs-403?format=markdown&lang=en): Why a request with an API key is refused. (partial, confidence 91%)",
		"### Transport (transport)", "(verified, confidence 95%)",
		`- [<script>alert("x")</script> & "quotes"]`,
		"## Optional", "https://buzhou.example/sitemap.xml",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("llms.txt lacks %q", want)
		}
	}
	// Deprecated articles are not top articles.
	if strings.Contains(body, "An old fix") {
		t.Error("llms.txt lists a deprecated article")
	}
	a.err = status.Error(codes.Unavailable, "down")
	if rec := get(t, h, "/llms.txt"); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("llms.txt without the article service: %d", rec.Code)
	}
}

// TestSitemap lists every published article in the languages it is written
// in, with lastmod and hreflang alternates, reading every page of the list.
func TestSitemap(t *testing.T) {
	t.Parallel()
	a, s, v := fixtures()
	// More than one list page.
	for i := range sitemapPageSize + 5 {
		x := otherArticle()
		x.Id, x.Slug = x.Id+"_"+strings.Repeat("x", i), x.Slug+"-"+strings.Repeat("x", i)
		a.articles = append(a.articles, x)
	}
	h := newHandler(t, a, s, v, "https://buzhou.example")
	rec := get(t, h, "/sitemap.xml")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/xml; charset=utf-8" {
		t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var set struct {
		URLs []struct {
			Loc     string `xml:"loc"`
			LastMod string `xml:"lastmod"`
			Links   []struct {
				Rel      string `xml:"rel,attr"`
				Hreflang string `xml:"hreflang,attr"`
				Href     string `xml:"href,attr"`
			} `xml:"http://www.w3.org/1999/xhtml link"`
		} `xml:"url"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatalf("sitemap is not XML: %v", err)
	}
	byLoc := map[string]int{}
	for i, u := range set.URLs {
		byLoc[u.Loc] = i
	}
	if len(set.URLs) != 4+2*2+1+sitemapPageSize+5 {
		t.Errorf("%d URLs", len(set.URLs))
	}
	full, ok := byLoc["https://buzhou.example/zh/articles/api-key-401-vs-403"]
	if !ok {
		t.Fatal("the bilingual article's zh page is missing")
	}
	u := set.URLs[full]
	if u.LastMod != "2026-03-23T18:26:00Z" || len(u.Links) != 3 || u.Links[0].Hreflang != "zh" || u.Links[1].Href != "https://buzhou.example/en/articles/api-key-401-vs-403" || u.Links[2].Hreflang != "x-default" {
		t.Errorf("entry %+v", u)
	}
	if _, ok := byLoc["https://buzhou.example/zh/articles/http-429-backoff"]; ok {
		t.Error("an English-only article is listed in Chinese")
	}
	if _, ok := byLoc["https://buzhou.example/en/articles/old-fix"]; ok {
		t.Error("a deprecated article is in the sitemap")
	}
	if _, ok := byLoc["https://buzhou.example/en/articles/hostile"]; !ok {
		t.Error("the hostile article is missing")
	}
	if _, ok := byLoc["https://buzhou.example/zh/api-docs"]; !ok {
		t.Error("the API docs page is missing")
	}
}

// TestBaseURL takes the configured public URL, else the request's host,
// and never a Host header that is not a host.
func TestBaseURL(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{PublicURL: "ftp://x"}); err == nil {
		t.Error("an ftp public URL was accepted")
	}
	a, s, v := fixtures()
	h := newHandler(t, a, s, v, "")
	cases := []struct{ host, want string }{
		{"buzhou.example:8080", "Sitemap: http://buzhou.example:8080/sitemap.xml"},
		{"[::1]:8080", "Sitemap: http://[::1]:8080/sitemap.xml"},
		{`evil.example/"><script>`, "Sitemap: http://localhost/sitemap.xml"},
		{"a b", "Sitemap: http://localhost/sitemap.xml"},
	}
	for _, tc := range cases {
		req, rec := newRequest("/robots.txt")
		req.Host = tc.host
		h.ServeHTTP(rec, req)
		if !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("Host %q: %s", tc.host, rec.Body)
		}
	}
}

// TestTextsComplete: every phrase exists in every language, and every
// value of the vocabulary has a label.
func TestTextsComplete(t *testing.T) {
	t.Parallel()
	all := allTexts()
	for _, lang := range vocab.Langs() {
		tx, ok := all[lang]
		if !ok {
			t.Fatalf("no texts for %s", lang)
		}
		v := reflect.ValueOf(tx).Elem()
		for i := range v.NumField() {
			f := v.Field(i)
			if f.Kind() == reflect.String && strings.TrimSpace(f.String()) == "" {
				t.Errorf("%s: %s is empty", lang, v.Type().Field(i).Name)
			}
		}
		for name, c := range map[string]struct {
			m      map[string]string
			values []string
		}{
			"Domains": {tx.Domains, vocab.Domains()}, "Statuses": {tx.Statuses, vocab.VerificationStatuses()},
			"Banners": {tx.Banners, vocab.VerificationStatuses()}, "Risks": {tx.Risks, vocab.RiskLevels()},
			"Severities": {tx.Severities, vocab.RiskLevels()}, "VerifierTypes": {tx.VerifierTypes, vocab.PrincipalTypes()},
			"Results":   {tx.Results, []string{vocab.ResultPassed, vocab.ResultPartial, vocab.ResultFailed}},
			"LangNames": {tx.LangNames, vocab.Langs()},
		} {
			for _, val := range c.values {
				if c.m[val] == "" {
					t.Errorf("%s: %s has no label for %q", lang, name, val)
				}
			}
		}
	}
}
