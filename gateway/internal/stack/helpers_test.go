package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	articleapp "buzhou.dev/article/app"
	gatewayapp "buzhou.dev/gateway/app"
	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/sqldb/sqldbtest"
	"buzhou.dev/platform/tracing"
	searchapp "buzhou.dev/search/app"
	verificationapp "buzhou.dev/verification/app"
)

const testAdminKey = "bz_test_admin_key_0123456789abcdef"

// engineEnv set to "postgres" runs every stack test on PostgreSQL (a fresh
// schema per data directory) instead of SQLite; `make test` runs this
// package a second time so when BUZHOU_TEST_POSTGRES_URL is set.
const engineEnv = "BUZHOU_TEST_STACK_ENGINE"

// schemas maps a data directory to its PostgreSQL schema URL, so a test that
// restarts a stack on the same directory finds its data again.
var schemas sync.Map

// onEngine points o at PostgreSQL when engineEnv asks for it.
func (o *options) onEngine(tb testing.TB) {
	tb.Helper()
	switch e := os.Getenv(engineEnv); e {
	case "", "sqlite":
		return
	case "postgres":
	default:
		tb.Fatalf("%s=%q: use sqlite or postgres", engineEnv, e)
	}
	if o.databaseURL != "" {
		return
	}
	if u, ok := schemas.Load(o.dataDir); ok {
		o.databaseURL = u.(string)
		return
	}
	o.databaseURL = sqldbtest.FreshSchema(tb)
	schemas.Store(o.dataDir, o.databaseURL)
}

// options of a test stack.
type options struct {
	dataDir     string
	databaseURL string
	seed        bool
	maxBody     int64
	// Rate limits default to values no test reaches.
	anonPerMinute, keyPerMinute int
	redisURL, redisKeyPrefix    string
	trustedProxies              []string
	// usageFlushEvery defaults to an hour: only the stats test waits for flushes.
	usageFlushEvery time.Duration
	// failedAuthPerMinute is the failed-auth throttle of the gateway and of
	// the services' gRPC ports; by default no test reaches it.
	failedAuthPerMinute int
	// keyCacheTTL defaults to an hour, so that a revoked key refused within
	// a test's deadline proves the revocation was pushed.
	keyCacheTTL time.Duration
	// readTimeout is the HTTP server's; 0 means the default (30 s).
	readTimeout time.Duration
	// log receives the stack's log lines (debug and up) when set.
	log io.Writer
	// tracingEndpoint, when set, is every part's OTEL_EXPORTER_OTLP_ENDPOINT.
	tracingEndpoint string
}

// startStack runs a whole Buzhou for one test and stops it at cleanup.
func startStack(tb testing.TB, o options) *Stack {
	tb.Helper()
	if o.dataDir == "" {
		o.dataDir = tb.TempDir()
	}
	o.onEngine(tb)
	if o.anonPerMinute == 0 {
		o.anonPerMinute = 100000
	}
	if o.usageFlushEvery == 0 {
		o.usageFlushEvery = time.Hour
	}
	if o.keyPerMinute == 0 {
		o.keyPerMinute = 100000
	}
	if o.failedAuthPerMinute == 0 {
		o.failedAuthPerMinute = 100000
	}
	if o.keyCacheTTL == 0 {
		o.keyCacheTTL = time.Hour
	}
	cfg := Config{
		Article: articleapp.Config{
			DataDir: o.dataDir, DatabaseURL: o.databaseURL, SeedDemo: o.seed, FailedAuthPerMinute: o.failedAuthPerMinute, KeyCacheTTL: o.keyCacheTTL,
		},
		Search: searchapp.Config{FailedAuthPerMinute: o.failedAuthPerMinute, KeyCacheTTL: o.keyCacheTTL},
		Verification: verificationapp.Config{
			DataDir: o.dataDir, DatabaseURL: o.databaseURL, AdminKey: testAdminKey, FailedAuthPerMinute: o.failedAuthPerMinute,
		},
		Gateway: gatewayapp.Config{
			HTTPAddr: "127.0.0.1:0", MaxBodyBytes: o.maxBody, RedisURL: o.redisURL, RedisKeyPrefix: o.redisKeyPrefix, TrustedProxies: o.trustedProxies,
			AnonPerMinute: o.anonPerMinute, KeyPerMinute: o.keyPerMinute, FailedAuthPerMinute: o.failedAuthPerMinute,
			UsageFlushEvery: o.usageFlushEvery, KeyCacheTTL: o.keyCacheTTL, ReadTimeout: o.readTimeout,
		},
	}
	tr := tracing.Config{Endpoint: o.tracingEndpoint}
	cfg.Article.Tracing, cfg.Search.Tracing, cfg.Verification.Tracing, cfg.Gateway.Tracing = tr, tr, tr, tr
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	switch {
	case o.log != nil:
		log = slog.New(slog.NewTextHandler(o.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	case os.Getenv("BUZHOU_TEST_LOG") != "":
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := Start(context.Background(), cfg, log)
	if err != nil {
		tb.Fatalf("start stack: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("stop stack: %v", err)
		}
	})
	waitReady(tb, s)
	return s
}

func waitReady(tb testing.TB, s *Stack) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.HTTPAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("stack at %s never became ready", s.HTTPAddr)
}

// client is a small REST client for tests.
type client struct {
	tb   testing.TB
	base string
	key  string
}

func newClient(tb testing.TB, s *Stack, key string) *client {
	return &client{tb: tb, base: "http://" + s.HTTPAddr, key: key}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// errorCode returns error.code of an error body.
func (r response) errorCode(tb testing.TB) string {
	tb.Helper()
	e, ok := r.json(tb)["error"].(map[string]any)
	if !ok {
		tb.Fatalf("no error object in %s", r.body)
	}
	if e["requestId"] == "" || e["message"] == "" {
		tb.Errorf("error body lacks message or requestId: %s", r.body)
	}
	return e["code"].(string)
}

func (c *client) do(method, path string, body any, headers ...string) response {
	c.tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.tb.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// must fails the test unless the response has the wanted status.
func must(tb testing.TB, r response, want int) response {
	tb.Helper()
	if r.status != want {
		tb.Fatalf("status %d, want %d; body: %s", r.status, want, r.body)
	}
	return r
}

// article builds a valid article body with the given English title.
func article(title string) map[string]any {
	return map[string]any{
		"title":   map[string]any{"en": title, "zh": "中文标题 " + title},
		"summary": map[string]any{"en": "Summary of " + title, "zh": "摘要"},
		"content": map[string]any{"en": "## Fix\n\nDo the thing.", "zh": "## 解决\n\n照做。"},
		"domain":  "error_codes",
		"tags":    []string{"api-key", "401-error"},
		"codeBlocks": []map[string]any{
			{"language": "bash", "code": "echo ok", "description": "check", "runnable": true},
		},
		"qaPairs": []map[string]any{
			{"question": map[string]any{"en": "Why?"}, "answer": map[string]any{"en": "Because."}},
		},
		"references": []map[string]any{{"title": "RFC 6750", "url": "https://www.rfc-editor.org/rfc/rfc6750"}},
	}
}

func path(format string, args ...any) string {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = url.PathEscape(s)
		}
	}
	return fmt.Sprintf(format, args...)
}

// grpcConn dials a service with an optional key.
func grpcConn(tb testing.TB, addr, key string) *grpc.ClientConn {
	tb.Helper()
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(auth.KeyCredentials(key)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}
