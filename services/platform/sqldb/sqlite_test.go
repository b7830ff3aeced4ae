package sqldb_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"buzhou.dev/platform/sqldb"
)

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
	db := mustOpen(t, engines()[0], filepath.Join(t.TempDir(), "test.db"), sqldb.Migrations{Files: steps(map[string]string{
		"0001_tree.sql": `CREATE TABLE parent (id TEXT PRIMARY KEY);
			CREATE TABLE child (id TEXT PRIMARY KEY, parent TEXT NOT NULL REFERENCES parent (id));`,
	}), Table: "schema_migrations"})
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
	if !sqldb.IsMissingReference(err) {
		t.Errorf("the writer broke a foreign key: %v", err)
	}
}
