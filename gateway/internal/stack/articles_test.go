package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// TestStatusTransitionsOverGRPC walks the article life cycle, including the
// moves that are refused: archiving then deprecating used to make an archived
// article public again.
func TestStatusTransitionsOverGRPC(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	ctx := context.Background()
	admin := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, testAdminKey))
	anon := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, ""))

	draft, err := admin.CreateArticle(ctx, &articlev1.CreateArticleRequest{Article: newArticle("Life cycle")})
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error, wants ...string) {
		t.Helper()
		st := status.Convert(err)
		if st.Code() != codes.FailedPrecondition {
			t.Fatalf("%s: %v, want FailedPrecondition", what, err)
		}
		for _, w := range wants {
			if !strings.Contains(st.Message(), w) {
				t.Errorf("%s: message %q lacks %q", what, st.Message(), w)
			}
		}
	}
	_, err = admin.DeprecateArticle(ctx, &articlev1.DeprecateArticleRequest{Id: draft.GetId(), Reason: "never published"})
	refused("deprecating a draft", err, "is draft", "cannot become deprecated", "published (POST /api/v1/articles/{id}:publish)")

	if _, err := admin.ArchiveArticle(ctx, &articlev1.ArchiveArticleRequest{Id: draft.GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = admin.DeprecateArticle(ctx, &articlev1.DeprecateArticleRequest{Id: draft.GetId(), Reason: "old"})
	refused("deprecating an archived article", err, "is archived", "can become: published")
	if _, err := anon.GetArticle(ctx, &articlev1.GetArticleRequest{IdOrSlug: draft.GetId()}); status.Code(err) != codes.NotFound {
		t.Fatalf("the refused deprecation made the archived article public: %v", err)
	}

	restored, err := admin.PublishArticle(ctx, &articlev1.PublishArticleRequest{Id: draft.GetId()})
	if err != nil || restored.GetStatus() != "published" {
		t.Fatalf("publishing an archived article restores it: %v %v", restored, err)
	}
	dep, err := admin.DeprecateArticle(ctx, &articlev1.DeprecateArticleRequest{Id: draft.GetId(), Reason: "first"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := admin.DeprecateArticle(ctx, &articlev1.DeprecateArticleRequest{Id: draft.GetId(), Reason: "second"})
	if err != nil || again.GetDeprecationReason() != "second" || again.GetRevision() != dep.GetRevision()+1 {
		t.Fatalf("deprecating again records the new reason: %v %v", again, err)
	}
	back, err := admin.PublishArticle(ctx, &articlev1.PublishArticleRequest{Id: draft.GetId()})
	if err != nil || back.GetStatus() != "published" || back.GetDeprecationReason() != "" || back.GetVerificationStatus() == "deprecated" {
		t.Fatalf("publishing a deprecated article withdraws the deprecation: %v %v", back, err)
	}
}

// TestListHiddenStatusesNeedTheScope: a valid key without articles:write asking
// for drafts is told which scope it lacks (403), not that it has no key (401).
func TestListHiddenStatusesNeedTheScope(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	_, verifier := createKey(t, admin, map[string]any{"name": "verifier", "scopes": []string{"verifications:write"}})

	for _, st := range []string{"draft", "archived"} {
		r := (&client{tb: t, base: admin.base, key: verifier}).do("GET", "/api/v1/articles?status="+st, nil)
		if r.status != http.StatusForbidden || r.errorCode(t) != "PERMISSION_DENIED" || !strings.Contains(string(r.body), "articles:write") || !strings.Contains(string(r.body), "verifications:write") {
			t.Errorf("status=%s with a verifier key: %d %s", st, r.status, r.body)
		}
		r = (&client{tb: t, base: admin.base}).do("GET", "/api/v1/articles?status="+st, nil)
		if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "articles:write") {
			t.Errorf("status=%s without a key: %d %s", st, r.status, r.body)
		}
		must(t, admin.do("GET", "/api/v1/articles?status="+st, nil), http.StatusOK)
	}
}

// corpusFile finds the shared evaluation corpus beside the repository
// (../shared/corpus/corpus.jsonl from its root) or at BUZHOU_CORPUS.
func corpusFile(t *testing.T) string {
	t.Helper()
	p := os.Getenv("BUZHOU_CORPUS")
	if p == "" {
		p = filepath.Join("..", "..", "..", "..", "shared", "corpus", "corpus.jsonl")
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no corpus at %s (set BUZHOU_CORPUS to the shared corpus.jsonl): %v", p, err)
	}
	return p
}

// TestCorpusImportsWhole: real articles carry tags like "-32602" (a JSON-RPC
// error code); every article of the shared corpus must import, through
// batchCreate and through `buzhou import`.
func TestCorpusImportsWhole(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(corpusFile(t))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")

	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	batch := `{"articles": [` + strings.Join(lines, ",") + `]}`
	r := must(t, admin.do("POST", "/api/v1/articles:batchCreate", batch), http.StatusOK)
	var out struct {
		Results []struct {
			Index int
			Error *struct{ Code, Message string }
		}
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != len(lines) {
		t.Fatalf("%d results for %d articles", len(out.Results), len(lines))
	}
	for _, res := range out.Results {
		if res.Error != nil {
			t.Errorf("corpus article %d refused by batchCreate: %s %s", res.Index, res.Error.Code, res.Error.Message)
		}
	}

	fresh := startStack(t, options{})
	stdout, stderr, err := cliFor(fresh)("import", corpusFile(t), "--publish")
	if err != nil {
		t.Fatalf("buzhou import: %v\n%s\n%s", err, stdout, stderr)
	}
	if want := fmt.Sprintf("imported %d", len(lines)); !strings.Contains(stdout, want) || !strings.Contains(stdout, "failed 0") {
		t.Errorf("import summary lacks %q and failed 0:\n%s", want, stdout)
	}
}

// TestLargeBatchAnswers: 500 articles in a 16 MB body used to be committed,
// then answered 429 with gRPC's own message because the answer outgrew the
// message limit; now the answer carries every id.
func TestLargeBatchAnswers(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	var items []map[string]any
	for i := range 500 {
		a := article(fmt.Sprintf("Large batch %d", i))
		a["content"] = map[string]any{"en": strings.Repeat("large batch body ", 1900)}
		items = append(items, a)
	}
	r := must(t, admin.do("POST", "/api/v1/articles:batchCreate", map[string]any{"articles": items}), http.StatusOK)
	var out struct {
		Results []struct {
			Article *struct{ ID string }
			Error   *struct{ Code, Message string }
		}
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 500 {
		t.Fatalf("%d results, want 500", len(out.Results))
	}
	for i, res := range out.Results {
		if res.Error != nil || res.Article == nil || res.Article.ID == "" {
			t.Fatalf("result %d: %+v", i, res)
		}
	}
}
