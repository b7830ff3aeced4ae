package grpcx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
)

var discard = slog.New(slog.DiscardHandler)

// fakePinger is a dependency whose answer the test sets. With hang set, Ping
// waits for its context (or, with deaf, for release) instead.
type fakePinger struct {
	mu      sync.Mutex
	err     error
	hang    bool
	deaf    bool
	calls   int
	release chan struct{}
}

func newFakePinger() *fakePinger { return &fakePinger{release: make(chan struct{})} }

func (f *fakePinger) Ping(ctx context.Context) error {
	f.mu.Lock()
	f.calls++
	err, hang, deaf := f.err, f.hang, f.deaf
	f.mu.Unlock()
	switch {
	case deaf:
		<-f.release
		return nil
	case hang:
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (f *fakePinger) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakePinger) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// status returns the overall health and the reason header, through a real
// gRPC call.
func healthOf(tb testing.TB, c healthpb.HealthClient) (healthpb.HealthCheckResponse_ServingStatus, string) {
	tb.Helper()
	var md metadata.MD
	resp, err := c.Check(tb.Context(), &healthpb.HealthCheckRequest{}, grpc.Header(&md))
	if err != nil {
		tb.Fatalf("health check: %v", err)
	}
	return resp.GetStatus(), strings.Join(md.Get(HealthReasonHeader), ",")
}

// serveHealth serves h alone on a loopback listener.
func serveHealth(t *testing.T, h *healthServer) healthpb.HealthClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	healthpb.RegisterHealthServer(g, h)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return healthClient(t, lis.Addr().String())
}

func healthClient(t *testing.T, addr string) healthpb.HealthClient {
	t.Helper()
	conn, err := Dial(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func TestWatcherRounds(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	cases := []struct {
		name       string
		db, ids    []error // the answers of successive rounds
		wantStatus healthpb.HealthCheckResponse_ServingStatus
		wantReason string
	}{
		{"all answer", []error{nil}, []error{nil}, healthpb.HealthCheckResponse_SERVING, ""},
		{"the database is down", []error{down}, []error{nil}, healthpb.HealthCheckResponse_NOT_SERVING, "cannot reach its database"},
		{"both are down", []error{down}, []error{down}, healthpb.HealthCheckResponse_NOT_SERVING, "cannot reach its database, identity service"},
		{"the database comes back", []error{down, down, nil}, []error{nil, nil, nil}, healthpb.HealthCheckResponse_SERVING, ""},
		{"the database goes away", []error{nil, down}, []error{nil, nil}, healthpb.HealthCheckResponse_NOT_SERVING, "cannot reach its database"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, ids := newFakePinger(), newFakePinger()
			h := &healthServer{Server: health.NewServer()}
			w := newWatcher(h, []Check{{"database", db.Ping}, {"identity service", ids.Ping}}, time.Minute, discard)
			for i := range tc.db {
				db.set(tc.db[i])
				ids.set(tc.ids[i])
				w.round(t.Context())
			}
			st, reason := healthOf(t, serveHealth(t, h))
			if st != tc.wantStatus || reason != tc.wantReason {
				t.Errorf("status %v reason %q, want %v %q", st, reason, tc.wantStatus, tc.wantReason)
			}
		})
	}
}

// A dependency that hangs is as bad as one that refuses: the short timeout
// turns it into a failure.
func TestWatcherTimesOutAHangingPing(t *testing.T) {
	t.Parallel()
	db := newFakePinger()
	db.hang = true
	h := &healthServer{Server: health.NewServer()}
	w := newWatcher(h, []Check{{"database", db.Ping}}, 10*time.Millisecond, discard)
	w.round(t.Context())
	if st, reason := healthOf(t, serveHealth(t, h)); st != healthpb.HealthCheckResponse_NOT_SERVING || reason != "cannot reach its database" {
		t.Errorf("status %v reason %q after a ping that hung", st, reason)
	}
}

// A ping that ignores its context keeps the check failing until it
// returns, and is not started again meanwhile.
func TestWatcherDoesNotPileUpStuckPings(t *testing.T) {
	t.Parallel()
	db := newFakePinger()
	db.deaf = true
	h := &healthServer{Server: health.NewServer()}
	c := serveHealth(t, h)
	w := newWatcher(h, []Check{{"database", db.Ping}}, 10*time.Millisecond, discard)
	for range 3 {
		w.round(t.Context())
	}
	if st, _ := healthOf(t, c); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("status %v while the ping is stuck", st)
	}
	if n := db.callCount(); n != 1 {
		t.Errorf("%d pings started in 3 rounds while the first was stuck, want 1", n)
	}

	db.mu.Lock()
	db.deaf = false
	db.mu.Unlock()
	close(db.release)
	// The stuck ping returns on its own time; the round after it answers.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		w.round(t.Context())
		if st, _ := healthOf(t, c); st == healthpb.HealthCheckResponse_SERVING {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the check never passed after the stuck ping returned")
}

// A round cut short by the end of the service changes nothing.
func TestWatcherRoundCanceled(t *testing.T) {
	t.Parallel()
	db := newFakePinger()
	db.hang = true
	h := &healthServer{Server: health.NewServer()}
	w := newWatcher(h, []Check{{"database", db.Ping}}, time.Minute, discard)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	w.round(ctx)
	if st, _ := healthOf(t, serveHealth(t, h)); st != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("status %v after a canceled round, want the SERVING it started with", st)
	}
}

// noKeys refuses every key; health checks need none.
type noKeys struct{}

func (noKeys) Authenticate(context.Context, string) (*auth.Principal, error) {
	return nil, fmt.Errorf("%w: no keys in this test", errs.ErrUnauthenticated)
}

// startServer serves a Server with opts on loopback until the test ends.
func startServer(t *testing.T, opts ...Option) healthpb.HealthClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(discard, auth.NewGuard(noKeys{}, 0, nil), opts...)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return healthClient(t, lis.Addr().String())
}

// The whole path: the first round runs before the first RPC, later rounds
// follow the dependency down and up, and a stopping server says so.
func TestServerFollowsItsChecks(t *testing.T) {
	t.Parallel()
	db := newFakePinger()
	db.set(errors.New("down at start"))
	c := startServer(t, WithChecks(Check{"database", db.Ping}))
	if st, reason := healthOf(t, c); st != healthpb.HealthCheckResponse_NOT_SERVING || reason != "cannot reach its database" {
		t.Fatalf("first answer: %v %q, want NOT_SERVING database", st, reason)
	}
	db.set(nil)
	waitStatus(t, c, healthpb.HealthCheckResponse_SERVING, "")
	db.set(errors.New("gone"))
	waitStatus(t, c, healthpb.HealthCheckResponse_NOT_SERVING, "cannot reach its database")
}

func TestServerWithoutChecksServes(t *testing.T) {
	t.Parallel()
	c := startServer(t)
	if st, reason := healthOf(t, c); st != healthpb.HealthCheckResponse_SERVING || reason != "" {
		t.Errorf("status %v %q", st, reason)
	}
}

func TestShutdownReason(t *testing.T) {
	t.Parallel()
	h := &healthServer{Server: health.NewServer()}
	h.set(nil)
	h.shutdown()
	h.set(nil) // a late round cannot revive a stopping server
	if st, reason := healthOf(t, serveHealth(t, h)); st != healthpb.HealthCheckResponse_NOT_SERVING || reason != "is shutting down" {
		t.Errorf("status %v %q after shutdown", st, reason)
	}
}

// waitStatus polls until the health is as wanted; rounds run every second.
func waitStatus(t *testing.T, c healthpb.HealthClient, want healthpb.HealthCheckResponse_ServingStatus, wantReason string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var st healthpb.HealthCheckResponse_ServingStatus
	var reason string
	for time.Now().Before(deadline) {
		if st, reason = healthOf(t, c); st == want && reason == wantReason {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("health stayed %v %q, want %v %q", st, reason, want, wantReason)
}
