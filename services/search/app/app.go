// Package app wires the search service. Search, resolve and related articles
// arrive with the search issue; until then the API answers Unimplemented.
package app

import (
	"context"
	"log/slog"
	"net"
	"time"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/grpcx"
	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/tracing"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
)

// Config configures the search service.
type Config struct {
	// GRPCAddr is where the service listens when it opens its own listener.
	GRPCAddr string `env:"BUZHOU_SEARCH_ADDR, default=127.0.0.1:9102"`
	// ArticleAddr is the article service it follows.
	ArticleAddr string `env:"BUZHOU_ARTICLE_ADDR, default=127.0.0.1:9101"`
	// VerificationAddr is the verification service, which checks API keys.
	VerificationAddr string `env:"BUZHOU_VERIFICATION_ADDR, default=127.0.0.1:9103"`
	// ServiceKey is the search service's own key, for its key checks and
	// for following the change feed.
	ServiceKey string `env:"BUZHOU_SEARCH_SERVICE_KEY"`
	// FailedAuthPerMinute is how many failed key checks a client address may
	// make per minute on the gRPC port.
	FailedAuthPerMinute int `env:"BUZHOU_RATE_FAILED_AUTH_PER_MINUTE, default=10"`
	// KeyCacheTTL is how long an accepted key is cached. Revocations are
	// pushed at once; this bounds them only while that push is down.
	KeyCacheTTL time.Duration `env:"BUZHOU_KEY_CACHE_TTL, default=3s"`
	// MetricsAddr, when set, serves the service's metrics at http://MetricsAddr/metrics.
	MetricsAddr string `env:"BUZHOU_METRICS_ADDR"`
	// Shutdown is how the service leaves on SIGTERM (BUZHOU_SHUTDOWN_*).
	Shutdown grpcx.Shutdown
	// Tracing says where traces go (OTEL_EXPORTER_OTLP_*); off by default.
	Tracing tracing.Config
}

type server struct {
	searchv1.UnimplementedSearchServiceServer
}

// Run serves the search service on lis until ctx ends; its metrics go to
// the part "search" of reg.
func Run(ctx context.Context, cfg Config, lis net.Listener, log *slog.Logger, reg *metrics.Registry) error {
	log = log.With("service", "search")
	m, err := reg.Part("search")
	if err != nil {
		return err
	}
	tr, err := tracing.Start(ctx, "search", cfg.Tracing)
	if err != nil {
		return err
	}
	defer tr.Stop(log)
	ids, err := grpcx.DialIdentity(ctx, cfg.VerificationAddr, auth.ServiceSearch, cfg.ServiceKey, cfg.KeyCacheTTL, log, tr.DialOption())
	if err != nil {
		return err
	}
	defer ids.Close()
	// No checks yet: the search service has no store and needs no upstream
	// to answer (Unimplemented, for now).
	g := grpcx.NewServer(log, auth.NewGuard(ids.Authn, cfg.FailedAuthPerMinute, log), grpcx.WithMetrics(m, cfg.MetricsAddr),
		grpcx.WithTracing(tr), grpcx.WithShutdown(cfg.Shutdown))
	searchv1.RegisterSearchServiceServer(g.GRPC, server{})
	log.Info("serving", "addr", lis.Addr().String())
	return g.Serve(ctx, lis)
}
