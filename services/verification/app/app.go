// Package app wires the verification service: the trust API (verification
// records, verifiers, inspections, problem reports, trust write-back), the
// identity API it hosts (principals, API keys, agent usage) and the public
// statistics; and the sandbox runs, with their runner in process or as a
// process of its own (RunSandbox, cmd/sandbox).
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/grpcx"
	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/tracing"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/identity"
	"buzhou.dev/verification/internal/ledger"
	"buzhou.dev/verification/internal/linkcheck"
	"buzhou.dev/verification/internal/stats"
	"buzhou.dev/verification/internal/store"
	"buzhou.dev/verification/internal/triggers"
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
	// SearchAddr is the search service asked for near duplicates; empty
	// leaves content.near_duplicate unchecked.
	SearchAddr string `env:"BUZHOU_SEARCH_ADDR, default=127.0.0.1:9102"`

	// The switches below are on by default from the environment; a Config
	// built in Go (the tests' stacks) starts with them off, so that no test
	// is inspected or checks links unless it asks to.

	// InspectOnChange follows the article feed and inspects articles when
	// they are published or edited.
	InspectOnChange bool `env:"BUZHOU_INSPECT_ON_CHANGE, default=true"`
	// DailyInspections runs the due inspections in process, a minute after
	// start and every InspectionInterval; switch it off when a Kubernetes CronJob calls
	// POST /api/v1/inspections:runDue (RunDueInspections) instead.
	DailyInspections bool `env:"BUZHOU_DAILY_INSPECTIONS, default=true"`
	// CheckLinks checks reference links during inspections.
	CheckLinks bool `env:"BUZHOU_CHECK_LINKS, default=true"`
	// LinkCheckAllow lists IPs or CIDRs link checks may reach although they
	// are not public (an intranet): by default only public addresses.
	LinkCheckAllow []string `env:"BUZHOU_LINK_CHECK_ALLOW"`
	// LinkCheckTimeout bounds the check of one link, redirects included;
	// 0 means 10 s.
	LinkCheckTimeout time.Duration `env:"BUZHOU_LINK_CHECK_TIMEOUT, default=10s"`
	// InspectionInterval is how long after its last inspection an article
	// is due again; 0 means a day.
	InspectionInterval time.Duration `env:"BUZHOU_INSPECTION_INTERVAL, default=24h"`
	// Sandbox makes sandbox runs available; off, CreateSandboxRun says so.
	Sandbox bool `env:"BUZHOU_SANDBOX, default=true"`
	// SandboxAddr is the sandbox runner when it runs as its own process
	// (cmd/sandbox); empty runs blocks in this process.
	SandboxAddr string `env:"BUZHOU_SANDBOX_ADDR"`
	// SandboxOnChange runs an article's runnable blocks when it is published
	// and when an author edits its code blocks (needs InspectOnChange, whose
	// feed follower it rides).
	SandboxOnChange bool `env:"BUZHOU_SANDBOX_ON_CHANGE, default=true"`
	// SandboxMaxTimeout is the most wall time a run may ask for a block.
	SandboxMaxTimeout time.Duration `env:"BUZHOU_SANDBOX_MAX_TIMEOUT, default=60s"`
	// SandboxQueue is how many runs may wait for a turn beyond those running
	// (SandboxRunner.Concurrency); more are refused with 429 and Retry-After.
	SandboxQueue int `env:"BUZHOU_SANDBOX_QUEUE, default=16"`
	// SandboxRunner configures the runner in process (its limits also
	// bound the runs a separate runner is asked for).
	SandboxRunner RunnerConfig
	// ShedRead and ShedWrite bound the RPCs without side effects and the
	// others served at once and waiting, as CONCURRENT/QUEUE ("0" for no
	// limit); past them UNAVAILABLE with a RetryInfo (see grpcx.Shedding).
	// No lower than the gateway's limits, which bind first for its traffic:
	// these bound the rest (internal callers, several gateways).
	ShedRead  string `env:"BUZHOU_VERIFICATION_SHED_READ, default=64/256"`
	ShedWrite string `env:"BUZHOU_VERIFICATION_SHED_WRITE, default=16/64"`
	// ShedQueueWait bounds how long an RPC waits for a slot.
	ShedQueueWait time.Duration `env:"BUZHOU_SHED_QUEUE_WAIT, default=100ms"`
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
	// Never shed: every service's key checks (shedding them would turn this
	// service's overload into refused keys everywhere) and the gateway's
	// usage flush, one call every few seconds.
	shedding, err := grpcx.Shedding("verification", cfg.ShedRead, cfg.ShedWrite, cfg.ShedQueueWait,
		identityv1.IdentityService_AuthenticateApiKey_FullMethodName, identityv1.IdentityService_RecordAgentUsage_FullMethodName)
	if err != nil {
		return err
	}
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
	if err := ids.EnsureBots(ctx); err != nil {
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
		grpcx.WithTracing(tr), grpcx.WithShutdown(cfg.Shutdown), shedding)
	articles := articlev1.NewArticleServiceClient(articleConn)
	deps := ledger.Deps{Store: st, Articles: articles, Repairer: articles, Stats: stats.New(articles, usage{ids}, st), Log: log}
	if cfg.SearchAddr != "" {
		searchConn, err := grpcx.Dial(cfg.SearchAddr, cfg.ServiceKeys.Verification)
		if err != nil {
			return fmt.Errorf("dial search service: %w", err)
		}
		defer searchConn.Close()
		deps.Related = searchv1.NewSearchServiceClient(searchConn)
	}
	opts := ledger.Options{DueAfter: cfg.InspectionInterval, LinksOff: "link checks are switched off (BUZHOU_CHECK_LINKS=false)"}
	if cfg.CheckLinks {
		allow, err := parseAllow(cfg.LinkCheckAllow)
		if err != nil {
			return err
		}
		deps.Links = linkcheck.New(linkcheck.Config{Timeout: cfg.LinkCheckTimeout, Allow: allow})
	}
	sb, closeSandbox, err := sandboxDeps(ctx, cfg, log, func(addr string) (ledger.Sandbox, func(), error) {
		conn, err := grpcx.Dial(addr, cfg.ServiceKeys.Verification, tr.DialOption())
		if err != nil {
			return nil, nil, fmt.Errorf("dial sandbox runner: %w", err)
		}
		return verificationv1.NewSandboxRunnerServiceClient(conn), func() { _ = conn.Close() }, nil
	})
	if err != nil {
		return err
	}
	defer closeSandbox()
	deps.Sandbox = sb
	opts.Sandbox = ledger.SandboxOptions{Timeout: cfg.SandboxRunner.Timeout, MaxTimeout: cfg.SandboxMaxTimeout,
		Concurrency: cfg.SandboxRunner.Concurrency, QueueLength: cfg.SandboxQueue}
	trust := ledger.New(deps, opts)
	identityv1.RegisterIdentityServiceServer(g.GRPC, ids)
	verificationv1.RegisterVerificationServiceServer(g.GRPC, trust)

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	// Sandbox runs started by changes end with the service.
	wg.Go(func() {
		<-ctx.Done()
		trust.Wait()
	})
	// One replica follows the feed and keeps the schedule: the others would
	// inspect every change again. Taking the lead, it first settles the
	// repairs a crash left between the article's revision and their run
	// (inspections of those articles settle theirs first anyway).
	wg.Go(func() {
		st.Lead(ctx, "inspections", log, func(ctx context.Context) {
			var lead sync.WaitGroup
			defer lead.Wait()
			lead.Go(func() { settleRepairs(ctx, trust, log) })
			if cfg.InspectOnChange {
				f := triggers.NewFollower(articles, st, trust, log)
				if cfg.SandboxOnChange {
					f.WithSandbox(trust.RunSandboxOnChange)
				}
				lead.Go(func() { _ = f.Run(ctx) })
			}
			if cfg.DailyInspections {
				every := cfg.InspectionInterval
				if every <= 0 {
					every = 24 * time.Hour
				}
				lead.Go(func() {
					triggers.Daily(ctx, triggers.Schedule{First: time.Minute, Every: every, Retry: time.Minute}, func(ctx context.Context) error {
						_, err := trust.RunDueInspections(ctx, &verificationv1.RunDueInspectionsRequest{})
						return err
					}, log)
				})
			}
		})
	})
	log.Info("serving", "addr", lis.Addr().String(), "inspect_on_change", cfg.InspectOnChange, "sandbox", cfg.Sandbox, "sandbox_addr", cfg.SandboxAddr, "sandbox_on_change", cfg.SandboxOnChange, "daily_inspections", cfg.DailyInspections, "check_links", cfg.CheckLinks)
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

// parseAllow reads BUZHOU_LINK_CHECK_ALLOW: IPs (as /32 or /128) or CIDRs.
func parseAllow(items []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		if p, err := netip.ParsePrefix(it); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(it)
		if err != nil {
			return nil, fmt.Errorf("BUZHOU_LINK_CHECK_ALLOW: %q is neither an IP nor a CIDR; give e.g. 10.1.0.0/16", it)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// settleRepairs settles the repairs left pending at the last stop, retrying
// until the article service answers.
func settleRepairs(ctx context.Context, trust *ledger.Service, log *slog.Logger) {
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		completed, dropped, err := trust.SettleRepairs(ctx)
		if completed+dropped > 0 {
			log.Info("settled the repairs left pending at the last stop", "recorded", completed, "dropped", dropped)
		}
		if err == nil || ctx.Err() != nil {
			return
		}
		log.Warn("settling the pending repairs failed; retrying", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
