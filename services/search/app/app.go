// Package app wires the search service: its state store, the embedder, the
// index (embedded, or Qdrant when QDRANT_URL is set), the feed follower that
// keeps the index up to date, and the gRPC server. The service reports
// NOT_SERVING on its health service until the follower has caught up with
// the feed, so /readyz waits for a usable index.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/grpcx"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	"buzhou.dev/search/internal/document"
	"buzhou.dev/search/internal/embed"
	"buzhou.dev/search/internal/feed"
	"buzhou.dev/search/internal/index"
	"buzhou.dev/search/internal/index/embedded"
	"buzhou.dev/search/internal/indexer"
	"buzhou.dev/search/internal/ranking"
	"buzhou.dev/search/internal/server"
	"buzhou.dev/search/internal/state"
)

// Config configures the search service.
type Config struct {
	// GRPCAddr is where the service listens when it opens its own listener.
	GRPCAddr string `env:"BUZHOU_SEARCH_ADDR, default=127.0.0.1:9102"`
	// ArticleAddr is the article service it follows.
	ArticleAddr string `env:"BUZHOU_ARTICLE_ADDR, default=127.0.0.1:9101"`
	// VerificationAddr is the verification service, which checks API keys.
	VerificationAddr string `env:"BUZHOU_VERIFICATION_ADDR, default=127.0.0.1:9103"`
	// ServiceKey is the secret the search service presents to the others; it
	// must hold internal:feed.
	ServiceKey string `env:"BUZHOU_SERVICE_KEY"`
	// DataDir holds the state database (search.db) and the embedded index
	// (search-index/).
	DataDir string `env:"BUZHOU_DATA_DIR, default=./data"`
	// DatabaseURL keeps the state in PostgreSQL instead of SQLite.
	DatabaseURL string `env:"DATABASE_URL"`
	// EmbeddingsURL selects an OpenAI-compatible embeddings endpoint instead
	// of the offline embedder; EmbeddingsModel names its model.
	EmbeddingsURL    string `env:"EMBEDDINGS_URL"`
	EmbeddingsModel  string `env:"EMBEDDINGS_MODEL"`
	EmbeddingsAPIKey string `env:"EMBEDDINGS_API_KEY"`
	// EmbeddingsDim asks the endpoint for this dimension and checks it.
	EmbeddingsDim int `env:"EMBEDDINGS_DIMENSIONS"`
	// Quiet is how long the feed must be silent for the first catch-up to
	// count as done.
	Quiet time.Duration `env:"BUZHOU_SEARCH_FEED_QUIET, default=300ms"`
}

// Run serves the search service on lis until ctx ends.
func Run(ctx context.Context, cfg Config, lis net.Listener, log *slog.Logger) (err error) {
	log = log.With("service", "search")
	st, err := state.Open(ctx, state.Config{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir}, nil)
	if err != nil {
		return fmt.Errorf("open search state: %w", err)
	}
	defer st.Close()

	emb, err := openEmbedder(ctx, cfg)
	if err != nil {
		return err
	}
	idx, err := openIndex(cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, idx.Close()) }()
	schema := index.Schema{Model: emb.Model(), Dim: emb.Dim()}
	fresh, err := idx.Prepare(ctx, schema)
	if err != nil {
		return fmt.Errorf("prepare the %s index: %w", idx.Backend(), err)
	}
	if fresh {
		log.Info("the index is new or was built for another model: rebuilding from the feed", "backend", idx.Backend(), "model", schema.Model, "dim", schema.Dim)
		if err := st.SaveCursor(ctx, idx.CursorName(), 0); err != nil {
			return err
		}
	}

	articleConn, err := grpcx.Dial(cfg.ArticleAddr, cfg.ServiceKey)
	if err != nil {
		return fmt.Errorf("dial article service: %w", err)
	}
	defer articleConn.Close()
	idConn, err := grpcx.Dial(cfg.VerificationAddr, cfg.ServiceKey)
	if err != nil {
		return fmt.Errorf("dial verification service: %w", err)
	}
	defer idConn.Close()
	articles := articlev1.NewArticleServiceClient(articleConn)

	params, tune := document.Default(), ranking.Default()
	g := grpcx.NewServer(log, auth.NewRemote(identityv1.NewIdentityServiceClient(idConn), nil))
	// Not ready until the index has caught up with the feed.
	for _, name := range []string{"", searchv1.SearchService_ServiceDesc.ServiceName} {
		g.Health.SetServingStatus(name, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	follower := feed.New(feed.Config{
		Client: articles, Cursors: st, Name: idx.CursorName(),
		Apply: indexer.New(idx, emb, params, nil).Apply,
		Quiet: cfg.Quiet, Log: log,
		OnCaughtUp: func() {
			for _, name := range []string{"", searchv1.SearchService_ServiceDesc.ServiceName} {
				g.Health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
			}
		},
	})
	unanswered := server.NewUnanswered(st, nil, log)
	srv := server.New(server.Deps{
		Engine: ranking.New(idx, emb, params, tune), Index: idx, Articles: articles, Follower: follower,
		Unanswered: unanswered, Model: fmt.Sprintf("%s/%d", schema.Model, schema.Dim), Reset: idx.Reset, Log: log,
	})
	searchv1.RegisterSearchServiceServer(g.GRPC, srv)

	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = follower.Run(bg) })
	wg.Go(func() { unanswered.Run(bg, 5*time.Second) })
	defer func() { stopBG(); wg.Wait() }()

	log.Info("serving", "addr", lis.Addr().String(), "index", idx.Backend(), "model", schema.Model, "dim", schema.Dim)
	return g.Serve(ctx, lis)
}

func openEmbedder(ctx context.Context, cfg Config) (embed.Embedder, error) {
	if cfg.EmbeddingsURL == "" {
		return embed.NewHashing(0), nil
	}
	return embed.NewHTTP(ctx, embed.HTTPConfig{URL: cfg.EmbeddingsURL, Model: cfg.EmbeddingsModel, APIKey: cfg.EmbeddingsAPIKey, Dim: cfg.EmbeddingsDim})
}

func openIndex(cfg Config) (index.Index, error) {
	ix, err := embedded.Open(filepath.Join(cfg.DataDir, "search-index"))
	if err != nil {
		return nil, fmt.Errorf("open the embedded index: %w", err)
	}
	return ix, nil
}
