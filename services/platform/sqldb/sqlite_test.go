package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"buzhou.dev/platform/sqldb"
	"buzhou.dev/platform/sqldb/sqldbtest"
)

func openSQLiteAt(t *testing.T, path string, files map[string]string) *sqldb.SQLite {
	t.Helper()
	db, err := sqldb.OpenSQLite(t.Context(), path, sqldb.Migrations{Files: steps(files), Table: "schema_migrations"})
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	sqldbtest.CloseAtEnd(t, db)
	return db
}

func TestOpenSQLiteBadPath(t *testing.T) {
	t.Parallel()
	for name, path := range map[string]string{
		"empty":             "",
		"memory":            ":memory:",
		"URI":               "file:a.db",
		"question mark":     filepath.Join(t.TempDir(), "a.db?mode=ro"),
		"missing directory": filepath.Join(t.TempDir(), "missing", "a.db"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db, err := sqldb.OpenSQLite(t.Context(), path, sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations"})
			if err == nil {
				_ = db.Close()
				t.Fatal("OpenSQLite succeeded")
			}
		})
	}
}

// The pragmas are what keeps several processes on one file safe: WAL, foreign
// keys on every connection, and readers that cannot write.
func TestSQLitePragmas(t *testing.T) {
	t.Parallel()
	db := openSQLiteAt(t, filepath.Join(t.TempDir(), "test.db"), map[string]string{
		"0001_tree.sql": `CREATE TABLE parent (id TEXT PRIMARY KEY);
			CREATE TABLE child (id TEXT PRIMARY KEY, parent TEXT NOT NULL REFERENCES parent (id));`,
	})
	ctx := t.Context()
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "query_only": "1", "busy_timeout": "10000"} {
		var got string
		if err := db.R.QueryRowContext(ctx, `PRAGMA `+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("readers: PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	if _, err := db.R.ExecContext(ctx, `INSERT INTO parent (id) VALUES ('p')`); err == nil {
		t.Error("a reader wrote")
	}
	err := db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO child (id, parent) VALUES ('c', 'nobody')`)
		return err
	})
	if err == nil {
		t.Error("the writer broke a foreign key")
	}
}

func TestSQLiteWrite(t *testing.T) {
	t.Parallel()
	db := openSQLiteAt(t, filepath.Join(t.TempDir(), "test.db"), step1())
	ctx := t.Context()
	insert := func(id string, then error) error {
		return db.Write(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO notes (id) VALUES (?)`, id); err != nil {
				return err
			}
			return then
		})
	}
	if err := insert("a", nil); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := insert("a", nil); !sqldb.IsSQLiteConflict(err) {
		t.Fatalf("Write of a taken key = %v, want a conflict", err)
	}
	mine := errors.New("mine")
	if err := insert("b", mine); !errors.Is(err, mine) {
		t.Fatalf("Write = %v, want fn's error unchanged", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.Write(cancelled, func(*sql.Tx) error { return nil }); !errors.Is(err, context.Canceled) || sqldb.IsSQLiteConflict(err) {
		t.Fatalf("Write with a cancelled context = %v, want context.Canceled", err)
	}
	var ids []string
	rows, err := db.R.QueryContext(ctx, `SELECT id FROM notes ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if len(ids) != 1 || ids[0] != "a" {
		t.Fatalf("notes = %q, want only a: a failed Write must leave nothing", ids)
	}
}

func TestSQLitePingClose(t *testing.T) {
	t.Parallel()
	db, err := sqldb.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "test.db"), sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	for i := range 2 {
		if err := db.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if err := db.Ping(t.Context()); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}
