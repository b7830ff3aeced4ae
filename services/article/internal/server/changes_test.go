package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"buzhou.dev/platform/errs"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// lastChange returns the newest entry of the feed.
func lastChange(t *testing.T, s *Server) *articlev1.ArticleChange {
	t.Helper()
	head, err := s.store.HeadRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	changes, err := s.store.Changes(t.Context(), head-1, 1)
	if err != nil || len(changes) != 1 {
		t.Fatalf("Changes: %v, %v", changes, err)
	}
	return changes[0]
}

// A trust write-back says so in the feed, with what it changed, so the
// verification service can skip its own writes.
func TestTrustWriteBackChange(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t, Options{})
	a, err := s.CreateArticle(t.Context(), &articlev1.CreateArticleRequest{Article: bigArticle("Trust me", 10)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateArticleTrust(t.Context(), &articlev1.UpdateArticleTrustRequest{
		ArticleId: a.GetId(), VerificationStatus: proto.String("verified"), ConfidenceScore: proto.Int32(91),
	}); err != nil {
		t.Fatal(err)
	}
	c := lastChange(t, s)
	if c.GetCause() != articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK {
		t.Errorf("cause = %v, want TRUST_WRITEBACK", c.GetCause())
	}
	if d := cmp.Diff([]string{"confidence_score", "verification_status"}, c.GetChangedPaths()); d != "" {
		t.Errorf("changed paths (-want +got):\n%s", d)
	}
}

// Every write RPC records its own cause.
func TestChangeCauses(t *testing.T) {
	t.Parallel()
	trust := func(cause articlev1.ChangeCause) func(*Server, string) error {
		return func(s *Server, id string) error {
			_, err := s.UpdateArticleTrust(t.Context(), &articlev1.UpdateArticleTrustRequest{ArticleId: id, RiskLevel: proto.String("high"), Cause: cause})
			return err
		}
	}
	tests := []struct {
		name  string
		write func(s *Server, id string) error
		cause articlev1.ChangeCause
		paths []string
	}{
		{"update", func(s *Server, id string) error {
			_, err := s.UpdateArticle(t.Context(), &articlev1.UpdateArticleRequest{Article: &articlev1.Article{Id: id, Tags: []string{"new"}}})
			return err
		}, articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT, []string{"tags"}},
		{"publish", func(s *Server, id string) error {
			_, err := s.PublishArticle(t.Context(), &articlev1.PublishArticleRequest{Id: id})
			return err
		}, articlev1.ChangeCause_CHANGE_CAUSE_STATUS_CHANGE, []string{"published_at", "status"}},
		{"archive", func(s *Server, id string) error {
			_, err := s.ArchiveArticle(t.Context(), &articlev1.ArchiveArticleRequest{Id: id})
			return err
		}, articlev1.ChangeCause_CHANGE_CAUSE_STATUS_CHANGE, []string{"status"}},
		{"trust write-back named", trust(articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK), articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK, []string{"risk_level"}},
		{"inspection repair", trust(articlev1.ChangeCause_CHANGE_CAUSE_INSPECTION_REPAIR), articlev1.ChangeCause_CHANGE_CAUSE_INSPECTION_REPAIR, []string{"risk_level"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newServer(t, Options{})
			a, err := s.CreateArticle(t.Context(), &articlev1.CreateArticleRequest{Article: bigArticle("Causes", 10)})
			if err != nil {
				t.Fatal(err)
			}
			if c := lastChange(t, s); c.GetCause() != articlev1.ChangeCause_CHANGE_CAUSE_CREATE || len(c.GetChangedPaths()) != 0 {
				t.Fatalf("create: cause %v, paths %q", c.GetCause(), c.GetChangedPaths())
			}
			if err := tt.write(s, a.GetId()); err != nil {
				t.Fatal(err)
			}
			c := lastChange(t, s)
			if c.GetCause() != tt.cause {
				t.Errorf("cause = %v, want %v", c.GetCause(), tt.cause)
			}
			if d := cmp.Diff(tt.paths, c.GetChangedPaths(), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("changed paths (-want +got):\n%s", d)
			}
		})
	}
}

// A trust write may not pass for an author's edit or a status change:
// followers skip changes by cause.
func TestTrustRefusesOtherCauses(t *testing.T) {
	t.Parallel()
	s, st := newServer(t, Options{})
	a, err := s.CreateArticle(t.Context(), &articlev1.CreateArticleRequest{Article: bigArticle("Causes", 10)})
	if err != nil {
		t.Fatal(err)
	}
	// The group returns once its parallel cases are done.
	t.Run("causes", func(t *testing.T) {
		for _, c := range []articlev1.ChangeCause{
			articlev1.ChangeCause_CHANGE_CAUSE_CREATE, articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT,
			articlev1.ChangeCause_CHANGE_CAUSE_STATUS_CHANGE, articlev1.ChangeCause(99),
		} {
			t.Run(c.String(), func(t *testing.T) {
				t.Parallel()
				_, err := s.UpdateArticleTrust(t.Context(), &articlev1.UpdateArticleTrustRequest{ArticleId: a.GetId(), ConfidenceScore: proto.Int32(50), Cause: c})
				if errs.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "TRUST_WRITEBACK") {
					t.Fatalf("UpdateArticleTrust with cause %v = %v, want InvalidArgument naming the causes to use", c, err)
				}
			})
		}
	})
	if head, err := st.HeadRevision(t.Context()); err != nil || head != 1 {
		t.Errorf("head revision %d (%v) after refused trust writes, want 1", head, err)
	}
}

// A page token of one domain is refused for another with InvalidArgument
// (400) saying to restart paging.
func TestListTokenOfOtherFilters(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t, Options{})
	for i := range 3 {
		in := bigArticle(fmt.Sprintf("Listed %d", i), 10)
		in.Status = "published"
		if _, err := s.CreateArticle(t.Context(), &articlev1.CreateArticleRequest{Article: in}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.ListArticles(t.Context(), &articlev1.ListArticlesRequest{Domain: "mcp", PageSize: 1})
	if err != nil || page.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, %v", page, err)
	}
	next := &articlev1.ListArticlesRequest{Domain: "mcp", PageSize: 2, PageToken: page.GetNextPageToken()}
	if got, err := s.ListArticles(t.Context(), next); err != nil || len(got.GetArticles()) != 2 {
		t.Fatalf("next page with another page size: %v, %v", got, err)
	}
	next.Domain = "agent"
	_, err = s.ListArticles(t.Context(), next)
	if errs.Code(err) != codes.InvalidArgument || !strings.Contains(errs.Message(err), "restart paging without pageToken") {
		t.Fatalf("a token of domain=mcp used for domain=agent = %v, want InvalidArgument saying to restart paging", err)
	}
}
