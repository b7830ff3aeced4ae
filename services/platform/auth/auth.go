// Package auth is the one access check every Buzhou service runs on every RPC,
// and the one definition of its words: the scopes, the services' own
// identities, and how a key is presented.
//
// Each RPC declares its rule next to its definition (the buzhou.identity.v1.access
// method option). A Guard reads the caller's key from the metadata
// ("authorization: Bearer <key>" or "x-api-key: <key>", parsed by
// PresentedKey, which the gateway uses too), throttles addresses that keep
// failing, resolves the key with an Authenticator (the identity service's
// own, or a Remote that caches and follows revocations), and enforces the
// declared scope.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
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
// error wrapping errs.ErrUnauthenticated, with the reason (see Refuse), for
// keys it refuses.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (*Principal, error)
}

// Voucher is an Authenticator that knows some valid keys without checking
// them (a fresh cache entry, a fixed key held in memory). Vouch returns the
// principal of such a key, nil for any other; it must be cheap and tell a
// guesser nothing it could not learn by using a valid key.
type Voucher interface {
	Vouch(secret string) *Principal
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

// Guard is the access check of one gRPC server: it authenticates the
// caller's key, throttles addresses that fail key checks, and enforces the
// method's access rule.
type Guard struct {
	authn    Authenticator
	throttle *Throttle
	log      *slog.Logger
	// counted is told the reason of every refused key (metrics).
	counted func(reason string)
}

// NewGuard checks keys with authn and allows each client address
// failedPerMinute failed key checks a minute (<= 0: the default). A nil log
// discards the warnings about refused keys.
func NewGuard(authn Authenticator, failedPerMinute int, log *slog.Logger) *Guard {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Guard{authn: authn, throttle: NewThrottle(failedPerMinute, nil), log: log, counted: func(string) {}}
}

// CountRefusals makes g tell count the reason (one of Reasons()) of every
// key it refuses, and returns g. Call it before g serves.
func (g *Guard) CountRefusals(count func(reason string)) *Guard {
	g.counted = count
	return g
}

// Check authenticates the caller of method and enforces its access rule. Methods
// outside Buzhou's packages (health, reflection) are public.
func (g *Guard) Check(ctx context.Context, fullMethod string) (context.Context, error) {
	rule := AccessOf(fullMethod)
	ctx, err := g.authenticate(ctx, fullMethod)
	if err != nil {
		return ctx, err
	}
	if rule == nil || rule.GetPublic() || rule.GetScope() == "" {
		if rule == nil && strings.HasPrefix(fullMethod, "/buzhou.") {
			return ctx, fmt.Errorf("%w: method %s declares no access rule", errs.ErrPermissionDenied, fullMethod)
		}
		return ctx, nil
	}
	p := FromContext(ctx)
	if p == nil {
		g.counted(ReasonMissing)
		return ctx, Refuse(ReasonMissing, "this call needs an API key with scope %s; %s", scopeList(rule), howToSend)
	}
	if !p.Has(rule.GetScope()) && !slices.ContainsFunc(rule.GetOrScopes(), p.Has) {
		return ctx, fmt.Errorf("%w: the key lacks scope %s (it has: %s); create a key with that scope", errs.ErrPermissionDenied, scopeList(rule), strings.Join(p.Scopes, ", "))
	}
	return ctx, nil
}

// scopeList names the scopes that admit a caller to an RPC: "articles:write"
// or, with alternatives, "articles:write" or "articles:propose".
func scopeList(rule *identityv1.Access) string {
	names := []string{strconv.Quote(rule.GetScope())}
	for _, s := range rule.GetOrScopes() {
		names = append(names, strconv.Quote(s))
	}
	return strings.Join(names, " or ")
}

// authenticate puts the caller's principal in ctx when it presents a key.
// Keys from an address that has used up its failed checks are refused
// without being checked.
func (g *Guard) authenticate(ctx context.Context, method string) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if len(md.Get("authorization")) == 0 && len(md.Get("x-api-key")) == 0 {
		return ctx, nil
	}
	var addr string
	if pr, ok := peer.FromContext(ctx); ok {
		addr = ClientAddr(pr.Addr)
	}
	secret, err := PresentedKey(md.Get("authorization"), md.Get("x-api-key"))
	if err == nil && secret == "" {
		return ctx, nil
	}
	if wait := g.throttle.Wait(addr); wait > 0 {
		// Keys the authenticator vouches for without a check (cached or
		// fixed ones) still pass: a guesser sharing the address, such as
		// loopback in the all-in-one, must not lock the services out.
		if v, ok := g.authn.(Voucher); ok && err == nil {
			if p := v.Vouch(secret); p != nil {
				return WithPrincipal(ctx, p), nil
			}
		}
		g.counted(ReasonThrottled)
		return ctx, fmt.Errorf("%w: too many failed API key checks from this address; retry in %d s",
			errs.ErrResourceExhausted, int64((wait+time.Second-1)/time.Second))
	}
	if err != nil {
		return ctx, g.refused(ctx, method, addr, "", err)
	}
	p, err := g.authn.Authenticate(ctx, secret)
	switch {
	case err == nil:
		return WithPrincipal(ctx, p), nil
	case errors.Is(err, errs.ErrUnauthenticated):
		return ctx, g.refused(ctx, method, addr, secret, err)
	}
	return ctx, err // the check failed, not the key
}

// refused counts and logs a refused key, then returns err. Only guesses
// (unknown and malformed keys) drain the address's bucket. Revoked and
// expired keys were issued, so they are no guess; and a gateway that
// forwards a key revoked a moment ago must not use up its address's checks,
// which every client behind it shares.
func (g *Guard) refused(ctx context.Context, method, addr, secret string, err error) error {
	reason := ReasonOf(err)
	if reason == ReasonUnknown || reason == ReasonMalformed {
		g.throttle.Fail(addr)
	}
	g.counted(reason)
	g.log.WarnContext(ctx, "API key refused", "reason", reason, "prefix", KeyHint(secret), "peer", addr, "method", method)
	return err
}

// UnaryInterceptor enforces access on unary RPCs.
func (g *Guard) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := g.Check(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor enforces access on streaming RPCs.
func (g *Guard) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := g.Check(ss.Context(), info.FullMethod)
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
