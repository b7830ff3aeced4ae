package state_test

import (
	"context"
	"path/filepath"
	"testing"

	"buzhou.dev/platform/sqldb/sqldbtest"
	"buzhou.dev/search/internal/state"
	"buzhou.dev/search/internal/state/statetest"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	statetest.Run(t, func(t *testing.T) state.Store {
		s, err := state.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "search.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()
	sqldbtest.CheckOpen(t, "search.db", func(ctx context.Context, cfg state.Config) (state.Store, error) { return state.Open(ctx, cfg, nil) })
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	sqldbtest.PostgresURL(t)
	statetest.Run(t, func(t *testing.T) state.Store {
		s, err := state.OpenPostgres(context.Background(), sqldbtest.FreshSchema(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
