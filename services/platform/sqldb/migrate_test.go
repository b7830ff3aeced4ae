package sqldb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"buzhou.dev/platform/sqldb"
	"buzhou.dev/platform/sqldb/sqldbtest"
)

// steps makes the migration files of both engines, one file per step named
// after its key, with the same SQL for both (plain enough for either).
func steps(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, sql := range files {
		for _, engine := range []string{"sqlite", "postgres"} {
			fsys["migrations/"+engine+"/"+name] = &fstest.MapFile{Data: []byte(sql)}
		}
	}
	return fsys
}

// step1 is a first release's schema; step2 is the next release's.
func step1() map[string]string {
	return map[string]string{"0001_notes.sql": `CREATE TABLE notes (id text PRIMARY KEY);`}
}

func step2() map[string]string {
	return map[string]string{
		"0001_notes.sql": `CREATE TABLE notes (id text PRIMARY KEY);`,
		"0002_tags.sql":  `CREATE TABLE tags (id text PRIMARY KEY);`,
	}
}

type engine struct {
	name string
	// fresh returns where a new, empty database is: a file path or a URL.
	fresh func(t *testing.T) string
	open  func(ctx context.Context, where string, m sqldb.Migrations) (*sqldb.DB, error)
}

func engines() []engine {
	return []engine{
		{"SQLite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "test.db") }, sqldb.OpenSQLite},
		{"PostgreSQL", func(t *testing.T) string { return sqldbtest.FreshSchema(t) }, openPostgres},
	}
}

// eachEngine runs fn as a parallel subtest on each engine.
func eachEngine(t *testing.T, fn func(t *testing.T, e engine)) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			fn(t, e)
		})
	}
}

func openPostgres(ctx context.Context, url string, m sqldb.Migrations) (*sqldb.DB, error) {
	return sqldb.OpenPostgres(ctx, url, "buzhou-sqldbtest", m)
}

// mustOpen opens the database at where and closes it when t ends.
func mustOpen(t *testing.T, e engine, where string, m sqldb.Migrations) *sqldb.DB {
	t.Helper()
	db, err := e.open(t.Context(), where, m)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	sqldbtest.CloseAtEnd(t, db)
	return db
}

// texts runs a query whose rows are one text column.
func texts(t *testing.T, db *sqldb.DB, query string) []string {
	t.Helper()
	rows, err := db.R.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// write runs stmt in a write transaction.
func write(t *testing.T, db *sqldb.DB, stmt string, args ...any) error {
	return db.Write(t.Context(), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(t.Context(), stmt, args...)
		return err
	})
}

// exec is write that must succeed.
func exec(t *testing.T, db *sqldb.DB, stmt string, args ...any) {
	t.Helper()
	if err := write(t, db, stmt, args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func wantApplied(t *testing.T, h *sqldb.DB, table string, want ...string) {
	t.Helper()
	if got := texts(t, h, `SELECT name FROM `+table+` ORDER BY version`); !slices.Equal(got, want) {
		t.Fatalf("%s holds %q, want %q", table, got, want)
	}
}

// Opening again applies nothing twice; a release with a new step applies just
// that one.
func TestMigrationsIdempotent(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e engine) {
		where := e.fresh(t)
		m := sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations", Lock: 0x0b0e_a0ff}
		for i := range 2 {
			h := mustOpen(t, e, where, m)
			wantApplied(t, h, "schema_migrations", "0001_notes.sql")
			if i == 0 {
				exec(t, h, `INSERT INTO notes (id) VALUES ('kept')`)
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
		}
		m.Files = steps(step2())
		h := mustOpen(t, e, where, m)
		wantApplied(t, h, "schema_migrations", "0001_notes.sql", "0002_tags.sql")
		if got := texts(t, h, `SELECT id FROM notes`); !slices.Equal(got, []string{"kept"}) {
			t.Fatalf("notes = %q after the new step, want [kept]", got)
		}
	})
}

// Services sharing one database record their steps in tables of their own,
// so one's step 1 does not make another skip its own.
func TestMigrationsTablePerService(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e engine) {
		where := e.fresh(t)
		mustOpen(t, e, where, sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations", Lock: 0x0b0e_a0ff})
		h := mustOpen(t, e, where, sqldb.Migrations{
			Files: steps(map[string]string{"0001_other.sql": `CREATE TABLE other (id text PRIMARY KEY);`}),
			Table: "other_schema_migrations", Lock: 0x0b0e_a0fe,
		})
		wantApplied(t, h, "schema_migrations", "0001_notes.sql")
		wantApplied(t, h, "other_schema_migrations", "0001_other.sql")
		texts(t, h, `SELECT id FROM other`)
	})
}

// A failing step leaves the database as it was: the steps before it in the
// same run are undone too, so the next start tries them all again.
func TestMigrationsAllOrNothing(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e engine) {
		where := e.fresh(t)
		bad := map[string]string{
			"0001_notes.sql":  `CREATE TABLE notes (id text PRIMARY KEY);`,
			"0002_broken.sql": `CREATE TABLE broken (`,
		}
		_, err := e.open(t.Context(), where, sqldb.Migrations{Files: steps(bad), Table: "schema_migrations", Lock: 0x0b0e_a0ff})
		if err == nil || !strings.Contains(err.Error(), "store: migration 0002_broken.sql: ") {
			t.Fatalf("open with a broken step = %v, want the step named", err)
		}
		h := mustOpen(t, e, where, sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations", Lock: 0x0b0e_a0ff})
		wantApplied(t, h, "schema_migrations", "0001_notes.sql")
	})
}

// Processes starting together on a new database all get through, and the
// steps run once. On SQLite the opens also race to switch the new file to
// WAL, which SQLite tells the losers at once as SQLITE_BUSY; the race is
// rare enough that it takes a few rounds to meet it reliably.
func TestMigrationsConcurrentOpen(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e engine) {
		m := sqldb.Migrations{Files: steps(step2()), Table: "schema_migrations", Lock: 0x0b0e_a0ff}
		for range 10 {
			where := e.fresh(t)
			handles := sqldbtest.OpenAtOnce(t, 8, func() (*sqldb.DB, error) { return e.open(t.Context(), where, m) })
			for _, h := range handles {
				wantApplied(t, h, "schema_migrations", "0001_notes.sql", "0002_tags.sql")
			}
		}
	})
}

func TestMigrationsStampedByNow(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 6, 7, 8, 9, 123_456_789, time.UTC)
	m := sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations", Lock: 0x0b0e_a0ff, Now: func() time.Time { return at }}
	eachEngine(t, func(t *testing.T, e engine) {
		h := mustOpen(t, e, e.fresh(t), m)
		query := `SELECT CAST(applied_at AS TEXT) FROM schema_migrations` // microseconds since 1970
		want := "1778051289123456"
		if e.name == "PostgreSQL" {
			query = `SELECT CAST((EXTRACT(EPOCH FROM applied_at) * 1000000)::bigint AS TEXT) FROM schema_migrations`
		}
		if got := texts(t, h, query); !slices.Equal(got, []string{want}) {
			t.Fatalf("applied_at = %q, want [%s]", got, want)
		}
	})
}

func TestMigrationsBadFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		table string
		files map[string]string
		want  string
	}{
		{"no number", "schema_migrations", map[string]string{"notes.sql": ``}, "name it NNNN_what.sql"},
		{"version 0", "schema_migrations", map[string]string{"0000_notes.sql": ``}, "name it NNNN_what.sql"},
		{"repeated version", "schema_migrations", map[string]string{"0001_a.sql": ``, "01_b.sql": ``}, "repeats or goes back"},
		{"table name to quote", "schema migrations", step1(), "use lower-case letters"},
		{"no table name", "", step1(), "use lower-case letters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// No server needed: the files are read before anything is opened.
			m := sqldb.Migrations{Files: steps(tt.files), Table: tt.table}
			_, err := sqldb.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "test.db"), m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("OpenSQLite = %v, want an error saying %q", err, tt.want)
			}
			_, err = sqldb.OpenPostgres(t.Context(), "postgres://127.0.0.1:1/none", "buzhou-sqldbtest", m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("OpenPostgres = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}
