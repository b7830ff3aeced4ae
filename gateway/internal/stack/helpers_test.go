package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"buzhou.dev/gateway/internal/stack/stacktest"
	"buzhou.dev/platform/auth"
	searchapp "buzhou.dev/search/app"
	verificationapp "buzhou.dev/verification/app"
)

const testAdminKey = stacktest.AdminKey

// options of a test stack (see stacktest.Options, which they become).
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
	// qdrantURL puts the search index on Qdrant (the tests' fake).
	qdrantURL string
	// verification, when set, changes the verification service's config
	// (the trust tests switch on the feed follower, links, schedules).
	verification func(*verificationapp.Config)
	// search, when set, changes the search service's config (the related
	// ids test switches on their writing).
	search func(*searchapp.Config)
	// tracingEndpoint, when set, is every part's OTEL_EXPORTER_OTLP_ENDPOINT.
	tracingEndpoint string
	// searchCacheTTL turns on the gateway's search answer cache.
	searchCacheTTL time.Duration
}

// startStack runs a whole Buzhou for one test and stops it at cleanup; on
// PostgreSQL when stacktest.EngineEnv says so.
func startStack(tb testing.TB, o options) *Stack {
	tb.Helper()
	return stacktest.Start(tb, stacktest.Options{
		DataDir: o.dataDir, DatabaseURL: o.databaseURL, Seed: o.seed, MaxBody: o.maxBody,
		AnonPerMinute: o.anonPerMinute, KeyPerMinute: o.keyPerMinute,
		RedisURL: o.redisURL, RedisKeyPrefix: o.redisKeyPrefix, TrustedProxies: o.trustedProxies,
		UsageFlushEvery: o.usageFlushEvery, FailedAuthPerMinute: o.failedAuthPerMinute,
		KeyCacheTTL: o.keyCacheTTL, ReadTimeout: o.readTimeout, Log: o.log, QdrantURL: o.qdrantURL, Verification: o.verification,
		Search:          o.search,
		TracingEndpoint: o.tracingEndpoint, SearchCacheTTL: o.searchCacheTTL,
	}, Start, gatewayAddr)
}

func gatewayAddr(s *Stack) string { return s.HTTPAddr }

func waitReady(tb testing.TB, s *Stack) {
	tb.Helper()
	stacktest.WaitReady(tb, "http://"+gatewayAddr(s))
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
