package grpcx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// Check is something a service cannot serve without: its store, or an
// upstream it needs for every answer.
type Check struct {
	// Name says what it is, for the readiness answer: "database".
	Name string
	// Ping returns nil when it works. It should return when its context
	// ends; one that does not is reported failing until it returns.
	Ping func(context.Context) error
}

// How often checks run and how long each may take. A failed round turns the
// service NOT_SERVING at once and a good one SERVING again: damping flaps is
// the probe's business (Kubernetes' failureThreshold).
const (
	checkEvery   = time.Second
	checkTimeout = time.Second
)

// HealthReasonHeader is the response header of a health check answered
// NOT_SERVING: why, as the end of a sentence about the service ("cannot
// reach its database", "is shutting down"). It names parts, never errors,
// so it is safe to show to anyone.
const HealthReasonHeader = "buzhou-health-reason"

// healthServer is the standard health service that also says why it is not
// serving.
type healthServer struct {
	*health.Server

	mu      sync.Mutex
	reason  string
	stopped bool // shut down: nothing changes the status any more
}

func (h *healthServer) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	resp, err := h.Server.Check(ctx, req)
	if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		h.mu.Lock()
		reason := h.reason
		h.mu.Unlock()
		if reason != "" {
			_ = grpc.SetHeader(ctx, metadata.Pairs(HealthReasonHeader, reason))
		}
	}
	return resp, err
}

// set reports the service SERVING when nothing failed, NOT_SERVING otherwise.
func (h *healthServer) set(failed []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	h.reason = ""
	st := healthpb.HealthCheckResponse_SERVING
	if len(failed) > 0 {
		h.reason = "cannot reach its " + strings.Join(failed, ", ")
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	h.SetServingStatus("", st)
}

// shutdown reports NOT_SERVING from now on, whatever the checks say. The
// liveness status stays SERVING: a draining service is not broken.
func (h *healthServer) shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped, h.reason = true, "is shutting down"
	h.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
}

// watcher runs the checks of a server and sets its health from them. Rounds
// run on one goroutine, so down needs no lock.
type watcher struct {
	health  *healthServer
	checks  []Check
	timeout time.Duration
	log     *slog.Logger

	busy []atomic.Bool // a ping of an earlier round still running
	down []bool        // as of the last round, for logging changes
}

// watch runs a round of checks now, then one every checkEvery until ctx
// ends or stop is called; stop waits for the rounds to end. Without checks
// the health stays SERVING.
func watch(ctx context.Context, h *healthServer, checks []Check, log *slog.Logger) (stop func()) {
	if len(checks) == 0 {
		return func() {}
	}
	w := newWatcher(h, checks, checkTimeout, log)
	ctx, cancel := context.WithCancel(ctx)
	w.round(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(checkEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				w.round(ctx)
			}
		}
	}()
	return func() { cancel(); <-done }
}

func newWatcher(h *healthServer, checks []Check, timeout time.Duration, log *slog.Logger) *watcher {
	return &watcher{health: h, checks: checks, timeout: timeout, log: log,
		busy: make([]atomic.Bool, len(checks)), down: make([]bool, len(checks))}
}

// round pings every check once and sets the health from the answers. A
// round cut short by ctx changes nothing.
func (w *watcher) round(ctx context.Context) {
	var failed []string
	answers := make([]error, len(w.checks))
	for i, c := range w.checks {
		answers[i] = w.ping(ctx, i)
		if answers[i] != nil {
			failed = append(failed, c.Name)
		}
	}
	if ctx.Err() != nil {
		return
	}
	for i, c := range w.checks {
		switch {
		case answers[i] != nil && !w.down[i]:
			w.log.WarnContext(ctx, "not serving: "+c.Name+" does not answer", "check", c.Name, "err", answers[i])
		case answers[i] == nil && w.down[i]:
			w.log.InfoContext(ctx, "serving again: "+c.Name+" answers", "check", c.Name)
		}
		w.down[i] = answers[i] != nil
	}
	w.health.set(failed)
}

// ping runs check i with the timeout. A ping that ignores its context is
// left running, and the check fails until it returns, rather than piling
// up one stuck ping a round.
func (w *watcher) ping(ctx context.Context, i int) error {
	busy := &w.busy[i]
	if !busy.CompareAndSwap(false, true) {
		return errors.New("the previous ping has not returned yet")
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		err := w.checks[i].Ping(ctx)
		busy.Store(false) // before the answer, so the next round may ping again
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer within %s", w.timeout)
	}
}
