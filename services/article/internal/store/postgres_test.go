package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"buzhou.dev/article/internal/store"
	"buzhou.dev/article/internal/store/storetest"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

const postgresEnv = "BUZHOU_TEST_POSTGRES_URL"

func postgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(postgresEnv)
	if u == "" {
		tb.Skip("set " + postgresEnv + " to run the PostgreSQL store tests")
	}
	return u
}

// freshSchema makes an empty schema, drops it when tb ends, and returns the
// database URL with search_path pointing at it: pgx hands unknown URL
// parameters to the server as run-time parameters, so every pooled
// connection of the store lands in the schema.
func freshSchema(tb testing.TB) string {
	tb.Helper()
	base := postgresURL(tb)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "storetest_" + hex.EncodeToString(b)
	admin := func(sql string) {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Fatalf("connect to PostgreSQL: %v", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			tb.Fatalf("%s: %v", sql, err)
		}
	}
	admin("CREATE SCHEMA " + schema)
	tb.Cleanup(func() { admin("DROP SCHEMA " + schema + " CASCADE") })
	return withSearchPath(tb, base, schema)
}

// withSearchPath keeps whatever options base already carries.
func withSearchPath(tb testing.TB, base, schema string) string {
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		return base + " search_path=" + schema // keyword/value form
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse %s: %v", postgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgresAt(tb testing.TB, dbURL string, now store.Clock) store.Store {
	tb.Helper()
	s, err := store.OpenPostgres(context.Background(), dbURL, now)
	if err != nil {
		tb.Fatalf("OpenPostgres: %v", err)
	}
	closeAtEnd(tb, s)
	return &dbStore{Store: s, again: func(tb testing.TB) store.Store { return openPostgresAt(tb, dbURL, now) }}
}

func newPostgres(tb testing.TB) store.Store {
	tb.Helper()
	return openPostgresAt(tb, freshSchema(tb), nil)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	postgresURL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return newPostgres(t) }, reopen)
}

func TestPostgresClock(t *testing.T) {
	t.Parallel()
	now, want := fixedClock()
	testClock(t, openPostgresAt(t, freshSchema(t), now), want)
}

func TestOpenPostgresByConfig(t *testing.T) {
	t.Parallel()
	s, err := store.Open(t.Context(), store.Config{DatabaseURL: freshSchema(t), DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	closeAtEnd(t, s)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// Two stores on one schema stand for two processes: they migrate at the same
// moment, and their writers share the feed, which must stay gap-free.
func TestPostgresTwoStoresOneSchema(t *testing.T) {
	t.Parallel()
	dbURL := freshSchema(t)
	var (
		wg     sync.WaitGroup
		stores [2]store.Store
	)
	for i := range stores {
		wg.Go(func() {
			s, err := store.OpenPostgres(t.Context(), dbURL, nil)
			if err != nil {
				t.Errorf("OpenPostgres: %v", err)
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
	if _, err := stores[0].Create(t.Context(), &articlev1.Article{Id: "art_shared", Slug: "shared", Status: "draft", Revision: 1}); err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		for range 4 {
			wg.Go(func() {
				for range 10 {
					if _, err := s.Update(t.Context(), "art_shared", 0, func(a *articlev1.Article) error {
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
