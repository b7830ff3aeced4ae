package server

import (
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"buzhou.dev/article/internal/store"
	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

func newServer(t *testing.T, o Options) (*Server, store.Store) {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return New(st, slog.New(slog.DiscardHandler), o), st
}

func bigArticle(title string, contentBytes int) *articlev1.Article {
	return &articlev1.Article{
		Title:   &articlev1.LocalizedText{En: title},
		Summary: &articlev1.LocalizedText{En: "summary"},
		Content: &articlev1.LocalizedText{En: strings.Repeat("x", contentBytes)},
		Domain:  "mcp",
	}
}

// TestBatchTooLargeToAnswerWritesNothing: a batch whose answer cannot fit
// in one message used to be committed whole and then fail in transport, so
// the client retried into conflicts and never learned the ids.
func TestBatchTooLargeToAnswerWritesNothing(t *testing.T) {
	t.Parallel()
	s, st := newServer(t, Options{MaxAnswerBytes: 100 << 10})
	req := &articlev1.BatchCreateArticlesRequest{}
	for i := range 20 {
		req.Articles = append(req.Articles, bigArticle("Big "+string(rune('a'+i)), 8<<10))
	}
	_, err := s.BatchCreateArticles(t.Context(), req)
	if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "nothing was written") || !regexp.MustCompile(`send about 1[0-9] articles per batchCreate call`).MatchString(err.Error()) {
		t.Fatalf("BatchCreateArticles = %v, want ErrInvalid saying nothing was written and how many to send", err)
	}
	if head, err := st.HeadRevision(t.Context()); err != nil || head != 0 {
		t.Fatalf("head revision %d (%v) after a refused batch, want 0", head, err)
	}

	// Within the bound the batch goes in, and bad items still stand alone.
	req.Articles = req.Articles[:5]
	req.Articles[2].Domain = "nowhere"
	resp, err := s.BatchCreateArticles(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.GetResults() {
		if (i == 2) != (r.GetError() != nil) || (i != 2 && r.GetArticle().GetId() == "") {
			t.Errorf("result %d: %v", i, r)
		}
	}
	if head, _ := st.HeadRevision(t.Context()); head != 4 {
		t.Errorf("head revision %d, want 4", head)
	}
}

// TestProposingKeyCreatesDrafts: a caller with articles:propose alone gets
// drafts, and asking to publish is refused naming articles:write; a writer
// publishes at once.
func TestProposingKeyCreatesDrafts(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t, Options{})
	proposer := auth.WithPrincipal(t.Context(), &auth.Principal{ID: "prn_p", Name: "agent", Scopes: []string{auth.ScopeArticlesPropose}})
	writer := auth.WithPrincipal(t.Context(), &auth.Principal{ID: "prn_w", Name: "writer", Scopes: []string{auth.ScopeArticlesWrite, auth.ScopeArticlesPropose}})

	a := bigArticle("Proposed", 10)
	a.Status = "published"
	if _, err := s.CreateArticle(proposer, &articlev1.CreateArticleRequest{Article: a}); !errors.Is(err, errs.ErrPermissionDenied) || !strings.Contains(err.Error(), `"articles:write"`) {
		t.Errorf("a proposer publishing: %v, want PermissionDenied naming articles:write", err)
	}
	for _, status := range []string{"", "draft"} {
		a := bigArticle("Proposed as "+status+"x", 10)
		a.Status = status
		got, err := s.CreateArticle(proposer, &articlev1.CreateArticleRequest{Article: a})
		if err != nil || got.GetStatus() != "draft" || got.GetAuthor() != "agent" {
			t.Errorf("a proposal with status %q: %v %v", status, err, got)
		}
	}
	a = bigArticle("Written", 10)
	a.Status = "published"
	if got, err := s.CreateArticle(writer, &articlev1.CreateArticleRequest{Article: a}); err != nil || got.GetStatus() != "published" {
		t.Errorf("a writer publishing: %v %v", err, got)
	}
}
