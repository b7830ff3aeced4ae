package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/errs"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// Cache lifetimes of key checks. Revocations are pushed (see Start), so the
// positive one only bounds how long a revoked key lives while the push
// stream is down.
const (
	DefaultPositiveTTL = 3 * time.Second
	DefaultNegativeTTL = 2 * time.Second
	maxCachedKeys      = 10000

	// Reconnecting the revocation stream backs off from minBackoff to maxBackoff.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// Remote checks keys with the identity service over gRPC and caches answers
// briefly, positive and negative alike. Secrets are cached by hash only.
// Start follows the identity service's revocations, which evict a revoked
// key at once.
type Remote struct {
	client      identityv1.IdentityServiceClient
	positiveTTL time.Duration
	negativeTTL time.Duration
	now         func() time.Time
	log         *slog.Logger

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cached
	// gen counts evictions. An answer fetched while one happened may predate
	// it, so it is used but not cached.
	gen uint64
	// evicted is told of every eviction; tests wait on it.
	evicted func()
}

type cached struct {
	p     *Principal
	err   error
	until time.Time
}

var _ Authenticator = (*Remote)(nil)

// NewRemote returns an Authenticator backed by client that caches accepted
// keys for ttl (<= 0: DefaultPositiveTTL) and refused ones for
// DefaultNegativeTTL. A nil log discards its logs; now may be nil (time.Now).
func NewRemote(client identityv1.IdentityServiceClient, ttl time.Duration, log *slog.Logger, now func() time.Time) *Remote {
	if ttl <= 0 {
		ttl = DefaultPositiveTTL
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Remote{
		client: client, positiveTTL: ttl, negativeTTL: DefaultNegativeTTL, now: now, log: log,
		cache: map[[sha256.Size]byte]cached{}, evicted: func() {},
	}
}

// Authenticate implements Authenticator.
func (r *Remote) Authenticate(ctx context.Context, secret string) (*Principal, error) {
	h := sha256.Sum256([]byte(secret))
	now := r.now()
	r.mu.Lock()
	c, ok := r.cache[h]
	gen := r.gen
	r.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.p, c.err
	}

	var trailer metadata.MD
	resp, err := r.client.AuthenticateApiKey(ctx, &identityv1.AuthenticateApiKeyRequest{Key: secret}, grpc.Trailer(&trailer))
	switch {
	case err == nil:
		c = cached{p: PrincipalFromProto(resp), until: now.Add(r.positiveTTL)}
		if exp := resp.GetApiKey().GetExpiresAt(); exp != nil && exp.AsTime().Before(c.until) {
			c.until = exp.AsTime() // never past the key's own end
		}
	case status.Code(err) == codes.Unauthenticated:
		reason := ReasonUnknown
		if v := trailer.Get(ReasonTrailer); len(v) > 0 {
			reason = v[0]
		}
		c = cached{err: Refuse(reason, "%s", status.Convert(err).Message()), until: now.Add(r.negativeTTL)}
	default:
		// Not the key's fault: do not cache, and do not call it a bad key.
		r.log.WarnContext(ctx, "cannot check an API key with the identity service", "err", err)
		return nil, fmt.Errorf("%w: cannot check the API key right now; retry in a few seconds", errs.ErrUnavailable)
	}
	r.store(h, c, gen, now)
	return c.p, c.err
}

// Vouch implements Voucher: the principal of a fresh positive cache entry.
func (r *Remote) Vouch(secret string) *Principal {
	h := sha256.Sum256([]byte(secret))
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.cache[h]; ok && c.p != nil && r.now().Before(c.until) {
		return c.p
	}
	return nil
}

// store caches c unless an eviction happened since gen was read.
func (r *Remote) store(h [sha256.Size]byte, c cached, gen uint64, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen != gen {
		return
	}
	if len(r.cache) >= maxCachedKeys {
		for k, v := range r.cache {
			if !now.Before(v.until) {
				delete(r.cache, k)
			}
		}
		if len(r.cache) >= maxCachedKeys {
			clear(r.cache)
		}
	}
	r.cache[h] = c
}

// evict drops the cached answers for key id, or every answer when id is "".
func (r *Remote) evict(id string) {
	r.mu.Lock()
	r.gen++
	if id == "" {
		clear(r.cache)
	}
	for h, c := range r.cache {
		if c.p != nil && c.p.KeyID == id {
			delete(r.cache, h)
		}
	}
	r.mu.Unlock()
	r.evicted()
}

// Start follows the identity service's WatchKeyRevocations stream until ctx
// ends or stop is called, and returns stop, which waits for it to end. The
// stream is reopened when it breaks, with backoff; each time it opens the
// whole cache is dropped, since revocations may have been missed meanwhile.
func (r *Remote) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.follow(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

func (r *Remote) follow(ctx context.Context) {
	backoff := minBackoff
	for {
		opened, err := r.watch(ctx)
		if ctx.Err() != nil {
			return
		}
		if opened {
			backoff = minBackoff
		}
		// Jitter keeps many followers from reconnecting in step.
		wait := backoff/2 + rand.N(backoff/2+1)
		r.log.WarnContext(ctx, "revocation stream from the identity service broke; revoked keys are refused within the cache lifetime until it is back",
			"err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// watch reads one revocation stream until it breaks; opened says whether it
// got as far as the server's headers.
func (r *Remote) watch(ctx context.Context) (opened bool, err error) {
	stream, err := r.client.WatchKeyRevocations(ctx, &identityv1.WatchKeyRevocationsRequest{})
	if err != nil {
		return false, err
	}
	// The server subscribes before it sends its headers: from here on no
	// revocation is missed, so what the cache holds from before can go.
	md, err := stream.Header()
	if err != nil || md == nil {
		_, err = stream.Recv()
		return false, err
	}
	r.evict("")
	for {
		ev, err := stream.Recv()
		if err != nil {
			return true, err
		}
		r.evict(ev.GetKeyId())
	}
}

// PrincipalFromProto converts the identity service's answer.
func PrincipalFromProto(resp *identityv1.AuthenticateApiKeyResponse) *Principal {
	k := resp.GetApiKey()
	return &Principal{
		ID:            resp.GetPrincipal().GetId(),
		Name:          resp.GetPrincipal().GetName(),
		Type:          resp.GetPrincipal().GetType(),
		KeyID:         k.GetId(),
		Scopes:        k.GetScopes(),
		Bootstrap:     resp.GetBootstrap(),
		Unlimited:     resp.GetUnlimited(),
		RatePerMinute: int(k.GetRateLimitPerMinute()),
		DailyQuota:    k.GetDailyQuota(),
		MonthlyQuota:  k.GetMonthlyQuota(),
	}
}
