package sqldb

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is a pool of connections to one PostgreSQL database; several
// processes may share the database.
type Postgres struct {
	Pool *pgxpool.Pool
}

// OpenPostgres connects to the PostgreSQL database at url (a URL or
// keyword/value string, which may carry any pgx or server option, such as
// search_path) and applies the pending steps of m's migrations/postgres.
// appName becomes the connections' application_name unless url sets one, so
// a DBA can tell the services apart.
func OpenPostgres(ctx context.Context, url, appName string, m Migrations) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included: it redacts only
		// on a best-effort basis.
		return nil, errors.New("store: the PostgreSQL URL cannot be parsed; check DATABASE_URL")
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = appName
	}
	steps, err := m.load("postgres")
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect to PostgreSQL: %w", err)
	}
	if err := migratePostgres(ctx, pool, m, steps); err != nil {
		pool.Close()
		return nil, err
	}
	return &Postgres{Pool: pool}, nil
}

// Write runs fn in a transaction and commits it when fn returns nil.
func (db *Postgres) Write(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // no-op once committed
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (db *Postgres) Ping(ctx context.Context) error {
	if err := db.Pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping PostgreSQL: %w", err)
	}
	return nil
}

// Close closes the pool; it may be called more than once.
func (db *Postgres) Close() error {
	db.Pool.Close()
	return nil
}

// migratePostgres applies the pending steps in one transaction.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, m Migrations, steps []migration) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// CREATE TABLE IF NOT EXISTS is not safe against a twin running at the same
	// moment, so processes starting together take turns; the lock ends with the
	// transaction.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, m.Lock); err != nil {
		return fmt.Errorf("store: lock for migration: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+m.Table+` (
		version    integer     NOT NULL PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL
	)`); err != nil {
		return fmt.Errorf("store: create %s: %w", m.Table, err)
	}
	rows, err := tx.Query(ctx, `SELECT version FROM `+m.Table)
	if err != nil {
		return fmt.Errorf("store: read %s: %w", m.Table, err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("store: read %s: %w", m.Table, err)
	}
	applied := map[int]bool{}
	for _, v := range versions {
		applied[int(v)] = true
	}
	for _, s := range steps {
		if applied[s.version] {
			continue
		}
		if _, err := tx.Exec(ctx, s.sql); err != nil {
			return fmt.Errorf("store: migration %s: %w", s.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+m.Table+` (version, name, applied_at) VALUES ($1, $2, $3)`,
			s.version, s.name, Tick(m.Now)); err != nil {
			return fmt.Errorf("store: record migration %s: %w", s.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit migrations: %w", err)
	}
	return nil
}
