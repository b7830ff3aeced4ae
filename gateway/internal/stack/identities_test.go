package stack

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"buzhou.dev/platform/auth"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// internalRPC is an RPC whose access rule names an internal scope.
type internalRPC struct {
	full  string // "/buzhou.article.v1.ArticleService/WatchArticles"
	scope string
	md    protoreflect.MethodDescriptor
}

// internalRPCs walks every RPC of every Buzhou service for the internal ones.
func internalRPCs(t *testing.T) []internalRPC {
	t.Helper()
	var out []internalRPC
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "buzhou.") {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				full := "/" + string(sd.FullName()) + "/" + string(md.Name())
				if scope := auth.AccessOf(full).GetScope(); auth.IsInternal(scope) {
					out = append(out, internalRPC{full: full, scope: scope, md: md})
				}
			}
		}
		return true
	})
	if len(out) < 5 {
		t.Fatalf("found %d internal RPCs; want at least WatchArticles, UpdateArticleTrust, AuthenticateApiKey, WatchKeyRevocations, RecordAgentUsage", len(out))
	}
	return out
}

// knowsOneKey reports an RPC of the sandbox runner, which checks keys
// against the one it was given, not the identity service.
func knowsOneKey(rpc internalRPC) bool {
	return rpc.md.Parent().FullName() == "buzhou.verification.v1.SandboxRunnerService"
}

// addrOf returns the address of the service that serves rpc.
func addrOf(t *testing.T, s *Stack, rpc internalRPC) string {
	t.Helper()
	switch svc := rpc.md.Parent().FullName(); svc {
	case "buzhou.article.v1.ArticleService":
		return s.ArticleAddr
	case "buzhou.search.v1.SearchService":
		return s.SearchAddr
	case "buzhou.verification.v1.VerificationService", "buzhou.identity.v1.IdentityService":
		return s.VerificationAddr
	case "buzhou.verification.v1.SandboxRunnerService":
		return sandboxAddr(t, s)
	default:
		t.Fatalf("no address for service %s: add it here", svc)
		return ""
	}
}

// invoke calls rpc with req (an empty request when nil) and returns the
// call's error. A server stream counts as allowed once it starts (its
// headers arrive); the stream is then closed.
func invoke(ctx context.Context, conn *grpc.ClientConn, rpc internalRPC, req proto.Message) error {
	if req == nil {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(rpc.md.Input().FullName())
		if err != nil {
			return err
		}
		req = mt.New().Interface()
	}
	out, err := protoregistry.GlobalTypes.FindMessageByName(rpc.md.Output().FullName())
	if err != nil {
		return err
	}
	resp := out.New().Interface()
	if !rpc.md.IsStreamingServer() {
		return conn.Invoke(ctx, rpc.full, req, resp)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, rpc.full)
	if err != nil {
		return err
	}
	if err := stream.SendMsg(req); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	if md, err := stream.Header(); err != nil || md == nil {
		return stream.RecvMsg(resp) // ended before it started: the status says why
	}
	return nil
}

// TestInternalRPCsRefuseOutsideKeys walks every RPC whose access rule names
// an internal scope: no outside scope reaches it over gRPC (a key with every
// outside scope, and the bootstrap key, get PermissionDenied), and it has no
// REST binding at all.
func TestInternalRPCsRefuseOutsideKeys(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	_, everything := createKey(t, admin, map[string]any{"name": "every outside scope", "scopes": auth.KeyScopes()})
	httpRule, err := protoregistry.GlobalTypes.FindExtensionByName("google.api.http")
	if err != nil {
		t.Fatalf("the google.api.http option is not registered: %v", err)
	}
	for _, rpc := range internalRPCs(t) {
		t.Run(rpc.full, func(t *testing.T) {
			t.Parallel()
			if proto.HasExtension(rpc.md.Options(), httpRule) {
				t.Errorf("%s needs %s but has a REST binding", rpc.full, rpc.scope)
			}
			for name, key := range map[string]string{"every outside scope": everything, "bootstrap key": testAdminKey} {
				err := invoke(t.Context(), grpcConn(t, addrOf(t, s, rpc), key), rpc, nil)
				if knowsOneKey(rpc) && status.Code(err) == codes.Unauthenticated {
					return // the sandbox runner knows no key but the verification service's
				}
				if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), fmt.Sprintf("%q", rpc.scope)) {
					t.Errorf("%s with the %s: %v; want PermissionDenied naming %q", rpc.full, name, err, rpc.scope)
				}
			}
		})
	}
}

// TestServiceIdentitiesReachOnlyTheirRPCs: each service's key reaches
// exactly the internal RPCs its scopes allow (search's cannot write trust,
// the gateway's cannot follow the feed), and no outside RPC that needs a
// scope, over gRPC or REST.
func TestServiceIdentitiesReachOnlyTheirRPCs(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	must(t, admin.do("POST", "/api/v1/articles", article("Feed has something")), http.StatusCreated) // so that WatchArticles starts
	requests := map[string]proto.Message{
		"/buzhou.identity.v1.IdentityService/AuthenticateApiKey": &identityv1.AuthenticateApiKeyRequest{Key: testAdminKey},
	}
	for _, si := range auth.ServiceIdentities() {
		key := s.ServiceKeys[si.Service]
		for _, rpc := range internalRPCs(t) {
			allowed := slices.Contains(si.Scopes, rpc.scope)
			t.Run(fmt.Sprintf("%s calls %s", si.Service, rpc.md.Name()), func(t *testing.T) {
				t.Parallel()
				err := invoke(t.Context(), grpcConn(t, addrOf(t, s, rpc), key), rpc, requests[rpc.full])
				switch code := status.Code(err); {
				case allowed && (code == codes.PermissionDenied || code == codes.Unauthenticated):
					t.Errorf("%s holds %s but %s refuses it: %v", si.Service, rpc.scope, rpc.full, err)
				case !allowed && knowsOneKey(rpc) && code == codes.Unauthenticated:
					// The sandbox runner takes the verification service's key
					// and refuses every other as unknown.
				case !allowed && code != codes.PermissionDenied:
					t.Errorf("%s lacks %s but %s answers %v", si.Service, rpc.scope, rpc.full, err)
				}
			})
		}
		t.Run(si.Service+" has no outside scope", func(t *testing.T) {
			t.Parallel()
			arts := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, key))
			_, err := arts.CreateArticle(t.Context(), &articlev1.CreateArticleRequest{Article: newArticle("by a service " + si.Service)})
			if status.Code(err) != codes.PermissionDenied {
				t.Errorf("CreateArticle with the %s service key: %v", si.Service, err)
			}
			ids := identityv1.NewIdentityServiceClient(grpcConn(t, s.VerificationAddr, key))
			if _, err := ids.ListApiKeys(t.Context(), &identityv1.ListApiKeysRequest{}); status.Code(err) != codes.PermissionDenied {
				t.Errorf("ListApiKeys with the %s service key: %v", si.Service, err)
			}
			for _, r := range []response{
				newClient(t, s, key).do("POST", "/api/v1/articles", article("REST by "+si.Service)),
				newClient(t, s, key).do("GET", "/api/v1/keys", nil),
			} {
				if r.status != http.StatusForbidden {
					t.Errorf("REST with the %s service key: %d %s", si.Service, r.status, r.body)
				}
			}
		})
	}
}

// TestMintingRules checks who may mint which keys, over REST and gRPC alike.
func TestMintingRules(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	_, sub := createKey(t, admin, map[string]any{"name": "sub-admin", "scopes": []string{"keys:admin", "articles:write"}})
	principal := must(t, admin.do("POST", "/api/v1/principals", map[string]any{"name": "Dr. Li", "type": "human_expert"}), http.StatusCreated).json(t)["id"].(string)

	tests := []struct {
		name      string
		key       string
		scopes    []string
		principal string
		status    int
		says      string
	}{
		{"bootstrap grants keys:admin", testAdminKey, []string{"keys:admin"}, "", http.StatusCreated, ""},
		{"sub-admin grants a scope it holds", sub, []string{"articles:write"}, "", http.StatusCreated, ""},
		{"sub-admin mints for another principal", sub, []string{"articles:write"}, principal, http.StatusCreated, ""},
		{"sub-admin grants a scope it lacks", sub, []string{"verifications:write"}, "", http.StatusForbidden, `lacks scope "verifications:write"`},
		{"sub-admin grants keys:admin", sub, []string{"keys:admin"}, "", http.StatusForbidden, `only the bootstrap key (BUZHOU_ADMIN_KEY) may grant "keys:admin"`},
		{"an internal scope", testAdminKey, []string{"internal:trust"}, "", http.StatusBadRequest, `"internal:trust" is internal`},
		{"for the bootstrap principal", testAdminKey, []string{"articles:write"}, "prn_admin", http.StatusForbidden, "BUZHOU_ADMIN_KEY"},
		{"for the gateway's principal", sub, []string{"articles:write"}, "prn_service_gateway", http.StatusForbidden, "BUZHOU_GATEWAY_SERVICE_KEY"},
		{"for a principal that does not exist", testAdminKey, []string{"articles:write"}, "prn_nobody", http.StatusNotFound, "prn_nobody"},
	}
	grpcCode := map[int]codes.Code{http.StatusCreated: codes.OK, http.StatusForbidden: codes.PermissionDenied, http.StatusBadRequest: codes.InvalidArgument, http.StatusNotFound: codes.NotFound}
	for _, tt := range tests {
		t.Run(tt.name+" over REST", func(t *testing.T) {
			t.Parallel()
			r := newClient(t, s, tt.key).do("POST", "/api/v1/keys", map[string]any{"name": tt.name, "scopes": tt.scopes, "principalId": tt.principal})
			if r.status != tt.status {
				t.Fatalf("%d %s; want %d", r.status, r.body, tt.status)
			}
			if r.status >= 400 {
				if msg, _ := r.json(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, tt.says) {
					t.Errorf("message %q; want it to say %q", msg, tt.says)
				}
			}
		})
		t.Run(tt.name+" over gRPC", func(t *testing.T) {
			t.Parallel()
			ids := identityv1.NewIdentityServiceClient(grpcConn(t, s.VerificationAddr, tt.key))
			_, err := ids.CreateApiKey(t.Context(), &identityv1.CreateApiKeyRequest{Name: tt.name, Scopes: tt.scopes, PrincipalId: tt.principal})
			if status.Code(err) != grpcCode[tt.status] || !strings.Contains(status.Convert(err).Message(), tt.says) {
				t.Errorf("%v; want %v saying %q", err, grpcCode[tt.status], tt.says)
			}
		})
	}
}

// waitFollowing returns once the gateway and the article service follow
// revocations: a key revoked after use is refused by both. Until then they
// may yet drop their caches (they do when the stream opens), which tests of
// the cache must not race with.
func waitFollowing(t testing.TB, s *Stack) {
	t.Helper()
	admin := newClient(t, s, testAdminKey)
	id, key := createKey(t, admin, map[string]any{"name": "barrier", "scopes": []string{"articles:write"}})
	c := newClient(t, s, key)
	arts := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, key))
	must(t, c.do("GET", "/api/v1/articles?status=draft", nil), http.StatusOK)
	if _, err := arts.ListArticles(context.Background(), &articlev1.ListArticlesRequest{Status: "draft"}); err != nil {
		t.Fatal(err)
	}
	must(t, admin.do("DELETE", "/api/v1/keys/"+id, nil), http.StatusOK)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := arts.ListArticles(context.Background(), &articlev1.ListArticlesRequest{Status: "draft"})
		if status.Code(err) == codes.Unauthenticated && c.do("GET", "/api/v1/articles?status=draft", nil).status == http.StatusUnauthorized {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the revocation stream never reached the gateway and the article service (%v)", err)
		}
	}
}

// TestRevocationIsPushed: the verification service refuses a revoked key on
// the very next call (it checks keys against its store); the gateway and the
// article service, which cache keys for an hour in this stack, refuse it
// within the test's deadline only because the revocation is pushed to them.
func TestRevocationIsPushed(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{keyCacheTTL: time.Hour})
	waitFollowing(t, s)
	admin := newClient(t, s, testAdminKey)
	id, key := createKey(t, admin, map[string]any{"name": "soon revoked", "scopes": []string{"articles:write", "keys:admin"}})
	c := newClient(t, s, key)
	must(t, c.do("POST", "/api/v1/articles", article("Before the revocation")), http.StatusCreated)
	must(t, c.do("GET", "/api/v1/keys", nil), http.StatusOK)
	arts := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, key))
	ids := identityv1.NewIdentityServiceClient(grpcConn(t, s.VerificationAddr, key))
	if _, err := arts.ListArticles(t.Context(), &articlev1.ListArticlesRequest{Status: "draft"}); err != nil {
		t.Fatal(err)
	}

	must(t, admin.do("DELETE", "/api/v1/keys/"+id, nil), http.StatusOK)
	answered := time.Now()
	_, err := ids.ListApiKeys(t.Context(), &identityv1.ListApiKeysRequest{})
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(status.Convert(err).Message(), "was revoked at") {
		t.Fatalf("the verification service must refuse a revoked key at once: %v", err)
	}

	first := true
	for deadline := answered.Add(15 * time.Second); ; first = false {
		r := c.do("POST", "/api/v1/articles", article(fmt.Sprintf("After the revocation %d", time.Now().UnixNano())))
		if r.status == http.StatusUnauthorized {
			if !strings.Contains(string(r.body), "was revoked at") {
				t.Errorf("refusal of a revoked key: %s", r.body)
			}
			t.Logf("REST: refused %v after the revocation answer (on the first call: %v)", time.Since(answered), first)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway still accepts a revoked key (%d %s): the revocation was not pushed", r.status, r.body)
		}
		time.Sleep(time.Millisecond)
	}
	for deadline := answered.Add(15 * time.Second); ; {
		_, err := arts.ListArticles(t.Context(), &articlev1.ListArticlesRequest{Status: "draft"})
		if status.Code(err) == codes.Unauthenticated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the article service still accepts a revoked key (%v): the revocation was not pushed", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFailedKeyChecksAreThrottledOverGRPC: guesses on a gRPC port use up the
// address's failed checks, after which its keys are refused unchecked, with
// when to retry. In the all-in-one every internal caller shares that
// loopback address, yet the gateway keeps working: its own key and the keys
// it has cached are vouched for without a check.
func TestFailedKeyChecksAreThrottledOverGRPC(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{failedAuthPerMinute: 3})
	waitFollowing(t, s)
	admin := newClient(t, s, testAdminKey)
	must(t, admin.do("POST", "/api/v1/articles", article("Before the guesses")), http.StatusCreated)

	targets := map[string]func(key string) error{
		"AuthenticateApiKey": func(key string) error {
			ids := identityv1.NewIdentityServiceClient(grpcConn(t, s.VerificationAddr, key))
			_, err := ids.AuthenticateApiKey(t.Context(), &identityv1.AuthenticateApiKeyRequest{Key: testAdminKey})
			return err
		},
		"CreateArticle": func(key string) error {
			arts := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, key))
			_, err := arts.CreateArticle(t.Context(), &articlev1.CreateArticleRequest{Article: newArticle("guess")})
			return err
		},
	}
	for name, call := range targets {
		for i := range 3 {
			err := call(fmt.Sprintf("bzk_guess%d0000000000000000000000000000", i))
			if status.Code(err) != codes.Unauthenticated {
				t.Fatalf("%s, guess %d: %v", name, i, err)
			}
		}
		err := call("bzk_guess30000000000000000000000000000")
		if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "retry in") {
			t.Fatalf("%s after 3 guesses: %v; want ResourceExhausted saying when to retry", name, err)
		}
	}
	must(t, admin.do("POST", "/api/v1/articles", article("After the guesses")), http.StatusCreated)
	ids := identityv1.NewIdentityServiceClient(grpcConn(t, s.VerificationAddr, s.ServiceKeys[auth.ServiceGateway]))
	if _, err := ids.AuthenticateApiKey(t.Context(), &identityv1.AuthenticateApiKeyRequest{Key: testAdminKey}); err != nil {
		t.Errorf("the gateway's own key from the throttled address: %v", err)
	}
}

// BenchmarkRevocationLatency measures, through the push (keys are cached for
// an hour here), the time from the answer of DELETE /api/v1/keys/{id} to the
// answer of the first REST call the gateway refuses with that key, and how
// often that is the very first call.
func BenchmarkRevocationLatency(b *testing.B) {
	s := startStack(b, options{})
	waitFollowing(b, s)
	admin := newClient(b, s, testAdminKey)
	var total time.Duration
	first := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		id, key := createKey(b, admin, map[string]any{"name": fmt.Sprint("bench ", i), "scopes": []string{"articles:write"}})
		c := newClient(b, s, key)
		must(b, c.do("GET", "/api/v1/articles?status=draft", nil), http.StatusOK) // cached at the gateway and the article service
		b.StartTimer()
		must(b, admin.do("DELETE", "/api/v1/keys/"+id, nil), http.StatusOK)
		answered := time.Now()
		for n := 0; ; n++ {
			if c.do("GET", "/api/v1/articles?status=draft", nil).status == http.StatusUnauthorized {
				if n == 0 {
					first++
				}
				break
			}
			if time.Since(answered) > 15*time.Second {
				b.Fatal("the revoked key is still accepted after 15 s")
			}
		}
		total += time.Since(answered)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/refusal")
	b.ReportMetric(100*float64(first)/float64(b.N), "%first-call")
}
