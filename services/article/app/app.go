// Package app wires the article service: store, seed content and gRPC server.
// The article binary and the all-in-one buzhou binary both start it through Run.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"buzhou.dev/article/internal/seed"
	"buzhou.dev/article/internal/server"
	"buzhou.dev/article/internal/store"
	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/grpcx"
	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/tracing"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// Config configures the article service.
type Config struct {
	// GRPCAddr is where the service listens when it opens its own listener.
	GRPCAddr string `env:"BUZHOU_ARTICLE_ADDR, default=127.0.0.1:9101"`
	// DataDir holds the SQLite database when DatabaseURL is empty.
	DataDir string `env:"BUZHOU_DATA_DIR, default=./data"`
	// DatabaseURL selects PostgreSQL, e.g. postgres://user@host:5432/buzhou.
	DatabaseURL string `env:"DATABASE_URL"`
	// VerificationAddr is the verification service, which checks API keys.
	VerificationAddr string `env:"BUZHOU_VERIFICATION_ADDR, default=127.0.0.1:9103"`
	// ServiceKey is the article service's own key, for its key checks.
	ServiceKey string `env:"BUZHOU_ARTICLE_SERVICE_KEY"`
	// FailedAuthPerMinute is how many failed key checks a client address may
	// make per minute on the gRPC port.
	FailedAuthPerMinute int `env:"BUZHOU_RATE_FAILED_AUTH_PER_MINUTE, default=10"`
	// SeedDemo fills a fresh store with the demo articles.
	SeedDemo bool `env:"BUZHOU_SEED_DEMO, default=true"`
	// KeyCacheTTL is how long an accepted key is cached. Revocations are
	// pushed at once; this bounds them only while that push is down.
	KeyCacheTTL time.Duration `env:"BUZHOU_KEY_CACHE_TTL, default=3s"`
	// MetricsAddr, when set, serves the service's metrics at http://MetricsAddr/metrics.
	MetricsAddr string `env:"BUZHOU_METRICS_ADDR"`
	// ShedRead and ShedWrite bound the RPCs without side effects and the
	// others served at once and waiting, as CONCURRENT/QUEUE ("0" for no
	// limit); past them UNAVAILABLE with a RetryInfo (see grpcx.Shedding).
	// No lower than the gateway's limits, which bind first for its traffic:
	// these bound the rest (internal callers, several gateways).
	ShedRead  string `env:"BUZHOU_ARTICLE_SHED_READ, default=64/256"`
	ShedWrite string `env:"BUZHOU_ARTICLE_SHED_WRITE, default=16/64"`
	// ShedQueueWait bounds how long an RPC waits for a slot.
	ShedQueueWait time.Duration `env:"BUZHOU_SHED_QUEUE_WAIT, default=100ms"`
	// Shutdown is how the service leaves on SIGTERM (BUZHOU_SHUTDOWN_*).
	Shutdown grpcx.Shutdown
	// Tracing says where traces go (OTEL_EXPORTER_OTLP_*); off by default.
	Tracing tracing.Config
}

// Run serves the article service on lis until ctx ends; its metrics go to
// the part "article" of reg.
func Run(ctx context.Context, cfg Config, lis net.Listener, log *slog.Logger, reg *metrics.Registry) error {
	log = log.With("service", "article")
	// Never shed: the search follower's first call on (re)connecting, and
	// the write-backs of work the other services already did (trust after
	// an inspection, a repair, related lists), which their followers make a
	// few at a time.
	shedding, err := grpcx.Shedding("article", cfg.ShedRead, cfg.ShedWrite, cfg.ShedQueueWait,
		articlev1.ArticleService_GetArticleStats_FullMethodName, articlev1.ArticleService_UpdateArticleTrust_FullMethodName,
		articlev1.ArticleService_RepairArticle_FullMethodName, articlev1.ArticleService_SetRelatedArticles_FullMethodName)
	if err != nil {
		return err
	}
	m, err := reg.Part("article")
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, store.Config{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir}, nil)
	if err != nil {
		return fmt.Errorf("open article store: %w", err)
	}
	defer st.Close()
	st = timedStore{Store: st, m: m}

	srv := server.New(st, log, server.Options{Stop: ctx.Done()})
	if cfg.SeedDemo {
		demo, err := seed.Articles()
		if err != nil {
			return fmt.Errorf("load demo articles: %w", err)
		}
		n, err := srv.Seed(ctx, demo)
		if err != nil {
			return err
		}
		if n > 0 {
			log.Info("seeded demo articles", "count", n)
		}
	}

	tr, err := tracing.Start(ctx, "article", cfg.Tracing)
	if err != nil {
		return err
	}
	defer tr.Stop(log)
	ids, err := grpcx.DialIdentity(ctx, cfg.VerificationAddr, auth.ServiceArticle, cfg.ServiceKey, cfg.KeyCacheTTL, log, tr.DialOption())
	if err != nil {
		return err
	}
	defer ids.Close()
	g := grpcx.NewServer(log, auth.NewGuard(ids.Authn, cfg.FailedAuthPerMinute, log),
		grpcx.WithMetrics(m, cfg.MetricsAddr), grpcx.WithChecks(grpcx.Check{Name: "database", Ping: st.Ping}),
		grpcx.WithTracing(tr), grpcx.WithShutdown(cfg.Shutdown), shedding)
	articlev1.RegisterArticleServiceServer(g.GRPC, srv)
	log.Info("serving", "addr", lis.Addr().String())
	return g.Serve(ctx, lis)
}
