package identity_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	"buzhou.dev/verification/internal/identity"
	"buzhou.dev/verification/internal/store"
)

// serviceSecrets are a secret for every service identity.
func serviceSecrets(round int) map[string]string {
	out := map[string]string{}
	for _, si := range auth.ServiceIdentities() {
		out[si.Service] = fmt.Sprintf("%s-service-secret-%d-0123456789abcdef", si.Service, round)
	}
	return out
}

// TestServiceKeys: every service identity gets a key of its own, owned by a
// principal of its own, with exactly its internal scopes, unlimited but not
// bootstrap; rotation and unsetting follow the variables, and the API cannot
// revoke them.
func TestServiceKeys(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		secrets := serviceSecrets(1)
		if err := e.svc.EnsureServiceKeys(t.Context(), secrets); err != nil {
			t.Fatal(err)
		}
		for _, si := range auth.ServiceIdentities() {
			got := mustAuthenticate(t, e.svc, secrets[si.Service])
			want := &auth.Principal{
				ID: identity.ServicePrincipalID(si.Service), Name: si.Service + " service", Type: "official_bot",
				KeyID: identity.ServiceKeyID(si.Service), Scopes: si.Scopes, Unlimited: true,
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("%s (-want +got):\n%s", si.Service, d)
			}
			if d := cmp.Diff(want, e.svc.Vouch(secrets[si.Service])); d != "" {
				t.Errorf("Vouch(%s) (-want +got):\n%s", si.Service, d)
			}
			resp, err := e.svc.AuthenticateApiKey(t.Context(), &identityv1.AuthenticateApiKeyRequest{Key: secrets[si.Service]})
			if err != nil || !resp.GetUnlimited() || resp.GetBootstrap() {
				t.Errorf("AuthenticateApiKey(%s) = %v, %v; want unlimited, not bootstrap", si.Service, resp, err)
			}
			_, err = e.svc.RevokeApiKey(asAdmin(t), &identityv1.RevokeApiKeyRequest{Id: identity.ServiceKeyID(si.Service)})
			wantRefused(t, err, errs.ErrFailedPrecondition, si.Env, "restart")
		}

		// Search rotates, article is unset; the others stay as they are.
		e.clock.Advance(time.Minute)
		next := serviceSecrets(1)
		next[auth.ServiceSearch] = serviceSecrets(2)[auth.ServiceSearch]
		delete(next, auth.ServiceArticle)
		if err := e.svc.EnsureServiceKeys(t.Context(), next); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.Authenticate(t.Context(), secrets[auth.ServiceSearch])
		wantRefused(t, err, errs.ErrUnauthenticated, "unknown API key")
		mustAuthenticate(t, e.svc, next[auth.ServiceSearch])
		_, err = e.svc.Authenticate(t.Context(), secrets[auth.ServiceArticle])
		wantRefused(t, err, errs.ErrUnauthenticated, "key_service_article was revoked")
		mustAuthenticate(t, e.svc, secrets[auth.ServiceGateway])
		if e.svc.Vouch(secrets[auth.ServiceSearch]) != nil || e.svc.Vouch(secrets[auth.ServiceArticle]) != nil || e.svc.Vouch(next[auth.ServiceSearch]) == nil {
			t.Errorf("Vouch still knows a rotated or revoked key, or not the new one")
		}
		k := mustCreateKey(t, e.svc, &identityv1.CreateApiKeyRequest{Name: "ordinary", Scopes: []string{auth.ScopeArticlesWrite}})
		if e.svc.Vouch(k.GetKey()) != nil {
			t.Errorf("Vouch knows an ordinary key: it must check it")
		}

		for _, secret := range secrets {
			if strings.Contains(e.logs.String(), secret) {
				t.Fatalf("the log shows a secret:\n%s", e.logs.String())
			}
		}
	})
}

func TestServiceKeysRefuseWeakOrSharedSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	err := e.svc.EnsureServiceKeys(t.Context(), map[string]string{auth.ServiceSearch: "short"})
	wantRefused(t, err, errs.ErrInvalid, "BUZHOU_SEARCH_SERVICE_KEY has 5 characters", "at least 32")
	same := "one-secret-for-two-services-0123456789"
	err = e.svc.EnsureServiceKeys(t.Context(), map[string]string{auth.ServiceGateway: same, auth.ServiceSearch: same})
	wantRefused(t, err, errs.ErrInvalid, "BUZHOU_SEARCH_SERVICE_KEY has the secret of another key")
	if strings.Contains(err.Error(), same) {
		t.Errorf("the error shows the secret: %v", err)
	}
}

// TestFormerServiceKeyIsRevoked: the key of BUZHOU_SERVICE_KEY, which held
// every scope, stops working at the first start without it.
func TestFormerServiceKeyIsRevoked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const old = "the-interim-service-key-0123456789abcdef"
	sum := sha256.Sum256([]byte(old))
	if _, err := e.st.UpsertBootstrapKey(t.Context(), store.Principal{ID: "prn_buzhou", Name: "buzhou", Type: "official_bot"}, store.Key{
		ID: "key_service", Name: "BUZHOU_SERVICE_KEY", PrincipalID: "prn_buzhou", Prefix: "the-i…", SecretHash: hex.EncodeToString(sum[:]),
		Scopes: append(auth.KeyScopes(), auth.InternalScopes()...), Bootstrap: true,
	}); err != nil {
		t.Fatal(err)
	}
	mustAuthenticate(t, e.svc, old)
	if err := e.svc.EnsureServiceKeys(t.Context(), serviceSecrets(1)); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Authenticate(t.Context(), old)
	wantRefused(t, err, errs.ErrUnauthenticated, "key_service was revoked")
}

// TestMintingRules: a key never grants a scope it lacks, only the bootstrap
// key grants keys:admin, and no key is minted for the bootstrap or a
// service principal, or for a built-in verifier.
func TestMintingRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.svc.EnsureBootstrapKey(t.Context(), "minting-admin-secret-0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EnsureServiceKeys(t.Context(), serviceSecrets(1)); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EnsureBots(t.Context()); err != nil {
		t.Fatal(err)
	}
	bootstrap := auth.WithPrincipal(t.Context(), mustAuthenticate(t, e.svc, "minting-admin-secret-0123456789abcdef"))
	// A second admin: keys:admin and articles:write, made by the bootstrap key.
	sub := mustCreateKey(t, e.svc, &identityv1.CreateApiKeyRequest{Name: "sub-admin", Scopes: []string{auth.ScopeKeysAdmin, auth.ScopeArticlesWrite}})
	subAdmin := auth.WithPrincipal(t.Context(), mustAuthenticate(t, e.svc, sub.GetKey()))
	other, err := e.svc.CreatePrincipal(t.Context(), &identityv1.CreatePrincipalRequest{Principal: &identityv1.Principal{Name: "Dr. Li", Type: "human_expert"}})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		ctx       context.Context
		scopes    []string
		principal string
		err       error // nil when allowed
		says      []string
	}{
		{"bootstrap grants keys:admin", bootstrap, []string{auth.ScopeKeysAdmin}, "", nil, nil},
		{"bootstrap grants every scope", bootstrap, auth.KeyScopes(), "", nil, nil},
		{"sub-admin grants a scope it holds", subAdmin, []string{auth.ScopeArticlesWrite}, "", nil, nil},
		{"sub-admin mints for another principal", subAdmin, []string{auth.ScopeArticlesWrite}, other.GetId(), nil, nil},
		{"sub-admin grants a scope it lacks", subAdmin, []string{auth.ScopeArticlesWrite, auth.ScopeVerificationsWrite}, "", errs.ErrPermissionDenied,
			[]string{`lacks scope "verifications:write", so it cannot grant it`}},
		{"sub-admin grants keys:admin", subAdmin, []string{auth.ScopeKeysAdmin}, "", errs.ErrPermissionDenied,
			[]string{`only the bootstrap key (BUZHOU_ADMIN_KEY) may grant "keys:admin"`}},
		{"internal scope, even for the bootstrap key", bootstrap, []string{auth.ScopeInternalFeed}, "", errs.ErrInvalid,
			[]string{`"internal:feed" is internal`}},
		{"for the bootstrap principal", bootstrap, []string{auth.ScopeArticlesWrite}, identity.BootstrapPrincipalID, errs.ErrPermissionDenied,
			[]string{"prn_admin owns the key of BUZHOU_ADMIN_KEY"}},
		{"for a service principal", bootstrap, []string{auth.ScopeArticlesWrite}, identity.ServicePrincipalID(auth.ServiceSearch), errs.ErrPermissionDenied,
			[]string{"BUZHOU_SEARCH_SERVICE_KEY"}},
		{"for the former service principal", subAdmin, []string{auth.ScopeArticlesWrite}, "prn_buzhou", errs.ErrPermissionDenied,
			[]string{"BUZHOU_SERVICE_KEY"}},
		{"for the inspection bot", bootstrap, []string{auth.ScopeVerificationsWrite}, identity.InspectionBotID, errs.ErrPermissionDenied,
			[]string{"built-in verifier"}},
		{"for the sandbox runner", bootstrap, []string{auth.ScopeVerificationsWrite}, identity.SandboxRunnerID, errs.ErrPermissionDenied,
			[]string{"prn_bot_sandbox is a built-in verifier"}},
		{"for a principal that does not exist", bootstrap, []string{auth.ScopeArticlesWrite}, "prn_nobody", errs.ErrNotFound,
			[]string{"prn_nobody"}},
		{"without a caller", t.Context(), []string{auth.ScopeArticlesWrite}, "", errs.ErrPermissionDenied, []string{"keys:admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := e.svc.CreateApiKey(tt.ctx, &identityv1.CreateApiKeyRequest{Name: tt.name, Scopes: tt.scopes, PrincipalId: tt.principal})
			wantCreated(t, e.svc, resp, err, tt.err, tt.says...)
		})
	}
}

// TestWatchKeyRevocations: every open stream hears of each revocation and
// rotation; only internal:authn reaches it; it ends when the service stops.
func TestWatchKeyRevocations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	stop := make(chan struct{})
	e.svc = identity.New(e.st, e.clock.Now, nil, stop)
	const admin = "watch-admin-secret-0123456789abcdefgh"
	if err := e.svc.EnsureBootstrapKey(t.Context(), admin); err != nil {
		t.Fatal(err)
	}
	secrets := serviceSecrets(1)
	if err := e.svc.EnsureServiceKeys(t.Context(), secrets); err != nil {
		t.Fatal(err)
	}
	_, client := serve(t, e)
	as := func(key string) context.Context {
		return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+key)
	}

	// Two followers: the gateway's and the search service's identities.
	var streams []identityv1.IdentityService_WatchKeyRevocationsClient
	for _, svc := range []string{auth.ServiceGateway, auth.ServiceSearch} {
		s, err := client.WatchKeyRevocations(as(secrets[svc]), &identityv1.WatchKeyRevocationsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Header(); err != nil {
			t.Fatalf("%s: %v", svc, err)
		}
		streams = append(streams, s)
	}
	for _, key := range []string{admin, secrets[auth.ServiceVerification]} {
		s, err := client.WatchKeyRevocations(as(key), &identityv1.WatchKeyRevocationsRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		wantStatus(t, err, codes.PermissionDenied, `"internal:authn"`)
	}

	k := mustCreateKey(t, e.svc, &identityv1.CreateApiKeyRequest{Name: "doomed", Scopes: []string{auth.ScopeArticlesWrite}})
	e.clock.Advance(time.Minute)
	if _, err := e.svc.RevokeApiKey(asAdmin(t), &identityv1.RevokeApiKeyRequest{Id: k.GetId()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeApiKey(asAdmin(t), &identityv1.RevokeApiKeyRequest{Id: k.GetId()}); err != nil {
		t.Fatal(err) // a second revocation is no news
	}
	if err := e.svc.EnsureBootstrapKey(t.Context(), admin+"-rotated"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EnsureServiceKeys(t.Context(), map[string]string{auth.ServiceGateway: secrets[auth.ServiceGateway], auth.ServiceSearch: secrets[auth.ServiceSearch]}); err != nil {
		t.Fatal(err)
	}
	want := []string{k.GetId(), identity.BootstrapKeyID, identity.ServiceKeyID(auth.ServiceArticle), identity.ServiceKeyID(auth.ServiceVerification)}
	for i, s := range streams {
		var got []string
		for range want {
			ev, err := s.Recv()
			if err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			got = append(got, ev.GetKeyId())
			if ev.GetRevokeTime() == nil {
				t.Errorf("revocation of %s has no time", ev.GetKeyId())
			}
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("stream %d (-want +got):\n%s", i, d)
		}
	}
	close(stop)
	for _, s := range streams {
		_, err := s.Recv()
		wantStatus(t, err, codes.Unavailable, "shutting down")
	}
}
