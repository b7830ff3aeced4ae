// Package app wires the search service: its state store, the embedder, the
// index (embedded, or Qdrant when QDRANT_URL is set), the feed follower that
// keeps the index up to date, and the gRPC server. Its health follows the
// state store, the index, and the first catch-up with the feed, so /readyz
// waits for a usable index.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/grpcx"
	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/tracing"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	"buzhou.dev/search/internal/document"
	"buzhou.dev/search/internal/embed"
	"buzhou.dev/search/internal/feed"
	"buzhou.dev/search/internal/index"
	"buzhou.dev/search/internal/index/embedded"
	"buzhou.dev/search/internal/index/qdrant"
	"buzhou.dev/search/internal/indexer"
	"buzhou.dev/search/internal/ranking"
	"buzhou.dev/search/internal/related"
	"buzhou.dev/search/internal/server"
	"buzhou.dev/search/internal/spell"
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
	// ServiceKey is the search service's own key, for its key checks, for
	// following the change feed (internal:feed) and for writing related ids
	// (internal:related).
	ServiceKey string `env:"BUZHOU_SEARCH_SERVICE_KEY"`
	// FailedAuthPerMinute is how many failed key checks a client address may
	// make per minute on the gRPC port.
	FailedAuthPerMinute int `env:"BUZHOU_RATE_FAILED_AUTH_PER_MINUTE, default=10"`
	// KeyCacheTTL is how long an accepted key is cached. Revocations are
	// pushed at once; this bounds them only while that push is down.
	KeyCacheTTL time.Duration `env:"BUZHOU_KEY_CACHE_TTL, default=3s"`
	// MetricsAddr, when set, serves the service's metrics at http://MetricsAddr/metrics.
	MetricsAddr string `env:"BUZHOU_METRICS_ADDR"`
	// DataDir holds the state database (search.db) and the embedded index
	// (search-index/).
	DataDir string `env:"BUZHOU_DATA_DIR, default=./data"`
	// DatabaseURL keeps the state in PostgreSQL instead of SQLite.
	DatabaseURL string `env:"DATABASE_URL"`
	// QdrantURL selects a Qdrant server (its gRPC port, 6334) instead of
	// the embedded index; QdrantAPIKey authenticates to it.
	QdrantURL    string `env:"QDRANT_URL"`
	QdrantAPIKey string `env:"QDRANT_API_KEY"`
	// QdrantCollection names the collection.
	QdrantCollection string `env:"BUZHOU_QDRANT_COLLECTION, default=buzhou_articles"`
	// EmbeddingsURL selects an OpenAI-compatible embeddings endpoint instead
	// of the offline embedder; EmbeddingsModel names its model.
	EmbeddingsURL    string `env:"EMBEDDINGS_URL"`
	EmbeddingsModel  string `env:"EMBEDDINGS_MODEL"`
	EmbeddingsAPIKey string `env:"EMBEDDINGS_API_KEY"`
	// EmbeddingsDim asks the endpoint for this dimension and checks it.
	EmbeddingsDim int `env:"EMBEDDINGS_DIMENSIONS"`
	// Embedder is the offline embedder when EmbeddingsURL is unset:
	// "learned" (latent semantic analysis of the hub's own articles, the
	// default: it measured better) or "hashing".
	Embedder string `env:"BUZHOU_EMBEDDER, default=learned"`
	// DenseWeight weighs the dense ranker in the fusion, the lexical one
	// counting 1; 0 means 1, which measured best with the learned embedder.
	// Another model may want less: measure it with make eval.
	DenseWeight float64 `env:"BUZHOU_SEARCH_DENSE_WEIGHT, default=1"`
	// Quiet is how long the feed must be silent for the first catch-up to
	// count as done when the article service sends no feed head (one from
	// before the header); with one, catching up is exact.
	Quiet time.Duration `env:"BUZHOU_SEARCH_FEED_QUIET, default=300ms"`
	// RelatedPerSecond paces the writing of articles' related ids (ranked
	// after indexing, written when they change); 0 turns the writing off
	// (a zero Config, as tests build, leaves articles alone).
	RelatedPerSecond int `env:"BUZHOU_SEARCH_RELATED_PER_SECOND, default=50"`
	// RelatedDebounce is how long the feed must pause before related ids
	// are ranked again; 0 means 2 s.
	RelatedDebounce time.Duration `env:"BUZHOU_SEARCH_RELATED_DEBOUNCE, default=2s"`
	// ShedRead and ShedWrite bound the RPCs without side effects and the
	// others served at once and waiting, as CONCURRENT/QUEUE ("0" for no
	// limit); past them UNAVAILABLE with a RetryInfo (see grpcx.Shedding).
	// Reads: twice the gateway's 8 searches, room for internal callers (the
	// verification service's duplicate checks); searches are CPU-bound, so
	// more at once on two cores would only lengthen each.
	ShedRead  string `env:"BUZHOU_SEARCH_SHED_READ, default=16/64"`
	ShedWrite string `env:"BUZHOU_SEARCH_SHED_WRITE, default=4/16"`
	// ShedQueueWait bounds how long an RPC waits for a slot.
	ShedQueueWait time.Duration `env:"BUZHOU_SHED_QUEUE_WAIT, default=100ms"`
	// Shutdown is how the service leaves on SIGTERM (BUZHOU_SHUTDOWN_*).
	Shutdown grpcx.Shutdown
	// Tracing says where traces go (OTEL_EXPORTER_OTLP_*); off by default.
	Tracing tracing.Config
}

// learnedModelName is where the state store keeps the learned model.
const learnedModelName = "learned"

// minLearnArticles is how many articles make a first model worth
// learning without being asked (a reindex learns from any number).
const minLearnArticles = 20

// Run serves the search service on lis until ctx ends; its metrics go to
// the part "search" of reg.
func Run(ctx context.Context, cfg Config, lis net.Listener, log *slog.Logger, reg *metrics.Registry) (err error) {
	log = log.With("service", "search")
	if cfg.DenseWeight < 0 || cfg.DenseWeight > 10 {
		return fmt.Errorf("BUZHOU_SEARCH_DENSE_WEIGHT=%g: use a weight from 0 to 10 (1, the default, measured best with the learned embedder)", cfg.DenseWeight)
	}
	shedding, err := grpcx.Shedding("search", cfg.ShedRead, cfg.ShedWrite, cfg.ShedQueueWait)
	if err != nil {
		return err
	}
	m, err := reg.Part("search")
	if err != nil {
		return err
	}
	if cfg.Quiet <= 0 {
		cfg.Quiet = 300 * time.Millisecond
	}
	st, err := state.Open(ctx, state.Config{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir}, nil)
	if err != nil {
		return fmt.Errorf("open search state: %w", err)
	}
	defer st.Close()

	tr, err := tracing.Start(ctx, "search", cfg.Tracing)
	if err != nil {
		return err
	}
	defer tr.Stop(log)
	articleConn, err := grpcx.Dial(cfg.ArticleAddr, cfg.ServiceKey, tr.DialOption())
	if err != nil {
		return fmt.Errorf("dial article service: %w", err)
	}
	defer articleConn.Close()
	articles := articlev1.NewArticleServiceClient(articleConn)

	emb, err := openEmbedder(ctx, cfg)
	if err != nil {
		return err
	}
	learned, err := openModel(ctx, st, articles, cfg.Quiet, log)
	if err != nil {
		return err
	}
	// The learned model is the embedder unless another is configured; its
	// vocabulary corrects misspellings whatever the embedder.
	embedsLearned := emb == nil
	if embedsLearned {
		emb = learned
	}
	idx, err := openIndex(ctx, cfg)
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

	ids, err := grpcx.DialIdentity(ctx, cfg.VerificationAddr, auth.ServiceSearch, cfg.ServiceKey, cfg.KeyCacheTTL, log, tr.DialOption())
	if err != nil {
		return err
	}
	defer ids.Close()

	params, tune := document.Default(), ranking.Default()
	if cfg.DenseWeight != 0 {
		tune.DenseWeight = cfg.DenseWeight
	}
	// Ready once the index has caught up with the feed the first time; a
	// later reindex answers from the partial index and stays ready.
	var caughtUp, rebuilt atomic.Bool
	firstCatchUp := make(chan struct{})
	engine := ranking.New(idx, emb, params, tune)
	var follower *feed.Follower
	rel := related.New(related.Config{
		Rank: func(ctx context.Context, id string, limit int) ([]string, error) {
			rs, err := engine.Related(ctx, id, limit)
			ids := make([]string, 0, len(rs))
			for _, r := range rs {
				ids = append(ids, r.Payload.ArticleID)
			}
			return ids, err
		},
		Articles: articles, Ready: func() bool { return follower.Status().CaughtUp },
		Debounce: cfg.RelatedDebounce, PerSecond: cfg.RelatedPerSecond, Log: log,
	})
	apply := indexer.New(idx, emb, params, nil).Apply
	follower = feed.New(feed.Config{
		Client: articles, Cursors: st, Name: idx.CursorName(),
		Apply: func(ctx context.Context, changes []*articlev1.ArticleChange) error {
			if err := apply(ctx, changes); err != nil {
				return err
			}
			if cfg.RelatedPerSecond > 0 {
				rel.Observe(changes)
			}
			return nil
		},
		Quiet: cfg.Quiet, Log: log,
		OnCaughtUp: func() {
			if !caughtUp.Swap(true) {
				close(firstCatchUp)
			}
			if rebuilt.Swap(false) {
				rel.RankAll() // a new model may see other neighbours
			}
		},
	})
	// The state database is not a check: searches are answered without it
	// (the follower retries its cursor until it is back).
	g := grpcx.NewServer(log, auth.NewGuard(ids.Authn, cfg.FailedAuthPerMinute, log), grpcx.WithMetrics(m, cfg.MetricsAddr),
		grpcx.WithTracing(tr), grpcx.WithShutdown(cfg.Shutdown), shedding,
		grpcx.WithChecks(
			grpcx.Check{Name: idx.Backend() + " index", Ping: func(ctx context.Context) error { _, _, err := idx.Count(ctx); return err }},
			grpcx.Check{Name: "article feed (first catch-up not done yet)", Ping: func(context.Context) error {
				if !caughtUp.Load() {
					return errors.New("catching up with the article feed")
				}
				return nil
			}},
		))
	unanswered := server.NewUnanswered(st, nil, log)
	engine.SetSpeller(spell.New(learned.Current().Vocabulary()))
	relearn := func(ctx context.Context) error {
		m, err := learn(ctx, st, articles, cfg.Quiet)
		if err != nil {
			return err
		}
		learned.Swap(m)
		engine.SetSpeller(spell.New(m.Vocabulary()))
		log.InfoContext(ctx, "learned a new model of the articles", "model", m.Name(), "terms", m.Terms(), "embeds", embedsLearned)
		return nil
	}
	reset := func(ctx context.Context) error {
		// A reindex relearns the model from the articles as they are now.
		if err := relearn(ctx); err != nil {
			return err
		}
		if fresh, err := idx.Prepare(ctx, index.Schema{Model: emb.Model(), Dim: emb.Dim()}); err != nil {
			return err
		} else if !fresh { // a new model empties the index itself
			if err := idx.Reset(ctx); err != nil {
				return err
			}
		}
		rebuilt.Store(true) // the catch-up that follows ranks every related list again
		return nil
	}
	deps := server.Deps{
		Engine: engine, Index: idx, Articles: articles, Follower: follower,
		Unanswered: unanswered, Model: func() string { return fmt.Sprintf("%s/%d", emb.Model(), emb.Dim()) }, Reset: reset, Log: log,
	}
	if cfg.RelatedPerSecond > 0 {
		deps.RelatedPending = rel.Pending
	}
	srv := server.New(deps)
	searchv1.RegisterSearchServiceServer(g.GRPC, srv)

	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = follower.Run(bg) })
	wg.Go(func() { unanswered.Run(bg, 5*time.Second) })
	if cfg.RelatedPerSecond > 0 {
		wg.Go(func() { rel.Run(bg) })
	}
	if learned.Current().Terms() == 0 {
		// Nothing to learn from at start-up (the learned embedder embeds by
		// surface features meanwhile): once the index holds enough
		// articles, learn, and rebuild if the model embeds.
		wg.Go(func() {
			select {
			case <-firstCatchUp:
			case <-bg.Done():
				return
			}
			if n, _, err := idx.Count(bg); err != nil || n < minLearnArticles {
				return
			}
			log.Info("learning a model from the indexed articles", "rebuild", embedsLearned)
			var err error
			if embedsLearned {
				_, err = follower.Rebuild(bg, reset) // reset learns
			} else {
				err = relearn(bg)
			}
			if err != nil && bg.Err() == nil {
				log.Warn("the first model of the articles could not be learned; POST /api/v1/search:reindex tries again", "err", err)
			}
		})
	}
	defer func() { stopBG(); wg.Wait() }()

	log.Info("serving", "addr", lis.Addr().String(), "index", idx.Backend(), "model", schema.Model, "dim", schema.Dim)
	return g.Serve(ctx, lis)
}

// openEmbedder returns the embedder the configuration names, nil for the
// learned one (see openModel).
func openEmbedder(ctx context.Context, cfg Config) (embed.Embedder, error) {
	switch {
	case cfg.EmbeddingsURL != "":
		return embed.NewHTTP(ctx, embed.HTTPConfig{URL: cfg.EmbeddingsURL, Model: cfg.EmbeddingsModel, APIKey: cfg.EmbeddingsAPIKey, Dim: cfg.EmbeddingsDim})
	case cfg.Embedder == "hashing":
		return embed.NewHashing(0), nil
	case cfg.Embedder != "learned" && cfg.Embedder != "":
		return nil, fmt.Errorf("BUZHOU_EMBEDDER=%q: use learned (the default) or hashing, or set EMBEDDINGS_URL for an embeddings endpoint", cfg.Embedder)
	}
	return nil, nil
}

// openModel returns the model learned from the hub's articles: the stored
// one, or one learned now (it is relearned on reindex).
func openModel(ctx context.Context, st state.Store, articles articlev1.ArticleServiceClient, quiet time.Duration, log *slog.Logger) (*embed.Learned, error) {
	data, err := st.Model(ctx, learnedModelName)
	if err == nil {
		m, err := embed.UnmarshalModel(data)
		if err == nil {
			return embed.NewLearned(m), nil
		}
		log.Warn("the stored model of the articles is damaged; learning a new one", "err", err)
	} else if !errors.Is(err, errs.ErrNotFound) {
		return nil, fmt.Errorf("read the learned model of the articles: %w", err)
	}
	// None yet: learn from the articles there are. On a new hub, or when the
	// article service is not up yet, the model is empty for now (it embeds
	// by surface features): the first catch-up then learns (see Run).
	m, err := learn(ctx, st, articles, quiet)
	if err != nil {
		log.Warn("no model of the articles could be learned yet; the first catch-up tries again (from 20 articles), and so does a reindex", "err", err)
		m, _ = embed.Learn(nil, embed.LearnConfig{})
	}
	log.Info("model of the articles", "model", m.Name(), "terms", m.Terms())
	return embed.NewLearned(m), nil
}

// learn learns a model from every public article in the feed and stores it.
func learn(ctx context.Context, st state.Store, articles articlev1.ArticleServiceClient, quiet time.Duration) (*embed.Model, error) {
	all, err := feed.Snapshot(ctx, articles, quiet)
	if err != nil {
		return nil, fmt.Errorf("read the articles to learn the embedding model from: %w", err)
	}
	var units []string
	for _, a := range all {
		units = append(units, document.LearningUnits(a)...)
	}
	m, err := embed.Learn(units, embed.LearnConfig{})
	if err != nil {
		return nil, err
	}
	data, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if err := st.SaveModel(ctx, learnedModelName, data); err != nil {
		return nil, err
	}
	return m, nil
}

func openIndex(ctx context.Context, cfg Config) (index.Index, error) {
	if cfg.QdrantURL != "" {
		return qdrant.Open(ctx, qdrant.Config{URL: cfg.QdrantURL, APIKey: cfg.QdrantAPIKey, Collection: cmp.Or(cfg.QdrantCollection, "buzhou_articles")})
	}
	ix, err := embedded.Open(filepath.Join(cfg.DataDir, "search-index"))
	if err != nil {
		return nil, fmt.Errorf("open the embedded index: %w", err)
	}
	return ix, nil
}
