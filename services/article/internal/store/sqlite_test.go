package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"buzhou.dev/article/internal/store"
	"buzhou.dev/article/internal/store/storetest"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/sqldb/sqldbtest"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

func openSQLiteAt(tb testing.TB, path string, now store.Clock) store.Store {
	tb.Helper()
	s, err := store.OpenSQLite(context.Background(), path, now)
	if err != nil {
		tb.Fatalf("OpenSQLite: %v", err)
	}
	sqldbtest.CloseAtEnd(tb, s)
	return &dbStore{Store: s, again: func(tb testing.TB) store.Store { return openSQLiteAt(tb, path, now) }}
}

func newSQLite(tb testing.TB) store.Store {
	tb.Helper()
	return openSQLiteAt(tb, filepath.Join(tb.TempDir(), "article.db"), nil)
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return newSQLite(t) }, reopen)
}

func TestSQLiteClock(t *testing.T) {
	t.Parallel()
	now, want := fixedClock()
	testClock(t, openSQLiteAt(t, filepath.Join(t.TempDir(), "article.db"), now), want)
}

func TestOpenByConfig(t *testing.T) {
	t.Parallel()
	sqldbtest.CheckOpen(t, "article.db", func(ctx context.Context, cfg store.Config) (store.Store, error) { return store.Open(ctx, cfg, nil) })
}

// Two stores on one file stand for two processes: their writers meet at the
// file lock, and the feed must stay gap-free.
func TestSQLiteTwoStoresOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "article.db")
	// Open at once: the migrations must not collide.
	stores := sqldbtest.OpenAtOnce(t, 2, func() (store.Store, error) { return store.OpenSQLite(t.Context(), path, nil) })
	var wg sync.WaitGroup
	for i, s := range stores {
		for w := range 4 {
			wg.Go(func() {
				for n := range 10 {
					id := fmt.Sprintf("art_%d_%d_%d", i, w, n)
					if _, err := s.Create(t.Context(), &articlev1.Article{Id: id, Slug: id, Status: "draft", Revision: 1}); err != nil {
						t.Errorf("Create: %v", err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	changes, err := stores[0].Changes(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 80 {
		t.Fatalf("got %d changes, want 80", len(changes))
	}
	for i, c := range changes {
		if c.GetRevision() != int64(i+1) {
			t.Fatalf("change %d has revision %d", i, c.GetRevision())
		}
	}
}

// Rows written by a newer version may hold fields this one does not know.
func TestSQLiteUnknownFields(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "article.db")
	s := openSQLiteAt(t, path, nil)
	if _, err := s.Create(t.Context(), &articlev1.Article{Id: "art_f", Slug: "future", Status: "draft", Revision: 1}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, table := range []string{"articles", "changes"} {
		if _, err := db.ExecContext(t.Context(), `UPDATE `+table+` SET data = json_set(data, '$.fieldFromTheFuture', 42)`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Get(t.Context(), "art_f"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if _, err := s.Changes(t.Context(), 0, 10); err != nil {
		t.Fatalf("Changes: %v", err)
	}
	if _, err := s.Update(t.Context(), "art_f", 1, articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT, func(*articlev1.Article) error { return nil }); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func TestSQLiteCancelledWrite(t *testing.T) {
	t.Parallel()
	s := newSQLite(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Create(ctx, &articlev1.Article{Id: "art_c", Slug: "cancelled", Status: "draft", Revision: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Create with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := s.Get(t.Context(), "art_c"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("Get = %v, want not found", err)
	}
	// The writer connection is still usable.
	if _, err := s.Create(t.Context(), &articlev1.Article{Id: "art_c", Slug: "cancelled", Status: "draft", Revision: 1}); err != nil {
		t.Fatalf("Create after a cancelled one: %v", err)
	}
}
