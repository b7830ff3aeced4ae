package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// clientMaxBytes is the test client's message limit, far below the
// services' so that crossing it stays cheap.
const clientMaxBytes = 1 << 20

// bigArticles is an article service whose GetArticle answers more than a
// gRPC message may carry, and whose ListArticles refuses with its own
// RESOURCE_EXHAUSTED.
type bigArticles struct {
	articlev1.UnimplementedArticleServiceServer
}

func (bigArticles) GetArticle(context.Context, *articlev1.GetArticleRequest) (*articlev1.Article, error) {
	return &articlev1.Article{Id: "art_big", Content: &articlev1.LocalizedText{En: strings.Repeat("x", clientMaxBytes+1024)}}, nil
}

func (bigArticles) ListArticles(context.Context, *articlev1.ListArticlesRequest) (*articlev1.ListArticlesResponse, error) {
	return nil, status.Error(codes.ResourceExhausted, "the export queue is full; retry in a minute")
}

// TestTransportLimitIsNotRateLimit: gRPC's refusal of a message over its
// size limit is the server's problem, not the client's: a 500 with a logged
// ref, never a 429 that invites retries. A service's own
// RESOURCE_EXHAUSTED stays 429.
func TestTransportLimitIsNotRateLimit(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	articlev1.RegisterArticleServiceServer(srv, bigArticles{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(clientMaxBytes)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	logs := &strings.Builder{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	h, err := New(context.Background(), Config{}, Upstreams{Article: conn, Search: conn, Verification: conn}, log)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, path string
		want       int
		inMsg      string
	}{
		{"answer over the gRPC limit", "/api/v1/articles/art_big", http.StatusInternalServerError, "internal error (ref "},
		{"a service's own refusal", "/api/v1/articles", http.StatusTooManyRequests, "queue is full"},
	}
	for _, tc := range cases {
		// Not parallel: the log is one builder.
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			var body struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
			}
			if rec.Code != tc.want || !strings.Contains(body.Error.Message, tc.inMsg) || strings.Contains(body.Error.Message, "grpc:") {
				t.Fatalf("%d %s; want %d with %q and no gRPC internals", rec.Code, rec.Body, tc.want, tc.inMsg)
			}
			if tc.want == http.StatusInternalServerError {
				ref := body.Error.Message[strings.Index(body.Error.Message, "(ref ")+5:]
				ref = ref[:strings.Index(ref, ")")]
				if !strings.Contains(logs.String(), "ref="+ref) || !strings.Contains(logs.String(), "larger than max") {
					t.Errorf("ref %s and the real error are not logged:\n%s", ref, logs)
				}
			}
		})
	}
}
