package web

import (
	"net/http"
	"testing"
)

// BenchmarkRenderArticlePage renders the full fixture article's page on
// fakes: the page's own cost, without RPCs or HTTP.
func BenchmarkRenderArticlePage(b *testing.B) {
	a, s, v := fixtures()
	h := newHandler(b, a, s, v, "")
	b.ReportAllocs()
	for b.Loop() {
		if rec := get(b, h, "/en/articles/api-key-401-vs-403"); rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
