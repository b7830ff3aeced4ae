package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"buzhou.dev/platform/metrics"
)

// What a request pays for its metrics, per layer.

func BenchmarkObserveRPC(b *testing.B) {
	p, _ := metrics.NewRegistry().Part("article")
	for b.Loop() {
		p.ObserveRPC("/buzhou.article.v1.ArticleService/GetArticle", codes.OK, time.Millisecond)
	}
}

func BenchmarkObserveStore(b *testing.B) {
	p, _ := metrics.NewRegistry().Part("article")
	for b.Loop() {
		func() (err error) {
			defer p.ObserveStore("Get", time.Now(), &err)
			return nil
		}()
	}
}

func BenchmarkInstrumentHTTP(b *testing.B) {
	p, _ := metrics.NewRegistry().Part("gateway")
	h := p.InstrumentHTTP(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		func(context.Context) string { return "GET /api/v1/articles/{id_or_slug}" })
	r := httptest.NewRequest(http.MethodGet, "/api/v1/articles/x", nil)
	w := httptest.NewRecorder()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
