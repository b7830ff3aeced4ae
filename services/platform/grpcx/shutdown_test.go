package grpcx

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"buzhou.dev/platform/auth"
)

// serving is a Server running on loopback.
type serving struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// runServer serves s until the test ends or cancel is called.
func runServer(t *testing.T, s *Server) *serving {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r := &serving{addr: lis.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

func (r *serving) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

func statusOf(t *testing.T, c healthpb.HealthClient, service string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	resp, err := c.Check(t.Context(), &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatalf("health check of %q: %v", service, err)
	}
	return resp.GetStatus()
}

// On SIGTERM a service says it is not ready and keeps serving for the
// drain, so that Kubernetes stops sending it work before it stops taking
// any; its liveness stays SERVING meanwhile.
func TestShutdownDrainsBeforeStopping(t *testing.T) {
	t.Parallel()
	draining, release := make(chan time.Duration, 1), make(chan struct{})
	s := NewServer(discard, auth.NewGuard(noKeys{}, 0, nil), WithShutdown(Shutdown{Drain: time.Hour, Timeout: time.Minute}),
		func(o *options) {
			o.sleep = func(d time.Duration) {
				draining <- d
				<-release
			}
		})
	srv := runServer(t, s)
	c := healthClient(t, srv.addr)
	if st := statusOf(t, c, ""); st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("status %v before the shutdown", st)
	}

	srv.cancel()
	if d := <-draining; d != time.Hour {
		t.Errorf("drained for %v, want the configured hour", d)
	}
	// A new client still gets answers while the server drains.
	late := healthClient(t, srv.addr)
	if st, reason := healthOf(t, late); st != healthpb.HealthCheckResponse_NOT_SERVING || reason != "is shutting down" {
		t.Errorf("while draining: %v %q, want NOT_SERVING, is shutting down", st, reason)
	}
	if st := statusOf(t, late, LivenessService); st != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("liveness %v while draining, want SERVING", st)
	}

	close(release)
	if err := srv.wait(t); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// Without a drain the server stops at once: no sleep at all.
func TestShutdownWithoutDrain(t *testing.T) {
	t.Parallel()
	s := NewServer(discard, auth.NewGuard(noKeys{}, 0, nil),
		func(o *options) { o.sleep = func(time.Duration) { t.Error("slept without a drain") } })
	srv := runServer(t, s)
	srv.cancel()
	if err := srv.wait(t); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// A stream that outlives the shutdown timeout is cut, so a service always
// stops within Kubernetes' grace period.
func TestShutdownCutsWhatOutlivesTheTimeout(t *testing.T) {
	t.Parallel()
	s := NewServer(discard, auth.NewGuard(noKeys{}, 0, nil), WithShutdown(Shutdown{Timeout: 50 * time.Millisecond}))
	srv := runServer(t, s)
	watch, err := healthClient(t, srv.addr).Watch(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}
	srv.cancel()
	if err := srv.wait(t); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// Liveness follows the process, readiness its dependencies.
func TestLivenessIgnoresChecks(t *testing.T) {
	t.Parallel()
	db := newFakePinger()
	db.set(errors.New("down"))
	c := startServer(t, WithChecks(Check{"database", db.Ping}))
	if st := statusOf(t, c, ""); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("readiness %v with the database down", st)
	}
	if st := statusOf(t, c, LivenessService); st != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("liveness %v with the database down, want SERVING", st)
	}
}

// manualTarget dials through a resolver the test controls; ResolveNow
// calls are counted.
func manualTarget(t *testing.T, addrs ...string) (*grpc.ClientConn, *atomic.Int32) {
	t.Helper()
	r := manual.NewBuilderWithScheme("test")
	var resolves atomic.Int32
	r.ResolveNowCallback = func(resolver.ResolveNowOptions) { resolves.Add(1) }
	var state resolver.State
	for _, a := range addrs {
		state.Addresses = append(state.Addresses, resolver.Address{Addr: a})
	}
	r.InitialState(state)
	conn, err := Dial("test:///service", "", grpc.WithResolvers(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, &resolves
}

// A client spreads its calls over every replica its resolver names, not
// only the first: one replica reports SERVING, the other NOT_SERVING, and
// the client sees both.
func TestDialSpreadsCallsOverReplicas(t *testing.T) {
	t.Parallel()
	down := newFakePinger()
	down.set(errors.New("down"))
	up := runServer(t, NewServer(discard, auth.NewGuard(noKeys{}, 0, nil)))
	other := runServer(t, NewServer(discard, auth.NewGuard(noKeys{}, 0, nil), WithChecks(Check{"database", down.Ping})))
	conn, _ := manualTarget(t, up.addr, other.addr)
	c := healthpb.NewHealthClient(conn)
	seen := map[healthpb.HealthCheckResponse_ServingStatus]bool{}
	for i := 0; i < 2000 && len(seen) < 2; i++ {
		seen[statusOf(t, c, "")] = true
		if i%10 == 9 {
			time.Sleep(5 * time.Millisecond) // let the second connection come up
		}
	}
	if len(seen) < 2 {
		t.Errorf("every call went to one replica (saw only %v)", seen)
	}
}

// The server ends its connections after a while, so its clients resolve
// its name again and find the replicas added since.
func TestServerMakesClientsResolveAgain(t *testing.T) {
	t.Parallel()
	srv := runServer(t, NewServer(discard, auth.NewGuard(noKeys{}, 0, nil),
		func(o *options) { o.maxConnectionAge = 100 * time.Millisecond }))
	conn, resolves := manualTarget(t, srv.addr)
	statusOf(t, healthpb.NewHealthClient(conn), "")
	deadline := time.Now().Add(30 * time.Second)
	for resolves.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the client never resolved the name again")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A client that found its service down reaches it as soon as it is up:
// parts start in any order, and the first calls after a service comes up
// must not fail while the client waits out a reconnect backoff.
func TestDialRidesOverAServiceComingUp(t *testing.T) {
	t.Parallel()
	// An address nothing listens on, yet.
	reserved, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := reserved.Addr().String()
	reserved.Close()
	c := healthClient(t, addr)
	if _, err := c.Check(t.Context(), &healthpb.HealthCheckRequest{}); err == nil {
		t.Fatal("a health check answered with nothing listening")
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	s := NewServer(discard, auth.NewGuard(noKeys{}, 0, nil))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	if st := statusOf(t, c, ""); st != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("status %v", st)
	}
}
