package identity

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	"buzhou.dev/verification/internal/store"
)

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// resolve finds the key a presented secret belongs to and refuses keys that
// are malformed, unknown, revoked or expired, saying which. It reads the
// store every time: nothing here caches a key, so a revocation holds for the
// very next call.
func (s *Service) resolve(ctx context.Context, secret string) (store.Key, store.Principal, error) {
	if secret == "" {
		return store.Key{}, store.Principal{}, auth.Refuse(auth.ReasonMissing, "no API key; send \"Authorization: Bearer <key>\" or \"x-api-key: <key>\"")
	}
	if err := auth.CheckKey(secret); err != nil {
		return store.Key{}, store.Principal{}, err
	}
	hash := hashSecret(secret)
	k, p, err := s.st.KeyByHash(ctx, hash)
	// The index lookup already matched the hash; comparing again in constant
	// time guards against a store that matches loosely (collation, case).
	if errors.Is(err, errs.ErrNotFound) || (err == nil && subtle.ConstantTimeCompare([]byte(k.SecretHash), []byte(hash)) != 1) {
		return store.Key{}, store.Principal{}, auth.Refuse(auth.ReasonUnknown,
			"unknown API key (prefix %s); check for typos or create one with `buzhou keys create`", auth.KeyHint(secret))
	}
	if err != nil {
		return store.Key{}, store.Principal{}, fmt.Errorf("identity: look up API key: %w", err)
	}
	if !k.RevokedAt.IsZero() {
		return store.Key{}, store.Principal{}, auth.Refuse(auth.ReasonRevoked, "API key %s was revoked at %s; create a new key", k.ID, rfc3339(k.RevokedAt))
	}
	if !k.ExpiresAt.IsZero() && !s.now().Before(k.ExpiresAt) {
		return store.Key{}, store.Principal{}, auth.Refuse(auth.ReasonExpired,
			"API key %s expired at %s; create a new key or ask an admin to extend it", k.ID, rfc3339(k.ExpiresAt))
	}
	return k, p, nil
}

// isBootstrap reports whether k is the BUZHOU_ADMIN_KEY key, the only one
// that may grant keys:admin.
func isBootstrap(k store.Key) bool { return k.ID == BootstrapKeyID }

// isUnlimited reports whether k escapes rate limits: the keys that follow an
// environment variable (the bootstrap key and the service keys) do.
func isUnlimited(k store.Key) bool {
	_, fixed := fixedKeyOf(k.ID)
	return fixed
}

// Authenticate implements auth.Authenticator for the verification service's
// own RPCs. Errors are auth.Refusals with the reason.
func (s *Service) Authenticate(ctx context.Context, secret string) (*auth.Principal, error) {
	k, p, err := s.resolve(ctx, secret)
	if err != nil {
		return nil, err
	}
	return principalOf(k, p), nil
}

func principalOf(k store.Key, p store.Principal) *auth.Principal {
	return &auth.Principal{
		ID:        p.ID,
		Name:      p.Name,
		Type:      p.Type,
		KeyID:     k.ID,
		Scopes:    append([]string(nil), k.Scopes...),
		Bootstrap: isBootstrap(k),
		Unlimited: isUnlimited(k),

		RatePerMinute: int(k.RateLimitPerMinute),
		DailyQuota:    k.DailyQuota,
		MonthlyQuota:  k.MonthlyQuota,
	}
}

// Vouch implements auth.Voucher for the fixed keys (bootstrap, services) as
// this process set them at start-up: they change only then, and the API
// cannot revoke them, so holding them in memory never outlives a revocation.
func (s *Service) Vouch(secret string) *auth.Principal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fixed[hashSecret(secret)]
}

// AuthenticateApiKey resolves a secret for the other services' auth check;
// the answer also carries the key's rate limit and quotas. A refusal names
// its reason in the auth.ReasonTrailer trailer.
func (s *Service) AuthenticateApiKey(ctx context.Context, req *identityv1.AuthenticateApiKeyRequest) (*identityv1.AuthenticateApiKeyResponse, error) {
	k, p, err := s.resolve(ctx, req.GetKey())
	if err != nil {
		if reason := auth.ReasonOf(err); reason != "" {
			// Outside an RPC (a direct call) there is no trailer to set.
			_ = grpc.SetTrailer(ctx, metadata.Pairs(auth.ReasonTrailer, reason))
		}
		return nil, err
	}
	return &identityv1.AuthenticateApiKeyResponse{
		ApiKey:    keyProto(k),
		Principal: principalProto(p),
		Bootstrap: isBootstrap(k),
		Unlimited: isUnlimited(k),
	}, nil
}
