package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/grpcx"
)

var discard = slog.New(slog.DiscardHandler)

// noKeys refuses every key; health checks and the test's calls need none.
type noKeys struct{}

func (noKeys) Authenticate(context.Context, string) (*auth.Principal, error) {
	return nil, fmt.Errorf("%w: no keys in this test", errs.ErrUnauthenticated)
}

// upstream is a service on loopback whose database check the test controls.
type upstream struct {
	addr string
	down atomic.Bool
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: lis.Addr().String()}
	ping := func(context.Context) error {
		if u.down.Load() {
			return errors.New("dial tcp 10.0.0.7:5432: connection refused")
		}
		return nil
	}
	s := grpcx.NewServer(discard, auth.NewGuard(noKeys{}, 0, nil), grpcx.WithChecks(grpcx.Check{Name: "database", Ping: ping}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	return u
}

func conn(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	c, err := grpcx.Dial(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// silentAddr is a loopback address that takes connections and never
// answers, like a service stuck or cut off.
func silentAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

// /readyz names every service that is not ready and why, in words safe to
// show: no addresses, no error text.
func TestReadinessSaysWhichServiceAndWhy(t *testing.T) {
	t.Parallel()
	article, search := startUpstream(t), startUpstream(t)
	up := Upstreams{Article: conn(t, article.addr), Search: conn(t, search.addr), Verification: conn(t, silentAddr(t))}
	h, err := New(t.Context(), Config{}, up, discard)
	if err != nil {
		t.Fatal(err)
	}

	article.down.Store(true)
	var code int
	var body string
	// The upstream's watcher sees the database go away within a round.
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if code, body = get(t, h, "/readyz"); strings.Contains(body, "article") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cases := []struct {
		name string
		ok   bool
	}{
		{"the article service cannot reach its database", true},
		{"the verification service does not answer", true},
		{"search", false},
		{"10.0.0.7", false},
		{"127.0.0.1", false},
		{"connection refused", false},
		{`"code":"UNAVAILABLE"`, true},
	}
	if code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d %s, want 503", code, body)
	}
	for _, tc := range cases {
		if strings.Contains(body, tc.name) != tc.ok {
			t.Errorf("/readyz body %s: contains %q = %v, want %v", body, tc.name, !tc.ok, tc.ok)
		}
	}
	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d while not ready, want 200: liveness does not follow dependencies", code)
	}
}

func TestReadinessWhenAllServe(t *testing.T) {
	t.Parallel()
	a, s, v := startUpstream(t), startUpstream(t), startUpstream(t)
	h, err := New(t.Context(), Config{}, Upstreams{Article: conn(t, a.addr), Search: conn(t, s.addr), Verification: conn(t, v.addr)}, discard)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, h, "/readyz"); code != http.StatusOK || !strings.Contains(body, `"ready"`) {
		t.Errorf("/readyz = %d %s, want 200 ready", code, body)
	}
}

// A gateway that is shutting down says so on /readyz, so that Kubernetes
// and load balancers stop sending to it, and serves everything else on.
func TestReadinessWhileDraining(t *testing.T) {
	t.Parallel()
	a, s, v := startUpstream(t), startUpstream(t), startUpstream(t)
	draining := make(chan struct{})
	h, err := New(t.Context(), Config{Draining: draining}, Upstreams{Article: conn(t, a.addr), Search: conn(t, s.addr), Verification: conn(t, v.addr)}, discard)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, h, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d %s before draining", code, body)
	}
	close(draining)
	cases := []struct {
		path     string
		wantCode int
		wantBody string
	}{
		{"/readyz", http.StatusServiceUnavailable, "the gateway is shutting down"},
		{"/healthz", http.StatusOK, `"ok"`},
		{"/openapi.json", http.StatusOK, `"swagger"`},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			if code, body := get(t, h, tc.path); code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
				t.Errorf("%s while draining = %d %.200s, want %d with %q", tc.path, code, body, tc.wantCode, tc.wantBody)
			}
		})
	}
}
