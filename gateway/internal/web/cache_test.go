package web

import (
	"html/template"
	"net/http"
	"strings"
	"testing"
)

// TestArticleRenderedOncePerRevision: a page is rendered from the article
// once per revision and language, and anew when the revision changes.
func TestArticleRenderedOncePerRevision(t *testing.T) {
	t.Parallel()
	a, s, v := fixtures()
	h := newHandler(t, a, s, v, "")
	page := func() string {
		t.Helper()
		rec := get(t, h, "/en/articles/api-key-401-vs-403")
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		return rec.Body.String()
	}
	if !strings.Contains(page(), "Symptoms") {
		t.Fatal("no content")
	}
	// The same revision with other bytes cannot happen; the view kept is used.
	a.articles[0].Content.En = "## Changed\n\nNew text."
	if got := page(); !strings.Contains(got, "Symptoms") || strings.Contains(got, "Changed") {
		t.Error("the page was rendered again for the same revision")
	}
	a.articles[0].Revision++
	if got := page(); !strings.Contains(got, "<h2>Changed</h2>") {
		t.Error("a new revision is shown with the old content")
	}
	// The other language is a view of its own.
	if got := get(t, h, "/zh/articles/api-key-401-vs-403").Body.String(); !strings.Contains(got, "症状") {
		t.Error("the zh page shows another language's view")
	}
}

// TestViewCacheBudget drops the least recently used views to stay within
// its budget, and never keeps one larger than the budget.
func TestViewCacheBudget(t *testing.T) {
	t.Parallel()
	view := func(n int) articleView { return articleView{Doc: template.HTML(strings.Repeat("x", n))} }
	c := newViewCache(3 * (1024 + 100)) // three views of 100 bytes
	for _, id := range []string{"a", "b", "c"} {
		c.put(viewKey{id: id}, view(100))
	}
	if _, ok := c.get(viewKey{id: "a"}); !ok { // a is now the most recent
		t.Fatal("a was dropped within the budget")
	}
	c.put(viewKey{id: "d"}, view(100))
	if _, ok := c.get(viewKey{id: "b"}); ok {
		t.Error("b, the least recently used, was kept over the budget")
	}
	for _, id := range []string{"a", "c", "d"} {
		if _, ok := c.get(viewKey{id: id}); !ok {
			t.Errorf("%s was dropped", id)
		}
	}
	c.put(viewKey{id: "huge"}, view(10_000))
	if _, ok := c.get(viewKey{id: "huge"}); ok || c.used > c.budget {
		t.Errorf("a view over the budget was kept (used %d of %d)", c.used, c.budget)
	}
}
