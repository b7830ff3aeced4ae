package identity_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	"buzhou.dev/verification/internal/identity"
)

func allScopes() []string { return auth.KeyScopes() }

// asAdmin is a call by the bootstrap key.
func asAdmin(t *testing.T) context.Context {
	return auth.WithPrincipal(t.Context(), &auth.Principal{ID: identity.BootstrapPrincipalID, KeyID: identity.BootstrapKeyID, Scopes: auth.KeyScopes(), Bootstrap: true})
}

func mustCreateKey(t *testing.T, svc *identity.Service, req *identityv1.CreateApiKeyRequest) *identityv1.CreateApiKeyResponse {
	t.Helper()
	resp, err := svc.CreateApiKey(asAdmin(t), req)
	if err != nil {
		t.Fatalf("CreateApiKey(%s): %v", req.GetName(), err)
	}
	return resp
}

func mustAuthenticate(t *testing.T, svc *identity.Service, secret string) *auth.Principal {
	t.Helper()
	p, err := svc.Authenticate(t.Context(), secret)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return p
}

// wantRefused checks that err is the given kind and that its message holds
// every part.
func wantRefused(t *testing.T, err, sentinel error, parts ...string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("got error %v, want one wrapping %q", err, sentinel)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

// wantCreated checks a CreateApiKey answer: a key that works when want is
// nil, else a refusal of that kind saying every part, and no key.
func wantCreated(t *testing.T, svc *identity.Service, resp *identityv1.CreateApiKeyResponse, err, want error, parts ...string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("CreateApiKey: %v", err)
		}
		mustAuthenticate(t, svc, resp.GetKey())
		return
	}
	if resp != nil {
		t.Fatalf("CreateApiKey answered %v", resp)
	}
	wantRefused(t, err, want, parts...)
}

func TestCreateThenAuthenticate(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		expires := startTime().Add(30 * 24 * time.Hour)
		resp := mustCreateKey(t, e.svc, &identityv1.CreateApiKeyRequest{
			Name:               "  nightly verifier  ",
			Scopes:             allScopes(),
			ExpiresAt:          timestamppb.New(expires),
			RateLimitPerMinute: 120,
			DailyQuota:         5000,
			MonthlyQuota:       100_000,
		})
		if !strings.HasPrefix(resp.GetId(), "key_") || !strings.HasPrefix(resp.GetPrincipalId(), "prn_") {
			t.Fatalf("ids %q, %q: want key_… and prn_…", resp.GetId(), resp.GetPrincipalId())
		}
		wantResp := &identityv1.CreateApiKeyResponse{
			Id: resp.GetId(), Key: resp.GetKey(), Prefix: resp.GetKey()[:12], Scopes: allScopes(),
			ExpiresAt: timestamppb.New(expires), Name: "nightly verifier", PrincipalId: resp.GetPrincipalId(),
		}
		if d := cmp.Diff(wantResp, resp, protocmp.Transform()); d != "" {
			t.Fatalf("CreateApiKey (-want +got):\n%s", d)
		}

		got := mustAuthenticate(t, e.svc, resp.GetKey())
		want := &auth.Principal{
			ID: resp.GetPrincipalId(), Name: "nightly verifier", Type: "third_party_agent",
			KeyID: resp.GetId(), Scopes: allScopes(),
			RatePerMinute: 120, DailyQuota: 5000, MonthlyQuota: 100000,
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("Authenticate (-want +got):\n%s", d)
		}
		for _, scope := range allScopes() {
			if !got.Has(scope) {
				t.Errorf("the key lacks %s", scope)
			}
		}

		authResp, err := e.svc.AuthenticateApiKey(t.Context(), &identityv1.AuthenticateApiKeyRequest{Key: resp.GetKey()})
		if err != nil {
			t.Fatal(err)
		}
		wantAuth := &identityv1.AuthenticateApiKeyResponse{
			ApiKey: &identityv1.ApiKey{
				Id: resp.GetId(), Name: "nightly verifier", Prefix: resp.GetKey()[:12], Scopes: allScopes(),
				PrincipalId: resp.GetPrincipalId(), ExpiresAt: timestamppb.New(expires), CreatedAt: timestamppb.New(startTime()),
				RateLimitPerMinute: 120, DailyQuota: 5000, MonthlyQuota: 100_000,
			},
			Principal: &identityv1.Principal{
				Id: resp.GetPrincipalId(), Name: "nightly verifier",
				Type: "third_party_agent", CreateTime: timestamppb.New(startTime()),
			},
		}
		if d := cmp.Diff(wantAuth, authResp, protocmp.Transform()); d != "" {
			t.Fatalf("AuthenticateApiKey (-want +got):\n%s", d)
		}
	})
}

func TestCreateKeyForExistingPrincipal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p, err := e.svc.CreatePrincipal(t.Context(), &identityv1.CreatePrincipalRequest{Principal: &identityv1.Principal{
		Name: "Dr. Wang", Type: "human_expert",
	}})
	if err != nil {
		t.Fatal(err)
	}
	resp := mustCreateKey(t, e.svc, &identityv1.CreateApiKeyRequest{
		Name: "wang laptop", Scopes: []string{auth.ScopeVerificationsWrite, auth.ScopeVerificationsWrite}, PrincipalId: p.GetId(),
	})
	if resp.GetPrincipalId() != p.GetId() {
		t.Fatalf("principal %q, want %q", resp.GetPrincipalId(), p.GetId())
	}
	got := mustAuthenticate(t, e.svc, resp.GetKey())
	want := &auth.Principal{ID: p.GetId(), Name: "Dr. Wang", Type: "human_expert", KeyID: resp.GetId(), Scopes: []string{auth.ScopeVerificationsWrite}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Authenticate (-want +got):\n%s", d)
	}
	list, err := e.svc.ListPrincipals(t.Context(), &identityv1.ListPrincipalsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetPrincipals()) != 1 {
		t.Fatalf("a key for an existing principal made another one: %v", list.GetPrincipals())
	}
}

func TestListKeysHasNoSecrets(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		secrets := map[string]string{} // id -> secret
		var newestFirst []string
		for i := range 5 {
			e.clock.Advance(time.Second)
			resp := mustCreateKey(t, e.svc, &identityv1.CreateApiKeyRequest{Name: fmt.Sprintf("key %d", i), Scopes: []string{auth.ScopeArticlesWrite}})
			secrets[resp.GetId()] = resp.GetKey()
			newestFirst = append([]string{resp.GetId()}, newestFirst...)
		}
		var (
			got []string
			tok string
		)
		for {
			page, err := e.svc.ListApiKeys(t.Context(), &identityv1.ListApiKeysRequest{PageSize: 2, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			text, err := protojson.Marshal(page)
			if err != nil {
				t.Fatal(err)
			}
			for id, secret := range secrets {
				if strings.Contains(string(text), secret[12:]) {
					t.Fatalf("ListApiKeys shows the secret of %s: %s", id, text)
				}
			}
			for _, k := range page.GetKeys() {
				got = append(got, k.GetId())
				if k.GetPrefix() != secrets[k.GetId()][:12] {
					t.Errorf("key %s has prefix %q, want %q", k.GetId(), k.GetPrefix(), secrets[k.GetId()][:12])
				}
			}
			if tok = page.GetNextPageToken(); tok == "" {
				break
			}
		}
		if d := cmp.Diff(newestFirst, got); d != "" {
			t.Fatalf("ListApiKeys order (-want +got):\n%s", d)
		}
		_, err := e.svc.ListApiKeys(t.Context(), &identityv1.ListApiKeysRequest{PageToken: "garbage!"})
		wantRefused(t, err, errs.ErrInvalid, "page token")
		_, err = e.svc.ListApiKeys(t.Context(), &identityv1.ListApiKeysRequest{PageSize: -1})
		wantRefused(t, err, errs.ErrInvalid, "pageSize")
	})
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		resp := mustCreateKey(t, e.svc, &identityv1.CreateApiKeyRequest{Name: "to revoke", Scopes: []string{auth.ScopeArticlesWrite}})
		other := mustCreateKey(t, e.svc, &identityv1.CreateApiKeyRequest{Name: "to keep", Scopes: []string{auth.ScopeArticlesWrite}})
		e.clock.Advance(90 * time.Minute)
		revokedAt := startTime().Add(90 * time.Minute)
		k, err := e.svc.RevokeApiKey(t.Context(), &identityv1.RevokeApiKeyRequest{Id: resp.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		if !k.GetRevokedAt().AsTime().Equal(revokedAt) || k.GetId() != resp.GetId() {
			t.Fatalf("RevokeApiKey = %v, want %s revoked at %v", k, resp.GetId(), revokedAt)
		}
		_, err = e.svc.Authenticate(t.Context(), resp.GetKey())
		wantRefused(t, err, errs.ErrUnauthenticated, "API key "+resp.GetId()+" was revoked at 2026-07-01T13:30:00Z; create a new key")
		_, err = e.svc.AuthenticateApiKey(t.Context(), &identityv1.AuthenticateApiKeyRequest{Key: resp.GetKey()})
		wantRefused(t, err, errs.ErrUnauthenticated, "was revoked at 2026-07-01T13:30:00Z")

		e.clock.Advance(time.Hour)
		again, err := e.svc.RevokeApiKey(t.Context(), &identityv1.RevokeApiKeyRequest{Id: resp.GetId()})
		if err != nil {
			t.Fatalf("second RevokeApiKey: %v", err)
		}
		if d := cmp.Diff(k, again, protocmp.Transform()); d != "" {
			t.Fatalf("a second revocation must keep the first time (-want +got):\n%s", d)
		}
		mustAuthenticate(t, e.svc, other.GetKey())

		_, err = e.svc.RevokeApiKey(t.Context(), &identityv1.RevokeApiKeyRequest{Id: "key_absent"})
		wantRefused(t, err, errs.ErrNotFound, "key_absent")
		_, err = e.svc.RevokeApiKey(t.Context(), &identityv1.RevokeApiKeyRequest{})
		wantRefused(t, err, errs.ErrInvalid, "id is required")
	})
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp := mustCreateKey(t, e.svc, &identityv1.CreateApiKeyRequest{
		Name: "short-lived", Scopes: []string{auth.ScopeArticlesWrite}, ExpiresAt: timestamppb.New(startTime().Add(time.Hour)),
	})
	e.clock.Advance(time.Hour - time.Nanosecond)
	mustAuthenticate(t, e.svc, resp.GetKey())
	e.clock.Advance(time.Nanosecond)
	_, err := e.svc.Authenticate(t.Context(), resp.GetKey())
	wantRefused(t, err, errs.ErrUnauthenticated,
		"API key "+resp.GetId()+" expired at 2026-07-01T13:00:00Z; create a new key or ask an admin to extend it")
	_, err = e.svc.AuthenticateApiKey(t.Context(), &identityv1.AuthenticateApiKeyRequest{Key: resp.GetKey()})
	wantRefused(t, err, errs.ErrUnauthenticated, "expired at 2026-07-01T13:00:00Z")
}

func TestAuthenticateUnknownOrEmpty(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	real := mustCreateKey(t, e.svc, &identityv1.CreateApiKeyRequest{Name: "real", Scopes: []string{auth.ScopeArticlesWrite}})
	typo := real.GetKey()[:len(real.GetKey())-1] + "#"
	tests := []struct {
		name   string
		secret string
		says   []string
	}{
		{"empty", "", []string{"no API key", "Authorization: Bearer"}},
		{"unknown", "bzk_Zz12Yy34Xx56Ww78Vv90Uu12Tt34Ss56", []string{"unknown API key (prefix bzk_Zz12…); check for typos or create one with `buzhou keys create`"}},
		{"typo of a real key", typo, []string{"unknown API key (prefix " + real.GetKey()[:8] + "…)"}},
		{"short", "abcd", []string{"unknown API key (prefix ab…)"}},
		{"unprintable", "\x00\x01\x02\x03xyz", []string{"malformed API key: byte 1 (0x00) is not printable ASCII"}},
		{"non-breaking space", "bzk_Zz12Yy34Xx56Ww78Vv90Uu12Tt34Ss56\u00a0", []string{"malformed API key: byte 37 (0xC2)"}},
		{"space inside", "bzk_Zz12 Yy34", []string{"malformed API key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := e.svc.Authenticate(t.Context(), tt.secret)
			if p != nil {
				t.Fatalf("Authenticate returned %+v", p)
			}
			wantRefused(t, err, errs.ErrUnauthenticated, tt.says...)
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q repeats the whole secret", err)
			}
			_, err = e.svc.AuthenticateApiKey(t.Context(), &identityv1.AuthenticateApiKeyRequest{Key: tt.secret})
			wantRefused(t, err, errs.ErrUnauthenticated, tt.says...)
		})
	}
}

func TestCreateApiKeyValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	valid := func(f func(r *identityv1.CreateApiKeyRequest)) *identityv1.CreateApiKeyRequest {
		r := &identityv1.CreateApiKeyRequest{Name: "ok", Scopes: []string{auth.ScopeArticlesWrite}}
		f(r)
		return r
	}
	tests := []struct {
		name string
		req  *identityv1.CreateApiKeyRequest
		err  error  // nil for a valid request
		says string // part of the message
	}{
		{"no name", valid(func(r *identityv1.CreateApiKeyRequest) { r.Name = "" }), errs.ErrInvalid, "name is required"},
		{"blank name", valid(func(r *identityv1.CreateApiKeyRequest) { r.Name = " \t " }), errs.ErrInvalid, "name is required"},
		{"name of 101 runes", valid(func(r *identityv1.CreateApiKeyRequest) { r.Name = strings.Repeat("键", 101) }), errs.ErrInvalid, "keep it to 100"},
		{"name of 100 runes", valid(func(r *identityv1.CreateApiKeyRequest) { r.Name = strings.Repeat("键", 100) }), nil, ""},
		{"name with a line break", valid(func(r *identityv1.CreateApiKeyRequest) { r.Name = "a\nb" }), errs.ErrInvalid, "control characters"},
		{"no scopes", valid(func(r *identityv1.CreateApiKeyRequest) { r.Scopes = nil }), errs.ErrInvalid,
			"scopes: give at least one scope; valid scopes: articles:write, articles:propose, verifications:write, inspections:run, keys:admin"},
		{"unknown scope", valid(func(r *identityv1.CreateApiKeyRequest) { r.Scopes = []string{"articles:write", "articles:delete"} }), errs.ErrInvalid,
			`scopes: unknown scope "articles:delete"; valid scopes: articles:write, articles:propose, verifications:write, inspections:run, keys:admin`},
		{"internal scope", valid(func(r *identityv1.CreateApiKeyRequest) {
			r.Scopes = []string{"articles:write", auth.ScopeInternalTrust}
		}), errs.ErrInvalid,
			`scope "internal:trust" is internal to Buzhou's own services`},
		{"scope in another case", valid(func(r *identityv1.CreateApiKeyRequest) { r.Scopes = []string{"Keys:Admin"} }), errs.ErrInvalid, "valid scopes"},
		{"every scope", valid(func(r *identityv1.CreateApiKeyRequest) { r.Scopes = allScopes() }), nil, ""},
		{"expired already", valid(func(r *identityv1.CreateApiKeyRequest) { r.ExpiresAt = timestamppb.New(startTime().Add(-time.Second)) }),
			errs.ErrInvalid, "expiresAt 2026-07-01T11:59:59Z is not in the future"},
		{"expires now", valid(func(r *identityv1.CreateApiKeyRequest) { r.ExpiresAt = timestamppb.New(startTime()) }), errs.ErrInvalid, "not in the future"},
		{"expires soon", valid(func(r *identityv1.CreateApiKeyRequest) { r.ExpiresAt = timestamppb.New(startTime().Add(time.Second)) }), nil, ""},
		{"bad timestamp", valid(func(r *identityv1.CreateApiKeyRequest) { r.ExpiresAt = &timestamppb.Timestamp{Seconds: 1 << 62} }),
			errs.ErrInvalid, "expiresAt is not a valid time"},
		{"negative rate limit", valid(func(r *identityv1.CreateApiKeyRequest) { r.RateLimitPerMinute = -1 }), errs.ErrInvalid, "rateLimitPerMinute"},
		{"rate limit too high", valid(func(r *identityv1.CreateApiKeyRequest) { r.RateLimitPerMinute = 1_000_001 }), errs.ErrInvalid, "rateLimitPerMinute"},
		{"highest rate limit", valid(func(r *identityv1.CreateApiKeyRequest) { r.RateLimitPerMinute = 1_000_000 }), nil, ""},
		{"negative daily quota", valid(func(r *identityv1.CreateApiKeyRequest) { r.DailyQuota = -1 }), errs.ErrInvalid, "dailyQuota"},
		{"negative monthly quota", valid(func(r *identityv1.CreateApiKeyRequest) { r.MonthlyQuota = -1 }), errs.ErrInvalid, "monthlyQuota"},
		{"unknown principal", valid(func(r *identityv1.CreateApiKeyRequest) { r.PrincipalId = "prn_nobody" }), errs.ErrNotFound, "prn_nobody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := e.svc.CreateApiKey(asAdmin(t), tt.req)
			wantCreated(t, e.svc, resp, err, tt.err, tt.says)
		})
	}
}

func TestSecretsAreUniqueAndMarked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	form := regexp.MustCompile(`^bzk_[0-9A-Za-z]{32}$`)
	seen := map[string]bool{}
	for i := range 100 {
		resp := mustCreateKey(t, e.svc, &identityv1.CreateApiKeyRequest{Name: fmt.Sprint("k", i), Scopes: []string{auth.ScopeArticlesWrite}})
		secret := resp.GetKey()
		if !form.MatchString(secret) {
			t.Fatalf("secret %q is not bzk_ and 32 base62 characters", secret)
		}
		if resp.GetPrefix() != secret[:12] {
			t.Fatalf("prefix %q, want %q", resp.GetPrefix(), secret[:12])
		}
		if seen[secret] || seen[resp.GetId()] {
			t.Fatalf("secret or id made twice")
		}
		seen[secret], seen[resp.GetId()] = true, true
	}
}

func TestBootstrapKey(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		const first, second = "first-admin-secret-0123456789abcdef", "second-admin-secret-9876543210fedcba"
		if err := e.svc.EnsureBootstrapKey(t.Context(), first); err != nil {
			t.Fatal(err)
		}
		want := &auth.Principal{ID: "prn_admin", Name: "admin", Type: "official_bot", KeyID: "key_bootstrap", Scopes: allScopes(), Bootstrap: true, Unlimited: true}
		if d := cmp.Diff(want, mustAuthenticate(t, e.svc, first)); d != "" {
			t.Fatalf("Authenticate(bootstrap) (-want +got):\n%s", d)
		}
		// Vouch knows it without the store, for a throttled address.
		if d := cmp.Diff(want, e.svc.Vouch(first)); d != "" {
			t.Fatalf("Vouch(bootstrap) (-want +got):\n%s", d)
		}
		authResp, err := e.svc.AuthenticateApiKey(t.Context(), &identityv1.AuthenticateApiKeyRequest{Key: first})
		if err != nil {
			t.Fatal(err)
		}
		wantKey := &identityv1.ApiKey{
			Id: "key_bootstrap", Name: "BUZHOU_ADMIN_KEY", Prefix: "first-…", Scopes: allScopes(),
			PrincipalId: "prn_admin", CreatedAt: timestamppb.New(startTime()),
		}
		if d := cmp.Diff(wantKey, authResp.GetApiKey(), protocmp.Transform()); d != "" || !authResp.GetBootstrap() {
			t.Fatalf("AuthenticateApiKey(bootstrap): bootstrap=%v (-want +got):\n%s", authResp.GetBootstrap(), d)
		}

		// Restarts with the same secret change nothing.
		e.clock.Advance(time.Hour)
		svc := e.restart(t)
		for range 2 {
			if err := svc.EnsureBootstrapKey(t.Context(), first); err != nil {
				t.Fatal(err)
			}
		}
		list, err := svc.ListApiKeys(t.Context(), &identityv1.ListApiKeysRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]*identityv1.ApiKey{wantKey}, list.GetKeys(), protocmp.Transform()); d != "" {
			t.Fatalf("keys after restarts (-want +got):\n%s", d)
		}
		principals, err := svc.ListPrincipals(t.Context(), &identityv1.ListPrincipalsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(principals.GetPrincipals()) != 1 {
			t.Fatalf("principals after restarts: %v", principals.GetPrincipals())
		}

		// It cannot be revoked through the API.
		_, err = svc.RevokeApiKey(t.Context(), &identityv1.RevokeApiKeyRequest{Id: "key_bootstrap"})
		wantRefused(t, err, errs.ErrFailedPrecondition, "BUZHOU_ADMIN_KEY")
		mustAuthenticate(t, svc, first)

		// A new secret replaces the old one.
		if err := svc.EnsureBootstrapKey(t.Context(), second); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Authenticate(t.Context(), first)
		wantRefused(t, err, errs.ErrUnauthenticated, "unknown API key")
		if d := cmp.Diff(want, mustAuthenticate(t, svc, second)); d != "" {
			t.Fatalf("Authenticate(rotated) (-want +got):\n%s", d)
		}

		// Unset, it is revoked; set again, it comes back.
		for range 2 {
			if err := svc.EnsureBootstrapKey(t.Context(), ""); err != nil {
				t.Fatal(err)
			}
		}
		_, err = svc.Authenticate(t.Context(), second)
		wantRefused(t, err, errs.ErrUnauthenticated, "API key key_bootstrap was revoked at 2026-07-01T13:00:00Z")
		if svc.Vouch(second) != nil || svc.Vouch(first) != nil {
			t.Errorf("Vouch still knows a revoked or replaced bootstrap secret")
		}
		if err := svc.EnsureBootstrapKey(t.Context(), second); err != nil {
			t.Fatal(err)
		}
		mustAuthenticate(t, svc, second)

		for _, secret := range []string{first, second} {
			if strings.Contains(e.logs.String(), secret) {
				t.Fatalf("the log shows a secret:\n%s", e.logs.String())
			}
		}
	})
}

func TestBootstrapKeyUnsetFromTheStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.svc.EnsureBootstrapKey(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.ListApiKeys(t.Context(), &identityv1.ListApiKeysRequest{})
	if err != nil || len(list.GetKeys()) != 0 {
		t.Fatalf("ListApiKeys = %v, %v; want no keys", list.GetKeys(), err)
	}
}

func TestBootstrapKeyRefusesWeakSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for secret, says := range map[string]string{
		"two words here and a few more to be long":  "contains spaces",
		" leading-space-secret-0123456789abcdef":    "contains spaces",
		"line\nbreak-secret-0123456789abcdefghij":   "control",
		"nbsp-secret-0123456789abcdefghijklm\u00a0": "non-ASCII",
		"short-but-printable-0123456789a":           "has 31 characters, too few to resist guessing; use at least 32",
	} {
		err := e.svc.EnsureBootstrapKey(t.Context(), secret)
		wantRefused(t, err, errs.ErrInvalid, "BUZHOU_ADMIN_KEY", says)
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q shows the secret", err)
		}
	}
}

func TestPrincipals(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		var want []*identityv1.Principal // newest first
		for i, typ := range []string{
			"official_bot",
			"third_party_agent",
			"human_expert",
		} {
			e.clock.Advance(time.Second)
			p, err := e.svc.CreatePrincipal(t.Context(), &identityv1.CreatePrincipalRequest{Principal: &identityv1.Principal{
				Id: "prn_chosen_by_caller", Name: fmt.Sprint("actor ", i), Type: typ,
			}})
			if err != nil {
				t.Fatal(err)
			}
			wantP := &identityv1.Principal{Id: p.GetId(), Name: fmt.Sprint("actor ", i), Type: typ, CreateTime: timestamppb.New(e.clock.Now())}
			if d := cmp.Diff(wantP, p, protocmp.Transform()); d != "" || p.GetId() == "prn_chosen_by_caller" {
				t.Fatalf("CreatePrincipal (-want +got):\n%s", d)
			}
			want = append([]*identityv1.Principal{wantP}, want...)
		}
		var (
			got []*identityv1.Principal
			tok string
		)
		for {
			page, err := e.svc.ListPrincipals(t.Context(), &identityv1.ListPrincipalsRequest{PageSize: 2, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page.GetPrincipals()...)
			if tok = page.GetNextPageToken(); tok == "" {
				break
			}
		}
		if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
			t.Fatalf("ListPrincipals (-want +got):\n%s", d)
		}
	})
}

func TestCreatePrincipalValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		p    *identityv1.Principal
		says string
	}{
		{"no principal", nil, "principal is required"},
		{"no name", &identityv1.Principal{Type: "official_bot"}, "name is required"},
		{"long name", &identityv1.Principal{Name: strings.Repeat("x", 101), Type: "official_bot"}, "100"},
		{"no type", &identityv1.Principal{Name: "n"}, "type is required"},
		{"unknown type", &identityv1.Principal{Name: "n", Type: "robot"}, "type is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.svc.CreatePrincipal(t.Context(), &identityv1.CreatePrincipalRequest{Principal: tt.p})
			wantRefused(t, err, errs.ErrInvalid, tt.says)
		})
	}
	_, err := e.svc.ListPrincipals(t.Context(), &identityv1.ListPrincipalsRequest{PageToken: "bm9wZQ"})
	wantRefused(t, err, errs.ErrInvalid, "page token")
}

func TestAgentUsage(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		record := func(usage ...*identityv1.AgentUsage) {
			t.Helper()
			if _, err := e.svc.RecordAgentUsage(t.Context(), &identityv1.RecordAgentUsageRequest{Usage: usage}); err != nil {
				t.Fatalf("RecordAgentUsage: %v", err)
			}
		}
		record() // nothing to add
		record(
			&identityv1.AgentUsage{AgentId: "claude-code", Calls: 10, Errors: 1, TotalLatencyMs: 250},
			&identityv1.AgentUsage{AgentId: "my_agent.v2", Calls: 1, TotalLatencyMs: 7},
		)
		record(&identityv1.AgentUsage{AgentId: "claude-code", Calls: 5, Errors: 2, TotalLatencyMs: 50})
		e.clock.Advance(24 * time.Hour)
		record(&identityv1.AgentUsage{AgentId: "my_agent.v2", Calls: 3, TotalLatencyMs: 1}, &identityv1.AgentUsage{AgentId: "idle"})
		got, err := e.svc.AgentUsage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		want := []identity.AgentTotals{
			{AgentID: "claude-code", Calls: 15, Errors: 3, MeanLatencyMs: 20},
			{AgentID: "my_agent.v2", Calls: 4, MeanLatencyMs: 2},
			{AgentID: "idle"},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("AgentUsage (-want +got):\n%s", d)
		}
	})
}

func TestRecordAgentUsageValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name  string
		usage []*identityv1.AgentUsage
		says  string
	}{
		{"empty id", []*identityv1.AgentUsage{{AgentId: "", Calls: 1}}, "usage[0].agentId"},
		{"id too long", []*identityv1.AgentUsage{{AgentId: strings.Repeat("a", 65)}}, "1 to 64 characters"},
		{"space in id", []*identityv1.AgentUsage{{AgentId: "ok"}, {AgentId: "my agent"}}, "usage[1].agentId"},
		{"slash in id", []*identityv1.AgentUsage{{AgentId: "a/b"}}, "agentId"},
		{"unicode id", []*identityv1.AgentUsage{{AgentId: "代理"}}, "agentId"},
		{"negative calls", []*identityv1.AgentUsage{{AgentId: "a", Calls: -1}}, "negative"},
		{"negative errors", []*identityv1.AgentUsage{{AgentId: "a", Errors: -1}}, "negative"},
		{"negative latency", []*identityv1.AgentUsage{{AgentId: "a", TotalLatencyMs: -1}}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.svc.RecordAgentUsage(t.Context(), &identityv1.RecordAgentUsageRequest{Usage: tt.usage})
			wantRefused(t, err, errs.ErrInvalid, tt.says)
		})
	}
	t.Cleanup(func() {
		got, err := e.svc.AgentUsage(context.Background())
		if err != nil || len(got) != 0 {
			t.Errorf("refused usage was recorded: %v, %v", got, err)
		}
	})
}

func TestRecordAgentUsageLongestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("a", 64)
	if _, err := e.svc.RecordAgentUsage(t.Context(), &identityv1.RecordAgentUsageRequest{Usage: []*identityv1.AgentUsage{{AgentId: long, Calls: 1}}}); err != nil {
		t.Fatalf("an id of 64 characters was refused: %v", err)
	}
}
