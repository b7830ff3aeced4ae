package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	gatewayapp "buzhou.dev/gateway/app"
	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/metrics"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// createKey makes a key through the REST API and returns id and secret.
func createKey(t testing.TB, admin *client, body map[string]any) (string, string) {
	t.Helper()
	r := must(t, admin.do("POST", "/api/v1/keys", body), http.StatusCreated).json(t)
	id, _ := r["id"].(string)
	key, _ := r["key"].(string)
	if id == "" || !strings.HasPrefix(key, "bzk_") || !strings.HasPrefix(key, r["prefix"].(string)) {
		t.Fatalf("created key: %v", r)
	}
	return id, key
}

func TestKeysOverREST(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	writerID, writer := createKey(t, admin, map[string]any{"name": "writer", "scopes": []string{"articles:write"}})
	_, verifier := createKey(t, admin, map[string]any{"name": "verifier", "scopes": []string{"verifications:write"}})
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if r := admin.do("POST", "/api/v1/keys", map[string]any{"name": "old", "scopes": []string{"articles:write"}, "expiresAt": past}); r.status != http.StatusBadRequest {
		t.Errorf("key expiring in the past: %d %s", r.status, r.body)
	}

	list := must(t, admin.do("GET", "/api/v1/keys", nil), http.StatusOK)
	if strings.Contains(string(list.body), writer) || strings.Contains(string(list.body), testAdminKey) {
		t.Fatalf("key list shows a secret: %s", list.body)
	}

	cases := []struct {
		name       string
		headers    []string
		wantStatus int
		wantInMsg  string
	}{
		{"writer via bearer", []string{"Authorization", "Bearer " + writer}, 201, ""},
		{"writer via x-api-key", []string{"x-api-key", writer}, 201, ""},
		{"scheme in any case", []string{"Authorization", "bEaReR " + writer}, 201, ""},
		{"no key", nil, 401, "articles:write"},
		{"unknown key", []string{"Authorization", "Bearer bzk_doesnotexist000000000000000000"}, 401, "unknown API key"},
		{"token scheme", []string{"Authorization", "Token " + writer}, 401, "Bearer"},
		{"basic scheme", []string{"Authorization", "Basic " + writer}, 401, "Bearer"},
		{"missing scheme", []string{"Authorization", writer}, 401, "missing scheme"},
		{"wrong scope", []string{"Authorization", "Bearer " + verifier}, 403, "articles:write"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &client{tb: t, base: admin.base}
			r := c.do("POST", "/api/v1/articles", article(fmt.Sprintf("Keys case %d", i)), tc.headers...)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			if tc.wantStatus >= 400 && !strings.Contains(string(r.body), tc.wantInMsg) {
				t.Errorf("message lacks %q: %s", tc.wantInMsg, r.body)
			}
			if r.status == 401 {
				h := r.header.Get("WWW-Authenticate")
				if !strings.HasPrefix(h, `Bearer realm="buzhou"`) || !strings.Contains(h, `error="invalid_token"`) || !strings.Contains(h, "error_description=") {
					t.Errorf("WWW-Authenticate %q", h)
				}
			}
			if r.status == 403 && !strings.Contains(string(r.body), "verifications:write") {
				t.Errorf("403 should name the scopes the key has: %s", r.body)
			}
		})
	}

	// Revocation takes effect within seconds, at the gateway and the services.
	must(t, admin.do("DELETE", "/api/v1/keys/"+writerID, nil), http.StatusOK)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := (&client{tb: t, base: admin.base, key: writer}).do("POST", "/api/v1/articles", article(fmt.Sprintf("After revoke %d", time.Now().UnixNano())))
		if r.status == http.StatusUnauthorized {
			if !strings.Contains(string(r.body), "revoked") {
				t.Errorf("revoked key message: %s", r.body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoked key still accepted: %d %s", r.status, r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Keys admin needs keys:admin.
	if r := (&client{tb: t, base: admin.base, key: verifier}).do("GET", "/api/v1/keys", nil); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "keys:admin") {
		t.Errorf("listing keys without keys:admin: %d %s", r.status, r.body)
	}
}

func TestKeysOverGRPC(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	ctx := context.Background()
	admin := identityv1.NewIdentityServiceClient(grpcConn(t, s.VerificationAddr, testAdminKey))
	k, err := admin.CreateApiKey(ctx, &identityv1.CreateApiKeyRequest{Name: "grpc writer", Scopes: []string{"articles:write"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		key  string
		want codes.Code
	}{
		{"valid key", k.GetKey(), codes.OK},
		{"no key", "", codes.Unauthenticated},
		{"unknown key", "bzk_nope", codes.Unauthenticated},
		{"bootstrap key", testAdminKey, codes.OK},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			arts := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, tc.key))
			_, err := arts.CreateArticle(ctx, &articlev1.CreateArticleRequest{Article: newArticle(fmt.Sprintf("gRPC key case %d", i))})
			if status.Code(err) != tc.want {
				t.Errorf("CreateArticle: %v, want %v", err, tc.want)
			}
		})
	}
	// The same key lacks keys:admin on the identity API.
	writer := identityv1.NewIdentityServiceClient(grpcConn(t, s.VerificationAddr, k.GetKey()))
	_, err = writer.ListApiKeys(ctx, &identityv1.ListApiKeysRequest{})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), "keys:admin") {
		t.Errorf("ListApiKeys with a writer key: %v", err)
	}
}

func TestRateLimitAnonymousAndSpoofedForwardedFor(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{anonPerMinute: 3})
	anon := newClient(t, s, "")
	for i := range 3 {
		r := must(t, anon.do("GET", "/api/v1/articles", nil, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i)), http.StatusOK)
		if r.header.Get("RateLimit-Limit") != "3" || r.header.Get("RateLimit-Remaining") != fmt.Sprint(2-i) || r.header.Get("RateLimit-Reset") == "" {
			t.Errorf("request %d headers: %v", i, r.header)
		}
	}
	r := anon.do("GET", "/api/v1/articles", nil, "X-Forwarded-For", "198.51.100.7")
	if r.status != http.StatusTooManyRequests || r.errorCode(t) != "RESOURCE_EXHAUSTED" || r.header.Get("Retry-After") == "" {
		t.Fatalf("4th anonymous call from an untrusted peer with a spoofed X-Forwarded-For: %d %v %s", r.status, r.header, r.body)
	}
	// A key has its own, higher bucket; the bootstrap key none at all.
	must(t, newClient(t, s, testAdminKey).do("GET", "/api/v1/articles", nil), http.StatusOK)
}

func TestRateLimitPerKeyAndQuota(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	_, limited := createKey(t, admin, map[string]any{"name": "slow", "scopes": []string{"articles:write"}, "rateLimitPerMinute": 2})
	c := newClient(t, s, limited)
	must(t, c.do("GET", "/api/v1/articles", nil), http.StatusOK)
	must(t, c.do("GET", "/api/v1/articles", nil), http.StatusOK)
	if r := c.do("GET", "/api/v1/articles", nil); r.status != http.StatusTooManyRequests || !strings.Contains(string(r.body), "key_") {
		t.Errorf("3rd call of a 2/min key: %d %s", r.status, r.body)
	}
	_, quoted := createKey(t, admin, map[string]any{"name": "quota", "scopes": []string{"articles:write"}, "dailyQuota": "1"})
	q := newClient(t, s, quoted)
	must(t, q.do("GET", "/api/v1/articles", nil), http.StatusOK)
	r := q.do("GET", "/api/v1/articles", nil)
	if r.status != http.StatusTooManyRequests || !strings.Contains(string(r.body), "daily quota") || !strings.Contains(string(r.body), "resets at") || r.header.Get("Retry-After") == "" {
		t.Errorf("over the daily quota: %d %v %s", r.status, r.header, r.body)
	}
}

// TestTwoGatewaysShareRedisLimits runs a second gateway in front of the same
// services and the same Redis: together they allow the limit once, not twice.
func TestTwoGatewaysShareRedisLimits(t *testing.T) {
	t.Parallel()
	url, prefix := testRedis(t)
	s := startStack(t, options{anonPerMinute: 4, redisURL: url, redisKeyPrefix: prefix})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- gatewayapp.Run(ctx, gatewayapp.Config{
			ArticleAddr: s.ArticleAddr, SearchAddr: s.SearchAddr, VerificationAddr: s.VerificationAddr,
			AnonPerMinute: 4, KeyPerMinute: 1000, RedisURL: url, RedisKeyPrefix: prefix, UsageFlushEvery: time.Hour,
			ServiceKey: s.ServiceKeys[auth.ServiceGateway],
		}, lis, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.NewRegistry())
	}()
	t.Cleanup(func() { cancel(); <-done })
	second := &Stack{HTTPAddr: lis.Addr().String()}
	waitReady(t, second)

	a, b := newClient(t, s, ""), newClient(t, second, "")
	for i := range 4 {
		c := a
		if i%2 == 1 {
			c = b
		}
		must(t, c.do("GET", "/api/v1/articles", nil), http.StatusOK)
	}
	for _, c := range []*client{a, b} {
		if r := c.do("GET", "/api/v1/articles", nil); r.status != http.StatusTooManyRequests {
			t.Errorf("5th call across two gateways: %d", r.status)
		}
	}
}

// testRedis returns the Redis at BUZHOU_TEST_REDIS_URL, as given, and a key
// prefix no other test uses, whose keys are deleted when t ends; or skips.
func testRedis(t *testing.T) (url, prefix string) {
	t.Helper()
	url = os.Getenv("BUZHOU_TEST_REDIS_URL")
	if url == "" {
		t.Skip("set BUZHOU_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15) to run the shared rate limit test")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("BUZHOU_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at BUZHOU_TEST_REDIS_URL: %v", err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix = "buzhou-stacktest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := c.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("delete test keys: %v", err)
		}
	})
	return url, prefix
}

// TestExpiredAndRevokedKeysOverGRPC checks the refusals of keys that once
// worked, as internal gRPC clients see them.
func TestExpiredAndRevokedKeysOverGRPC(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	ctx := context.Background()
	admin := identityv1.NewIdentityServiceClient(grpcConn(t, s.VerificationAddr, testAdminKey))
	soon, err := admin.CreateApiKey(ctx, &identityv1.CreateApiKeyRequest{Name: "short-lived", Scopes: []string{"articles:write"}, ExpiresAt: timestamppb.New(time.Now().Add(3 * time.Second))})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := admin.CreateApiKey(ctx, &identityv1.CreateApiKeyRequest{Name: "to revoke", Scopes: []string{"articles:write"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RevokeApiKey(ctx, &identityv1.RevokeApiKeyRequest{Id: gone.GetId()}); err != nil {
		t.Fatal(err)
	}
	malformed := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, ""))
	mctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Token "+soon.GetKey())
	if _, err := malformed.CreateArticle(mctx, &articlev1.CreateArticleRequest{Article: newArticle("malformed")}); status.Code(err) != codes.Unauthenticated || !strings.Contains(status.Convert(err).Message(), "Bearer") {
		t.Errorf("Token scheme over gRPC: %v", err)
	}

	waitRefused := func(key, want string) {
		t.Helper()
		arts := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, key))
		deadline := time.Now().Add(15 * time.Second)
		for i := 0; ; i++ {
			_, err := arts.CreateArticle(ctx, &articlev1.CreateArticleRequest{Article: newArticle(fmt.Sprintf("%s %d", want, i))})
			if status.Code(err) == codes.Unauthenticated {
				if !strings.Contains(status.Convert(err).Message(), want) {
					t.Errorf("refusal %q should say %q", status.Convert(err).Message(), want)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("key still accepted (%v); want refusal saying %q", err, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitRefused(gone.GetKey(), "revoked at")
	waitRefused(soon.GetKey(), "expired at")
	// REST says the same.
	r := newClient(t, s, soon.GetKey()).do("POST", "/api/v1/articles", article("expired over REST"))
	if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "expired at") {
		t.Errorf("expired key over REST: %d %s", r.status, r.body)
	}
}
