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

// Fixed keys follow an environment variable, and have fixed ids so that
// every start finds the row the previous one wrote.
const (
	BootstrapKeyID       = "key_bootstrap"
	BootstrapPrincipalID = "prn_admin"

	// The key of BUZHOU_SERVICE_KEY, which every service shared and which held
	// every scope; it is revoked at every start.
	legacyServiceKeyID       = "key_service"
	legacyServicePrincipalID = "prn_buzhou"
)

// fixedKey describes a key the operator sets by environment variable.
type fixedKey struct {
	env, keyID, principalID, principalName string
	scopes                                 []string
}

func adminKey() fixedKey {
	return fixedKey{env: "BUZHOU_ADMIN_KEY", keyID: BootstrapKeyID, principalID: BootstrapPrincipalID, principalName: "admin", scopes: auth.KeyScopes()}
}

// serviceKey is a service identity's key, owned by a principal of its own.
func serviceKey(si auth.ServiceIdentity) fixedKey {
	return fixedKey{env: si.Env, keyID: ServiceKeyID(si.Service), principalID: ServicePrincipalID(si.Service),
		principalName: si.Service + " service", scopes: si.Scopes}
}

func legacyServiceKey() fixedKey {
	return fixedKey{env: "BUZHOU_SERVICE_KEY", keyID: legacyServiceKeyID, principalID: legacyServicePrincipalID, principalName: "buzhou"}
}

// ServiceKeyID and ServicePrincipalID are the ids of a service identity's
// key and principal.
func ServiceKeyID(service string) string       { return "key_service_" + service }
func ServicePrincipalID(service string) string { return "prn_service_" + service }

// fixedKeys returns every key that follows an environment variable.
func fixedKeys() []fixedKey {
	keys := []fixedKey{adminKey(), legacyServiceKey()}
	for _, si := range auth.ServiceIdentities() {
		keys = append(keys, serviceKey(si))
	}
	return keys
}

// fixedKeyOf returns the fixed key with id.
func fixedKeyOf(id string) (fixedKey, bool) {
	for _, fk := range fixedKeys() {
		if fk.keyID == id {
			return fk, true
		}
	}
	return fixedKey{}, false
}

// fixedPrincipal returns the fixed key that principal id owns: the bootstrap
// principal or a service's. No key may be minted for them.
func fixedPrincipal(id string) (fixedKey, bool) {
	for _, fk := range fixedKeys() {
		if fk.principalID == id {
			return fk, true
		}
	}
	return fixedKey{}, false
}

// EnsureBootstrapKey makes the BUZHOU_ADMIN_KEY secret a key with every
// scope, owned by the principal "admin" (an official bot), without rate limit
// or quotas. Run it at every start: a changed secret replaces the old one,
// which stops working; an unchanged one changes nothing; an empty one revokes
// the bootstrap key if there is one. A secret shorter than 32 characters is
// refused.
func (s *Service) EnsureBootstrapKey(ctx context.Context, secret string) error {
	return s.ensureFixedKey(ctx, adminKey(), secret)
}

// EnsureServiceKeys does the same for every service identity: secrets maps a
// service's name (auth.ServiceGateway, …) to the secret of its key, which
// then holds exactly that identity's internal scopes; a service without a
// secret has its key revoked. The key of the former BUZHOU_SERVICE_KEY is
// revoked too.
func (s *Service) EnsureServiceKeys(ctx context.Context, secrets map[string]string) error {
	for _, si := range auth.ServiceIdentities() {
		if err := s.ensureFixedKey(ctx, serviceKey(si), secrets[si.Service]); err != nil {
			return err
		}
	}
	return s.ensureFixedKey(ctx, legacyServiceKey(), "")
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
		k, err := s.st.RevokeKey(ctx, fk.keyID)
		if err != nil {
			return fmt.Errorf("identity: revoke the %s key: %w", fk.env, err)
		}
		s.forget(k.ID)
		s.revocations.publish(k.ID, k.RevokedAt)
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
		Bootstrap:   fk.keyID == BootstrapKeyID,
	})
	if errors.Is(err, errs.ErrAlreadyExists) {
		return fmt.Errorf("%w: %s has the secret of another key; give BUZHOU_ADMIN_KEY and each service key a secret of its own, "+
			"one never used before (the former BUZHOU_SERVICE_KEY included)", errs.ErrInvalid, fk.env)
	}
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
		s.revocations.publish(k.ID, s.now())
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

// The built-in verifiers: official bots that own no key and sign only the
// records the service files itself.
const (
	// InspectionBotID files a record after an inspection applied repairs.
	InspectionBotID = "prn_bot_inspection"
	// SandboxRunnerID files the records of sandbox runs.
	SandboxRunnerID = "prn_bot_sandbox"
)

// Bots returns the built-in verifiers.
func Bots() []store.Principal {
	return []store.Principal{
		{ID: InspectionBotID, Name: "Inspection Bot", Type: vocab.PrincipalOfficialBot},
		{ID: SandboxRunnerID, Name: "Sandbox Runner", Type: vocab.PrincipalOfficialBot},
	}
}

// isBot reports whether principal id is a built-in verifier.
func isBot(id string) bool {
	for _, b := range Bots() {
		if b.ID == id {
			return true
		}
	}
	return false
}

// EnsureBots makes sure the built-in verifiers exist and are listed.
func (s *Service) EnsureBots(ctx context.Context) error {
	for _, b := range Bots() {
		if err := s.st.EnsureVerifier(ctx, b); err != nil {
			return fmt.Errorf("ensure built-in verifier %s: %w", b.ID, err)
		}
	}
	return nil
}
