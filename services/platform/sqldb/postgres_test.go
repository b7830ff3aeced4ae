package sqldb_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"buzhou.dev/platform/sqldb"
	"buzhou.dev/platform/sqldb/sqldbtest"
)

func openPostgresAt(t *testing.T, dbURL string) *sqldb.Postgres {
	t.Helper()
	db, err := sqldb.OpenPostgres(t.Context(), dbURL, "buzhou-sqldbtest", sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations", Lock: 0x0b0e_a0ff})
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	sqldbtest.CloseAtEnd(t, db)
	return db
}

func TestOpenPostgresHidesPassword(t *testing.T) {
	t.Parallel()
	_, err := sqldb.OpenPostgres(t.Context(), "postgres://u:hunter2@[bad", "buzhou-sqldbtest", sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("OpenPostgres error = %v; want one that does not show the password", err)
	}
}

// The service names its connections unless the URL already does.
func TestPostgresApplicationName(t *testing.T) {
	t.Parallel()
	dbURL := sqldbtest.FreshSchema(t)
	own := dbURL + " application_name=mine"
	if u, err := url.Parse(dbURL); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set("application_name", "mine")
		u.RawQuery = q.Encode()
		own = u.String()
	}
	for where, want := range map[string]string{dbURL: "buzhou-sqldbtest", own: "mine"} {
		var got string
		if err := openPostgresAt(t, where).Pool.QueryRow(t.Context(), `SELECT current_setting('application_name')`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("application_name = %q, want %q", got, want)
		}
	}
}

func TestPostgresWrite(t *testing.T) {
	t.Parallel()
	db := openPostgresAt(t, sqldbtest.FreshSchema(t))
	ctx := t.Context()
	mine := errors.New("mine")
	err := db.Write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO notes (id) VALUES ('b')`); err != nil {
			return err
		}
		return mine
	})
	if !errors.Is(err, mine) {
		t.Fatalf("Write = %v, want fn's error unchanged", err)
	}
	if err := db.Write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO notes (id) VALUES ('a')`)
		return err
	}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	rows, err := db.Pool.Query(ctx, `SELECT id FROM notes ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != "a" {
		t.Fatalf("notes = %q, want only a: a failed Write must leave nothing", ids)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
