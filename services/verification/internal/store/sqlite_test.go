package store_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"buzhou.dev/verification/internal/store"
	"buzhou.dev/verification/internal/store/storetest"
)

func openSQLiteAt(t *testing.T, path string, now store.Clock) store.Store {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), path, now)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	closeAtEnd(t, s)
	return s
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now store.Clock) (store.Store, func() store.Store) {
		path := filepath.Join(t.TempDir(), "verification.db")
		return openSQLiteAt(t, path, now), func() store.Store { return openSQLiteAt(t, path, now) }
	})
}

func TestOpenSQLiteDataDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "not", "yet")
	for i := range 2 { // the second open finds the directory and the schema in place
		s, err := store.Open(t.Context(), store.Config{DataDir: dir}, nil)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "verification.db")); err != nil {
		t.Fatalf("verification.db was not made: %v", err)
	}
}

func TestOpenBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		open func(ctx context.Context) (store.Store, error)
	}{
		{"no database", func(ctx context.Context) (store.Store, error) { return store.Open(ctx, store.Config{}, nil) }},
		{"memory", func(ctx context.Context) (store.Store, error) { return store.OpenSQLite(ctx, ":memory:", nil) }},
		{"question mark", func(ctx context.Context) (store.Store, error) {
			return store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "a.db?mode=ro"), nil)
		}},
		{"missing directory", func(ctx context.Context) (store.Store, error) {
			return store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "missing", "a.db"), nil)
		}},
		{"bad PostgreSQL URL", func(ctx context.Context) (store.Store, error) {
			return store.Open(ctx, store.Config{DatabaseURL: "postgres://u:hunter2@[bad"}, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := tt.open(t.Context())
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

// Two stores on one file stand for two processes: they migrate at the same
// moment and then share the writes.
func TestSQLiteTwoStoresOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "verification.db")
	var (
		wg     sync.WaitGroup
		stores [2]store.Store
	)
	for i := range stores {
		wg.Go(func() {
			s, err := store.OpenSQLite(t.Context(), path, nil)
			if err != nil {
				t.Errorf("OpenSQLite: %v", err)
				return
			}
			closeAtEnd(t, s)
			stores[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
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
