package auth

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/errs"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// fakeIdentity answers AuthenticateApiKey from a map of valid keys.
type fakeIdentity struct {
	identityv1.UnimplementedIdentityServiceServer
	calls atomic.Int64
	mu    sync.Mutex
	keys  map[string]bool
	down  bool
}

func (f *fakeIdentity) AuthenticateApiKey(ctx context.Context, req *identityv1.AuthenticateApiKeyRequest) (*identityv1.AuthenticateApiKeyResponse, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "db down")
	}
	if !f.keys[req.GetKey()] {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(ReasonTrailer, ReasonRevoked))
		return nil, status.Error(codes.Unauthenticated, "API key key_1 was revoked at 2026-01-01T00:00:00Z; create a new key")
	}
	return &identityv1.AuthenticateApiKeyResponse{
		ApiKey:    &identityv1.ApiKey{Id: "key_1", Scopes: []string{ScopeArticlesWrite}, RateLimitPerMinute: 50, DailyQuota: 7},
		Principal: &identityv1.Principal{Id: "prn_1", Name: "bot", Type: "third_party_agent"},
	}, nil
}

func (f *fakeIdentity) set(key string, ok, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[key] = ok
	f.down = down
}

func startFake(t *testing.T) (*fakeIdentity, identityv1.IdentityServiceClient) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIdentity{keys: map[string]bool{}}
	srv := grpc.NewServer()
	identityv1.RegisterIdentityServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return f, identityv1.NewIdentityServiceClient(conn)
}

func TestRemoteCachesAndSeesRevocation(t *testing.T) {
	t.Parallel()
	f, client := startFake(t)
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	r := NewRemote(client, clock)
	ctx := context.Background()
	f.set("good", true, false)

	p, err := r.Authenticate(ctx, "good")
	if err != nil {
		t.Fatal(err)
	}
	if p.KeyID != "key_1" || p.Type != "third_party_agent" || p.RatePerMinute != 50 || p.DailyQuota != 7 || !p.Has(ScopeArticlesWrite) {
		t.Errorf("principal %+v", p)
	}
	if _, err := r.Authenticate(ctx, "good"); err != nil || f.calls.Load() != 1 {
		t.Fatalf("second call should hit the cache: calls=%d err=%v", f.calls.Load(), err)
	}

	f.set("good", false, false) // revoked
	if _, err := r.Authenticate(ctx, "good"); err != nil {
		t.Fatalf("within the TTL the cached answer stands: %v", err)
	}
	if r.Vouch("good") == nil || r.Vouch("other") != nil {
		t.Errorf("Vouch should know the cached key, and only it")
	}
	now = now.Add(DefaultPositiveTTL)
	if r.Vouch("good") != nil {
		t.Errorf("Vouch knows a key whose cache entry expired")
	}
	_, err = r.Authenticate(ctx, "good")
	if !errors.Is(err, errs.ErrUnauthenticated) || errs.Message(err) == "" || ReasonOf(err) != ReasonRevoked {
		t.Fatalf("after the TTL a revoked key is refused with the reason (from the trailer): %v, %q", err, ReasonOf(err))
	}
	calls := f.calls.Load()
	if _, err := r.Authenticate(ctx, "good"); !errors.Is(err, errs.ErrUnauthenticated) || f.calls.Load() != calls {
		t.Errorf("refusals are cached too: %v, calls %d→%d", err, calls, f.calls.Load())
	}
}

func TestRemoteUnavailableIsNotABadKey(t *testing.T) {
	t.Parallel()
	f, client := startFake(t)
	r := NewRemote(client, nil)
	f.set("k", true, true)
	_, err := r.Authenticate(context.Background(), "k")
	if !errors.Is(err, errs.ErrUnavailable) || ReasonOf(err) != "" {
		t.Fatalf("identity down should be Unavailable, got %v", err)
	}
	f.set("k", true, false)
	if _, err := r.Authenticate(context.Background(), "k"); err != nil {
		t.Errorf("an outage must not be cached: %v", err)
	}
}
