package store_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"buzhou.dev/platform/sqldb/sqldbtest"
	"buzhou.dev/verification/internal/store"
	"buzhou.dev/verification/internal/store/storetest"
)

func openSQLiteAt(t testing.TB, path string, now store.Clock) store.Store {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), path, now)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	sqldbtest.CloseAtEnd(t, s)
	return s
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now store.Clock) (store.Store, func() store.Store) {
		path := filepath.Join(t.TempDir(), "verification.db")
		return openSQLiteAt(t, path, now), func() store.Store { return openSQLiteAt(t, path, now) }
	})
}

func TestOpenByConfig(t *testing.T) {
	t.Parallel()
	sqldbtest.CheckOpen(t, "verification.db", func(ctx context.Context, cfg store.Config) (store.Store, error) { return store.Open(ctx, cfg, nil) })
}

// Two stores on one file stand for two processes: they migrate at the same
// moment and then share the writes.
func TestSQLiteTwoStoresOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "verification.db")
	// Open at once: the migrations must not collide.
	stores := sqldbtest.OpenAtOnce(t, 2, func() (store.Store, error) { return store.OpenSQLite(t.Context(), path, nil) })
	var wg sync.WaitGroup
	for _, s := range stores {
		for range 4 {
			wg.Go(func() {
				for range 10 {
					if err := s.AddAgentUsage(t.Context(), []store.AgentUsage{{AgentID: "a", Calls: 1}}); err != nil {
						t.Errorf("AddAgentUsage: %v", err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	got, err := stores[1].AgentUsageTotals(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Calls != 80 {
		t.Fatalf("totals = %+v, want 80 calls of agent a", got)
	}
}
