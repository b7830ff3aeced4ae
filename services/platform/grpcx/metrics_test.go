package grpcx

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/metrics/metricstest"
)

func newPart(t *testing.T) *metrics.Part {
	t.Helper()
	p, err := metrics.NewRegistry().Part("article")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Every RPC is counted by service, method and code, and timed.
func TestServerRecordsRPCs(t *testing.T) {
	t.Parallel()
	p := newPart(t)
	c := startServer(t, WithMetrics(p, ""))
	healthOf(t, c)
	healthOf(t, c)
	if _, err := c.Check(t.Context(), &healthpb.HealthCheckRequest{Service: "no.such.Service"}); err == nil {
		t.Fatal("a check of an unknown service succeeded")
	}
	s := metricstest.Serve(t, p.Handler(discard))
	cases := []struct {
		code string
		want float64
	}{{"OK", 2}, {"NotFound", 1}}
	for _, tc := range cases {
		got, _ := s.Value("buzhou_grpc_server_handled_total", "service", "article",
			"grpc_service", "grpc.health.v1.Health", "grpc_method", "Check", "grpc_code", tc.code)
		if got != tc.want {
			t.Errorf("Check answered %s: counted %v, want %v", tc.code, got, tc.want)
		}
	}
	if got, _ := s.Value("buzhou_grpc_server_handling_seconds", "grpc_method", "Check"); got != 3 {
		t.Errorf("Check latency samples = %v, want 3", got)
	}
}

// A service running on its own serves its metrics over HTTP.
func TestServeMetricsOn(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := newPart(t)
	p.ObserveRPC("/buzhou.article.v1.ArticleService/GetArticle", codes.OK, 0)
	stop := serveMetricsOn(p, lis, discard)
	defer stop()
	base := "http://" + lis.Addr().String()
	s := metricstest.Get(t, base+"/metrics")
	if got, _ := s.Value("buzhou_grpc_server_handled_total", "service", "article", "grpc_method", "GetArticle"); got != 1 {
		t.Errorf("GetArticle counted %v times on the metrics endpoint, want 1", got)
	}
	resp, err := http.Get(base + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /other on the metrics address: %d, want 404", resp.StatusCode)
	}
}

// A taken metrics address stops the service at start.
func TestServerMetricsAddrTaken(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(discard, auth.NewGuard(noKeys{}, 0, nil), WithMetrics(newPart(t), taken.Addr().String()))
	err = s.Serve(t.Context(), lis)
	if err == nil || !strings.Contains(err.Error(), "BUZHOU_METRICS_ADDR") {
		t.Fatalf("Serve with a taken metrics address: %v, want an error naming BUZHOU_METRICS_ADDR", err)
	}
}
