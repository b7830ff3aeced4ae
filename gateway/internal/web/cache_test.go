package web

import (
	"net/http"
	"strings"
	"testing"

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
