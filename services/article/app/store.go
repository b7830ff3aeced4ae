package app

import (
	"context"
	"time"

	"buzhou.dev/article/internal/store"
	"buzhou.dev/platform/metrics"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// timedStore times every operation of the article store that reaches the
// database (Notify and Close do not, and pass through as they are).
type timedStore struct {
	store.Store
	m *metrics.Part
}

func (s timedStore) Create(ctx context.Context, a *articlev1.Article) (_ *articlev1.Article, err error) {
	defer s.m.ObserveStore("Create", time.Now(), &err)
	return s.Store.Create(ctx, a)
}

func (s timedStore) Get(ctx context.Context, idOrSlug string) (_ *articlev1.Article, err error) {
	defer s.m.ObserveStore("Get", time.Now(), &err)
	return s.Store.Get(ctx, idOrSlug)
}

func (s timedStore) List(ctx context.Context, q store.ListQuery) (_ []*articlev1.Article, _ string, err error) {
	defer s.m.ObserveStore("List", time.Now(), &err)
	return s.Store.List(ctx, q)
}

func (s timedStore) Update(ctx context.Context, id string, expectedRevision int32, cause articlev1.ChangeCause, mutate func(*articlev1.Article) error) (_ *articlev1.Article, err error) {
	defer s.m.ObserveStore("Update", time.Now(), &err)
	return s.Store.Update(ctx, id, expectedRevision, cause, mutate)
}

func (s timedStore) Changes(ctx context.Context, after int64, limit int) (_ []*articlev1.ArticleChange, err error) {
	defer s.m.ObserveStore("Changes", time.Now(), &err)
	return s.Store.Changes(ctx, after, limit)
}

func (s timedStore) HeadRevision(ctx context.Context) (_ int64, err error) {
	defer s.m.ObserveStore("HeadRevision", time.Now(), &err)
	return s.Store.HeadRevision(ctx)
}

func (s timedStore) Stats(ctx context.Context) (_ *articlev1.GetArticleStatsResponse, err error) {
	defer s.m.ObserveStore("Stats", time.Now(), &err)
	return s.Store.Stats(ctx)
}

func (s timedStore) Ping(ctx context.Context) (err error) {
	defer s.m.ObserveStore("Ping", time.Now(), &err)
	return s.Store.Ping(ctx)
}
