package stack

import (
	"encoding/xml"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"buzhou.dev/platform/metrics/metricstest"
)

// h1 finds a page's title heading.
var h1 = regexp.MustCompile(`<h1[^>]*>([^<]*)</h1>`)

// TestPages reads every page of the seeded demo site through the gateway,
// in both languages, with the headers every page carries.
func TestPages(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{seed: true})
	anon := newClient(t, s, "")
	list := must(t, anon.do("GET", "/api/v1/articles?pageSize=100", nil), http.StatusOK).json(t)["articles"].([]any)
	if len(list) < 6 {
		t.Fatalf("%d demo articles", len(list))
	}
	type page struct{ path, title string }
	pages := []page{{"/en/", "Executable Knowledge Hub for AI Agents"}, {"/zh/", "面向 AI 智能体的可执行知识库"}, {"/en/api-docs", "API Documentation"}, {"/zh/api-docs", "API 文档"}}
	for _, a := range list {
		a := a.(map[string]any)
		title := a["title"].(map[string]any)
		for _, lang := range []string{"en", "zh"} {
			pages = append(pages, page{"/" + lang + "/articles/" + a["slug"].(string), title[lang].(string)})
		}
	}
	for _, p := range pages {
		t.Run(p.path, func(t *testing.T) {
			t.Parallel()
			r := must(t, anon.do("GET", p.path, nil), http.StatusOK)
			h := r.header
			for name, want := range map[string]string{
				"Content-Type": "text/html; charset=utf-8", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache",
				"X-Agent-API-Docs": "/openapi.json",
			} {
				if got := h.Get(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			for _, name := range []string{"X-Request-Id", "ETag", "Content-Security-Policy", "X-Agent-API-Endpoint", "RateLimit-Limit"} {
				if h.Get(name) == "" {
					t.Errorf("no %s header", name)
				}
			}
			if m := h1.FindSubmatch(r.body); m == nil || string(m[1]) != strings.NewReplacer("&", "&amp;", "'", "&#39;", `"`, "&#34;").Replace(p.title) {
				t.Errorf("h1 %q, want %q", m, p.title)
			}
			if len(r.body) > 100<<10 {
				t.Errorf("%d bytes of HTML, over 100 KB", len(r.body))
			}
		})
	}
	// The agent view on the page URL is the API's markdown.
	slug := list[0].(map[string]any)["slug"].(string)
	want := must(t, anon.do("GET", "/api/v1/articles/"+slug+"?format=markdown&lang=zh", nil), http.StatusOK).body
	got := must(t, anon.do("GET", "/zh/articles/"+slug, nil, "Accept", "text/markdown"), http.StatusOK)
	if string(got.body) != string(want) || !strings.HasPrefix(got.header.Get("Content-Type"), "text/markdown") {
		t.Errorf("Accept: text/markdown gave %q:\n%.200s", got.header.Get("Content-Type"), got.body)
	}

	// Discovery: llms.txt and the sitemap name every demo article.
	llms := string(must(t, anon.do("GET", "/llms.txt", nil), http.StatusOK).body)
	var sitemap struct {
		Locs []string `xml:"url>loc"`
	}
	if err := xml.Unmarshal(must(t, anon.do("GET", "/sitemap.xml", nil), http.StatusOK).body, &sitemap); err != nil {
		t.Fatal(err)
	}
	locs := map[string]bool{}
	for _, l := range sitemap.Locs {
		locs[l] = true
	}
	for _, a := range list {
		slug := a.(map[string]any)["slug"].(string)
		if !strings.Contains(llms, "/api/v1/articles/"+slug+"?format=markdown") {
			t.Errorf("llms.txt does not list %s", slug)
		}
		for _, lang := range []string{"en", "zh"} {
			if !locs["http://"+s.HTTPAddr+"/"+lang+"/articles/"+slug] {
				t.Errorf("the sitemap does not list /%s/articles/%s", lang, slug)
			}
		}
	}
	if r := must(t, anon.do("GET", "/robots.txt", nil), http.StatusOK); !strings.Contains(string(r.body), "Sitemap: http://"+s.HTTPAddr+"/sitemap.xml") {
		t.Errorf("robots.txt:\n%s", r.body)
	}
	// / picks the language; unknown paths are the 404 page for browsers and
	// the API's JSON for everyone else.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", "http://"+s.HTTPAddr+"/", nil)
	req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/zh/" {
		t.Errorf("/ with zh-CN: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if r := must(t, anon.do("GET", "/no/such/page", nil, "Accept", "text/html"), http.StatusNotFound); !strings.Contains(string(r.body), "Page not found") || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("404 page: %s", r.header)
	}
	if code := must(t, anon.do("GET", "/no/such/page", nil), http.StatusNotFound).errorCode(t); code != "NOT_FOUND" {
		t.Errorf("404 for a client without Accept: %s", code)
	}
}

// TestPagesArePublic: a page shows what an anonymous read shows, whatever
// key comes with the request, so a draft is not there even for its writer.
func TestPagesArePublic(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	draft := must(t, admin.do("POST", "/api/v1/articles", article("A draft nobody may read")), http.StatusCreated).json(t)
	slug := draft["slug"].(string)
	must(t, admin.do("GET", "/api/v1/articles/"+slug, nil), http.StatusOK)
	for _, c := range []*client{admin, newClient(t, s, "")} {
		r := must(t, c.do("GET", "/en/articles/"+slug, nil), http.StatusNotFound)
		if strings.Contains(string(r.body), "A draft nobody may read") {
			t.Error("the draft's page shows it")
		}
	}
	if r := must(t, admin.do("GET", "/llms.txt", nil), http.StatusOK); strings.Contains(string(r.body), slug) {
		t.Error("llms.txt lists a draft")
	}
	if r := must(t, admin.do("GET", "/sitemap.xml", nil), http.StatusOK); strings.Contains(string(r.body), slug) {
		t.Error("the sitemap lists a draft")
	}
}

// TestPagesRateLimited: pages draw on the anonymous bucket of the client
// address, the one its anonymous API reads use, and a refusal is a page.
func TestPagesRateLimited(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{anonPerMinute: 3})
	anon := newClient(t, s, "")
	must(t, anon.do("GET", "/api/v1/articles", nil), http.StatusOK)
	must(t, anon.do("GET", "/en/", nil), http.StatusOK)
	must(t, anon.do("GET", "/robots.txt", nil), http.StatusOK)
	r := must(t, anon.do("GET", "/zh/api-docs", nil, "Accept", "text/html"), http.StatusTooManyRequests)
	if !strings.Contains(string(r.body), "请求过于频繁") || r.header.Get("Retry-After") == "" || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("429 page: %s\n%.300s", r.header, r.body)
	}
	// The same bucket: the API is refused too, and a key does not lift a page's limit.
	must(t, anon.do("GET", "/api/v1/articles", nil), http.StatusTooManyRequests)
	must(t, newClient(t, s, testAdminKey).do("GET", "/en/", nil), http.StatusTooManyRequests)
	// Operations routes are not limited.
	must(t, anon.do("GET", "/healthz", nil), http.StatusOK)
}

// TestPageMetrics: page requests are counted by route pattern, never by path.
func TestPageMetrics(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{seed: true})
	anon := newClient(t, s, "")
	must(t, anon.do("GET", "/en/articles/secret-slug-abc", nil), http.StatusNotFound)
	must(t, anon.do("GET", "/zh/", nil), http.StatusOK)
	must(t, anon.do("GET", "/llms.txt", nil), http.StatusOK)
	m := metricstest.Get(t, "http://"+s.HTTPAddr+"/metrics")
	for _, labels := range [][]string{
		{"route", "GET /en/articles/{slug}", "code", "404"},
		{"route", "GET /zh/{$}", "code", "200"},
		{"route", "GET /llms.txt", "code", "200"},
	} {
		if v, _ := m.Value("buzhou_http_requests_total", append([]string{"service", "gateway"}, labels...)...); v < 1 {
			t.Errorf("no requests counted with %q", labels)
		}
	}
	for _, route := range m.LabelValues("buzhou_http_requests_total", "route") {
		if strings.Contains(route, "secret") {
			t.Errorf("a path became a route label: %q", route)
		}
	}
}

// TestKeptPagesFollowWrites: the gateway keeps anonymous article pages, and
// a write through it shows on the next page at once: an edit, a record (its
// answer names no article), an archive.
func TestKeptPagesFollowWrites(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	anon := newClient(t, s, "")
	body := article("Kept page before")
	body["status"] = "published"
	a := must(t, admin.do("POST", "/api/v1/articles", body), http.StatusCreated).json(t)
	id, slug := a["id"].(string), a["slug"].(string)
	page := "/en/articles/" + slug
	for range 2 {
		if r := must(t, anon.do("GET", page, nil), http.StatusOK); !strings.Contains(string(r.body), "Kept page before") {
			t.Fatalf("page: %s", r.body)
		}
	}
	must(t, admin.do("PATCH", "/api/v1/articles/"+id, map[string]any{"title": map[string]any{"en": "Kept page after"}}), http.StatusOK)
	if r := must(t, anon.do("GET", page, nil), http.StatusOK); !strings.Contains(string(r.body), "Kept page after") {
		t.Error("the page after an edit still shows the old title")
	}
	verifier := verifierKey(t, s, admin, "page reader")
	must(t, verifier.do("POST", path("/api/v1/articles/%s/verifications", id), record("failed", "Plan 9")), http.StatusCreated)
	if r := must(t, anon.do("GET", page, nil), http.StatusOK); !strings.Contains(string(r.body), "Plan 9") {
		t.Error("the page after a record does not show it")
	}
	must(t, admin.do("DELETE", "/api/v1/articles/"+id, nil), http.StatusOK)
	must(t, anon.do("GET", page, nil), http.StatusNotFound)
}
