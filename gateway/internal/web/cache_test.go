package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
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

// TestLRUBudget drops the least recently used values to stay within its
// budget, and never keeps one larger than the budget.
func TestLRUBudget(t *testing.T) {
	t.Parallel()
	c := newLRU[string](300, 0, func(v string) int { return len(v) })
	for _, k := range []string{"a", "b", "c"} {
		c.put(k, strings.Repeat(k, 100))
	}
	if _, ok := c.get("a"); !ok { // a is now the most recent
		t.Fatal("a was dropped within the budget")
	}
	c.put("d", strings.Repeat("d", 100))
	if _, ok := c.get("b"); ok {
		t.Error("b, the least recently used, was kept over the budget")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s was dropped", k)
		}
	}
	c.put("a", "short") // in place of the old value
	if v, _ := c.get("a"); v != "short" || c.used != 205 {
		t.Errorf("a = %q, %d bytes used", v, c.used)
	}
	c.put("huge", strings.Repeat("x", 301))
	if _, ok := c.get("huge"); ok || c.used > c.budget {
		t.Errorf("a value over the budget was kept (used %d of %d)", c.used, c.budget)
	}
}

// TestLRUTTL stops returning a value once it is ttl old.
func TestLRUTTL(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	c := newLRU[string](1000, time.Minute, func(v string) int { return len(v) })
	c.now = func() time.Time { return now }
	c.put("k", "v")
	now = now.Add(59 * time.Second)
	if _, ok := c.get("k"); !ok {
		t.Error("a value was dropped before its ttl")
	}
	now = now.Add(time.Second)
	if _, ok := c.get("k"); ok || c.used != 0 {
		t.Errorf("a value was returned at its ttl (used %d)", c.used)
	}
}

// TestRelatedKept asks the search service for an article's related list at
// most once a relatedTTL, and not when it failed.
func TestRelatedKept(t *testing.T) {
	t.Parallel()
	a, _, v := fixtures()
	s := &fakeSearch{related: []*searchv1.SearchItem{{Slug: "old-fix", Title: lt("An old fix", ""), Domain: "mcp"}}}
	h := newHandler(t, a, s, v, "")
	for range 3 {
		if !strings.Contains(get(t, h, "/en/articles/api-key-401-vs-403").Body.String(), "An old fix") {
			t.Fatal("no related article")
		}
	}
	if s.relatedCalls != 1 {
		t.Errorf("%d related calls for three reads, want 1", s.relatedCalls)
	}
	down := &fakeSearch{err: unimplemented}
	h = newHandler(t, a, down, v, "")
	get(t, h, "/en/articles/api-key-401-vs-403")
	get(t, h, "/en/articles/api-key-401-vs-403")
	if down.relatedCalls != 2 {
		t.Errorf("%d related calls, want 2: a failure is not kept", down.relatedCalls)
	}
}
