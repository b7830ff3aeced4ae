package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// Migrations is a store's schema as the runner applies it: numbered steps per
// engine, and where and how the applied ones are recorded. A step never
// changes once released; new steps get new files.
type Migrations struct {
	// Files holds migrations/sqlite/*.sql and migrations/postgres/*.sql, one
	// file per step named NNNN_what.sql; a store embeds them.
	Files fs.FS
	// Table records the applied steps (version, name, applied_at). Each
	// service names its own: services may share one PostgreSQL database (one
	// DATABASE_URL for the whole stack), and another service's step 1 is not
	// theirs. A store keeps the name it has always used, or it would run its
	// steps again on an existing database.
	Table string
	// Lock is the first key of the PostgreSQL advisory lock that serialises
	// processes migrating one schema at once; the second is the schema's hash.
	// Each service has its own, so services starting together do not wait on
	// each other.
	Lock int32
	// Now stamps applied_at; nil means time.Now.
	Now func() time.Time
}

type migration struct {
	version int
	name    string
	sql     string
}

// load returns the steps of one engine in version order.
func (m Migrations) load(eng Engine) ([]migration, error) {
	engine := "postgres"
	if eng == SQLite {
		engine = "sqlite"
	}
	if !isPlainName(m.Table) {
		// The name goes into SQL unquoted; it is a constant of the store, so
		// this only catches a mistake in code.
		return nil, fmt.Errorf("store: migrations table %q: use lower-case letters, digits and _", m.Table)
	}
	dir := path.Join("migrations", engine)
	entries, err := fs.ReadDir(m.Files, dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("store: read %s migrations: %w", engine, err)
	}
	var out []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %s/%s: name it NNNN_what.sql", engine, e.Name())
		}
		if len(out) > 0 && v <= out[len(out)-1].version {
			return nil, fmt.Errorf("store: migration %s/%s: version %d repeats or goes back", engine, e.Name(), v)
		}
		b, err := fs.ReadFile(m.Files, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s/%s: %w", engine, e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return out, nil
}

// isPlainName reports a SQL identifier that needs no quoting in either engine.
func isPlainName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// migrate applies the pending steps in one transaction. Processes starting
// together on one database take turns, so the second finds the steps done:
// SQLite's writer begins IMMEDIATE, and on PostgreSQL, where CREATE TABLE IF
// NOT EXISTS is not safe against a twin running at the same moment, an
// advisory lock ends with the transaction.
func migrate(ctx context.Context, w *sql.DB, e Engine, m Migrations, steps []migration) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	create := `CREATE TABLE IF NOT EXISTS ` + m.Table + ` (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`
	if e == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, m.Lock); err != nil {
			return fmt.Errorf("store: lock for migration: %w", err)
		}
		create = `CREATE TABLE IF NOT EXISTS ` + m.Table + ` (
			version    integer     NOT NULL PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL
		)`
	}
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("store: create %s: %w", m.Table, err)
	}
	applied, err := versions(ctx, tx, m.Table)
	if err != nil {
		return err
	}
	for _, s := range steps {
		if applied[s.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, s.sql); err != nil {
			return fmt.Errorf("store: migration %s: %w", s.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+m.Table+` (version, name, applied_at) VALUES ($1, $2, $3)`,
			s.version, s.name, Tick(m.Now)); err != nil {
			return fmt.Errorf("store: record migration %s: %w", s.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit migrations: %w", err)
	}
	return nil
}

// versions returns the steps table records as applied.
func versions(ctx context.Context, tx *sql.Tx, table string) (map[int]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM `+table)
	if err != nil {
		return nil, fmt.Errorf("store: read %s: %w", table, err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: read %s: %w", table, err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read %s: %w", table, err)
	}
	return applied, nil
}
