// Package app runs the gateway: it dials the services and serves HTTP until
// its context ends, then shuts down gracefully.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sethvargo/go-envconfig"
	"google.golang.org/grpc"

	"buzhou.dev/gateway/internal/agents"
	"buzhou.dev/gateway/internal/gateway"
	"buzhou.dev/gateway/internal/ratelimit"
	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/grpcx"
	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/shed"
	"buzhou.dev/platform/tracing"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// Config configures the gateway.
type Config struct {
	// HTTPAddr is where REST, web pages and MCP are served.
	HTTPAddr string `env:"BUZHOU_HTTP_ADDR, default=127.0.0.1:8080"`
	// ArticleAddr is the article service's gRPC address.
	ArticleAddr string `env:"BUZHOU_ARTICLE_ADDR, default=127.0.0.1:9101"`
	// SearchAddr is the search service's gRPC address.
	SearchAddr string `env:"BUZHOU_SEARCH_ADDR, default=127.0.0.1:9102"`
	// VerificationAddr is the verification (and identity) service's gRPC address.
	VerificationAddr string `env:"BUZHOU_VERIFICATION_ADDR, default=127.0.0.1:9103"`
	// MaxBodyBytes bounds request bodies (413 beyond).
	MaxBodyBytes int64 `env:"BUZHOU_MAX_BODY_BYTES, default=16777216"`
	// AnonPerMinute limits anonymous callers per client IP.
	AnonPerMinute int `env:"BUZHOU_RATE_ANON_PER_MINUTE, default=100"`
	// KeyPerMinute limits keyed callers per key, unless the key sets its own.
	KeyPerMinute int `env:"BUZHOU_RATE_KEY_PER_MINUTE, default=1000"`
	// FailedAuthPerMinute limits failed authentications per client IP (they
	// count against AnonPerMinute too).
	FailedAuthPerMinute int `env:"BUZHOU_RATE_FAILED_AUTH_PER_MINUTE, default=10"`
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `env:"BUZHOU_HTTP_READ_HEADER_TIMEOUT, default=10s"`
	// ReadTimeout bounds reading a whole request, body included: a client
	// that trickles its body loses the connection then.
	ReadTimeout time.Duration `env:"BUZHOU_HTTP_READ_TIMEOUT, default=30s"`
	// WriteTimeout bounds the time from the end of the request's headers to
	// the end of the answer.
	WriteTimeout time.Duration `env:"BUZHOU_HTTP_WRITE_TIMEOUT, default=60s"`
	// IdleTimeout bounds how long a kept-alive connection waits for the
	// next request.
	IdleTimeout time.Duration `env:"BUZHOU_HTTP_IDLE_TIMEOUT, default=120s"`
	// RedisURL shares rate limits and quotas between gateway replicas.
	RedisURL string `env:"REDIS_URL"`
	// RedisKeyPrefix starts every key kept in Redis, so that installations
	// can share a database.
	RedisKeyPrefix string `env:"BUZHOU_REDIS_KEY_PREFIX, default=buzhou:"`
	// TrustedProxies are the addresses (IPs or CIDRs) whose X-Forwarded-For is believed.
	TrustedProxies []string `env:"BUZHOU_TRUSTED_PROXIES"`
	// ServiceKey is the gateway's own key, for its calls to the identity
	// service: key checks and agent usage.
	ServiceKey string `env:"BUZHOU_GATEWAY_SERVICE_KEY"`
	// UsageFlushEvery is how often agent call counts are sent to the identity service.
	UsageFlushEvery time.Duration `env:"BUZHOU_USAGE_FLUSH_EVERY, default=10s"`
	// PublicURL is the site's address for readers (e.g. https://buzhou.example),
	// for the absolute links of the sitemap, llms.txt and the pages; empty,
	// each request's own scheme and Host.
	PublicURL string `env:"BUZHOU_PUBLIC_URL"`
	// KeyCacheTTL is how long an accepted key is cached. Revocations are
	// pushed at once; this bounds them only while that push is down.
	KeyCacheTTL time.Duration `env:"BUZHOU_KEY_CACHE_TTL, default=3s"`
	// ReadCacheBytes bounds the answers of public article reads kept in
	// memory (see gateway.ReadCache); 0 turns the cache off.
	ReadCacheBytes int `env:"BUZHOU_READ_CACHE_BYTES, default=67108864"`
	// SearchCacheTTL is how long an anonymous search or resolve answer may
	// be reused for the same query while no article changes (see
	// gateway.NewReadCache); 0, the default, turns it off: a search right
	// after the index applied a change then always shows it.
	SearchCacheTTL time.Duration `env:"BUZHOU_SEARCH_CACHE_TTL, default=0s"`
	// ShedRead, ShedSearch and ShedWrite bound the API requests served at
	// once per route class and the ones waiting for a slot, as
	// CONCURRENT/QUEUE ("0" for no limit); past them the answer is 503 with
	// Retry-After. Reads answered from the read cache are not counted.
	ShedRead   string `env:"BUZHOU_SHED_READ, default=64/256"`
	ShedSearch string `env:"BUZHOU_SHED_SEARCH, default=8/64"`
	ShedWrite  string `env:"BUZHOU_SHED_WRITE, default=16/64"`
	// ShedQueueWait bounds how long a request waits for a slot.
	ShedQueueWait time.Duration `env:"BUZHOU_SHED_QUEUE_WAIT, default=100ms"`
	// Shutdown is how the gateway leaves on SIGTERM: /readyz answers 503
	// for the drain while everything else is served, then in-flight
	// requests get the timeout.
	Shutdown grpcx.Shutdown
	// Tracing says where traces go (OTEL_EXPORTER_OTLP_*); off by default.
	Tracing tracing.Config
}

// Run serves HTTP on lis until ctx ends; its metrics go to the part
// "gateway" of reg, and GET /metrics serves all of reg. Fields of cfg left
// zero take their defaults, as from an empty environment.
func Run(ctx context.Context, cfg Config, lis net.Listener, log *slog.Logger, reg *metrics.Registry) error {
	log = log.With("service", "gateway")
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &cfg, Lookuper: envconfig.MapLookuper(nil)}); err != nil {
		return err
	}
	for _, l := range []struct {
		name  string
		value int
	}{
		{"BUZHOU_RATE_ANON_PER_MINUTE", cfg.AnonPerMinute},
		{"BUZHOU_RATE_KEY_PER_MINUTE", cfg.KeyPerMinute},
		{"BUZHOU_RATE_FAILED_AUTH_PER_MINUTE", cfg.FailedAuthPerMinute},
	} {
		if l.value < 1 || l.value > ratelimit.MaxPerMinute {
			return fmt.Errorf("%s is %d; give 1 to %d requests a minute", l.name, l.value, ratelimit.MaxPerMinute)
		}
	}
	shedding := gateway.ShedConfig{QueueWait: cfg.ShedQueueWait}
	for _, l := range []struct {
		value string
		class gateway.RouteClass
	}{
		{cfg.ShedRead, gateway.ClassRead},
		{cfg.ShedSearch, gateway.ClassSearch},
		{cfg.ShedWrite, gateway.ClassWrite},
	} {
		limit, err := shed.ParseLimit(l.value)
		if err != nil {
			return fmt.Errorf("%s: %w", l.class.Env(), err)
		}
		shedding.Limits[l.class] = limit
	}
	if err := shed.CheckQueueWait(cfg.ShedQueueWait); err != nil {
		return err
	}
	if cfg.MaxBodyBytes > grpcx.MaxMessageBytes {
		// A body the services cannot receive would fail as a transport error.
		return fmt.Errorf("BUZHOU_MAX_BODY_BYTES is %d, above the %d bytes a service accepts in one gRPC message; lower it", cfg.MaxBodyBytes, grpcx.MaxMessageBytes)
	}
	m, err := reg.Part("gateway")
	if err != nil {
		return err
	}
	tr, err := tracing.Start(ctx, "gateway", cfg.Tracing)
	if err != nil {
		return err
	}
	defer tr.Stop(log)
	var up gateway.Upstreams
	for _, u := range []struct {
		addr string
		conn **grpc.ClientConn
	}{{cfg.ArticleAddr, &up.Article}, {cfg.SearchAddr, &up.Search}, {cfg.VerificationAddr, &up.Verification}} {
		// Forwarded calls carry the caller's key, never the gateway's own.
		c, err := grpcx.Dial(u.addr, "", tr.DialOption())
		if err != nil {
			return fmt.Errorf("dial %s: %w", u.addr, err)
		}
		defer c.Close()
		*u.conn = c
	}
	limiter, quota, closer, err := ratelimit.Open(ctx, ratelimit.Config{RedisURL: cfg.RedisURL, KeyPrefix: cfg.RedisKeyPrefix})
	if err != nil {
		return err
	}
	defer closer.Close()
	clientIP, err := ratelimit.NewClientIP(cfg.TrustedProxies)
	if err != nil {
		return fmt.Errorf("BUZHOU_TRUSTED_PROXIES: %w", err)
	}
	// The gateway's own calls (key checks, agent usage) go on a connection
	// of their own that carries its service key.
	ids, err := grpcx.DialIdentity(ctx, cfg.VerificationAddr, auth.ServiceGateway, cfg.ServiceKey, cfg.KeyCacheTTL, log, tr.DialOption())
	if err != nil {
		return err
	}
	defer ids.Close()
	tracker := agents.NewTracker(func(ctx context.Context, usage []agents.Usage) error {
		err := recordUsage(ctx, ids.Client, usage)
		if err != nil {
			log.WarnContext(ctx, "agent usage not recorded; kept for the next flush (is BUZHOU_GATEWAY_SERVICE_KEY the same as the verification service's?)", "err", err)
		}
		return err
	}, cfg.UsageFlushEvery, m)
	trackerDone := make(chan struct{})
	go func() { defer close(trackerDone); tracker.Run(ctx) }()
	defer func() { <-trackerDone }()

	var reads *gateway.ReadCache
	if cfg.ReadCacheBytes > 0 {
		// The feed is internal: it is followed with the gateway's own key.
		feedConn, err := grpcx.Dial(cfg.ArticleAddr, cfg.ServiceKey, tr.DialOption())
		if err != nil {
			return fmt.Errorf("dial %s: %w", cfg.ArticleAddr, err)
		}
		defer feedConn.Close()
		reads = gateway.NewReadCache(cfg.ReadCacheBytes, cfg.SearchCacheTTL, m)
		feedCtx, stopFeed := context.WithCancel(ctx)
		feedDone := make(chan struct{})
		go func() { defer close(feedDone); reads.Follow(feedCtx, articlev1.NewArticleServiceClient(feedConn), log) }()
		defer func() { stopFeed(); <-feedDone }()
	}

	draining := make(chan struct{})
	h, err := gateway.New(ctx, gateway.Config{
		MaxBodyBytes: cfg.MaxBodyBytes,
		Access: &gateway.Access{
			Authn:               ids.Authn,
			Limiter:             limiter,
			Quota:               quota,
			ClientIP:            clientIP,
			AnonPerMinute:       cfg.AnonPerMinute,
			KeyPerMinute:        cfg.KeyPerMinute,
			FailedAuthPerMinute: cfg.FailedAuthPerMinute,
			Log:                 log,
			Metrics:             m,
		},
		Agents:    tracker,
		Metrics:   m,
		PublicURL: cfg.PublicURL,
		Draining:  draining,
		ReadCache: reads,
		Shed:      gateway.NewShedder(shedding, m),
	}, up, log)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           tr.Handler(h),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	log.Info("serving", "addr", lis.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	close(draining)
	cfg.Shutdown.WaitDrain(log)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown.StopTimeout())
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// recordUsage sends agent call counts to the identity service with the
// gateway's service key.
func recordUsage(ctx context.Context, identity identityv1.IdentityServiceClient, usage []agents.Usage) error {
	req := &identityv1.RecordAgentUsageRequest{}
	for _, u := range usage {
		req.Usage = append(req.Usage, &identityv1.AgentUsage{AgentId: u.AgentID, Calls: u.Calls, Errors: u.Errors, TotalLatencyMs: u.TotalLatencyMs})
	}
	if len(req.Usage) == 0 {
		return nil
	}
	_, err := identity.RecordAgentUsage(ctx, req)
	return err
}
