package identity_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/grpcx"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// serve runs e's Service on a loopback listener behind the shared interceptors,
// with the Service as the authenticator, and returns its address and a client
// without a key.
func serve(t *testing.T, e *env) (string, identityv1.IdentityServiceClient) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g := grpcx.NewServer(log, auth.NewGuard(e.svc, 0, log))
	identityv1.RegisterIdentityServiceServer(g.GRPC, e.svc)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, lis) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	conn, err := grpcx.Dial(lis.Addr().String(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return lis.Addr().String(), identityv1.NewIdentityServiceClient(conn)
}

func wantStatus(t *testing.T, err error, code codes.Code, says string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code || !strings.Contains(st.Message(), says) {
		t.Fatalf("got %v %q, want %v saying %q", st.Code(), st.Message(), code, says)
	}
}

func TestGRPCRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const admin = "grpc-admin-secret-0123456789abcdef"
	if err := e.svc.EnsureBootstrapKey(t.Context(), admin); err != nil {
		t.Fatal(err)
	}
	const service = "grpc-service-secret-0123456789abcdef"
	if err := e.svc.EnsureServiceKeys(t.Context(), map[string]string{auth.ServiceGateway: service}); err != nil {
		t.Fatal(err)
	}
	addr, client := serve(t, e)
	asAdmin := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+admin)
	asService := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+service)

	created, err := client.CreateApiKey(asAdmin, &identityv1.CreateApiKeyRequest{
		Name: "ci writer", Scopes: []string{auth.ScopeArticlesWrite}, RateLimitPerMinute: 30,
	})
	if err != nil {
		t.Fatalf("CreateApiKey: %v", err)
	}

	// AuthenticateApiKey is internal: the other services call it for every key,
	// and not even the bootstrap key reaches it.
	_, err = client.AuthenticateApiKey(asAdmin, &identityv1.AuthenticateApiKeyRequest{Key: created.GetKey()})
	wantStatus(t, err, codes.PermissionDenied, `"internal:authn"`)
	resolved, err := client.AuthenticateApiKey(asService, &identityv1.AuthenticateApiKeyRequest{Key: created.GetKey()})
	if err != nil {
		t.Fatalf("AuthenticateApiKey: %v", err)
	}
	if resolved.GetApiKey().GetId() != created.GetId() || resolved.GetPrincipal().GetId() != created.GetPrincipalId() ||
		resolved.GetApiKey().GetRateLimitPerMinute() != 30 || resolved.GetBootstrap() {
		t.Fatalf("AuthenticateApiKey = %v, want key %s of %s with 30/minute", resolved, created.GetId(), created.GetPrincipalId())
	}

	// The new key lacks keys:admin; the bearer scheme is case-insensitive.
	asWriter := metadata.AppendToOutgoingContext(t.Context(), "authorization", "bearer "+created.GetKey())
	_, err = client.ListApiKeys(asWriter, &identityv1.ListApiKeysRequest{})
	wantStatus(t, err, codes.PermissionDenied, `"keys:admin"`)
	asWriter = metadata.AppendToOutgoingContext(t.Context(), "x-api-key", created.GetKey())
	_, err = client.CreateApiKey(asWriter, &identityv1.CreateApiKeyRequest{Name: "escalate", Scopes: []string{auth.ScopeKeysAdmin}})
	wantStatus(t, err, codes.PermissionDenied, `"keys:admin"`)

	_, err = client.ListApiKeys(t.Context(), &identityv1.ListApiKeysRequest{})
	wantStatus(t, err, codes.Unauthenticated, `"keys:admin"`)
	_, err = client.CreateApiKey(asAdmin, &identityv1.CreateApiKeyRequest{Name: "bad", Scopes: []string{"root"}})
	wantStatus(t, err, codes.InvalidArgument, "valid scopes: ")
	_, err = client.RevokeApiKey(asAdmin, &identityv1.RevokeApiKeyRequest{Id: "key_bootstrap"})
	wantStatus(t, err, codes.FailedPrecondition, "BUZHOU_ADMIN_KEY")

	// An internal client sends its key with every call.
	conn, err := grpcx.Dial(addr, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := identityv1.NewIdentityServiceClient(conn).ListPrincipals(t.Context(), &identityv1.ListPrincipalsRequest{}); err != nil {
		t.Fatalf("ListPrincipals by an internal client: %v", err)
	}

	revoked, err := client.RevokeApiKey(asAdmin, &identityv1.RevokeApiKeyRequest{Id: created.GetId()})
	if err != nil {
		t.Fatalf("RevokeApiKey: %v", err)
	}
	_, err = client.ListApiKeys(asWriter, &identityv1.ListApiKeysRequest{})
	wantStatus(t, err, codes.Unauthenticated, "was revoked at "+revoked.GetRevokedAt().AsTime().Format("2006-01-02T15:04:05Z"))
	// A refusal names its reason in a trailer, for the other services' key checks.
	for key, reason := range map[string]string{created.GetKey(): auth.ReasonRevoked, "bzk_doesNotExist000000000000000000": auth.ReasonUnknown, "bzk\u00a0": auth.ReasonMalformed} {
		var trailer metadata.MD
		_, err = client.AuthenticateApiKey(asService, &identityv1.AuthenticateApiKeyRequest{Key: key}, grpc.Trailer(&trailer))
		wantStatus(t, err, codes.Unauthenticated, map[string]string{auth.ReasonRevoked: "was revoked", auth.ReasonUnknown: "unknown API key (prefix bzk_does…)", auth.ReasonMalformed: "malformed API key"}[reason])
		if got := trailer.Get(auth.ReasonTrailer); !cmp.Equal(got, []string{reason}) {
			t.Errorf("reason trailer %q, want %q", got, reason)
		}
	}

	list, err := client.ListApiKeys(asAdmin, &identityv1.ListApiKeysRequest{})
	if err != nil {
		t.Fatalf("ListApiKeys: %v", err)
	}
	if len(list.GetKeys()) != 3 {
		t.Fatalf("ListApiKeys = %d keys, want the bootstrap key, the gateway's service key and the created one", len(list.GetKeys()))
	}
	if _, err := client.RecordAgentUsage(asService, &identityv1.RecordAgentUsageRequest{
		Usage: []*identityv1.AgentUsage{{AgentId: "gateway-test", Calls: 2, TotalLatencyMs: 10}},
	}); err != nil {
		t.Fatalf("RecordAgentUsage: %v", err)
	}
}
