package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"buzhou.dev/platform/errs"
	// Imported for their descriptors: the walk below covers every service.
	_ "buzhou.dev/proto/gen/buzhou/article/v1"
	_ "buzhou.dev/proto/gen/buzhou/identity/v1"
	_ "buzhou.dev/proto/gen/buzhou/search/v1"
	_ "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// TestEveryRPCDeclaresAccess walks all Buzhou services and fails when an RPC
// has no access rule, or one that is both public and scoped.
func TestEveryRPCDeclaresAccess(t *testing.T) {
	t.Parallel()
	n := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if fd.Package() == "" || !isBuzhou(string(fd.Package())) {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				n++
				full := "/" + string(sd.FullName()) + "/" + string(md.Name())
				rule := AccessOf(full)
				switch {
				case rule == nil:
					t.Errorf("%s declares no (buzhou.identity.v1.access) option", full)
				case rule.GetPublic() == (rule.GetScope() != ""):
					t.Errorf("%s must be either public or scoped: %v", full, rule)
				case rule.GetScope() != "" && !validScope(rule.GetScope()):
					t.Errorf("%s names unknown scope %q", full, rule.GetScope())
				}
			}
		}
		return true
	})
	if n < 20 {
		t.Errorf("walked only %d RPCs; are the services registered?", n)
	}
}

func isBuzhou(pkg string) bool { return len(pkg) > 7 && pkg[:7] == "buzhou." }

func validScope(s string) bool {
	return slices.Contains(append(KeyScopes(), InternalScopes()...), s)
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
		{"none", nil, nil, "give at least one scope; valid scopes: articles:write, verifications:write, inspections:run, keys:admin"},
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

func TestCheck(t *testing.T) {
	t.Parallel()
	const key = "secret-admin"
	create := "/buzhou.article.v1.ArticleService/CreateArticle"
	get := "/buzhou.article.v1.ArticleService/GetArticle"
	cases := []struct {
		name, method string
		md           metadata.MD
		want         error
	}{
		{"public without key", get, metadata.MD{}, nil},
		{"public with bad key", get, metadata.Pairs("x-api-key", "wrong"), errs.ErrUnauthenticated},
		{"scoped without key", create, metadata.MD{}, errs.ErrUnauthenticated},
		{"scoped with bearer", create, metadata.Pairs("authorization", "Bearer "+key), nil},
		{"scoped with x-api-key", create, metadata.Pairs("x-api-key", key), nil},
		{"scoped with wrong key", create, metadata.Pairs("authorization", "Bearer nope"), errs.ErrUnauthenticated},
		{"key with a non-breaking space", create, metadata.Pairs("authorization", "Bearer "+key+"\u00a0"), errs.ErrUnauthenticated},
		{"key not UTF-8", create, metadata.Pairs("x-api-key", key+"\xff"), errs.ErrUnauthenticated},
		{"health is public", "/grpc.health.v1.Health/Check", metadata.MD{}, nil},
		{"unknown buzhou method", "/buzhou.article.v1.ArticleService/Nope", metadata.MD{}, errs.ErrPermissionDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := metadata.NewIncomingContext(context.Background(), tc.md)
			ctx, err := Check(ctx, AdminKey(key), tc.method)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
			if err == nil && tc.md.Len() > 0 && FromContext(ctx) == nil {
				t.Errorf("no principal in context")
			}
		})
	}
}
