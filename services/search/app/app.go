// Package app wires the search service. Search, resolve and related articles
// arrive with the search issue; until then the API answers Unimplemented.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/grpcx"
	"buzhou.dev/platform/metrics"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
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
	// ServiceKey is the secret the services present to each other.
	ServiceKey string `env:"BUZHOU_SERVICE_KEY"`
	// MetricsAddr, when set, serves the service's metrics at http://MetricsAddr/metrics.
	MetricsAddr string `env:"BUZHOU_METRICS_ADDR"`
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
	idConn, err := grpcx.Dial(cfg.VerificationAddr, cfg.ServiceKey)
	if err != nil {
		return fmt.Errorf("dial verification service: %w", err)
	}
	defer idConn.Close()
	// No checks yet: the search service has no store and needs no upstream
	// to answer (Unimplemented, for now).
	g := grpcx.NewServer(log, auth.NewRemote(identityv1.NewIdentityServiceClient(idConn), nil), grpcx.WithMetrics(m, cfg.MetricsAddr))
	searchv1.RegisterSearchServiceServer(g.GRPC, server{})
	log.Info("serving", "addr", lis.Addr().String())
	return g.Serve(ctx, lis)
}
