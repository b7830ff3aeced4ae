package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"buzhou.dev/platform/sqldb"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	var got []string
	postgres := func(url string) (string, error) { got = append(got, "postgres "+url); return "pg", nil }
	sqlite := func(path string) (string, error) { got = append(got, "sqlite "+path); return "lite", nil }

	if _, err := sqldb.Open(sqldb.Config{}, "a.db", postgres, sqlite); err == nil {
		t.Fatal("Open without a URL or a data directory succeeded")
	}
	dir := filepath.Join(t.TempDir(), "not", "yet")
	if s, err := sqldb.Open(sqldb.Config{DatabaseURL: "postgres://db", DataDir: dir}, "a.db", postgres, sqlite); err != nil || s != "pg" {
		t.Fatalf("Open with a URL = %q, %v", s, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Open with a URL touched the data directory: %v", err)
	}
	for i := range 2 { // the second call finds the directory in place
		if s, err := sqldb.Open(sqldb.Config{DataDir: dir}, "a.db", postgres, sqlite); err != nil || s != "lite" {
			t.Fatalf("Open #%d with a data directory = %q, %v", i+1, s, err)
		}
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("the data directory was not made: %v", err)
	}
	want := []string{"postgres postgres://db", "sqlite " + filepath.Join(dir, "a.db"), "sqlite " + filepath.Join(dir, "a.db")}
	if !slices.Equal(got, want) {
		t.Fatalf("opened %q, want %q", got, want)
	}
}

func TestTick(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 6, 7, 8, 9, 123_456_789, time.FixedZone("UTC+8", 8*3600))
	got := sqldb.Tick(func() time.Time { return at })
	if want := at.UTC().Truncate(time.Microsecond); !got.Equal(want) || got.Location() != time.UTC || got.Nanosecond()%1000 != 0 {
		t.Fatalf("Tick = %v, want %v in UTC", got, want)
	}
	before := time.Now().Add(-time.Second)
	if got := sqldb.Tick(nil); got.Before(before) || got.Location() != time.UTC {
		t.Fatalf("Tick(nil) = %v, want the wall clock in UTC", got)
	}
}

// rowsDB makes a database of either engine with the tables the engine-wide
// tests use.
func rowsDB(t *testing.T, e engine) *sqldb.DB {
	t.Helper()
	return mustOpen(t, e, e.fresh(t), sqldb.Migrations{Files: steps(map[string]string{
		"0001_notes.sql": `CREATE TABLE notes (id text PRIMARY KEY, n integer NOT NULL DEFAULT 0, slug text UNIQUE);
			CREATE TABLE tags (id text PRIMARY KEY, note text NOT NULL REFERENCES notes (id));`,
	}), Table: "schema_migrations", Lock: 0x0b0e_a0ff})
}

func TestWrite(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e engine) {
		db := rowsDB(t, e)
		ctx := t.Context()
		insert := func(ctx context.Context, id string, then error) error {
			return db.Write(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO notes (id) VALUES ($1)`, id); err != nil {
					return err
				}
				return then
			})
		}
		if err := insert(ctx, "a", nil); err != nil {
			t.Fatalf("Write: %v", err)
		}
		mine := errors.New("mine")
		if err := insert(ctx, "b", mine); err != mine {
			t.Fatalf("Write = %v, want fn's error unchanged", err)
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if err := insert(cancelled, "c", nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("Write with a cancelled context = %v, want context.Canceled", err)
		}
		if got := texts(t, db, `SELECT id FROM notes ORDER BY id`); !slices.Equal(got, []string{"a"}) {
			t.Fatalf("notes = %q, want only a: a failed Write must leave nothing", got)
		}
	})
}

func TestPingClose(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e engine) {
		db, err := e.open(t.Context(), e.fresh(t), sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations", Lock: 0x0b0e_a0ff})
		if err != nil {
			t.Fatal(err)
		}
		if got := db.Engine(); string(got) != e.name {
			t.Errorf("Engine = %q, want %q", got, e.name)
		}
		if err := db.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		for i := range 2 {
			if err := db.Close(); err != nil {
				t.Fatalf("Close #%d: %v", i+1, err)
			}
		}
		if err := db.Ping(t.Context()); err == nil || !strings.Contains(err.Error(), e.name) {
			t.Fatalf("Ping after Close = %v, want an error naming %s", err, e.name)
		}
	})
}

// Stores tell a taken key and a missing reference from other errors the same
// way on both engines.
func TestConstraintErrors(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e engine) {
		db := rowsDB(t, e)
		exec(t, db, `INSERT INTO notes (id, slug) VALUES ('a', 'x')`)
		tests := []struct {
			name            string
			stmt            string
			conflict, noRef bool
		}{
			{"taken primary key", `INSERT INTO notes (id) VALUES ('a')`, true, false},
			{"taken unique column", `INSERT INTO notes (id, slug) VALUES ('b', 'x')`, true, false},
			{"missing reference", `INSERT INTO tags (id, note) VALUES ('t', 'nobody')`, false, true},
			{"other", `INSERT INTO nowhere (id) VALUES ('a')`, false, false},
		}
		for _, tt := range tests {
			err := write(t, db, tt.stmt)
			if err == nil {
				t.Fatalf("%s: no error", tt.name)
			}
			if got := sqldb.IsConflict(err); got != tt.conflict {
				t.Errorf("%s: IsConflict(%v) = %v", tt.name, err, got)
			}
			if got := sqldb.IsMissingReference(err); got != tt.noRef {
				t.Errorf("%s: IsMissingReference(%v) = %v", tt.name, err, got)
			}
		}
	})
}

// One SQL text serves both engines: $N is argument N in SQLite too, in any
// order and as often as a statement names it, and time arguments come back
// exactly through ScanTime.
func TestPlaceholdersAndTimes(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 6, 7, 8, 9, 123_456_000, time.UTC)
	eachEngine(t, func(t *testing.T, e engine) {
		db := mustOpen(t, e, e.fresh(t), sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations", Lock: 0x0b0e_a0ff})
		ddl := map[sqldb.Engine]string{
			sqldb.SQLite:   `CREATE TABLE events (id TEXT PRIMARY KEY, at INTEGER NOT NULL, until INTEGER) STRICT`,
			sqldb.Postgres: `CREATE TABLE events (id text PRIMARY KEY, at timestamptz NOT NULL, until timestamptz)`,
		}[db.Engine()]
		exec(t, db, ddl)
		exec(t, db, `INSERT INTO events (until, at, id) VALUES ($3, $2, $1)`, "e1", at, sqldb.NullTime(time.Time{}))
		var (
			id        string
			got, none time.Time
		)
		none = at // must be cleared by NULL
		if err := db.R.QueryRowContext(t.Context(), `SELECT id, at, until FROM events WHERE id = $2 AND at = $1 AND (id = $2 OR id = $2)`, at, "e1").
			Scan(&id, sqldb.ScanTime(&got), sqldb.ScanTime(&none)); err != nil {
			t.Fatal(err)
		}
		if id != "e1" || !got.Equal(at) || got.Location() != time.UTC || !none.IsZero() {
			t.Fatalf("got (%q, %v, %v), want (e1, %v in UTC, zero)", id, got, none, at)
		}
	})
}

// A list of text comes back as it went in on both engines, whatever the
// values hold.
func TestStrings(t *testing.T) {
	t.Parallel()
	lists := [][]string{
		nil,
		{},
		{"articles:write"},
		{"a,b", `q"uote`, `back\\slash`, "{brace}", "", "NULL", " spaced ", "文字"},
	}
	eachEngine(t, func(t *testing.T, e engine) {
		db := rowsDB(t, e)
		exec(t, db, `CREATE TABLE lists (id integer PRIMARY KEY, v `+map[sqldb.Engine]string{sqldb.SQLite: "TEXT", sqldb.Postgres: "text[]"}[db.Engine()]+` NOT NULL)`)
		for i, l := range lists {
			v := db.Strings(l)
			exec(t, db, `INSERT INTO lists (id, v) VALUES ($1, $2)`, i, v)
			var got []string
			if err := db.R.QueryRowContext(t.Context(), `SELECT v FROM lists WHERE id = $1`, i).Scan(sqldb.ScanStrings(&got)); err != nil {
				t.Fatalf("read %q: %v", l, err)
			}
			if got == nil || !slices.Equal(got, l) {
				t.Errorf("list %q came back as %q", l, got)
			}
		}
	})
}
