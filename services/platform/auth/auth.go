// Package auth is the one access check every Buzhou service runs on every RPC.
//
// Each RPC declares its rule next to its definition (the buzhou.identity.v1.access
// method option). The interceptor reads the caller's key from the metadata
// ("authorization: Bearer <key>" or "x-api-key: <key>"), resolves it with an
// Authenticator, and enforces the declared scope.
package auth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"

	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"buzhou.dev/platform/errs"
)

// Principal is the authenticated caller.
type Principal struct {
	ID     string
	Name   string
	Type   string // official_bot, third_party_agent, human_expert
	KeyID  string
	Scopes []string
	// Bootstrap is true for the BUZHOU_ADMIN_KEY key, the only one that may
	// grant keys:admin.
	Bootstrap bool
	// Unlimited keys are not rate-limited at the gateway.
	Unlimited bool
	// RatePerMinute is the key's own rate limit; 0 means the default.
	RatePerMinute int
	// DailyQuota and MonthlyQuota bound the key's calls; 0 means none.
	DailyQuota, MonthlyQuota int64
}

// Has reports whether the principal holds scope.
func (p *Principal) Has(scope string) bool {
	for _, s := range p.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Authenticator resolves a presented secret to its principal. It returns an
// error wrapping errs.ErrUnauthenticated, with the reason, for keys it refuses.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (*Principal, error)
}

// AdminKey accepts exactly one secret, the bootstrap admin key, with every scope.
// An empty key accepts nothing.
type AdminKey string

// Authenticate implements Authenticator.
func (k AdminKey) Authenticate(_ context.Context, secret string) (*Principal, error) {
	if k == "" || subtle.ConstantTimeCompare([]byte(k), []byte(secret)) != 1 {
		return nil, fmt.Errorf("%w: unknown API key; check for typos or create a key with `buzhou keys create`", errs.ErrUnauthenticated)
	}
	return &Principal{ID: "admin", Name: "admin", Type: "official_bot", KeyID: "bootstrap", Scopes: KeyScopes(), Bootstrap: true, Unlimited: true}, nil
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the authenticated caller, nil for anonymous calls.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// AccessOf returns the declared access rule of a gRPC method
// ("/pkg.Service/Method"), nil when the method declares none. The lookup is two
// map reads in the generated descriptors, cheap enough for every call.
func AccessOf(fullMethod string) *identityv1.Access {
	name := strings.Replace(strings.TrimPrefix(fullMethod, "/"), "/", ".", 1)
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return nil
	}
	rule, _ := proto.GetExtension(md.Options(), identityv1.E_Access).(*identityv1.Access)
	return rule
}

// Check authenticates the caller of method and enforces its access rule. Methods
// outside Buzhou's packages (health, reflection) are public.
func Check(ctx context.Context, a Authenticator, fullMethod string) (context.Context, error) {
	rule := AccessOf(fullMethod)
	md, _ := metadata.FromIncomingContext(ctx)
	secret, err := PresentedKey(md.Get("authorization"), md.Get("x-api-key"))
	if err != nil {
		return ctx, err
	}
	if secret != "" {
		p, err := a.Authenticate(ctx, secret)
		if err != nil {
			return ctx, err
		}
		ctx = WithPrincipal(ctx, p)
	}
	if rule == nil || rule.GetPublic() || rule.GetScope() == "" {
		if rule == nil && strings.HasPrefix(fullMethod, "/buzhou.") {
			return ctx, fmt.Errorf("%w: method %s declares no access rule", errs.ErrPermissionDenied, fullMethod)
		}
		return ctx, nil
	}
	p := FromContext(ctx)
	if p == nil {
		return ctx, Refuse(ReasonMissing, "this call needs an API key with scope %q; %s", rule.GetScope(), howToSend)
	}
	if !p.Has(rule.GetScope()) {
		return ctx, fmt.Errorf("%w: the key lacks scope %q (it has: %s); create a key with that scope", errs.ErrPermissionDenied, rule.GetScope(), strings.Join(p.Scopes, ", "))
	}
	return ctx, nil
}

// UnaryInterceptor enforces access on unary RPCs.
func UnaryInterceptor(a Authenticator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := Check(ctx, a, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor enforces access on streaming RPCs.
func StreamInterceptor(a Authenticator) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := Check(ss.Context(), a, info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &wrappedStream{ServerStream: ss, ctx: ctx})
	}
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w *wrappedStream) Context() context.Context { return w.ctx }

// KeyCredentials attaches a key to every outgoing RPC of an internal client, so
// services calling each other are held to the same rules as outside callers.
type KeyCredentials string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (k KeyCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if k == "" {
		return nil, nil
	}
	return map[string]string{"authorization": "Bearer " + string(k)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials; internal
// traffic runs on loopback or inside the cluster network.
func (KeyCredentials) RequireTransportSecurity() bool { return false }
