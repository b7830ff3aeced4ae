package server

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// MaxRelated bounds an article's related ids (the search service's largest
// related list).
const MaxRelated = 20

// errUnchanged ends an Update whose list is already stored: nothing to
// write. A refusal, so store metrics do not count it as a failure.
var errUnchanged = fmt.Errorf("%w: related ids unchanged", errs.ErrFailedPrecondition)

// SetRelatedArticles implements ArticleServiceServer.
func (s *Server) SetRelatedArticles(ctx context.Context, req *articlev1.SetRelatedArticlesRequest) (*articlev1.Article, error) {
	id, ids := req.GetArticleId(), req.GetRelatedIds()
	switch {
	case id == "":
		return nil, fmt.Errorf("%w: article_id: give the id of the article", errs.ErrInvalid)
	case len(ids) > MaxRelated:
		return nil, fmt.Errorf("%w: related_ids: %d given; send at most %d, most similar first", errs.ErrInvalid, len(ids), MaxRelated)
	case req.GetExpectedRevision() < 0:
		return nil, fmt.Errorf("%w: expected_revision must be an article revision, or 0 for any", errs.ErrInvalid)
	}
	for i, r := range ids {
		switch {
		case r == id:
			return nil, fmt.Errorf("%w: related_ids[%d]: an article is never related to itself", errs.ErrInvalid, i)
		case slices.Index(ids, r) != i:
			return nil, fmt.Errorf("%w: related_ids[%d]: %q is given twice", errs.ErrInvalid, i, r)
		}
		// Only published articles are pointed to: readers follow the links.
		a, err := s.store.Get(ctx, r)
		if errors.Is(err, errs.ErrNotFound) || err == nil && (a.GetId() != r || a.GetStatus() != vocab.StatusPublished) {
			return nil, fmt.Errorf("%w: related_ids[%d]: %q is not the id of a published article", errs.ErrFailedPrecondition, i, r)
		}
		if err != nil {
			return nil, err
		}
	}
	var unchanged *articlev1.Article
	a, err := s.store.Update(ctx, id, req.GetExpectedRevision(), articlev1.ChangeCause_CHANGE_CAUSE_RELATED_UPDATE, func(a *articlev1.Article) error {
		if slices.Equal(a.GetRelatedIds(), ids) {
			unchanged = proto.CloneOf(a)
			return errUnchanged
		}
		if len(ids) > 0 && !vocab.IsPublic(a.GetStatus()) {
			return fmt.Errorf("%w: article %s is %s; related articles are kept for published articles only", errs.ErrFailedPrecondition, id, a.GetStatus())
		}
		a.RelatedIds = slices.Clone(ids)
		return nil
	})
	if errors.Is(err, errUnchanged) {
		a, err = unchanged, nil
	}
	if err != nil {
		return nil, err
	}
	setHeaders(ctx, a, "")
	return a, nil
}
