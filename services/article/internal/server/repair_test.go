package server

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"buzhou.dev/platform/errs"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// An inspection's repair and its trust summary are one revision with cause
// INSPECTION_REPAIR; only the repairable fields change.
func TestRepairArticle(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t, Options{})
	a, err := s.CreateArticle(t.Context(), &articlev1.CreateArticleRequest{Article: bigArticle("Repair me", 10)})
	if err != nil {
		t.Fatal(err)
	}
	repair := func(mask []string, rev int32, patch *articlev1.Article, trust *articlev1.UpdateArticleTrustRequest) (*articlev1.Article, error) {
		patch.Id = a.GetId()
		return s.RepairArticle(t.Context(), &articlev1.RepairArticleRequest{
			Article: patch, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}, ExpectedRevision: rev, Trust: trust,
		})
	}
	got, err := repair([]string{"keywords", "tags"}, a.GetRevision(),
		&articlev1.Article{Keywords: []string{"repair"}, Tags: []string{" Repaired "}, Title: &articlev1.LocalizedText{En: "not this"}},
		&articlev1.UpdateArticleTrustRequest{ArticleId: a.GetId(), RiskLevel: proto.String("medium"), VerificationStatus: proto.String("partial")})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetRevision() != a.GetRevision()+1 || got.GetTitle().GetEn() != "Repair me" || !cmp.Equal(got.GetTags(), []string{"repaired"}) ||
		!cmp.Equal(got.GetKeywords(), []string{"repair"}) || got.GetRiskLevel() != "medium" || got.GetVerificationStatus() != "partial" {
		t.Fatalf("repaired article %v", got)
	}
	c := lastChange(t, s)
	if c.GetCause() != articlev1.ChangeCause_CHANGE_CAUSE_INSPECTION_REPAIR {
		t.Errorf("cause %v, want INSPECTION_REPAIR", c.GetCause())
	}
	if d := cmp.Diff([]string{"keywords", "risk_level", "tags", "verification_status"}, c.GetChangedPaths()); d != "" {
		t.Errorf("changed paths (-want +got):\n%s", d)
	}

	for _, tc := range []struct {
		name  string
		mask  []string
		rev   int32
		patch *articlev1.Article
		trust *articlev1.UpdateArticleTrustRequest
		want  error
		says  string
	}{
		{"stale revision", []string{"tags"}, a.GetRevision(), &articlev1.Article{Tags: []string{"x"}}, nil, errs.ErrFailedPrecondition, ""},
		{"no revision", []string{"tags"}, 0, &articlev1.Article{Tags: []string{"x"}}, nil, errs.ErrInvalid, "expected_revision"},
		{"a field no repair touches", []string{"title"}, got.GetRevision(), &articlev1.Article{Title: &articlev1.LocalizedText{En: "x"}}, nil, errs.ErrInvalid, `"title" cannot be repaired`},
		{"no mask", nil, got.GetRevision(), &articlev1.Article{Tags: []string{"x"}}, nil, errs.ErrInvalid, "update_mask"},
		{"trust of another article", []string{"tags"}, got.GetRevision(), &articlev1.Article{Tags: []string{"x"}}, &articlev1.UpdateArticleTrustRequest{ArticleId: "art_other"}, errs.ErrInvalid, "trust.article_id"},
		{"another cause", []string{"tags"}, got.GetRevision(), &articlev1.Article{Tags: []string{"x"}},
			&articlev1.UpdateArticleTrustRequest{ArticleId: a.GetId(), Cause: articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK}, errs.ErrInvalid, "INSPECTION_REPAIR"},
		{"a repair that breaks the article", []string{"tags"}, got.GetRevision(), &articlev1.Article{Tags: []string{"two words"}}, nil, errs.ErrInvalid, "tags[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := repair(tc.mask, tc.rev, tc.patch, tc.trust)
			if !errors.Is(err, tc.want) || !strings.Contains(errs.Message(err), tc.says) {
				t.Fatalf("RepairArticle = %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
	if c := lastChange(t, s); c.GetRevision() != 2 {
		t.Errorf("refused repairs wrote to the feed: head %d", c.GetRevision())
	}
}
