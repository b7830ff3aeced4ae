package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"buzhou.dev/platform/grpcx"
)

// readyTimeout bounds how long /readyz waits for the services' answers.
const readyTimeout = 2 * time.Second

// readiness answers 200 when every service reports SERVING, else 503
// naming each one that does not and why. The services are asked at once,
// so one that hangs costs readyTimeout, not a multiple of it. Once draining
// is closed it answers 503 without asking: the gateway itself is leaving.
func readiness(up Upstreams, draining <-chan struct{}) http.Handler {
	checks := []struct {
		name string
		conn *grpc.ClientConn
	}{{"article", up.Article}, {"search", up.Search}, {"verification", up.Verification}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-draining:
			writeError(w, r, http.StatusServiceUnavailable, codes.Unavailable,
				"not ready: the gateway is shutting down; retry in a few seconds")
			return
		default:
		}
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		why := make([]string, len(checks))
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Go(func() { why[i] = notReady(ctx, c.name, c.conn) })
		}
		wg.Wait()
		var problems []string
		for _, p := range why {
			if p != "" {
				problems = append(problems, p)
			}
		}
		if len(problems) > 0 {
			writeError(w, r, http.StatusServiceUnavailable, codes.Unavailable,
				"not ready: "+strings.Join(problems, "; ")+"; retry in a few seconds")
			return
		}
		writeJSON(w, http.StatusOK, `{"status":"ready"}`)
	})
}

// notReady says why the service on conn cannot serve, "" when it can. It
// repeats no transport error: those carry internal addresses.
func notReady(ctx context.Context, name string, conn *grpc.ClientConn) string {
	var md metadata.MD
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&md))
	switch {
	case err != nil:
		return fmt.Sprintf("the %s service does not answer", name)
	case resp.GetStatus() == healthpb.HealthCheckResponse_SERVING:
		return ""
	}
	if reason := md.Get(grpcx.HealthReasonHeader); len(reason) > 0 && reason[0] != "" {
		return fmt.Sprintf("the %s service %s", name, reason[0])
	}
	return fmt.Sprintf("the %s service is not serving", name)
}
