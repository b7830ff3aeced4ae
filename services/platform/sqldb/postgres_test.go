package sqldb_test

import (
	"net/url"
	"strings"
	"testing"

	"buzhou.dev/platform/sqldb"
	"buzhou.dev/platform/sqldb/sqldbtest"
)

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
		db := mustOpen(t, engines()[1], where, sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations", Lock: 0x0b0e_a0ff})
		if got := texts(t, db, `SELECT current_setting('application_name')`); len(got) != 1 || got[0] != want {
			t.Errorf("application_name = %q, want %q", got, want)
		}
	}
}

// pgxpool's pool settings in the URL still size the pool, and are not sent
// to the server as run-time parameters (which it would refuse).
func TestPostgresPoolSettings(t *testing.T) {
	t.Parallel()
	dbURL := sqldbtest.FreshSchema(t)
	u, err := url.Parse(dbURL)
	if err != nil || u.Scheme == "" {
		t.Skip("the test server's URL is not a URL")
	}
	q := u.Query()
	q.Set("pool_max_conns", "3")
	u.RawQuery = q.Encode()
	db := mustOpen(t, engines()[1], u.String(), sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations", Lock: 0x0b0e_a0ff})
	if got := db.R.Stats().MaxOpenConnections; got != 3 {
		t.Fatalf("MaxOpenConnections = %d, want 3", got)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
