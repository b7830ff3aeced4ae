package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/metrics/metricstest"
)

var discard = slog.New(slog.DiscardHandler)

func newPart(t *testing.T, service string) (*metrics.Registry, *metrics.Part) {
	t.Helper()
	reg := metrics.NewRegistry()
	p, err := reg.Part(service)
	if err != nil {
		t.Fatal(err)
	}
	return reg, p
}

func TestPartNames(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	if _, err := reg.Part("article"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		service string
		want    error
	}{
		{"another part", "search", nil},
		{"the same name again", "article", errs.ErrAlreadyExists},
		{"no name", "", errs.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := reg.Part(tc.service)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Part(%q) = %v, want %v", tc.service, err, tc.want)
			}
		})
	}
}

// The all-in-one's parts share one registry: the same metric of two parts
// differs by the service label, and the process collectors appear once.
func TestPartsShareARegistry(t *testing.T) {
	t.Parallel()
	reg, article := newPart(t, "article")
	search, err := reg.Part("search")
	if err != nil {
		t.Fatal(err)
	}
	article.ObserveRPC("/buzhou.article.v1.ArticleService/GetArticle", codes.OK, time.Millisecond)
	article.ObserveRPC("/buzhou.article.v1.ArticleService/GetArticle", codes.NotFound, time.Millisecond)
	search.ObserveRPC("/buzhou.search.v1.SearchService/Search", codes.Unimplemented, time.Millisecond)

	s := metricstest.Serve(t, search.Handler(discard)) // any part serves the whole registry
	cases := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"article ok", []string{"service", "article", "grpc_service", "buzhou.article.v1.ArticleService", "grpc_method", "GetArticle", "grpc_code", "OK"}, 1},
		{"article not found", []string{"service", "article", "grpc_code", "NotFound"}, 1},
		{"all of article", []string{"service", "article"}, 2},
		{"search", []string{"service", "search", "grpc_method", "Search", "grpc_code", "Unimplemented"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, _ := s.Value("buzhou_grpc_server_handled_total", tc.labels...); got != tc.want {
				t.Errorf("handled%v = %v, want %v", tc.labels, got, tc.want)
			}
		})
	}
	if got, _ := s.Value("buzhou_grpc_server_handling_seconds", "service", "article"); got != 2 {
		t.Errorf("article latency samples = %v, want 2", got)
	}
	if got := s.LabelValues("buzhou_grpc_server_handled_total", "service"); fmt.Sprint(got) != "[article search]" {
		t.Errorf("services = %v", got)
	}
	if _, ok := s.Value("go_goroutines"); !ok || len(s["go_goroutines"].GetMetric()) != 1 {
		t.Errorf("go_goroutines: want one series, got %v", s["go_goroutines"])
	}
}

func TestObserveRPCMalformedMethod(t *testing.T) {
	t.Parallel()
	_, p := newPart(t, "article")
	p.ObserveRPC("nonsense", codes.Internal, 0)
	s := metricstest.Serve(t, p.Handler(discard))
	if got, _ := s.Value("buzhou_grpc_server_handled_total", "grpc_service", "unknown", "grpc_method", "nonsense", "grpc_code", "Internal"); got != 1 {
		t.Errorf("malformed method: %v", s["buzhou_grpc_server_handled_total"])
	}
}

func TestObserveStoreOutcome(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{fmt.Errorf("%w: article art_x", errs.ErrNotFound), "refused"},
		{fmt.Errorf("%w: slug taken", errs.ErrAlreadyExists), "refused"},
		{fmt.Errorf("%w: stale revision", errs.ErrFailedPrecondition), "refused"},
		{fmt.Errorf("%w: bad page token", errs.ErrInvalid), "refused"},
		{fmt.Errorf("store: get: %w", context.Canceled), "canceled"},
		{errors.New("store: ping PostgreSQL: connection refused"), "error"},
		{fmt.Errorf("%w: database down", errs.ErrUnavailable), "error"},
		{fmt.Errorf("store: get: %w", context.DeadlineExceeded), "error"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			t.Parallel()
			_, p := newPart(t, "article")
			func() (err error) {
				defer p.ObserveStore("Get", time.Now(), &err)
				return tc.err
			}()
			s := metricstest.Serve(t, p.Handler(discard))
			if got := s.LabelValues("buzhou_store_operation_duration_seconds", "outcome", "operation", "Get"); fmt.Sprint(got) != "["+tc.want+"]" {
				t.Errorf("outcome of %v = %v, want %s", tc.err, got, tc.want)
			}
		})
	}
}

// The counters the access code feeds carry exactly the documented label
// values; values outside the constants record nothing.
func TestTypedCounters(t *testing.T) {
	t.Parallel()
	type record struct {
		name   string
		do     func(*metrics.Part)
		metric string
		label  string
		want   string
	}
	cases := []record{
		{"ip", func(p *metrics.Part) { p.RateLimited(metrics.LimitIP) }, "buzhou_rate_limited_total", "kind", "ip"},
		{"key", func(p *metrics.Part) { p.RateLimited(metrics.LimitKey) }, "buzhou_rate_limited_total", "kind", "key"},
		{"quota", func(p *metrics.Part) { p.RateLimited(metrics.LimitQuota) }, "buzhou_rate_limited_total", "kind", "quota"},
		{"failed_auth", func(p *metrics.Part) { p.RateLimited(metrics.LimitFailedAuth) }, "buzhou_rate_limited_total", "kind", "failed_auth"},
		{"missing", func(p *metrics.Part) { p.AuthFailed(auth.ReasonMissing) }, "buzhou_auth_failures_total", "reason", "missing"},
		{"unknown", func(p *metrics.Part) { p.AuthFailed(auth.ReasonUnknown) }, "buzhou_auth_failures_total", "reason", "unknown"},
		{"malformed", func(p *metrics.Part) { p.AuthFailed(auth.ReasonMalformed) }, "buzhou_auth_failures_total", "reason", "malformed"},
		{"expired", func(p *metrics.Part) { p.AuthFailed(auth.ReasonExpired) }, "buzhou_auth_failures_total", "reason", "expired"},
		{"revoked", func(p *metrics.Part) { p.AuthFailed(auth.ReasonRevoked) }, "buzhou_auth_failures_total", "reason", "revoked"},
		{"throttled", func(p *metrics.Part) { p.AuthFailed(auth.ReasonThrottled) }, "buzhou_auth_failures_total", "reason", "throttled"},
		{"too_many_agents", func(p *metrics.Part) { p.UsageDropped(metrics.DropTooManyAgents, 1) }, "buzhou_agent_usage_dropped_total", "reason", "too_many_agents"},
		{"flush_failed", func(p *metrics.Part) { p.UsageDropped(metrics.DropFlushFailed, 1) }, "buzhou_agent_usage_dropped_total", "reason", "flush_failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, p := newPart(t, "gateway")
			tc.do(p)
			tc.do(p)
			s := metricstest.Serve(t, p.Handler(discard))
			if got, _ := s.Value(tc.metric, "service", "gateway", tc.label, tc.want); got != 2 {
				t.Errorf("%s{%s=%q} = %v after two events, want 2", tc.metric, tc.label, tc.want, got)
			}
			if got := s.LabelValues(tc.metric, tc.label); len(got) != 1 {
				t.Errorf("%s has %s values %v, want only %q", tc.metric, tc.label, got, tc.want)
			}
		})
	}

	t.Run("out of range", func(t *testing.T) {
		t.Parallel()
		_, p := newPart(t, "gateway")
		p.RateLimited(0)
		p.RateLimited(metrics.LimitKind(200))
		p.AuthFailed("")
		p.AuthFailed("made-up")
		p.UsageDropped(0, 5)
		p.UsageDropped(metrics.DropFlushFailed, 0)
		s := metricstest.Serve(t, p.Handler(discard))
		for _, m := range []string{"buzhou_rate_limited_total", "buzhou_auth_failures_total", "buzhou_agent_usage_dropped_total"} {
			if _, ok := s.Value(m); ok {
				t.Errorf("%s recorded an out-of-range value: %v", m, s[m])
			}
		}
	})
}

func TestInstrumentHTTP(t *testing.T) {
	t.Parallel()
	_, p := newPart(t, "gateway")
	type routeKey struct{}
	h := p.InstrumentHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok") // no WriteHeader: 200
	}), func(ctx context.Context) string { return ctx.Value(routeKey{}).(string) })
	for _, path := range []string{"/a/1", "/a/2", "/missing"} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		route := "GET /a/{id}"
		if path == "/missing" {
			route = "/"
		}
		h.ServeHTTP(httptest.NewRecorder(), r.WithContext(context.WithValue(r.Context(), routeKey{}, route)))
	}
	s := metricstest.Serve(t, p.Handler(discard))
	cases := []struct {
		metric string
		labels []string
		want   float64
	}{
		{"buzhou_http_requests_total", []string{"route", "GET /a/{id}", "code", "200"}, 2},
		{"buzhou_http_requests_total", []string{"route", "/", "code", "404"}, 1},
		{"buzhou_http_request_duration_seconds", []string{"route", "GET /a/{id}"}, 2},
	}
	for _, tc := range cases {
		if got, _ := s.Value(tc.metric, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.metric, tc.labels, got, tc.want)
		}
	}
}

// A nil Part is what tests and tools pass when they want no metrics.
func TestNilPart(t *testing.T) {
	t.Parallel()
	var p *metrics.Part
	p.ObserveRPC("/a.B/C", codes.OK, time.Second)
	p.RateLimited(metrics.LimitIP)
	p.AuthFailed(auth.ReasonUnknown)
	p.UsageDropped(metrics.DropFlushFailed, 3)
	err := error(nil)
	p.ObserveStore("Get", time.Now(), &err)
	next := http.NotFoundHandler()
	if got := p.InstrumentHTTP(next, nil); fmt.Sprint(got) != fmt.Sprint(next) {
		t.Error("InstrumentHTTP on a nil Part wrapped the handler")
	}
	rec := httptest.NewRecorder()
	p.Handler(discard).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("Handler of a nil Part: %d, want 404", rec.Code)
	}
}
