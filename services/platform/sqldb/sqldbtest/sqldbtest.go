// Package sqldbtest holds the test helpers for stores on sqldb databases. The
// central one is a fresh PostgreSQL schema per test on the server
// BUZHOU_TEST_POSTGRES_URL names (tests skip without one), so every test, and
// every service, may run in parallel on one server without seeing another's
// tables; the others open stores the ways processes do and check what every
// store's Open must do.
package sqldbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"buzhou.dev/platform/sqldb"
)

// PostgresEnv names the variable holding the test PostgreSQL server's URL.
const PostgresEnv = "BUZHOU_TEST_POSTGRES_URL"

// PostgresURL returns the test server's URL, skipping tb when PostgresEnv is
// unset.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(PostgresEnv)
	if u == "" {
		tb.Skip("set " + PostgresEnv + " to run the PostgreSQL tests")
	}
	return u
}

// FreshSchema makes an empty schema, drops it when tb ends, and returns the
// database URL with search_path pointing at it: pgx hands unknown URL
// parameters to the server as run-time parameters, so every pooled
// connection of a store lands in the schema. It skips tb when PostgresEnv is
// unset.
func FreshSchema(tb testing.TB) string {
	tb.Helper()
	base := PostgresURL(tb)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "buzhoutest_" + hex.EncodeToString(b)
	Exec(tb, base, "CREATE SCHEMA "+schema)
	tb.Cleanup(func() { Exec(tb, base, "DROP SCHEMA "+schema+" CASCADE") })
	return WithParam(tb, base, "search_path", schema)
}

// Exec runs SQL (one statement, or several without parameters) on a
// connection of its own.
func Exec(tb testing.TB, dbURL, sql string) {
	tb.Helper()
	ctx := context.Background()
	conn := connect(tb, ctx, dbURL)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// connect opens a connection of its own, apart from any store's pool; the
// caller closes it.
func connect(tb testing.TB, ctx context.Context, dbURL string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Fatalf("connect to PostgreSQL: %v", err)
	}
	return conn
}

// OpenAtOnce calls open n times at the same moment, as processes starting
// together on one database would, and closes what it opened when tb ends. It
// stops tb when any open fails.
func OpenAtOnce[S interface{ Close() error }](tb testing.TB, n int, open func() (S, error)) []S {
	tb.Helper()
	out := make([]S, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i], errs[i] = open() })
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			CloseAtEnd(tb, out[i])
		}
	}
	if err := errors.Join(errs...); err != nil {
		tb.Fatalf("open %d at once: %v", n, err)
	}
	return out
}

// DB is what CheckOpen needs of a store.
type DB interface {
	Ping(ctx context.Context) error
	Close() error
}

// CheckOpen checks a store's Open(sqldb.Config): with only a data directory
// (not there yet) it makes SQLite file there; with a database URL it opens
// PostgreSQL, leaving the data directory alone. The PostgreSQL half skips
// without a server. file is the name existing deployments have, so a changed
// name, which would start them on an empty database, fails here.
func CheckOpen[S DB](t *testing.T, file string, open func(context.Context, sqldb.Config) (S, error)) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "not", "yet")
		s, err := open(t.Context(), sqldb.Config{DataDir: dir})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		CloseAtEnd(t, s)
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
			t.Fatalf("%s was not made: %v", file, err)
		}
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "unused")
		s, err := open(t.Context(), sqldb.Config{DatabaseURL: FreshSchema(t), DataDir: dir})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		CloseAtEnd(t, s)
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("Open with a database URL touched the data directory: %v", err)
		}
	})
}

// CloseAtEnd closes c (a store, a database) when tb ends and reports a
// failing Close.
func CloseAtEnd(tb testing.TB, c interface{ Close() error }) {
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
}

// DumpPostgres returns every row of every table in the schema dbURL's
// search_path names, each row as PostgreSQL's text form of the whole row, so
// callers can look for values that must never be stored.
func DumpPostgres(tb testing.TB, dbURL string) []string {
	tb.Helper()
	ctx := context.Background()
	conn := connect(tb, ctx, dbURL)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		tb.Fatalf("list tables: %v", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatalf("list tables: %v", err)
	}
	if len(tables) == 0 {
		tb.Fatal("the schema has no tables")
	}
	var out []string
	for _, table := range tables {
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)
		if err != nil {
			tb.Fatalf("read %s: %v", table, err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			tb.Fatalf("read %s: %v", table, err)
		}
		for _, s := range texts {
			out = append(out, table+": "+s)
		}
	}
	return out
}

// WithParam returns the database URL with the option key set to value,
// keeping whatever options it already carries, in its URL or keyword/value
// form.
func WithParam(tb testing.TB, dbURL, key, value string) string {
	tb.Helper()
	if !strings.HasPrefix(dbURL, "postgres://") && !strings.HasPrefix(dbURL, "postgresql://") {
		return dbURL + " " + key + "=" + value // keyword/value form
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}
