package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// TestRoutesNameTheMatchedRPC checks that the pattern grpc-gateway matches
// for each route leads back to that route's RPC: the early refusal of
// anonymous writes depends on it.
func TestRoutesNameTheMatchedRPC(t *testing.T) {
	t.Parallel()
	// Never dialled: the capturing middleware stops every call before it.
	conn, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var matched string
	mux := runtime.NewServeMux(runtime.WithMiddlewares(func(runtime.HandlerFunc) runtime.HandlerFunc {
		return func(_ http.ResponseWriter, r *http.Request, _ map[string]string) {
			pat, _ := runtime.HTTPPattern(r.Context())
			matched = r.Method + " " + pat.String()
		}
	}))
	for _, s := range apiServices(Upstreams{Article: conn, Search: conn, Verification: conn}) {
		if err := s.register(context.Background(), mux, conn); err != nil {
			t.Fatal(err)
		}
	}
	routes := Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes from the descriptors: %v", len(routes), routes)
	}
	rpcs := rpcsByPattern()
	variable := regexp.MustCompile(`\{[^}]+\}`)
	sawGet := false
	for _, rt := range routes {
		sawGet = sawGet || rt.RPC == articlev1.ArticleService_GetArticle_FullMethodName
		matched = ""
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(rt.Method, variable.ReplaceAllString(rt.Path, "x1"), nil))
		if got := rpcs[matched]; got != rt.RPC {
			t.Errorf("%s %s matched pattern %q, which names RPC %q; want %q", rt.Method, rt.Path, matched, got, rt.RPC)
		}
	}
	if !sawGet {
		t.Errorf("GetArticle is not among the routes: %v", routes)
	}
}
