package ledger

import (
	"context"
	"fmt"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// duePage is how many articles one listing call or store read brings.
const duePage = 100

// RunDueInspections implements VerificationServiceServer: it inspects every
// published article whose last inspection is older than Options.DueAfter
// (or that was never inspected), then rescores every article with records,
// writing back only what changed. One run at a time: a second call while one
// is under way is refused. A caller that hangs up does not stop the run.
func (s *Service) RunDueInspections(ctx context.Context, _ *verificationv1.RunDueInspectionsRequest) (*verificationv1.RunDueInspectionsResponse, error) {
	if !s.due.TryLock() {
		return nil, fmt.Errorf("%w: a run of due inspections is under way; wait for it to end", errs.ErrFailedPrecondition)
	}
	defer s.due.Unlock()
	// The run finishes what it started even if the caller hangs up.
	ctx = context.WithoutCancel(ctx)
	resp := &verificationv1.RunDueInspectionsResponse{}
	done := map[string]bool{}
	now := s.d.Now()
	for token := ""; ; {
		page, err := s.d.Articles.ListArticles(ctx, &articlev1.ListArticlesRequest{Status: vocab.StatusPublished, PageSize: duePage, PageToken: token})
		if err != nil {
			return nil, s.upstream(ctx, err, "list published articles", "no published articles")
		}
		for _, a := range page.GetArticles() {
			if last := a.GetLastInspectedAt(); last != nil && now.Sub(last.AsTime()) < s.o.DueAfter {
				continue
			}
			done[a.GetId()] = true
			if _, err := s.Inspect(ctx, a, TriggerDaily, false); err != nil {
				s.d.Log.WarnContext(ctx, "due inspection failed", "article", a.GetId(), "err", err)
				resp.Failed++
				continue
			}
			resp.InspectedArticleIds = append(resp.InspectedArticleIds, a.GetId())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	for after := ""; ; {
		ids, err := s.d.Store.ArticlesWithRecords(ctx, after, duePage)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			break
		}
		after = ids[len(ids)-1]
		for _, id := range ids {
			if done[id] {
				continue // inspected above, which rescored it
			}
			wrote, err := s.Rescore(ctx, id)
			switch {
			case isNotFound(err):
				// archived or unpublished since: nothing to show
			case err != nil:
				s.d.Log.WarnContext(ctx, "rescore failed", "article", id, "err", err)
				resp.Failed++
			case wrote:
				resp.Rescored++
			}
		}
	}
	s.d.Log.InfoContext(ctx, "due inspections done", "inspected", len(resp.InspectedArticleIds), "rescored", resp.Rescored, "failed", resp.Failed)
	return resp, nil
}
