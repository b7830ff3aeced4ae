// Package app wires the verification service, which also hosts the identity
// API (principals, API keys, agent usage) and the public statistics.
// Verification records, inspections and sandbox runs arrive with their issues;
// until then those RPCs answer Unimplemented.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/grpcx"
	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/tracing"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/identity"
	"buzhou.dev/verification/internal/stats"
	"buzhou.dev/verification/internal/store"
)

// Config configures the verification service.
type Config struct {
	// GRPCAddr is where the service listens when it opens its own listener.
	GRPCAddr string `env:"BUZHOU_VERIFICATION_ADDR, default=127.0.0.1:9103"`
	// ArticleAddr is the article service it reads and writes trust back to.
	ArticleAddr string `env:"BUZHOU_ARTICLE_ADDR, default=127.0.0.1:9101"`
	// DataDir holds the SQLite database when DatabaseURL is empty.
	DataDir string `env:"BUZHOU_DATA_DIR, default=./data"`
	// DatabaseURL selects PostgreSQL.
	DatabaseURL string `env:"DATABASE_URL"`
	// AdminKey is the bootstrap key with every scope.
	AdminKey string `env:"BUZHOU_ADMIN_KEY"`
	// ServiceKeys are the secrets of every service identity, this service's
	// own included: the identity host makes sure each one's key exists.
	ServiceKeys ServiceKeys
	// FailedAuthPerMinute is how many failed key checks a client address may
	// make per minute on the gRPC port.
	FailedAuthPerMinute int `env:"BUZHOU_RATE_FAILED_AUTH_PER_MINUTE, default=10"`
	// MetricsAddr, when set, serves the service's metrics at http://MetricsAddr/metrics.
	MetricsAddr string `env:"BUZHOU_METRICS_ADDR"`
	// Shutdown is how the service leaves on SIGTERM (BUZHOU_SHUTDOWN_*).
	Shutdown grpcx.Shutdown
	// Tracing says where traces go (OTEL_EXPORTER_OTLP_*); off by default.
	Tracing tracing.Config
}

// ServiceKeys holds the secret of each service identity (see
// auth.ServiceIdentities); an empty one revokes that identity's key.
type ServiceKeys struct {
	Gateway      string `env:"BUZHOU_GATEWAY_SERVICE_KEY"`
	Article      string `env:"BUZHOU_ARTICLE_SERVICE_KEY"`
	Search       string `env:"BUZHOU_SEARCH_SERVICE_KEY"`
	Verification string `env:"BUZHOU_VERIFICATION_SERVICE_KEY"`
}

// ByService keys the secrets by service name (auth.ServiceGateway, …).
func (k ServiceKeys) ByService() map[string]string {
	return map[string]string{
		auth.ServiceGateway: k.Gateway, auth.ServiceArticle: k.Article,
		auth.ServiceSearch: k.Search, auth.ServiceVerification: k.Verification,
	}
}

// Run serves the verification and identity services on lis until ctx ends;
// their metrics go to the part "verification" of reg.
func Run(ctx context.Context, cfg Config, lis net.Listener, log *slog.Logger, reg *metrics.Registry) error {
	log = log.With("service", "verification")
	m, err := reg.Part("verification")
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, store.Config{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir}, time.Now)
	if err != nil {
		return fmt.Errorf("open verification store: %w", err)
	}
	defer st.Close()
	st = timedStore{Store: st, m: m}

	ids := identity.New(st, time.Now, log, ctx.Done())
	if err := ids.EnsureBootstrapKey(ctx, cfg.AdminKey); err != nil {
		return err
	}
	if err := ids.EnsureServiceKeys(ctx, cfg.ServiceKeys.ByService()); err != nil {
		return err
	}

	tr, err := tracing.Start(ctx, "verification", cfg.Tracing)
	if err != nil {
		return err
	}
	defer tr.Stop(log)
	articleConn, err := grpcx.Dial(cfg.ArticleAddr, cfg.ServiceKeys.Verification, tr.DialOption())
	if err != nil {
		return fmt.Errorf("dial article service: %w", err)
	}
	defer articleConn.Close()

	// Keys are checked here against the store itself, with no cache.
	g := grpcx.NewServer(log, auth.NewGuard(ids, cfg.FailedAuthPerMinute, log),
		grpcx.WithMetrics(m, cfg.MetricsAddr), grpcx.WithChecks(grpcx.Check{Name: "database", Ping: st.Ping}),
		grpcx.WithTracing(tr), grpcx.WithShutdown(cfg.Shutdown))
	identityv1.RegisterIdentityServiceServer(g.GRPC, ids)
	verificationv1.RegisterVerificationServiceServer(g.GRPC, stats.New(articlev1.NewArticleServiceClient(articleConn), usage{ids}, nil))
	log.Info("serving", "addr", lis.Addr().String())
	return g.Serve(ctx, lis)
}

// usage adapts the identity service's agent totals to the stats answer.
type usage struct{ ids *identity.Service }

func (u usage) AgentCalls(ctx context.Context) ([]*verificationv1.AgentCalls, error) {
	totals, err := u.ids.AgentUsage(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*verificationv1.AgentCalls, 0, len(totals))
	for _, t := range totals {
		out = append(out, &verificationv1.AgentCalls{AgentId: t.AgentID, Calls: stats.Clamp(t.Calls), Errors: stats.Clamp(t.Errors), MeanLatencyMs: t.MeanLatencyMs})
	}
	return out, nil
}
