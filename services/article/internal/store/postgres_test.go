package store_test

import (
	"context"
	"sync"
	"testing"

	"buzhou.dev/article/internal/store"
	"buzhou.dev/article/internal/store/storetest"
	"buzhou.dev/platform/sqldb/sqldbtest"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

func openPostgresAt(tb testing.TB, dbURL string, now store.Clock) store.Store {
	tb.Helper()
	s, err := store.OpenPostgres(context.Background(), dbURL, now)
	if err != nil {
		tb.Fatalf("OpenPostgres: %v", err)
	}
	sqldbtest.CloseAtEnd(tb, s)
	return &dbStore{Store: s, again: func(tb testing.TB) store.Store { return openPostgresAt(tb, dbURL, now) }}
}

func newPostgres(tb testing.TB) store.Store {
	tb.Helper()
	return openPostgresAt(tb, sqldbtest.FreshSchema(tb), nil)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	sqldbtest.PostgresURL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return newPostgres(t) }, reopen)
}

func TestPostgresClock(t *testing.T) {
	t.Parallel()
	now, want := fixedClock()
	testClock(t, openPostgresAt(t, sqldbtest.FreshSchema(t), now), want)
}

// Two stores on one schema stand for two processes: they migrate at the same
// moment, and their writers share the feed, which must stay gap-free.
func TestPostgresTwoStoresOneSchema(t *testing.T) {
	t.Parallel()
	dbURL := sqldbtest.FreshSchema(t)
	// Open at once: the migrations must not collide.
	stores := sqldbtest.OpenAtOnce(t, 2, func() (store.Store, error) { return store.OpenPostgres(t.Context(), dbURL, nil) })
	var wg sync.WaitGroup
	if _, err := stores[0].Create(t.Context(), &articlev1.Article{Id: "art_shared", Slug: "shared", Status: "draft", Revision: 1}); err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		for range 4 {
			wg.Go(func() {
				for range 10 {
					if _, err := s.Update(t.Context(), "art_shared", 0, articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT, func(a *articlev1.Article) error {
						a.Tags = append(a.Tags, "x")
						return nil
					}); err != nil {
						t.Errorf("Update: %v", err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	changes, err := stores[1].Changes(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 81 {
		t.Fatalf("got %d changes, want 81", len(changes))
	}
	for i, c := range changes {
		if c.GetRevision() != int64(i+1) || len(c.GetArticle().GetTags()) != i {
			t.Fatalf("change %d: revision %d with %d tags", i, c.GetRevision(), len(c.GetArticle().GetTags()))
		}
	}
}
