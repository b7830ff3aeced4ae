package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"buzhou.dev/platform/metrics"
)

// route is where a request's route pattern is left for its metrics: the
// ServeMux pattern at first ("GET /readyz", "/api/"), the API route once
// grpc-gateway has matched one. Patterns, never paths, so the route label
// has as many values as there are routes.
type route struct{ pattern string }

type routeKey struct{}

// observeHTTP counts and times every request by route pattern and status.
// mux is the gateway's ServeMux, asked for the pattern without serving.
func observeHTTP(m *metrics.Part, mux *http.ServeMux, next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	instrumented := m.InstrumentHTTP(next, routeOf)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		ctx := context.WithValue(r.Context(), routeKey{}, &route{pattern: pattern})
		instrumented.ServeHTTP(w, r.WithContext(ctx))
	})
}

func routeOf(ctx context.Context) string {
	if rt, ok := ctx.Value(routeKey{}).(*route); ok && rt.pattern != "" {
		return rt.pattern
	}
	return "unmatched"
}

// apiRoute, a grpc-gateway middleware, names an API request by the route
// it matched, method first: "GET /api/v1/articles/{id_or_slug}". Requests
// answered before matching (401 and 429 at the edge, unknown API paths)
// keep the route "/api/".
func apiRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		rt, ok := r.Context().Value(routeKey{}).(*route)
		if p, matched := runtime.HTTPPattern(r.Context()); ok && matched {
			// The template's "{x=*}" says no more than "{x}".
			rt.pattern = r.Method + " " + strings.ReplaceAll(p.String(), "=*}", "}")
		}
		next(w, r, params)
	}
}

// mountMetrics serves GET /metrics when the gateway has metrics. It is
// outside /api/, so neither authenticated nor rate-limited: a scrape is
// cheap and bounded (see metrics.Part.Handler), and operators who do not
// want it public keep it off their ingress.
func mountMetrics(mux *http.ServeMux, m *metrics.Part, log *slog.Logger) {
	if m != nil {
		mux.Handle("GET /metrics", m.Handler(log))
	}
}
