package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"buzhou.dev/verification/internal/store"
	"buzhou.dev/verification/internal/store/storetest"
)

func openPostgresAt(t *testing.T, dbURL string, now store.Clock) store.Store {
	t.Helper()
	s, err := store.OpenPostgres(context.Background(), dbURL, now)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	closeAtEnd(t, s)
	return s
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.PostgresURL(t)
	storetest.Run(t, func(t *testing.T, now store.Clock) (store.Store, func() store.Store) {
		dbURL := storetest.FreshSchema(t)
		return openPostgresAt(t, dbURL, now), func() store.Store { return openPostgresAt(t, dbURL, now) }
	})
}

func TestOpenPostgresByConfig(t *testing.T) {
	t.Parallel()
	s, err := store.Open(t.Context(), store.Config{DatabaseURL: storetest.FreshSchema(t), DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	closeAtEnd(t, s)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// The whole stack may share one database: another service's migrations
// table must not make ours skip steps.
func TestPostgresBesideAnotherService(t *testing.T) {
	t.Parallel()
	dbURL := storetest.FreshSchema(t)
	storetest.Exec(t, dbURL, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL);
		INSERT INTO schema_migrations VALUES (1, '0001_init.sql', now())`)
	s := openPostgresAt(t, dbURL, nil)
	if _, err := s.CreatePrincipal(t.Context(), store.Principal{ID: "prn_1", Name: "n", Type: "official_bot"}); err != nil {
		t.Fatalf("CreatePrincipal: %v", err)
	}
}

// Two stores on one schema stand for two processes starting together.
func TestPostgresTwoStoresOneSchema(t *testing.T) {
	t.Parallel()
	dbURL := storetest.FreshSchema(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			s, err := store.OpenPostgres(t.Context(), dbURL, nil)
			if err != nil {
				t.Errorf("OpenPostgres: %v", err)
				return
			}
			closeAtEnd(t, s)
		})
	}
	wg.Wait()
}

func TestOpenPostgresHidesPassword(t *testing.T) {
	t.Parallel()
	_, err := store.OpenPostgres(t.Context(), "postgres://u:hunter2@[bad", nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("OpenPostgres error = %v; want one that does not show the password", err)
	}
}
