package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/errs"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// Cache lifetimes of key checks. Short, so that a revoked key stops working
// within seconds while a busy caller costs one identity lookup per few seconds.
const (
	DefaultPositiveTTL = 3 * time.Second
	DefaultNegativeTTL = 2 * time.Second
	maxCachedKeys      = 10000
)

// Remote checks keys with the identity service over gRPC and caches answers
// briefly, positive and negative alike. Secrets are cached by hash only.
type Remote struct {
	client      identityv1.IdentityServiceClient
	positiveTTL time.Duration
	negativeTTL time.Duration
	now         func() time.Time

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cached
}

type cached struct {
	p     *Principal
	err   error
	until time.Time
}

var (
	_ Authenticator = (*Remote)(nil)
	_ Voucher       = (*Remote)(nil)
)

// NewRemote returns an Authenticator backed by client with the default cache
// lifetimes. now may be nil (time.Now).
func NewRemote(client identityv1.IdentityServiceClient, now func() time.Time) *Remote {
	if now == nil {
		now = time.Now
	}
	return &Remote{client: client, positiveTTL: DefaultPositiveTTL, negativeTTL: DefaultNegativeTTL, now: now, cache: map[[sha256.Size]byte]cached{}}
}

// Authenticate implements Authenticator.
func (r *Remote) Authenticate(ctx context.Context, secret string) (*Principal, error) {
	h := sha256.Sum256([]byte(secret))
	now := r.now()
	r.mu.Lock()
	c, ok := r.cache[h]
	r.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.p, c.err
	}

	var trailer metadata.MD
	resp, err := r.client.AuthenticateApiKey(ctx, &identityv1.AuthenticateApiKeyRequest{Key: secret}, grpc.Trailer(&trailer))
	switch {
	case err == nil:
		c = cached{p: PrincipalFromProto(resp), until: now.Add(r.positiveTTL)}
	case status.Code(err) == codes.Unauthenticated:
		reason := ReasonUnknown
		if v := trailer.Get(ReasonTrailer); len(v) > 0 {
			reason = v[0]
		}
		c = cached{err: Refuse(reason, "%s", status.Convert(err).Message()), until: now.Add(r.negativeTTL)}
	default:
		// Not the key's fault: do not cache, and do not call it a bad key.
		return nil, fmt.Errorf("%w: cannot check the API key right now; retry in a few seconds", errs.ErrUnavailable)
	}
	r.mu.Lock()
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
	r.mu.Unlock()
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
