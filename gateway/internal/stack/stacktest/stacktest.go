// Package stacktest runs a whole Buzhou for one test — every service and the
// gateway on loopback listeners, on SQLite or PostgreSQL, with AdminKey as
// the bootstrap key — and runs the client commands the way the buzhou binary
// does. The stack package's own tests use it, so it cannot import that
// package: callers pass stack.Start to Start.
package stacktest

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	articleapp "buzhou.dev/article/app"
	gatewayapp "buzhou.dev/gateway/app"
	"buzhou.dev/gateway/internal/cli"
	"buzhou.dev/platform/sqldb/sqldbtest"
	"buzhou.dev/platform/tracing"
	searchapp "buzhou.dev/search/app"
	verificationapp "buzhou.dev/verification/app"
)

// AdminKey is the BUZHOU_ADMIN_KEY of every test stack: every outside scope,
// no rate limit.
const AdminKey = "bz_test_admin_key_0123456789abcdef"

// EngineEnv set to "postgres" runs every test stack on PostgreSQL (a fresh
// schema per data directory on BUZHOU_TEST_POSTGRES_URL) instead of SQLite;
// `make test` runs the stack package a second time so.
const EngineEnv = "BUZHOU_TEST_STACK_ENGINE"

// Options of a test stack. The zero value is a fresh stack without demo
// articles whose rate limits no test reaches.
type Options struct {
	// DataDir defaults to a temporary directory; a second stack on the same
	// one finds the first one's data (on either engine).
	DataDir string
	// DatabaseURL puts the stores on this PostgreSQL database, whatever
	// EngineEnv says.
	DatabaseURL string
	// Seed loads the demo articles.
	Seed bool
	// MaxBody is the gateway's body limit in bytes; 0 means its default.
	MaxBody int64
	// AnonPerMinute and KeyPerMinute are the gateway's rate limits.
	AnonPerMinute, KeyPerMinute int
	RedisURL, RedisKeyPrefix    string
	TrustedProxies              []string
	// UsageFlushEvery defaults to an hour: only tests of usage wait for flushes.
	UsageFlushEvery time.Duration
	// FailedAuthPerMinute is the failed-auth throttle of the gateway and of
	// the services' gRPC ports.
	FailedAuthPerMinute int
	// KeyCacheTTL defaults to an hour, so that a revoked key refused within
	// a test's deadline proves the revocation was pushed.
	KeyCacheTTL time.Duration
	// ReadTimeout is the HTTP server's; 0 means its default.
	ReadTimeout time.Duration
	// Log receives the stack's log lines (debug and up); by default they go
	// nowhere, or to stderr when BUZHOU_TEST_LOG is set.
	Log io.Writer
	// QdrantURL puts the search index on Qdrant (the tests' fake).
	QdrantURL string
	// Verification, when set, changes the verification service's config
	// (the trust tests switch on the feed follower, link checks, schedules).
	Verification func(*verificationapp.Config)
	// Search, when set, changes the search service's config (the related
	// ids tests switch on their writing).
	Search func(*searchapp.Config)
	// TracingEndpoint, when set, is every part's OTEL_EXPORTER_OTLP_ENDPOINT.
	TracingEndpoint string
	// SearchCacheTTL is the gateway's BUZHOU_SEARCH_CACHE_TTL (off by default).
	SearchCacheTTL time.Duration
}

// parts is the shape of stack.Config: Start builds one for its caller's
// start function without naming the stack package.
type parts interface {
	~struct {
		Article      articleapp.Config
		Search       searchapp.Config
		Verification verificationapp.Config
		Gateway      gatewayapp.Config
	}
}

// Start runs a stack for tb with start and returns it once /readyz answers
// 200 at the gateway address addr reports; the stack stops when tb ends. It
// is generic over stack.Config and *stack.Stack, which it cannot name:
//
//	s := stacktest.Start(t, o, stack.Start, func(s *stack.Stack) string { return s.HTTPAddr })
func Start[C parts, S interface{ Stop() error }](tb testing.TB, o Options, start func(context.Context, C, *slog.Logger) (S, error), addr func(S) string) S {
	tb.Helper()
	o = o.withDefaults(tb)
	tr := tracing.Config{Endpoint: o.TracingEndpoint}
	verification := verificationapp.Config{
		DataDir: o.DataDir, DatabaseURL: o.DatabaseURL, AdminKey: AdminKey, FailedAuthPerMinute: o.FailedAuthPerMinute,
		Tracing: tr,
	}
	if o.Verification != nil {
		o.Verification(&verification)
	}
	search := searchapp.Config{
		DataDir: o.DataDir, DatabaseURL: o.DatabaseURL, QdrantURL: o.QdrantURL, FailedAuthPerMinute: o.FailedAuthPerMinute, KeyCacheTTL: o.KeyCacheTTL,
		Tracing: tr,
	}
	if o.Search != nil {
		o.Search(&search)
	}
	cfg := C{
		Article: articleapp.Config{
			DataDir: o.DataDir, DatabaseURL: o.DatabaseURL, SeedDemo: o.Seed, FailedAuthPerMinute: o.FailedAuthPerMinute, KeyCacheTTL: o.KeyCacheTTL,
			Tracing: tr,
		},
		Search:       search,
		Verification: verification,
		Gateway: gatewayapp.Config{
			HTTPAddr: "127.0.0.1:0", MaxBodyBytes: o.MaxBody, RedisURL: o.RedisURL, RedisKeyPrefix: o.RedisKeyPrefix, TrustedProxies: o.TrustedProxies,
			AnonPerMinute: o.AnonPerMinute, KeyPerMinute: o.KeyPerMinute, FailedAuthPerMinute: o.FailedAuthPerMinute,
			UsageFlushEvery: o.UsageFlushEvery, KeyCacheTTL: o.KeyCacheTTL, ReadTimeout: o.ReadTimeout,
			SearchCacheTTL: o.SearchCacheTTL, Tracing: tr,
		},
	}
	s, err := start(context.Background(), cfg, o.logger())
	if err != nil {
		tb.Fatalf("start stack: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("stop stack: %v", err)
		}
	})
	WaitReady(tb, "http://"+addr(s))
	return s
}

// withDefaults fills in what o leaves open.
func (o Options) withDefaults(tb testing.TB) Options {
	tb.Helper()
	if o.DataDir == "" {
		o.DataDir = tb.TempDir()
	}
	if o.DatabaseURL == "" {
		o.DatabaseURL = engineDatabase(tb, o.DataDir)
	}
	o.AnonPerMinute = cmp.Or(o.AnonPerMinute, 100000)
	o.KeyPerMinute = cmp.Or(o.KeyPerMinute, 100000)
	o.FailedAuthPerMinute = cmp.Or(o.FailedAuthPerMinute, 100000)
	o.UsageFlushEvery = cmp.Or(o.UsageFlushEvery, time.Hour)
	o.KeyCacheTTL = cmp.Or(o.KeyCacheTTL, time.Hour)
	return o
}

// databaseFile keeps a data directory's PostgreSQL schema URL in the
// directory itself, so a stack restarted on it finds its data again.
const databaseFile = "stacktest-database-url"

// engineDatabase is the PostgreSQL URL for a stack on dataDir when EngineEnv
// asks for PostgreSQL, else "" (SQLite in dataDir).
func engineDatabase(tb testing.TB, dataDir string) string {
	tb.Helper()
	switch e := os.Getenv(EngineEnv); e {
	case "", "sqlite":
		return ""
	case "postgres":
	default:
		tb.Fatalf("%s=%q: use sqlite or postgres", EngineEnv, e)
	}
	file := filepath.Join(dataDir, databaseFile)
	if u, err := os.ReadFile(file); err == nil {
		return string(u)
	}
	// A test's stack lives until its parallel subtests end, and those wait
	// for others: kept open, the idle pools of a whole package's waiting
	// stacks passed PostgreSQL's 100 connections ("too many clients
	// already"). Connections idle for a second are closed.
	u := sqldbtest.WithParam(tb, sqldbtest.FreshSchema(tb), "pool_max_conn_idle_time", "1s")
	if err := os.WriteFile(file, []byte(u), 0o600); err != nil {
		tb.Fatalf("remember the stack's schema: %v", err)
	}
	return u
}

func (o Options) logger() *slog.Logger {
	switch {
	case o.Log != nil:
		return slog.New(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	case os.Getenv("BUZHOU_TEST_LOG") != "":
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// WaitReady polls baseURL/readyz until it answers 200, failing tb after 20 s.
func WaitReady(tb testing.TB, baseURL string) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(baseURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("stack at %s never became ready", baseURL)
}

// CLIResult is what one client command printed and returned.
type CLIResult struct {
	Stdout, Stderr string
	Err            error
}

// RunCLI runs one client command as the buzhou binary does, with env as its
// whole environment (BUZHOU_URL, BUZHOU_API_KEY, …) and stdin as its input.
func RunCLI(env map[string]string, stdin string, args ...string) CLIResult {
	var stdout, stderr bytes.Buffer
	err := cli.Run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &stdout, &stderr)
	return CLIResult{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}
