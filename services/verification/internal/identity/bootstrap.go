package identity

import (
	"context"
	"errors"
	"fmt"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	"buzhou.dev/verification/internal/store"
)

// The bootstrap key and its owner have fixed ids, so every start finds the
// row the previous one wrote.
const (
	BootstrapKeyID       = "key_bootstrap"
	BootstrapPrincipalID = "prn_admin"
)

// fixedKey describes a key the operator sets by environment variable.
type fixedKey struct {
	env, keyID, principalID, principalName string
	scopes                                 []string
}

var (
	adminKey   = fixedKey{env: "BUZHOU_ADMIN_KEY", keyID: BootstrapKeyID, principalID: BootstrapPrincipalID, principalName: "admin", scopes: auth.KeyScopes()}
	serviceKey = fixedKey{env: "BUZHOU_SERVICE_KEY", keyID: ServiceKeyID, principalID: ServicePrincipalID, principalName: "buzhou",
		scopes: append(auth.KeyScopes(), auth.InternalScopes()...)}
)

// The key the services use for their calls to each other.
const (
	ServiceKeyID       = "key_service"
	ServicePrincipalID = "prn_buzhou"
)

// EnsureBootstrapKey makes the BUZHOU_ADMIN_KEY secret a key with every
// scope, owned by the principal "admin" (an official bot), without rate limit
// or quotas. Run it at every start: a changed secret replaces the old one,
// which stops working; an unchanged one changes nothing; an empty one revokes
// the bootstrap key if there is one. A secret shorter than 32 characters is
// refused.
func (s *Service) EnsureBootstrapKey(ctx context.Context, secret string) error {
	return s.ensureFixedKey(ctx, adminKey, secret)
}

// EnsureServiceKey does the same for BUZHOU_SERVICE_KEY, the secret the
// gateway and the services present to each other (owner "buzhou").
func (s *Service) EnsureServiceKey(ctx context.Context, secret string) error {
	return s.ensureFixedKey(ctx, serviceKey, secret)
}

func (s *Service) ensureFixedKey(ctx context.Context, fk fixedKey, secret string) error {
	prev, err := s.st.GetKey(ctx, fk.keyID)
	found := err == nil
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return fmt.Errorf("identity: read the %s key: %w", fk.env, err)
	}
	if secret == "" {
		if !found || !prev.RevokedAt.IsZero() {
			return nil
		}
		if _, err := s.st.RevokeKey(ctx, fk.keyID); err != nil {
			return fmt.Errorf("identity: revoke the %s key: %w", fk.env, err)
		}
		s.forget(fk.keyID)
		s.log.InfoContext(ctx, fk.env+" is not set: its key is revoked", "key", fk.keyID, "prefix", prev.Prefix)
		return nil
	}
	if err := auth.CheckConfiguredKey(fk.env, secret); err != nil {
		return err
	}
	owner := store.Principal{ID: fk.principalID, Name: fk.principalName, Type: vocab.PrincipalOfficialBot}
	k, err := s.st.UpsertBootstrapKey(ctx, owner, store.Key{
		ID:          fk.keyID,
		Name:        fk.env,
		PrincipalID: fk.principalID,
		Prefix:      adminPrefix(secret),
		SecretHash:  hashSecret(secret),
		Scopes:      fk.scopes,
		Bootstrap:   true,
	})
	if err != nil {
		return fmt.Errorf("identity: store the %s key: %w", fk.env, err)
	}
	s.forget(k.ID)
	s.mu.Lock()
	s.fixed[k.SecretHash] = principalOf(k, owner)
	s.mu.Unlock()
	switch {
	case !found:
		s.log.InfoContext(ctx, "key created from "+fk.env, "key", k.ID, "prefix", k.Prefix)
	case prev.SecretHash != k.SecretHash:
		s.log.InfoContext(ctx, fk.env+" changed: key rotated, the old secret no longer works", "key", k.ID, "prefix", k.Prefix)
	case !prev.RevokedAt.IsZero():
		s.log.InfoContext(ctx, "key restored from "+fk.env, "key", k.ID, "prefix", k.Prefix)
	}
	return nil
}

// forget drops what Vouch knows of key id.
func (s *Service) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, p := range s.fixed {
		if p.KeyID == id {
			delete(s.fixed, h)
		}
	}
}
