package grpcx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"buzhou.dev/platform/metrics"
)

// serveMetrics serves m at http://addr/metrics until stop is called; with no
// addr it serves nothing. It fails at once when addr cannot be listened on,
// so a taken port stops the service at start, not silently later.
func serveMetrics(m *metrics.Part, addr string, log *slog.Logger) (stop func(), err error) {
	if addr == "" || m == nil {
		return func() {}, nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve metrics on BUZHOU_METRICS_ADDR %s: %w", addr, err)
	}
	return serveMetricsOn(m, lis, log), nil
}

// serveMetricsOn serves m at /metrics on lis until stop is called.
func serveMetricsOn(m *metrics.Part, lis net.Listener, log *slog.Logger) (stop func()) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler(log))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "addr", lis.Addr().String(), "err", err)
		}
	}()
	log.Info("serving metrics", "url", "http://"+lis.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
}
