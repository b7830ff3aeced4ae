package gateway

import (
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/metrics/metricstest"
)

// Requests are counted by route pattern and code; the label never carries
// a path, whatever the caller sends.
func TestMetricsByRoutePattern(t *testing.T) {
	t.Parallel()
	// A gRPC server with no services: every API call answers Unimplemented
	// (501), which is enough to pass through grpc-gateway's routing.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	c := conn(t, lis.Addr().String())
	m, err := metrics.NewRegistry().Part("gateway")
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(t.Context(), Config{Metrics: m}, Upstreams{Article: c, Search: c, Verification: c}, discard)
	if err != nil {
		t.Fatal(err)
	}

	paths := []string{
		"/api/v1/articles/secret-slug-1", "/api/v1/articles/secret-slug-2",
		"/api/v1/articles/secret-slug-3?format=markdown",
		"/api/v1/no-such-route/secret-4",
		"/healthz", "/secret-5/anything", "/openapi.json",
	}
	for _, p := range paths {
		get(t, h, p)
	}
	// Methods and bytes nobody routes still land on bounded labels.
	for _, r := range []struct{ method, path string }{
		{"BREW", "/api/v1/articles/secret-6"}, {"BREW", "/secret-7"}, {http.MethodGet, "/api/v1/articles/%ff%fe"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(r.method, r.path, nil))
	}
	s := metricstest.Serve(t, m.Handler(discard))

	want := []string{
		"/", "/api/", "GET /api/v1/articles/{id_or_slug}", "GET /api/v1/articles/{id_or_slug}:render",
		"GET /healthz", "GET /openapi.json",
	}
	if got := s.LabelValues("buzhou_http_requests_total", "route"); !slices.Equal(got, want) {
		t.Errorf("routes %q, want %q", got, want)
	}
	cases := []struct {
		route, code string
		want        float64
	}{
		{"GET /api/v1/articles/{id_or_slug}", "501", 2},
		{"GET /api/v1/articles/{id_or_slug}:render", "501", 1},
		{"/api/", "404", 1},
		// A path that is not UTF-8 is refused before routing.
		{"/api/", "400", 1},
		{"/", "404", 2},
		{"GET /healthz", "200", 1},
	}
	for _, tc := range cases {
		if got, _ := s.Value("buzhou_http_requests_total", "service", "gateway", "route", tc.route, "code", tc.code); got != tc.want {
			t.Errorf("requests{route=%q,code=%s} = %v, want %v", tc.route, tc.code, got, tc.want)
		}
	}
	if got, _ := s.Value("buzhou_http_request_duration_seconds", "route", "GET /api/v1/articles/{id_or_slug}"); got != 2 {
		t.Errorf("latency samples of the article route = %v, want 2", got)
	}
	_, text := get(t, h, "/metrics")
	if strings.Contains(text, "secret") {
		t.Errorf("a path reached the metrics:\n%s", text)
	}
}

// Without metrics there is no /metrics route.
func TestNoMetrics(t *testing.T) {
	t.Parallel()
	c := conn(t, silentAddr(t)) // never called
	h, err := New(t.Context(), Config{}, Upstreams{Article: c, Search: c, Verification: c}, discard)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, h, "/metrics"); code != 404 {
		t.Errorf("/metrics without metrics: %d, want 404", code)
	}
}
