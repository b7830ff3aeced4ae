package identity

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	"buzhou.dev/verification/internal/store"
)

const (
	maxNameRunes = 100
	maxRateLimit = 1_000_000
)

// checkName trims a display name and checks it; field names the JSON field
// for the message.
func checkName(field, name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", fmt.Errorf("%w: %s is required; give a short human-readable name", errs.ErrInvalid, field)
	case utf8.RuneCountInString(name) > maxNameRunes:
		return "", fmt.Errorf("%w: %s has %d characters; keep it to %d", errs.ErrInvalid, field, utf8.RuneCountInString(name), maxNameRunes)
	case strings.ContainsFunc(name, unicode.IsControl):
		return "", fmt.Errorf("%w: %s contains control characters (such as line breaks); use plain text", errs.ErrInvalid, field)
	}
	return name, nil
}

func checkPageSize(n int32) error {
	if n < 0 {
		return fmt.Errorf("%w: pageSize is %d; give 1 to 200, or 0 for the default of 50", errs.ErrInvalid, n)
	}
	return nil
}

// CreateApiKey issues a key. The answer carries the secret, which is not
// kept: only its SHA-256 and its first characters are stored.
func (s *Service) CreateApiKey(ctx context.Context, req *identityv1.CreateApiKeyRequest) (*identityv1.CreateApiKeyResponse, error) {
	name, err := checkName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	scopes, err := auth.CheckScopes(req.GetScopes())
	if err != nil {
		return nil, fmt.Errorf("%w: scopes: %s", errs.ErrInvalid, errs.Message(err))
	}
	k := store.Key{
		ID:                 NewID("key"),
		Name:               name,
		PrincipalID:        req.GetPrincipalId(),
		Scopes:             scopes,
		RateLimitPerMinute: req.GetRateLimitPerMinute(),
		DailyQuota:         req.GetDailyQuota(),
		MonthlyQuota:       req.GetMonthlyQuota(),
	}
	if ts := req.GetExpiresAt(); ts != nil {
		if err := ts.CheckValid(); err != nil {
			return nil, fmt.Errorf("%w: expiresAt is not a valid time; send RFC 3339, e.g. 2030-01-02T15:04:05Z", errs.ErrInvalid)
		}
		if now := s.now(); !ts.AsTime().After(now) {
			return nil, fmt.Errorf("%w: expiresAt %s is not in the future; give a later time or leave it out for a key that does not expire",
				errs.ErrInvalid, rfc3339(ts.AsTime()))
		}
		k.ExpiresAt = ts.AsTime()
	}
	switch {
	case k.RateLimitPerMinute < 0 || k.RateLimitPerMinute > maxRateLimit:
		return nil, fmt.Errorf("%w: rateLimitPerMinute is %d; give 1 to %d, or 0 for the default", errs.ErrInvalid, k.RateLimitPerMinute, maxRateLimit)
	case k.DailyQuota < 0:
		return nil, fmt.Errorf("%w: dailyQuota is %d; give a positive number, or 0 for none", errs.ErrInvalid, k.DailyQuota)
	case k.MonthlyQuota < 0:
		return nil, fmt.Errorf("%w: monthlyQuota is %d; give a positive number, or 0 for none", errs.ErrInvalid, k.MonthlyQuota)
	}

	if err := mayMint(auth.FromContext(ctx), scopes, k.PrincipalID); err != nil {
		return nil, err
	}

	var owner *store.Principal
	if k.PrincipalID == "" {
		owner = &store.Principal{ID: NewID("prn"), Name: name, Type: vocab.PrincipalThirdPartyAgent}
		k.PrincipalID = owner.ID
	}
	secret := newSecret()
	k.SecretHash = hashSecret(secret)
	k.Prefix = keyPrefix(secret)
	stored, err := s.st.CreateKey(ctx, k, owner)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "API key created", "key", stored.ID, "prefix", stored.Prefix, "principal", stored.PrincipalID,
		"scopes", strings.Join(stored.Scopes, ","), "by", caller(ctx))
	return &identityv1.CreateApiKeyResponse{
		Id:          stored.ID,
		Key:         secret,
		Prefix:      stored.Prefix,
		Scopes:      stored.Scopes,
		ExpiresAt:   timestamp(stored.ExpiresAt),
		Name:        stored.Name,
		PrincipalId: stored.PrincipalID,
	}, nil
}

// mayMint enforces the minting rules: a key never grants a scope it lacks,
// only the bootstrap key grants keys:admin, and no key is minted for the
// owner of a fixed key (the bootstrap principal, a service's) or for a
// built-in verifier (the inspection bot, the sandbox runner). A principal
// that does not exist is the store's NotFound.
func mayMint(caller *auth.Principal, scopes []string, principalID string) error {
	if caller == nil {
		return fmt.Errorf("%w: creating a key needs an API key with scope %q", errs.ErrPermissionDenied, auth.ScopeKeysAdmin)
	}
	for _, s := range scopes {
		switch {
		case !caller.Has(s):
			return fmt.Errorf("%w: the key lacks scope %q, so it cannot grant it (it has: %s); ask for a key that holds the scope",
				errs.ErrPermissionDenied, s, strings.Join(caller.Scopes, ", "))
		case s == auth.ScopeKeysAdmin && !caller.Bootstrap:
			return fmt.Errorf("%w: only the bootstrap key (BUZHOU_ADMIN_KEY) may grant %q; leave it out, or create the key with the bootstrap key",
				errs.ErrPermissionDenied, auth.ScopeKeysAdmin)
		}
	}
	if fk, ok := fixedPrincipal(principalID); ok {
		return fmt.Errorf("%w: principal %s owns the key of %s and no other; its key follows that variable, so create keys for another principal",
			errs.ErrPermissionDenied, principalID, fk.env)
	}
	if isBot(principalID) {
		return fmt.Errorf("%w: principal %s is a built-in verifier that signs only the records Buzhou files itself; no key is minted for it, so create keys for another principal",
			errs.ErrPermissionDenied, principalID)
	}
	return nil
}

// ListApiKeys lists keys, newest first, without secrets.
func (s *Service) ListApiKeys(ctx context.Context, req *identityv1.ListApiKeysRequest) (*identityv1.ListApiKeysResponse, error) {
	if err := checkPageSize(req.GetPageSize()); err != nil {
		return nil, err
	}
	keys, next, err := s.st.ListKeys(ctx, store.Page{Size: int(req.GetPageSize()), Token: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	resp := &identityv1.ListApiKeysResponse{Keys: make([]*identityv1.ApiKey, 0, len(keys)), NextPageToken: next}
	for _, k := range keys {
		resp.Keys = append(resp.Keys, keyProto(k))
	}
	return resp, nil
}

// RevokeApiKey revokes a key; revoking it again keeps the first time. The
// revocation is pushed to every WatchKeyRevocations stream before the answer.
// The bootstrap and service keys follow their variables and cannot be
// revoked here: they would come back at the next start anyway.
func (s *Service) RevokeApiKey(ctx context.Context, req *identityv1.RevokeApiKeyRequest) (*identityv1.ApiKey, error) {
	id := req.GetId()
	if id == "" {
		return nil, fmt.Errorf("%w: id is required; name the key to revoke (see GET /api/v1/keys)", errs.ErrInvalid)
	}
	k, err := s.st.GetKey(ctx, id)
	if err != nil {
		return nil, err
	}
	if fk, ok := fixedKeyOf(id); ok {
		return nil, fmt.Errorf("%w: %s is the key of %s and cannot be revoked through the API; change or unset %s and restart the verification service instead",
			errs.ErrFailedPrecondition, id, fk.env, fk.env)
	}
	wasRevoked := !k.RevokedAt.IsZero()
	k, err = s.st.RevokeKey(ctx, id)
	if err != nil {
		return nil, err
	}
	if !wasRevoked {
		s.revocations.publish(k.ID, k.RevokedAt)
		s.log.InfoContext(ctx, "API key revoked", "key", k.ID, "prefix", k.Prefix, "by", caller(ctx))
	}
	return keyProto(k), nil
}
