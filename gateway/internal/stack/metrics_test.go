package stack

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	articleapp "buzhou.dev/article/app"
	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/metrics/metricstest"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchapp "buzhou.dev/search/app"
	verificationapp "buzhou.dev/verification/app"
)

// The all-in-one's /metrics serves every part, each under its service
// label, after real traffic through the gateway.
func TestMetricsOfEveryPart(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{anonPerMinute: 2})
	admin := newClient(t, s, testAdminKey)
	anon := newClient(t, s, "")

	created := must(t, admin.do("POST", "/api/v1/articles", article("Metrics see this")), http.StatusCreated).json(t)
	must(t, admin.do("GET", path("/api/v1/articles/%s", created["slug"].(string)), nil), http.StatusOK)
	must(t, admin.do("GET", "/api/v1/articles/no-such-article-xyz", nil), http.StatusNotFound)
	for range 3 { // the third is over the anonymous limit
		anon.do("GET", "/api/v1/articles", nil)
	}
	// /metrics is outside /api/: never rate-limited, even over the limit.
	for range 3 {
		must(t, anon.do("GET", "/metrics", nil), http.StatusOK)
	}
	m := metricstest.Get(t, "http://"+s.HTTPAddr+"/metrics")

	cases := []struct {
		name   string
		metric string
		labels []string
	}{
		{"gateway created", "buzhou_http_requests_total", []string{"service", "gateway", "route", "POST /api/v1/articles", "code", "201"}},
		{"gateway read", "buzhou_http_requests_total", []string{"service", "gateway", "route", "GET /api/v1/articles/{id_or_slug}", "code", "200"}},
		{"gateway not found", "buzhou_http_requests_total", []string{"service", "gateway", "route", "GET /api/v1/articles/{id_or_slug}", "code", "404"}},
		{"gateway refused at the edge", "buzhou_http_requests_total", []string{"service", "gateway", "route", "/api/", "code", "429"}},
		{"gateway scrapes", "buzhou_http_requests_total", []string{"service", "gateway", "route", "GET /metrics", "code", "200"}},
		{"gateway latency", "buzhou_http_request_duration_seconds", []string{"service", "gateway", "route", "POST /api/v1/articles"}},
		{"article RPC", "buzhou_grpc_server_handled_total", []string{"service", "article", "grpc_service", "buzhou.article.v1.ArticleService", "grpc_method", "GetArticle", "grpc_code", "NotFound"}},
		{"article RPC latency", "buzhou_grpc_server_handling_seconds", []string{"service", "article", "grpc_method", "CreateArticle"}},
		{"search health", "buzhou_grpc_server_handled_total", []string{"service", "search", "grpc_service", "grpc.health.v1.Health", "grpc_code", "OK"}},
		{"identity RPC", "buzhou_grpc_server_handled_total", []string{"service", "verification", "grpc_service", "buzhou.identity.v1.IdentityService", "grpc_method", "AuthenticateApiKey"}},
		{"article store", "buzhou_store_operation_duration_seconds", []string{"service", "article", "operation", "Create", "outcome", "ok"}},
		{"article store refused", "buzhou_store_operation_duration_seconds", []string{"service", "article", "operation", "Get", "outcome", "refused"}},
		{"article store ping", "buzhou_store_operation_duration_seconds", []string{"service", "article", "operation", "Ping", "outcome", "ok"}},
		{"verification store", "buzhou_store_operation_duration_seconds", []string{"service", "verification", "operation", "KeyByHash"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if v, _ := m.Value(tc.metric, tc.labels...); v < 1 {
				t.Errorf("%s%q = %v, want at least 1", tc.metric, tc.labels, v)
			}
		})
	}
	if got := m.LabelValues("buzhou_grpc_server_handled_total", "service"); !slices.Equal(got, []string{"article", "search", "verification"}) {
		t.Errorf("services with RPC metrics: %q", got)
	}
	for _, route := range m.LabelValues("buzhou_http_requests_total", "route") {
		if strings.Contains(route, "xyz") || strings.Contains(route, "metrics-see-this") {
			t.Errorf("a raw path became a route label: %q", route)
		}
	}
	// One process, one set of runtime metrics.
	if n := len(m["go_goroutines"].GetMetric()); n != 1 {
		t.Errorf("go_goroutines has %d series, want 1", n)
	}
}

// Run separately, each service serves its metrics on BUZHOU_METRICS_ADDR
// (grpcx tests the serving): given an address already taken, it refuses to
// start and says which variable to fix.
func TestServicesListenOnTheirMetricsAddr(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	addr := taken.Addr().String()
	unused := "127.0.0.1:1"                      // dialled lazily, never called before the failure
	key := "metrics-test-service-key-0123456789" // a binary refuses to start without its key
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cases := []struct {
		service string
		run     func(ctx context.Context, lis net.Listener) error
	}{
		{"article", func(ctx context.Context, lis net.Listener) error {
			cfg := articleapp.Config{DataDir: t.TempDir(), VerificationAddr: unused, MetricsAddr: addr, ServiceKey: key}
			return articleapp.Run(ctx, cfg, lis, log, metrics.NewRegistry())
		}},
		{"search", func(ctx context.Context, lis net.Listener) error {
			cfg := searchapp.Config{DataDir: t.TempDir(), ArticleAddr: unused, VerificationAddr: unused, MetricsAddr: addr, ServiceKey: key}
			return searchapp.Run(ctx, cfg, lis, log, metrics.NewRegistry())
		}},
		{"verification", func(ctx context.Context, lis net.Listener) error {
			cfg := verificationapp.Config{DataDir: t.TempDir(), ArticleAddr: unused, MetricsAddr: addr}
			return verificationapp.Run(ctx, cfg, lis, log, metrics.NewRegistry())
		}},
	}
	for _, tc := range cases {
		t.Run(tc.service, func(t *testing.T) {
			t.Parallel()
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			err = tc.run(t.Context(), lis)
			if err == nil || !strings.Contains(err.Error(), "BUZHOU_METRICS_ADDR") {
				t.Errorf("%s with a taken metrics address: %v, want an error naming BUZHOU_METRICS_ADDR", tc.service, err)
			}
		})
	}
}

// TestRefusalsAreCounted: refused keys by reason and rate-limited calls by
// kind, at the gateway and on the services' gRPC ports.
func TestRefusalsAreCounted(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{anonPerMinute: 1000, failedAuthPerMinute: 2})
	admin := newClient(t, s, testAdminKey)
	_, quoted := createKey(t, admin, map[string]any{"name": "quota", "scopes": []string{"articles:write"}, "dailyQuota": "1"})

	must(t, (&client{tb: t, base: admin.base}).do("POST", "/api/v1/articles", article("No key")), http.StatusUnauthorized)
	for range 3 { // two guesses are allowed a minute, the third is throttled
		(&client{tb: t, base: admin.base, key: "bzk_guess0000000000000000000000000000"}).do("GET", "/api/v1/articles", nil)
	}
	q := &client{tb: t, base: admin.base, key: quoted}
	must(t, q.do("GET", "/api/v1/articles", nil), http.StatusOK)
	must(t, q.do("GET", "/api/v1/articles", nil), http.StatusTooManyRequests)
	_, err := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, "bzk_grpcguess00000000000000000000000")).
		GetArticle(context.Background(), &articlev1.GetArticleRequest{IdOrSlug: "x"})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("gRPC call with a guessed key: %v", err)
	}

	m := metricstest.Get(t, "http://"+s.HTTPAddr+"/metrics")
	for _, tc := range []struct {
		metric string
		labels []string
	}{
		{"buzhou_auth_failures_total", []string{"service", "gateway", "reason", "missing"}},
		{"buzhou_auth_failures_total", []string{"service", "gateway", "reason", "unknown"}},
		{"buzhou_rate_limited_total", []string{"service", "gateway", "kind", "failed_auth"}},
		{"buzhou_rate_limited_total", []string{"service", "gateway", "kind", "quota"}},
		{"buzhou_auth_failures_total", []string{"service", "article", "reason", "unknown"}},
	} {
		if v, _ := m.Value(tc.metric, tc.labels...); v < 1 {
			t.Errorf("%s%q = %v, want at least 1", tc.metric, tc.labels, v)
		}
	}
}
