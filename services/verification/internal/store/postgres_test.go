package store_test

import (
	"context"
	"testing"

	"buzhou.dev/platform/sqldb/sqldbtest"
	"buzhou.dev/verification/internal/store"
	"buzhou.dev/verification/internal/store/storetest"
)

func openPostgresAt(t testing.TB, dbURL string, now store.Clock) store.Store {
	t.Helper()
	s, err := store.OpenPostgres(context.Background(), dbURL, now)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	sqldbtest.CloseAtEnd(t, s)
	return s
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	sqldbtest.PostgresURL(t)
	storetest.Run(t, func(t *testing.T, now store.Clock) (store.Store, func() store.Store) {
		dbURL := sqldbtest.FreshSchema(t)
		return openPostgresAt(t, dbURL, now), func() store.Store { return openPostgresAt(t, dbURL, now) }
	})
}

// The whole stack may share one database: another service's migrations
// table must not make ours skip steps.
func TestPostgresBesideAnotherService(t *testing.T) {
	t.Parallel()
	dbURL := sqldbtest.FreshSchema(t)
	sqldbtest.Exec(t, dbURL, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL);
		INSERT INTO schema_migrations VALUES (1, '0001_init.sql', now())`)
	s := openPostgresAt(t, dbURL, nil)
	if _, err := s.CreatePrincipal(t.Context(), store.Principal{ID: "prn_1", Name: "n", Type: "official_bot"}); err != nil {
		t.Fatalf("CreatePrincipal: %v", err)
	}
}
