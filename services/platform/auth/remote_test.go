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
	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/platform/errs"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// fakeIdentity answers AuthenticateApiKey from a map of valid keys and
// streams the revocations pushed to it.
type fakeIdentity struct {
	identityv1.UnimplementedIdentityServiceServer
	calls atomic.Int64

	mu      sync.Mutex
	keys    map[string]bool
	expires map[string]time.Time
	down    bool
	// hold, when set, blocks AuthenticateApiKey until it is closed.
	hold chan struct{}
	// streams are the open WatchKeyRevocations streams; closing one's
	// channel ends it.
	streams []chan *identityv1.KeyRevocation
	opened  chan struct{} // gets a value for every stream opened
}

func (f *fakeIdentity) AuthenticateApiKey(ctx context.Context, req *identityv1.AuthenticateApiKeyRequest) (*identityv1.AuthenticateApiKeyResponse, error) {
	f.calls.Add(1)
	f.mu.Lock()
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "db down")
	}
	if !f.keys[req.GetKey()] {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(ReasonTrailer, ReasonRevoked))
		return nil, status.Error(codes.Unauthenticated, "API key key_1 was revoked at 2026-01-01T00:00:00Z; create a new key")
	}
	k := &identityv1.ApiKey{Id: "key_1", Scopes: []string{ScopeArticlesWrite}, RateLimitPerMinute: 50, DailyQuota: 7}
	if at, ok := f.expires[req.GetKey()]; ok {
		k.ExpiresAt = timestamppb.New(at)
	}
	return &identityv1.AuthenticateApiKeyResponse{
		ApiKey:    k,
		Principal: &identityv1.Principal{Id: "prn_1", Name: "bot", Type: "third_party_agent"},
	}, nil
}

func (f *fakeIdentity) WatchKeyRevocations(_ *identityv1.WatchKeyRevocationsRequest, stream grpc.ServerStreamingServer[identityv1.KeyRevocation]) error {
	ch := make(chan *identityv1.KeyRevocation, 8)
	f.mu.Lock()
	f.streams = append(f.streams, ch)
	f.mu.Unlock()
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	f.opened <- struct{}{}
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case ev, ok := <-ch:
			if !ok {
				return status.Error(codes.Unavailable, "going away")
			}
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}

func (f *fakeIdentity) set(key string, ok, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[key] = ok
	f.down = down
}

// push sends a revocation to every open stream.
func (f *fakeIdentity) push(keyID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.streams {
		ch <- &identityv1.KeyRevocation{KeyId: keyID}
	}
}

// breakStreams ends every open stream.
func (f *fakeIdentity) breakStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.streams {
		close(ch)
	}
	f.streams = nil
}

func startFake(t *testing.T) (*fakeIdentity, identityv1.IdentityServiceClient) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIdentity{keys: map[string]bool{}, expires: map[string]time.Time{}, opened: make(chan struct{}, 8)}
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

// following starts r following revocations and returns a channel that gets a
// value after every eviction; the first one, the cache drop when the stream
// opens, has been received already.
func following(t *testing.T, f *fakeIdentity, r *Remote) <-chan struct{} {
	t.Helper()
	evicted := make(chan struct{}, 8)
	r.evicted = func() { evicted <- struct{}{} }
	t.Cleanup(r.Start(context.Background()))
	<-f.opened
	<-evicted
	return evicted
}

func TestRemoteCachesAndSeesRevocation(t *testing.T) {
	t.Parallel()
	f, client := startFake(t)
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	r := NewRemote(client, 0, nil, clock)
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

	f.set("good", false, false) // revoked, and not pushed: the TTL is the fallback
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

func TestRemoteCachesNoLongerThanTheKeyLives(t *testing.T) {
	t.Parallel()
	f, client := startFake(t)
	now := time.Unix(1_800_000_000, 0)
	r := NewRemote(client, 0, nil, func() time.Time { return now })
	f.set("brief", true, false)
	f.mu.Lock()
	f.expires["brief"] = now.Add(time.Second)
	f.mu.Unlock()
	if _, err := r.Authenticate(context.Background(), "brief"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if _, err := r.Authenticate(context.Background(), "brief"); err != nil || f.calls.Load() != 2 {
		t.Errorf("an expired key must be checked again, not served from the cache: calls=%d", f.calls.Load())
	}
}

func TestRemoteUnavailableIsNotABadKey(t *testing.T) {
	t.Parallel()
	f, client := startFake(t)
	r := NewRemote(client, 0, nil, nil)
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

// TestRemoteEvictsPushedRevocation: a pushed revocation evicts the key at
// once, long before its cache entry would expire.
func TestRemoteEvictsPushedRevocation(t *testing.T) {
	t.Parallel()
	f, client := startFake(t)
	r := NewRemote(client, 0, nil, nil)
	evicted := following(t, f, r)
	f.set("good", true, false)
	f.set("other", true, false)
	for _, k := range []string{"good", "good", "other"} {
		if _, err := r.Authenticate(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	if f.calls.Load() != 2 {
		t.Fatalf("calls = %d, want 2 (the second is cached)", f.calls.Load())
	}
	f.set("good", false, false)
	f.push("key_1")
	<-evicted
	if _, err := r.Authenticate(context.Background(), "good"); ReasonOf(err) != ReasonRevoked {
		t.Fatalf("after the push: %v, want the revocation", err)
	}
	f.push("key_unrelated")
	<-evicted
	if _, err := r.Authenticate(context.Background(), "good"); ReasonOf(err) != ReasonRevoked || f.calls.Load() != 3 {
		t.Errorf("the refusal should be cached and untouched by another key's revocation: %v, calls %d", err, f.calls.Load())
	}
}

// TestRemoteDropsCacheOnReconnect: a broken stream is reopened, and then the
// whole cache goes, since revocations may have been missed in between.
func TestRemoteDropsCacheOnReconnect(t *testing.T) {
	t.Parallel()
	f, client := startFake(t)
	r := NewRemote(client, 0, nil, nil)
	evicted := following(t, f, r)
	f.set("good", true, false)
	if _, err := r.Authenticate(context.Background(), "good"); err != nil {
		t.Fatal(err)
	}
	f.set("good", false, false) // revoked while no stream is there to say so
	f.breakStreams()
	<-f.opened
	<-evicted
	if _, err := r.Authenticate(context.Background(), "good"); ReasonOf(err) != ReasonRevoked {
		t.Fatalf("after the reconnect: %v, want the revocation", err)
	}
}

// TestRemoteDoesNotCacheAcrossEviction: an answer fetched while a
// revocation arrived may predate it, so it is not cached.
func TestRemoteDoesNotCacheAcrossEviction(t *testing.T) {
	t.Parallel()
	f, client := startFake(t)
	r := NewRemote(client, 0, nil, nil)
	evicted := following(t, f, r)
	f.set("good", true, false)
	hold := make(chan struct{})
	f.mu.Lock()
	f.hold = hold
	f.mu.Unlock()
	done := make(chan error)
	go func() {
		_, err := r.Authenticate(context.Background(), "good")
		done <- err
	}()
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	f.push("key_1")
	<-evicted
	f.mu.Lock()
	f.hold = nil
	f.mu.Unlock()
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f.set("good", false, false)
	if _, err := r.Authenticate(context.Background(), "good"); ReasonOf(err) != ReasonRevoked {
		t.Fatalf("the answer from before the revocation was cached: %v", err)
	}
}
