package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
)

func searchItems(n int) []*searchv1.SearchItem {
	items := make([]*searchv1.SearchItem, n)
	for i := range items {
		items[i] = &searchv1.SearchItem{
			Id: "art_" + string(rune('a'+i)), Slug: "result-" + string(rune('a'+i)),
			Title: lt("Result "+string(rune('A'+i)), "结果 "+string(rune('A'+i))), Summary: lt("Summary", "摘要"),
			Domain: "transport", VerificationStatus: "verified", ConfidenceScore: 90, Snippet: "4. **the** <b>matched</b> `line` of [a link](https://example.com)",
		}
	}
	return items
}

// TestHomePage renders the home page in both languages: what Buzhou is,
// the search form, featured and recent articles, counts by domain.
func TestHomePage(t *testing.T) {
	t.Parallel()
	cases := []struct{ lang, heading, featured, domain string }{
		{"en", "Executable Knowledge Hub for AI Agents", "Featured articles", "Error Codes 1"},
		{"zh", "面向 AI 智能体的可执行知识库", "精选文章", "错误码 1"},
	}
	for _, tc := range cases {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			a, s, v := fixtures()
			rec := get(t, newHandler(t, a, s, v, ""), "/"+tc.lang+"/")
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			d := parseHTML(t, rec.Body.String())
			if d.text("h1") != tc.heading {
				t.Errorf("h1 %q", d.text("h1"))
			}
			// The form is a plain GET with a label for every control.
			form := d.one(`form[role=search]`)
			if attr(form, "method") != "get" || attr(form, "action") != "/"+tc.lang+"/" {
				t.Errorf("form %v", form.Attr)
			}
			for _, id := range []string{"q", "domain", "status"} {
				if len(d.all(`label[for=`+id+`]`)) != 1 || len(d.all("#"+id)) != 1 {
					t.Errorf("control %s has no label", id)
				}
			}
			if n := len(d.all(`select#domain option`)); n != 11 {
				t.Errorf("%d domain options, want all ten and any", n)
			}
			if n := len(d.all(`select#status option`)); n != 6 {
				t.Errorf("%d status options, want five and any", n)
			}
			featured := d.in(`section[aria-labelledby=featured-title]`)
			if featured.text("h2") != tc.featured {
				t.Errorf("featured heading %q", featured.text("h2"))
			}
			// The most trusted first: verified, then partial, then pending.
			if got := attr(featured.all("a.title")[0], "href"); got != "/"+tc.lang+"/articles/http-429-backoff" {
				t.Errorf("first featured %s", got)
			}
			if n := len(d.all(`section[aria-labelledby=recent-title] li.card`)); n != 4 {
				t.Errorf("%d recent articles, want 4", n)
			}
			if !strings.Contains(d.text(`section[aria-labelledby=domains-title]`), tc.domain) {
				t.Errorf("counts %q", d.text(`section[aria-labelledby=domains-title]`))
			}
			if len(d.all("#results")) != 0 {
				t.Error("results without a search")
			}
			assertHeadingOrder(t, d)
		})
	}
}

// TestHomeSearch runs searches through the form: results with domain,
// status and confidence and paging, or a note when search cannot answer.
func TestHomeSearch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, query string
		search      *fakeSearch
		titles      []string
		note        string
		prev, next  string
		pageText    string
	}{
		{
			name: "first page", query: "q=retry&domain=transport&status=verified", search: &fakeSearch{items: searchItems(12)},
			titles: []string{"Result A", "Result B", "Result C", "Result D", "Result E", "Result F", "Result G", "Result H", "Result I", "Result J"},
			next:   "/en/?domain=transport&page=2&q=retry&status=verified", pageText: "Page 1 of 2",
		},
		{
			name: "second page", query: "q=retry&page=2", search: &fakeSearch{items: searchItems(12)},
			titles: []string{"Result K", "Result L"}, prev: "/en/?q=retry", pageText: "Page 2 of 2",
		},
		{name: "no results", query: "q=nothing", search: &fakeSearch{}, note: "Nothing matched."},
		{name: "not there yet", query: "q=retry", search: &fakeSearch{err: unimplemented}, note: "Search is not available on this server yet"},
		{name: "down", query: "q=retry", search: &fakeSearch{err: status.Error(codes.Unavailable, "10.0.0.7 refused")}, note: "Search cannot be reached right now"},
		{name: "refused", query: "q=retry", search: &fakeSearch{err: status.Error(codes.InvalidArgument, "tags: give at most 10")}, note: "tags: give at most 10"},
		{name: "too long", query: "q=" + strings.Repeat("x", maxQueryBytes+1), search: &fakeSearch{}, note: "longer than 1024 bytes"},
		{name: "status needs a query", query: "status=failed", search: &fakeSearch{}, note: "Type what you are looking for"},
		{
			name: "domain without query", query: "domain=error_codes", search: &fakeSearch{},
			titles: []string{"API Key Authentication Failure: 401 vs 403"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, _, v := fixtures()
			rec := get(t, newHandler(t, a, tc.search, v, ""), "/en/?"+tc.query)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			body := rec.Body.String()
			if strings.Contains(body, "10.0.0.7") {
				t.Error("an error's text reached the page")
			}
			d := parseHTML(t, body)
			results := d.in("#results")
			if diff := cmp.Diff(tc.titles, results.texts("a.title")); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if tc.note != "" && !strings.Contains(results.text("p.note"), tc.note) {
				t.Errorf("note %q, want %q", results.text("p.note"), tc.note)
			}
			if len(tc.titles) > 0 && tc.search.err == nil && tc.search.items != nil {
				meta := results.texts("p.meta")[0]
				if meta != "Transport Verified Confidence Score 90%" {
					t.Errorf("result meta %q", meta)
				}
				if got := results.texts("p.summary")[0]; got != "the <b>matched</b> line of a link" {
					t.Errorf("snippet %q: want its markdown read as text, and markup kept as text", got)
				}
				if l := tc.search.last; l.GetLang() != "en" || l.GetPageSize() != resultsPerPage {
					t.Errorf("search request %v", l)
				}
			}
			link := func(rel string) string {
				if ns := results.all(`a[rel=` + rel + `]`); len(ns) == 1 {
					return attr(ns[0], "href")
				}
				return ""
			}
			if link("prev") != tc.prev || link("next") != tc.next {
				t.Errorf("paging prev %q next %q", link("prev"), link("next"))
			}
			if tc.pageText != "" && !strings.Contains(results.text("nav.pager"), tc.pageText) {
				t.Errorf("pager %q", results.text("nav.pager"))
			}
			for _, nav := range results.all("nav") {
				if attr(nav, "aria-label") == "" {
					t.Error("a navigation landmark without a name")
				}
			}
		})
	}
}

// TestHomeDomainPaging follows a domain list's page token and back.
func TestHomeDomainPaging(t *testing.T) {
	t.Parallel()
	a, s, v := fixtures()
	for i := range 12 {
		x := otherArticle()
		x.Id, x.Slug = x.Id+string(rune('a'+i)), x.Slug+"-"+string(rune('a'+i))
		a.articles = append(a.articles, x)
	}
	h := newHandler(t, a, s, v, "")
	d := parseHTML(t, get(t, h, "/zh/?domain=transport").Body.String())
	if n := len(d.all("#results a.title")); n != resultsPerPage {
		t.Fatalf("%d on the first page", n)
	}
	if label := attr(d.one("#results nav.pager"), "aria-label"); label != "结果分页" {
		t.Errorf("the pager is labelled %q", label)
	}
	next := attr(d.one(`#results a[rel=next]`), "href")
	d = parseHTML(t, get(t, h, next).Body.String())
	if n := len(d.all("#results a.title")); n != 3 {
		t.Errorf("%d on the second page, want 3", n)
	}
	if attr(d.one(`#results a[rel=first]`), "href") != "/zh/?domain=transport" || len(d.all(`#results a[rel=next]`)) != 0 {
		t.Error("the last page links on, or not back to the first")
	}
	// A token someone made up is the list service's complaint, on the page.
	d = parseHTML(t, get(t, h, "/zh/?domain=transport&after=forged").Body.String())
	if !strings.Contains(d.text("#results p.note"), "pageToken is not a token") {
		t.Errorf("forged token note %q", d.text("#results p.note"))
	}
}

// TestHomeEscaping keeps a query with markup as text, in the form and in
// the heading, and ignores filters no one can mean.
func TestHomeEscaping(t *testing.T) {
	t.Parallel()
	a, _, v := fixtures()
	s := &fakeSearch{}
	q := `"><script>alert(1)</script>`
	rec := get(t, newHandler(t, a, s, v, ""), "/en/?"+url.Values{"q": {q}, "domain": {"<b>"}, "status": {"x"}, "page": {"-3"}}.Encode())
	body := rec.Body.String()
	if strings.Contains(body, "<script>alert") {
		t.Fatal("the query reached the page as markup")
	}
	d := parseHTML(t, body)
	if attr(d.one("input#q"), "value") != q || !strings.Contains(d.text("#results h3"), q) {
		t.Errorf("the query is not shown as typed: %q", d.text("#results h3"))
	}
	if s.last.GetDomain() != "" || s.last.GetStatus() != "" || s.last.GetPage() != 1 {
		t.Errorf("search got %v", s.last)
	}
	// Not UTF-8: replaced, never sent on as invalid proto text.
	get(t, newHandler(t, a, s, v, ""), "/en/?q=%ff%fe")
	if s.last.GetQ() != "\uFFFD" {
		t.Errorf("q %q", s.last.GetQ())
	}
}

// TestHomeArticlesDown: the home page still serves its form when the
// article service cannot list.
func TestHomeArticlesDown(t *testing.T) {
	t.Parallel()
	a, s, v := fixtures()
	a.err = status.Error(codes.Unavailable, "down")
	rec := get(t, newHandler(t, a, s, v, ""), "/en/")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	d := parseHTML(t, rec.Body.String())
	if len(d.all(`form[role=search]`)) != 1 || !strings.Contains(d.text(`section[aria-labelledby=recent-title]`), "cannot be loaded") {
		t.Error("no form, or no note for the lists")
	}
	if len(d.all(`section[aria-labelledby=domains-title]`)) != 0 {
		t.Error("counts shown without stats")
	}
}
