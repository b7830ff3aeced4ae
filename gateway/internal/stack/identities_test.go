package stack

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// TestFailedKeyChecksAreThrottledOverGRPC: guesses on a gRPC port use up the
// address's failed checks, after which its keys are refused unchecked, with
// when to retry. In the all-in-one every internal caller shares that
// loopback address, yet the gateway keeps working: its own key and the keys
// it has cached are vouched for without a check.
func TestFailedKeyChecksAreThrottledOverGRPC(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{failedAuthPerMinute: 3})
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
	ids := identityv1.NewIdentityServiceClient(grpcConn(t, s.VerificationAddr, s.ServiceKey))
	if _, err := ids.AuthenticateApiKey(t.Context(), &identityv1.AuthenticateApiKeyRequest{Key: testAdminKey}); err != nil {
		t.Errorf("the gateway's own key from the throttled address: %v", err)
	}
}
