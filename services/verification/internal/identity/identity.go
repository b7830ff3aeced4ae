// Package identity is Buzhou's identity API: principals (agents, bots, human
// experts), their API keys and per-agent usage counts. The verification
// service hosts it, being the trust domain.
//
// Service is both the gRPC IdentityService and the auth.Authenticator of the
// verification service itself, which checks keys locally, against the store
// on every call (nothing cached, so a revocation holds at once); the other
// services call AuthenticateApiKey over gRPC and follow WatchKeyRevocations.
// Secrets are shown once, at creation, and stored only as their SHA-256.
package identity

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/platform/auth"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	"buzhou.dev/verification/internal/store"
)

// Store is what the identity API needs of the verification store.
type Store interface {
	CreatePrincipal(ctx context.Context, p store.Principal) (store.Principal, error)
	ListPrincipals(ctx context.Context, page store.Page) ([]store.Principal, string, error)
	CreateKey(ctx context.Context, k store.Key, newOwner *store.Principal) (store.Key, error)
	GetKey(ctx context.Context, id string) (store.Key, error)
	KeyByHash(ctx context.Context, secretHash string) (store.Key, store.Principal, error)
	ListKeys(ctx context.Context, page store.Page) ([]store.Key, string, error)
	RevokeKey(ctx context.Context, id string) (store.Key, error)
	UpsertBootstrapKey(ctx context.Context, owner store.Principal, k store.Key) (store.Key, error)
	AddAgentUsage(ctx context.Context, usage []store.AgentUsage) error
	AgentUsageTotals(ctx context.Context, limit int) ([]store.AgentTotals, error)
	EnsureVerifier(ctx context.Context, p store.Principal) error
}

// Service implements the identity API.
type Service struct {
	identityv1.UnimplementedIdentityServiceServer

	st  Store
	now func() time.Time
	log *slog.Logger
	// revocations go to every WatchKeyRevocations stream, which end when
	// stop closes.
	revocations *broadcaster
	stop        <-chan struct{}

	// fixed holds the principals of the fixed keys this process ensured, by
	// secret hash, for Vouch.
	mu    sync.Mutex
	fixed map[string]*auth.Principal
}

var (
	_ identityv1.IdentityServiceServer = (*Service)(nil)
	_ auth.Authenticator               = (*Service)(nil)
	_ auth.Voucher                     = (*Service)(nil)
	_ Store                            = store.Store(nil)
)

// New returns the identity service on st. now is the clock keys expire by;
// nil means time.Now. A nil log discards the service's logs. Closing stop
// ends the revocation streams, so that a graceful stop need not wait for
// them; nil never does.
func New(st Store, now func() time.Time, log *slog.Logger, stop <-chan struct{}) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, now: now, log: log, revocations: newBroadcaster(), stop: stop, fixed: map[string]*auth.Principal{}}
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func principalProto(p store.Principal) *identityv1.Principal {
	return &identityv1.Principal{
		Id:         p.ID,
		Name:       p.Name,
		Type:       p.Type,
		CreateTime: timestamp(p.CreatedAt),
	}
}

// keyProto never carries the secret's hash.
func keyProto(k store.Key) *identityv1.ApiKey {
	return &identityv1.ApiKey{
		Id:                 k.ID,
		Name:               k.Name,
		Prefix:             k.Prefix,
		Scopes:             append([]string(nil), k.Scopes...),
		PrincipalId:        k.PrincipalID,
		ExpiresAt:          timestamp(k.ExpiresAt),
		RevokedAt:          timestamp(k.RevokedAt),
		CreatedAt:          timestamp(k.CreatedAt),
		RateLimitPerMinute: k.RateLimitPerMinute,
		DailyQuota:         k.DailyQuota,
		MonthlyQuota:       k.MonthlyQuota,
	}
}

// caller names the authenticated caller for logs.
func caller(ctx context.Context) string {
	if p := auth.FromContext(ctx); p != nil {
		return p.ID
	}
	return ""
}
