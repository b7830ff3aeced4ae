package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"buzhou.dev/platform/errs"
	// Imported for their descriptors: the walks below cover every service.
	_ "buzhou.dev/proto/gen/buzhou/article/v1"
	_ "buzhou.dev/proto/gen/buzhou/identity/v1"
	_ "buzhou.dev/proto/gen/buzhou/search/v1"
	_ "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// TestEveryRPCDeclaresAccess walks all Buzhou services and fails when an RPC
// has no access rule, one that is both public and scoped, or one naming a
// scope outside the vocabulary.
func TestEveryRPCDeclaresAccess(t *testing.T) {
	t.Parallel()
	known := append(KeyScopes(), InternalScopes()...)
	n := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "buzhou.") {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				n++
				full := "/" + string(sd.FullName()) + "/" + string(sd.Methods().Get(j).Name())
				switch rule := AccessOf(full); {
				case rule == nil:
					t.Errorf("%s declares no (buzhou.identity.v1.access) option", full)
				case rule.GetPublic() == (rule.GetScope() != ""):
					t.Errorf("%s must be either public or scoped: %v", full, rule)
				case rule.GetScope() != "" && !slices.Contains(known, rule.GetScope()):
					t.Errorf("%s names unknown scope %q", full, rule.GetScope())
				case len(rule.GetOrScopes()) > 0 && rule.GetScope() == "":
					t.Errorf("%s has alternative scopes but no scope: %v", full, rule)
				}
				for _, s := range AccessOf(full).GetOrScopes() {
					if !slices.Contains(known, s) {
						t.Errorf("%s names unknown alternative scope %q", full, s)
					}
				}
			}
		}
		return true
	})
	if n < 20 {
		t.Errorf("walked only %d RPCs; are the services registered?", n)
	}
}

func TestServiceIdentitiesHoldOnlyInternalScopes(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, si := range ServiceIdentities() {
		if seen[si.Service] || seen[si.Env] {
			t.Errorf("%s: service or variable named twice", si.Service)
		}
		seen[si.Service], seen[si.Env] = true, true
		if si.Env != "BUZHOU_"+strings.ToUpper(si.Service)+"_SERVICE_KEY" {
			t.Errorf("%s reads its key from %s", si.Service, si.Env)
		}
		for _, s := range si.Scopes {
			if !slices.Contains(InternalScopes(), s) {
				t.Errorf("%s holds %q, which is not an internal scope", si.Service, s)
			}
		}
		if got, ok := ServiceIdentityOf(si.Service); !ok || got.Env != si.Env {
			t.Errorf("ServiceIdentityOf(%s) = %v, %v", si.Service, got, ok)
		}
	}
	if len(seen) != 8 {
		t.Errorf("want 4 service identities, got %d", len(seen)/2)
	}
}

func TestCheckScopes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   []string
		want []string
		says string
	}{
		{"one", []string{ScopeArticlesWrite}, []string{ScopeArticlesWrite}, ""},
		{"repeats dropped, order kept", []string{ScopeKeysAdmin, ScopeArticlesWrite, ScopeKeysAdmin}, []string{ScopeKeysAdmin, ScopeArticlesWrite}, ""},
		{"none", nil, nil, "give at least one scope; valid scopes: articles:write, articles:propose, verifications:write, inspections:run, keys:admin"},
		{"unknown", []string{"articles:delete"}, nil, `unknown scope "articles:delete"; valid scopes: articles:write`},
		{"another case", []string{"Keys:Admin"}, nil, `unknown scope "Keys:Admin"`},
		{"internal", []string{ScopeArticlesWrite, ScopeInternalTrust}, nil, `scope "internal:trust" is internal`},
		{"made-up internal", []string{"internal:root"}, nil, `scope "internal:root" is internal`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := CheckScopes(tc.in)
			if tc.says == "" {
				if err != nil || !slices.Equal(got, tc.want) {
					t.Fatalf("CheckScopes(%v) = %v, %v; want %v", tc.in, got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("CheckScopes(%v) = %v; want InvalidArgument saying %q", tc.in, err, tc.says)
			}
		})
	}
}

// keys is an Authenticator with a fixed set of valid secrets.
type keys map[string]*Principal

func (k keys) Authenticate(_ context.Context, secret string) (*Principal, error) {
	if p, ok := k[secret]; ok {
		return p, nil
	}
	if strings.HasPrefix(secret, "revoked") {
		return nil, Refuse(ReasonRevoked, "API key key_r was revoked")
	}
	return nil, Refuse(ReasonUnknown, "unknown API key (prefix %s)", KeyHint(secret))
}

// Vouch implements Voucher for the service key alone.
func (k keys) Vouch(secret string) *Principal {
	if secret == serviceKey {
		return k[secret]
	}
	return nil
}

const (
	writerKey   = "writer-secret-0123456789abcdef0123"
	serviceKey  = "service-secret-0123456789abcdef012"
	proposerKey = "proposer-secret-0123456789abcdef01"
)

func testKeys() keys {
	return keys{
		writerKey:   {ID: "prn_w", KeyID: "key_w", Scopes: []string{ScopeArticlesWrite}},
		serviceKey:  {ID: "prn_s", KeyID: "key_s", Scopes: []string{ScopeInternalAuthn}},
		proposerKey: {ID: "prn_p", KeyID: "key_p", Scopes: []string{ScopeArticlesPropose}},
	}
}

// incoming is a call's context from addr with metadata md.
func incoming(addr string, md metadata.MD) context.Context {
	ctx := metadata.NewIncomingContext(context.Background(), md)
	return peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(addr), Port: 40000}})
}

func TestGuardCheck(t *testing.T) {
	t.Parallel()
	create := "/buzhou.article.v1.ArticleService/CreateArticle"
	get := "/buzhou.article.v1.ArticleService/GetArticle"
	trust := "/buzhou.article.v1.ArticleService/UpdateArticleTrust"
	cases := []struct {
		name, method string
		md           metadata.MD
		want         error
		reason       string
	}{
		{"public without key", get, metadata.MD{}, nil, ""},
		{"public with bad key", get, metadata.Pairs("x-api-key", "wrong"), errs.ErrUnauthenticated, ReasonUnknown},
		{"scoped without key", create, metadata.MD{}, errs.ErrUnauthenticated, ReasonMissing},
		{"scoped with bearer", create, metadata.Pairs("authorization", "Bearer "+writerKey), nil, ""},
		{"scoped with x-api-key", create, metadata.Pairs("x-api-key", writerKey), nil, ""},
		{"scoped with wrong key", create, metadata.Pairs("authorization", "Bearer nope"), errs.ErrUnauthenticated, ReasonUnknown},
		{"key with a non-breaking space", create, metadata.Pairs("authorization", "Bearer "+writerKey+"\u00a0"), errs.ErrUnauthenticated, ReasonMalformed},
		{"key not UTF-8", create, metadata.Pairs("x-api-key", writerKey+"\xff"), errs.ErrUnauthenticated, ReasonMalformed},
		{"alternative scope admits", create, metadata.Pairs("x-api-key", proposerKey), nil, ""},
		{"alternative scope is not the scope", "/buzhou.article.v1.ArticleService/PublishArticle", metadata.Pairs("x-api-key", proposerKey), errs.ErrPermissionDenied, ""},
		{"internal RPC with an outside key", trust, metadata.Pairs("x-api-key", writerKey), errs.ErrPermissionDenied, ""},
		{"health is public", "/grpc.health.v1.Health/Check", metadata.MD{}, nil, ""},
		{"unknown buzhou method", "/buzhou.article.v1.ArticleService/Nope", metadata.MD{}, errs.ErrPermissionDenied, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := NewGuard(testKeys(), 0, nil)
			ctx, err := g.Check(incoming("192.0.2.1", tc.md), tc.method)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
			if got := ReasonOf(err); got != tc.reason {
				t.Errorf("reason %q, want %q", got, tc.reason)
			}
			if err == nil && tc.md.Len() > 0 && FromContext(ctx) == nil {
				t.Errorf("no principal in context")
			}
		})
	}
}

// TestGuardThrottlesGuesses: after the allowed failures an address's keys
// are refused unchecked, with when to retry; other addresses, and revoked
// keys, are not held against it; the log names the prefix, never the key.
func TestGuardThrottlesGuesses(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	g := NewGuard(testKeys(), 3, slog.New(slog.NewTextHandler(&logs, nil)))
	const guess = "guess-0123456789abcdefghijklmnopqrstuv"
	call := func(addr, key string) error {
		_, err := g.Check(incoming(addr, metadata.Pairs("x-api-key", key)), "/buzhou.article.v1.ArticleService/CreateArticle")
		return err
	}
	for range 5 {
		if err := call("192.0.2.7", "revoked-key"); ReasonOf(err) != ReasonRevoked {
			t.Fatalf("revoked key: %v", err)
		}
	}
	for i := range 3 {
		if err := call("192.0.2.7", guess); ReasonOf(err) != ReasonUnknown {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	retryIn := regexp.MustCompile(`retry in (19|20) s$`) // 1 failure refills in 20 s
	for _, key := range []string{guess, writerKey, "Bearer\u00a0x"} {
		err := call("192.0.2.7", key)
		if !errors.Is(err, errs.ErrResourceExhausted) || !retryIn.MatchString(err.Error()) {
			t.Fatalf("after 3 guesses, key %q: %v; want ResourceExhausted saying when to retry", KeyHint(key), err)
		}
	}
	if err := call("192.0.2.8", writerKey); err != nil {
		t.Errorf("another address is throttled too: %v", err)
	}
	// A key the authenticator vouches for unchecked still passes, so that
	// a guesser sharing the address cannot lock a service out.
	if _, err := g.Check(incoming("192.0.2.7", metadata.Pairs("x-api-key", serviceKey)), "/buzhou.identity.v1.IdentityService/AuthenticateApiKey"); err != nil {
		t.Errorf("a vouched-for key from a throttled address: %v", err)
	}
	if _, err := g.Check(incoming("192.0.2.7", metadata.MD{}), "/buzhou.article.v1.ArticleService/GetArticle"); err != nil {
		t.Errorf("a call without a key is throttled: %v", err)
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"API key refused\""); n != 8 {
		t.Errorf("want a warning per refused key (8), got %d:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "prefix=guess-01…") || strings.Contains(logs.String(), guess[8:]) {
		t.Errorf("the log should name the prefix only:\n%s", logs.String())
	}
}

func TestFixedKey(t *testing.T) {
	t.Parallel()
	k := NewFixedKey("the-one-secret-0123456789abcdef-xyz", Principal{ID: "prn_service_verification", Scopes: []string{ScopeInternalSandbox}})
	p, err := k.Authenticate(t.Context(), "the-one-secret-0123456789abcdef-xyz")
	if err != nil || p.ID != "prn_service_verification" || !p.Has(ScopeInternalSandbox) {
		t.Fatalf("Authenticate(the key) = %+v, %v", p, err)
	}
	if _, err := k.Authenticate(t.Context(), "another-secret-0123456789abcdef-xyz"); ReasonOf(err) != ReasonUnknown {
		t.Fatalf("Authenticate(another) = %v; want refused as unknown", err)
	}
	if k.Vouch("the-one-secret-0123456789abcdef-xy") != nil {
		t.Fatal("Vouch knows a prefix of the key")
	}
}
