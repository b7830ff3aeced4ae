package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// TestArticlePage renders the full fixture article in both languages and
// checks every element of the seed page on it.
func TestArticlePage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		lang, title, banner, domain, status, risk, faqQ, recordResult, verifierType, contentHeading, info string
	}{
		{"en", "API Key Authentication Failure: 401 vs 403",
			"This article has automated inspection or repair updates and is still pending additional verification.",
			"Error Codes", "Partial", "Low Risk", "Is the scheme case-sensitive?", "Failed", "Third-party Agent", "Symptoms", "Article Info"},
		{"zh", "API Key 认证失败：401 与 403", "本文有自动巡检或修复更新，仍在等待进一步验证。",
			"错误码", "部分通过", "低风险", "认证方案区分大小写吗？", "失败", "第三方智能体", "症状", "文章信息"},
	}
	for _, tc := range cases {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			a, s, v := fixtures()
			h := newHandler(t, a, s, v, "https://buzhou.example")
			rec := get(t, h, "/"+tc.lang+"/articles/api-key-401-vs-403")
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d\n%s", rec.Code, rec.Body)
			}
			d := parseHTML(t, rec.Body.String())
			check := func(what, got, want string) {
				t.Helper()
				if !strings.Contains(got, want) {
					t.Errorf("%s = %q, want it to contain %q", what, got, want)
				}
			}
			check("html lang", attr(d.one("html"), "lang"), tc.lang)
			// Breadcrumb: home, domain, the article.
			crumbs := d.in(`nav.crumbs`).texts("li")
			if len(crumbs) != 3 || crumbs[1] != tc.domain || crumbs[2] != tc.title {
				t.Errorf("breadcrumb %q", crumbs)
			}
			check("domain crumb link", attr(d.in("nav.crumbs").all("a")[1], "href"), "/"+tc.lang+"/?domain=error_codes")
			check("h1", d.text("h1"), tc.title)
			check("summary", d.text("p.lede"), map[string]string{"en": "Why a request", "zh": "为什么被拒绝"}[tc.lang])
			check("banner", d.text("p.banner.st-partial"), tc.banner)
			byline := d.text("dl.byline")
			check("byline", byline, "goumang")
			check("published", attr(d.in("dl.byline").all("time")[0], "datetime"), "2026-03-22T06:39:00Z")
			check("updated", attr(d.in("dl.byline").all("time")[1], "datetime"), "2026-03-23T18:26:00Z")
			check("badges", d.text("header.doc-head p.meta"), tc.domain+" "+tc.status)
			// Content: markdown with a table and a highlighted code block.
			content := d.in("div.content")
			check("content heading", content.text("h2"), tc.contentHeading)
			if tc.lang == "en" && len(content.all("table")) != 1 {
				t.Error("the content's table is not rendered")
			}
			check("content code language", content.text("span.lang"), "bash")
			if len(content.all("button.copy")) != 1 {
				t.Error("the content's code block has no copy button")
			}
			// The article's own code blocks.
			code := d.in(`section[aria-labelledby=code-title]`)
			check("code block caption", code.all("figcaption")[0].FirstChild.FirstChild.Data, "cb1")
			check("code block", textOfNode(code.all("figure")[0]), "python")
			if len(code.all("span.k")) == 0 {
				t.Error("python code is not highlighted")
			}
			check("expected output", code.text("pre.output"), "bearer")
			check("language-less block", code.all("span.lang")[1].FirstChild.Data, "text")
			// FAQ as disclosure widgets; a missing zh answer falls back to English.
			faq := d.in(`section[aria-labelledby=faq-title]`)
			if got := faq.all("details"); len(got) != 2 {
				t.Fatalf("%d FAQ entries, want 2", len(got))
			}
			check("faq question", faq.texts("summary")[0], tc.faqQ)
			if tc.lang == "zh" {
				if l := attr(faq.all("div.answer")[1], "lang"); l != "en" {
					t.Errorf("the English-only answer on the zh page has lang %q", l)
				}
			}
			// Verification records: every field, failures as plain as passes.
			recs := d.in(`section[aria-labelledby=records-title]`)
			items := recs.all("li.record")
			if len(items) != 3 {
				t.Fatalf("%d records, want 3", len(items))
			}
			failed := textOfNode(items[1])
			for _, want := range []string{tc.recordResult, "Claude Agent Verifier", tc.verifierType, "rec_0002", "4", "macOS", "Python", "3.12", "Did not work on macOS with Python 3.12."} {
				check("failed record", failed, want)
			}
			check("failed record class", attr(items[1], "class"), "rec-failed")
			check("record date", attr(recs.all("li.record time")[1], "datetime"), "2026-03-22T10:00:00Z")
			check("records note", recs.text("p.note"), "12")
			// Problem reports: the verification service is not there yet.
			check("problems", d.text(`section[aria-labelledby=problems-title]`), map[string]string{"en": "not available", "zh": "暂未提供"}[tc.lang])
			// Sidebar: tags, info, API access, related, keywords.
			side := d.in("aside")
			check("tags", side.text(`section[aria-labelledby=tags-title]`), "api-key 401")
			info := side.text(`section[aria-labelledby=info-title]`)
			for _, want := range []string{tc.info, "art_full0001", "goumang", "91%", tc.risk, "2026-03-23 18:26 UTC", "buzhou>=1.0", "python 3.11", "curl"} {
				check("article info", info, want)
			}
			apiBox := side.in("section.api")
			check("endpoint", apiBox.text("code#endpoint"), "/api/v1/articles/api-key-401-vs-403")
			if got := attr(apiBox.all("button.copy")[0], "data-copy-url"); got != "/api/v1/articles/api-key-401-vs-403" {
				t.Errorf("copy button copies %q", got)
			}
			check("api docs link", attr(apiBox.all("a")[0], "href"), "/"+tc.lang+"/api-docs")
			// Related: the search service is not there, so the ids the article carries.
			related := side.in(`section[aria-labelledby=related-title]`)
			check("related", related.text("li"), "HTTP 429: back off with jitter")
			check("related meta", related.text("li"), map[string]string{"en": "Transport · Verified", "zh": "传输 · 已验证"}[tc.lang])
			check("keywords", side.text(`section[aria-labelledby=keywords-title]`), "Bearer token")
			check("references", d.text(`section[aria-labelledby=refs-title]`), "RFC 6750 www.rfc-editor.org")
			// The agent's view: links, meta tags, comment, JSON-LD, headers.
			md := attr(d.one(`link[type=text/markdown]`), "href")
			if md != "/api/v1/articles/api-key-401-vs-403?format=markdown&lang="+tc.lang {
				t.Errorf("markdown alternate %q", md)
			}
			if got := attr(d.one(`meta[name=agent-api]`), "content"); got != "/api/v1/articles/api-key-401-vs-403" {
				t.Errorf("agent-api meta %q", got)
			}
			if !strings.Contains(rec.Body.String(), "<!-- Agents: this page's data is in the Buzhou API. Read it with GET /api/v1/articles/api-key-401-vs-403") {
				t.Error("no HTML comment for agents")
			}
			var ld map[string]any
			if err := json.Unmarshal([]byte(textOfNode(d.one(`script[type=application/ld+json]`))), &ld); err != nil {
				t.Fatalf("JSON-LD: %v", err)
			}
			if ld["@type"] != "TechArticle" || ld["headline"] != tc.title || ld["identifier"] != "art_full0001" ||
				ld["url"] != "https://buzhou.example/"+tc.lang+"/articles/api-key-401-vs-403" || ld["datePublished"] != "2026-03-22T06:39:00Z" {
				t.Errorf("JSON-LD %v", ld)
			}
			var hreflangs []string
			for _, l := range d.all(`link[rel=alternate][hreflang]`) {
				hreflangs = append(hreflangs, attr(l, "hreflang")+" "+attr(l, "href"))
			}
			if diff := cmp.Diff([]string{
				"zh https://buzhou.example/zh/articles/api-key-401-vs-403", "en https://buzhou.example/en/articles/api-key-401-vs-403",
				"x-default https://buzhou.example/en/articles/api-key-401-vs-403",
			}, hreflangs); diff != "" {
				t.Errorf("hreflang alternates (-want +got):\n%s", diff)
			}
			if got := rec.Header().Get("X-Agent-API-Endpoint"); got != "/api/v1/articles/api-key-401-vs-403" {
				t.Errorf("X-Agent-API-Endpoint %q", got)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'sha256-") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if rec.Header().Get("ETag") == "" || !slices.Contains(rec.Header().Values("Vary"), "Accept") {
				t.Errorf("headers %v", rec.Header())
			}
			// Landmarks and headings in order.
			for _, sel := range []string{"header.site", "main", "footer.site", "aside", `nav[aria-label]`} {
				if len(d.all(sel)) == 0 {
					t.Errorf("no %s landmark", sel)
				}
			}
			assertHeadingOrder(t, d)
			if n := rec.Body.Len(); n > 100<<10 {
				t.Errorf("page is %d bytes, over 100 KB", n)
			}
		})
	}
}

// assertHeadingOrder fails when the page has not exactly one h1 first, or
// when a heading skips a level going down.
func assertHeadingOrder(t *testing.T, d *doc) {
	t.Helper()
	var levels []int
	for _, n := range findAll(d.root, func(n *htmlNode) bool {
		return n.Type == htmlElement && len(n.Data) == 2 && n.Data[0] == 'h' && n.Data[1] >= '1' && n.Data[1] <= '6'
	}) {
		levels = append(levels, int(n.Data[1]-'0'))
	}
	if len(levels) == 0 || levels[0] != 1 || slices.Index(levels[1:], 1) >= 0 {
		t.Fatalf("headings %v: want one h1, first", levels)
	}
	for i := 1; i < len(levels); i++ {
		if levels[i] > levels[i-1]+1 {
			t.Errorf("heading h%d follows h%d (headings %v)", levels[i], levels[i-1], levels)
		}
	}
}

// TestArticleEscaping renders an article with markup and script in every
// field: it stays text, and the page runs no script but its own.
func TestArticleEscaping(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"en", "zh"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			a, s, v := fixtures()
			h := newHandler(t, a, s, v, "")
			rec := get(t, h, "/"+lang+"/articles/hostile")
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			body := rec.Body.String()
			d := parseHTML(t, body)
			scripts := d.all("script")
			if len(scripts) != 2 || attr(scripts[0], "type") != "application/ld+json" || textOfNode(scripts[1]) != strings.Join(strings.Fields(string(mustAsset(t, "assets/copy.js"))), " ") {
				t.Errorf("the page has %d scripts; want the JSON-LD and the copy script only", len(scripts))
			}
			for _, n := range findAll(d.root, func(n *htmlNode) bool { return n.Type == htmlElement }) {
				for _, at := range n.Attr {
					if strings.HasPrefix(at.Key, "on") || at.Key == "style" {
						t.Errorf("<%s %s=%q>", n.Data, at.Key, at.Val)
					}
					if (at.Key == "href" || at.Key == "src") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(at.Val)), "javascript:") {
						t.Errorf("<%s %s=%q>", n.Data, at.Key, at.Val)
					}
				}
				if slices.Contains([]string{"iframe", "img", "object", "embed"}, n.Data) {
					t.Errorf("the page has an <%s> element", n.Data)
				}
			}
			if got := d.text("h1"); !strings.HasPrefix(got, `<script>alert("x")</script>`) {
				t.Errorf("h1 = %q: the title did not stay text", got)
			}
			var ld map[string]any
			if err := json.Unmarshal([]byte(textOfNode(scripts[0])), &ld); err != nil || !strings.Contains(ld["headline"].(string), "<script>") {
				t.Errorf("JSON-LD %v, %v", ld, err)
			}
			if strings.Contains(textOfNode(scripts[0]), "</script") {
				t.Error("the JSON-LD can end its script element")
			}
			if strings.Contains(body, "ignore previous instructions") {
				t.Error("an HTML comment in the content reached the page")
			}
			if lang == "en" {
				// The markdown image becomes a link with its alt text.
				if l := d.all(`a.image[href=https://evil.example/pixel.png]`); len(l) != 1 || textOfNode(l[0]) != "tracker" {
					t.Errorf("image links %d", len(l))
				}
				if len(d.all(`a[href=https://example.com/%22%3E%3Cscript%3E]`)) != 1 {
					t.Error("the reference URL with markup is not linked escaped")
				}
			}
		})
	}
}

// TestMissingLocale shows an English-only article on the Chinese page:
// the English text, marked as such, with a note that says so.
func TestMissingLocale(t *testing.T) {
	t.Parallel()
	a, s, v := fixtures()
	h := newHandler(t, a, s, v, "https://buzhou.example")
	rec := get(t, h, "/zh/articles/http-429-backoff")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	d := parseHTML(t, rec.Body.String())
	if got := d.text("p.note.locale"); got != "本文暂无中文版本，以下显示英文版本。" {
		t.Errorf("locale note %q", got)
	}
	if attr(d.one("html"), "lang") != "zh" || attr(d.one("h1"), "lang") != "en" || attr(d.one("div.content"), "lang") != "en" {
		t.Error("the English text is not marked lang=en on the zh page")
	}
	if d.text("h1") != "HTTP 429: back off with jitter" {
		t.Errorf("h1 %q", d.text("h1"))
	}
	for _, l := range d.all(`link[rel=alternate][hreflang]`) {
		if attr(l, "hreflang") == "zh" {
			t.Error("a zh alternate is offered for an article without Chinese")
		}
	}
	// The English page has no note.
	if n := len(parseHTML(t, get(t, h, "/en/articles/http-429-backoff").Body.String()).all("p.note.locale")); n != 0 {
		t.Error("the English page of an English article has a locale note")
	}
}

// TestArticleSections lights the sections up when their services answer,
// and degrades each to a note (never an error page) when they do not.
func TestArticleSections(t *testing.T) {
	t.Parallel()
	down := status.Error(codes.Unavailable, "connection refused 10.0.0.7:9103")
	cases := []struct {
		name         string
		search       *fakeSearch
		verification *fakeVerification
		records      []string // verifier names, in order
		recordsNote  string
		problems     []string
		problemsNote string
		related      []string
	}{
		{
			name: "services not there yet", search: &fakeSearch{err: unimplemented}, verification: &fakeVerification{err: unimplemented},
			records: []string{"Inspection Bot", "Claude Agent Verifier", "句芒(goumang)"}, recordsNote: "12 records in all; the newest 3 are shown.",
			problemsNote: "Problem reports are not available on this server yet.", related: []string{"HTTP 429: back off with jitter"},
		},
		{
			name: "services down", search: &fakeSearch{err: down}, verification: &fakeVerification{err: down},
			records: []string{"Inspection Bot", "Claude Agent Verifier", "句芒(goumang)"}, recordsNote: "The full record list cannot be loaded right now",
			problemsNote: "Problem reports cannot be loaded right now.", related: []string{"HTTP 429: back off with jitter"},
		},
		{
			name: "services answer",
			search: &fakeSearch{related: []*searchv1.SearchItem{
				{Slug: "old-fix", Title: lt("An old fix", ""), Domain: "mcp", VerificationStatus: "deprecated"},
			}},
			verification: &fakeVerification{
				records: []*verificationv1.VerificationRecord{
					{Id: "rec_9", Verifier: &articlev1.VerifierRef{Id: "prn_9", Name: "Sandbox Runner", Type: "official_bot"}, Result: "failed", Notes: "exit 1", VerifiedAt: ts("2026-03-24T00:00:00Z")},
				},
				runs: []*verificationv1.InspectionRun{{Findings: []*verificationv1.Finding{
					{RuleKey: "reported.outdated", Severity: "medium", Title: "Reported as outdated", Evidence: "openai 2.0 renamed it", Status: "open"},
					{RuleKey: "reported.unsafe", Severity: "high", Title: "Closed report", Status: "dismissed"},
					{RuleKey: "qa.too_few", Severity: "low", Title: "Fewer than 3 QA pairs", Status: "open"},
				}}},
			},
			records: []string{"Sandbox Runner"}, recordsNote: "12 records in all; the newest 1 are shown.",
			problems: []string{"Outdated · medium Reported as outdated openai 2.0 renamed it"}, related: []string{"An old fix"},
		},
		{
			name: "search does not know the article yet", search: &fakeSearch{err: status.Error(codes.NotFound, "not indexed")}, verification: &fakeVerification{err: unimplemented},
			records: []string{"Inspection Bot", "Claude Agent Verifier", "句芒(goumang)"}, recordsNote: "12 records in all; the newest 3 are shown.",
			problemsNote: "Problem reports are not available on this server yet.", related: []string{"HTTP 429: back off with jitter"},
		},
		{
			name: "nothing to show", search: &fakeSearch{}, verification: &fakeVerification{runs: []*verificationv1.InspectionRun{{}}},
			recordsNote: "12 records in all; the newest 0 are shown.", problemsNote: "No open problem reports.",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, _, _ := fixtures()
			rec := get(t, newHandler(t, a, tc.search, tc.verification, ""), "/en/articles/api-key-401-vs-403")
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: a section took the page down", rec.Code)
			}
			body := rec.Body.String()
			if strings.Contains(body, "10.0.0.7") {
				t.Error("an error's text reached the page")
			}
			d := parseHTML(t, body)
			recs := d.in(`section[aria-labelledby=records-title]`)
			if diff := cmp.Diff(tc.records, recs.texts("li.record strong")); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if tc.recordsNote != "" && !strings.Contains(textOfNode(recs.root), tc.recordsNote) {
				t.Errorf("records section %q, want %q", textOfNode(recs.root), tc.recordsNote)
			}
			problems := d.in(`section[aria-labelledby=problems-title]`)
			if diff := cmp.Diff(tc.problems, problems.texts("ul.problems li")); diff != "" {
				t.Errorf("problem reports (-want +got):\n%s", diff)
			}
			if tc.problemsNote != "" && problems.text("p.note") != tc.problemsNote {
				t.Errorf("problems note %q", problems.text("p.note"))
			}
			var related []string
			if rs := d.all(`section[aria-labelledby=related-title]`); len(rs) == 1 {
				related = (&doc{t: t, root: rs[0]}).texts("li a")
			}
			if diff := cmp.Diff(tc.related, related); diff != "" {
				t.Errorf("related (-want +got):\n%s", diff)
			}
		})
	}
}

// TestArticleFailures: an article the public cannot see is a 404 page; a
// failing service is an error page that says nothing of the failure.
func TestArticleFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, path string
		err        error
		code       int
		want       string
	}{
		{"unknown", "/en/articles/no-such-article", nil, 404, "There is no published article at this address."},
		{"unknown zh", "/zh/articles/no-such-article", nil, 404, "这个地址没有已发布的文章。"},
		{"not UTF-8", "/en/articles/%ff%fe", nil, 404, "There is no published article"},
		{"too long", "/en/articles/" + strings.Repeat("a", maxSlugBytes+1), nil, 404, "There is no published article"},
		{"unavailable", "/en/articles/api-key-401-vs-403", status.Error(codes.Unavailable, "dial tcp 10.0.0.7:9101: connection refused"), 503, "not reachable right now"},
		{"internal", "/zh/articles/api-key-401-vs-403", status.Error(codes.Internal, "pq: relation articles does not exist"), 500, "页面暂时无法显示"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, s, v := fixtures()
			a.err = tc.err
			rec := get(t, newHandler(t, a, s, v, ""), tc.path)
			body := rec.Body.String()
			if rec.Code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("status %d, want %d with %q\n%s", rec.Code, tc.code, tc.want, body)
			}
			for _, leak := range []string{"10.0.0.7", "pq:", "dial tcp", "relation"} {
				if strings.Contains(body, leak) {
					t.Errorf("the page shows %q", leak)
				}
			}
			if !strings.Contains(body, "req_test") {
				t.Error("the error page does not name the request id")
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			if rec.Header().Get("Content-Security-Policy") == "" {
				t.Error("no CSP on the error page")
			}
		})
	}
}

// TestArticleByID sends a page asked for by id to its slug.
func TestArticleByID(t *testing.T) {
	t.Parallel()
	a, s, v := fixtures()
	rec := get(t, newHandler(t, a, s, v, ""), "/zh/articles/art_full0001")
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/zh/articles/api-key-401-vs-403" {
		t.Errorf("status %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
}

// TestAgentView answers the page URL with markdown or JSON by Accept.
func TestAgentView(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, path, accept, wantType, want string
		code                               int
	}{
		{"markdown", "/en/articles/api-key-401-vs-403", "text/markdown", "text/markdown; charset=utf-8", "# API Key Authentication Failure: 401 vs 403\n\n## Symptoms", 200},
		{"markdown zh", "/zh/articles/api-key-401-vs-403", "text/markdown, text/html;q=0.5", "text/markdown; charset=utf-8", "# API Key 认证失败", 200},
		{"json", "/zh/articles/api-key-401-vs-403", "application/json", "application/json", `"slug":"api-key-401-vs-403"`, 200},
		{"browser", "/en/articles/api-key-401-vs-403", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", htmlType, "<!DOCTYPE html>", 200},
		{"anything", "/en/articles/api-key-401-vs-403", "*/*", htmlType, "<!DOCTYPE html>", 200},
		{"markdown of nothing", "/en/articles/nope", "text/markdown", "text/plain; charset=utf-8", `no published article "nope"`, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, s, v := fixtures()
			rec := get(t, newHandler(t, a, s, v, ""), tc.path, "Accept", tc.accept)
			if rec.Code != tc.code || rec.Header().Get("Content-Type") != tc.wantType || !strings.Contains(strings.ReplaceAll(rec.Body.String(), " ", ""), strings.ReplaceAll(tc.want, " ", "")) {
				t.Errorf("status %d, type %q, body:\n%.300s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			if !slices.Contains(rec.Header().Values("Vary"), "Accept") {
				t.Error("no Vary: Accept")
			}
			if tc.name == "json" {
				var got articlev1.Article
				if err := protojson.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.GetId() != "art_full0001" {
					t.Errorf("JSON view: %v", err)
				}
			}
		})
	}
}

// TestNegotiate picks representations as Accept asks.
func TestNegotiate(t *testing.T) {
	t.Parallel()
	offers := []string{"text/html", "text/markdown", "application/json"}
	cases := []struct{ accept, want string }{
		{"", "text/html"},
		{"*/*", "text/html"},
		{"text/markdown", "text/markdown"},
		{"TEXT/Markdown; charset=utf-8", "text/markdown"},
		{"text/*", "text/html"},
		{"text/*, text/markdown;q=1", "text/markdown"},
		{"application/json;q=0.9, text/markdown;q=0.5", "application/json"},
		{"text/html;q=0, */*", "text/markdown"},
		{"image/png", ""},
		{"garbage", ""},
		{"text/markdown;q=abc", "text/markdown"},
	}
	for _, tc := range cases {
		if got := negotiate(tc.accept, offers...); got != tc.want {
			t.Errorf("negotiate(%q) = %q, want %q", tc.accept, got, tc.want)
		}
	}
}

// TestETag answers a revalidation whose ETag matches with 304.
func TestETag(t *testing.T) {
	t.Parallel()
	a, s, v := fixtures()
	h := newHandler(t, a, s, v, "")
	for _, path := range []string{"/en/articles/api-key-401-vs-403", "/zh/", "/en/api-docs", "/llms.txt", "/sitemap.xml", "/robots.txt"} {
		first := get(t, h, path)
		etag := first.Header().Get("ETag")
		if first.Code != 200 || etag == "" {
			t.Fatalf("%s: status %d, ETag %q", path, first.Code, etag)
		}
		if again := get(t, h, path, "If-None-Match", etag); again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("%s with If-None-Match: status %d, %d bytes", path, again.Code, again.Body.Len())
		}
	}
}

func mustAsset(t *testing.T, name string) []byte {
	t.Helper()
	b, err := files.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
