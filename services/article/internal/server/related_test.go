package server

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"buzhou.dev/platform/errs"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// The search service's related ids are one revision with cause
// RELATED_UPDATE that leaves updated_at alone; the same list again writes
// nothing, so a follower that recomputes lists cannot loop through the feed.
func TestSetRelatedArticles(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t, Options{})
	publish := func(title string, published bool) *articlev1.Article {
		t.Helper()
		in := bigArticle(title, 10)
		if published {
			in.Status = "published"
		}
		a, err := s.CreateArticle(t.Context(), &articlev1.CreateArticleRequest{Article: in})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a, b, c := publish("Related A", true), publish("Related B", true), publish("Related C", true)
	draft := publish("Related draft", false)
	set := func(id string, rev int32, ids ...string) (*articlev1.Article, error) {
		return s.SetRelatedArticles(t.Context(), &articlev1.SetRelatedArticlesRequest{ArticleId: id, RelatedIds: ids, ExpectedRevision: rev})
	}

	// c is edited, so its first revision is stale.
	if _, err := s.UpdateArticle(t.Context(), &articlev1.UpdateArticleRequest{
		Article: &articlev1.Article{Id: c.GetId(), Summary: &articlev1.LocalizedText{En: "edited"}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary"}},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := set(a.GetId(), a.GetRevision(), c.GetId(), b.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if got.GetRevision() != a.GetRevision()+1 || !cmp.Equal(got.GetRelatedIds(), []string{c.GetId(), b.GetId()}) {
		t.Fatalf("after SetRelatedArticles: revision %d, related %v", got.GetRevision(), got.GetRelatedIds())
	}
	if d := cmp.Diff(a.GetUpdatedAt(), got.GetUpdatedAt(), protocmp.Transform()); d != "" {
		t.Errorf("updated_at moved (-before +after):\n%s", d)
	}
	ch := lastChange(t, s)
	if ch.GetCause() != articlev1.ChangeCause_CHANGE_CAUSE_RELATED_UPDATE || !cmp.Equal(ch.GetChangedPaths(), []string{"related_ids"}) {
		t.Errorf("change: cause %v, paths %v; want RELATED_UPDATE, [related_ids]", ch.GetCause(), ch.GetChangedPaths())
	}
	head := ch.GetRevision()

	// The same list again: no revision, no feed entry.
	again, err := set(a.GetId(), 0, c.GetId(), b.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if again.GetRevision() != got.GetRevision() || lastChange(t, s).GetRevision() != head {
		t.Errorf("an unchanged list wrote: revision %d → %d, feed head %d → %d", got.GetRevision(), again.GetRevision(), head, lastChange(t, s).GetRevision())
	}
	stored, err := s.GetArticle(t.Context(), &articlev1.GetArticleRequest{IdOrSlug: a.GetId()})
	if err != nil || !cmp.Equal(stored.GetRelatedIds(), []string{c.GetId(), b.GetId()}) {
		t.Fatalf("GetArticle: %v, %v", stored.GetRelatedIds(), err)
	}

	many := make([]string, MaxRelated+1)
	for i := range many {
		many[i] = fmt.Sprintf("art_%d", i)
	}
	for _, tc := range []struct {
		name string
		id   string
		rev  int32
		ids  []string
		want error
		says string
	}{
		{"no article", "", 0, []string{b.GetId()}, errs.ErrInvalid, "article_id"},
		{"unknown article", "art_nope", 0, []string{b.GetId()}, errs.ErrNotFound, "art_nope"},
		{"itself", a.GetId(), 0, []string{b.GetId(), a.GetId()}, errs.ErrInvalid, "related_ids[1]: an article is never related to itself"},
		{"twice", a.GetId(), 0, []string{b.GetId(), b.GetId()}, errs.ErrInvalid, "given twice"},
		{"too many", a.GetId(), 0, many, errs.ErrInvalid, "at most 20"},
		{"a draft pointed to", a.GetId(), 0, []string{draft.GetId()}, errs.ErrFailedPrecondition, "not the id of a published article"},
		{"a slug, not an id", a.GetId(), 0, []string{b.GetSlug()}, errs.ErrFailedPrecondition, "not the id of a published article"},
		{"an unknown id", a.GetId(), 0, []string{"art_nope"}, errs.ErrFailedPrecondition, "not the id of a published article"},
		{"a draft's list", draft.GetId(), 0, []string{b.GetId()}, errs.ErrFailedPrecondition, "published articles only"},
		{"a stale revision", c.GetId(), c.GetRevision(), []string{b.GetId()}, errs.ErrFailedPrecondition, "revision"},
		{"a negative revision", a.GetId(), -1, []string{b.GetId()}, errs.ErrInvalid, "expected_revision"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := set(tc.id, tc.rev, tc.ids...)
			if !errors.Is(err, tc.want) || !strings.Contains(errs.Message(err), tc.says) {
				t.Fatalf("SetRelatedArticles = %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
	if lastChange(t, s).GetRevision() != head {
		t.Errorf("refused writes reached the feed: head %d, want %d", lastChange(t, s).GetRevision(), head)
	}

	// An empty list clears it.
	cleared, err := set(a.GetId(), 0)
	if err != nil || len(cleared.GetRelatedIds()) != 0 {
		t.Fatalf("clearing: %v, %v", cleared.GetRelatedIds(), err)
	}
}
