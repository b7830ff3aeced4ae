package sqldb

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// OpenPostgres connects to the PostgreSQL database at url (a URL or
// keyword/value string, which may carry any pgx or server option, such as
// search_path, and pgxpool's pool_max_conns and friends) and applies the
// pending steps of m's migrations/postgres. appName becomes the connections'
// application_name unless url sets one, so a DBA can tell the services apart.
// Several processes may share the database.
func OpenPostgres(ctx context.Context, url, appName string, m Migrations) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included: it redacts only
		// on a best-effort basis.
		return nil, errors.New("store: the PostgreSQL URL cannot be parsed; check DATABASE_URL")
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = appName
	}
	steps, err := m.load(Postgres)
	if err != nil {
		return nil, err
	}
	// database/sql keeps the pool, sized and aged as pgxpool would have it;
	// its default of 2 idle connections would make busy stores reconnect.
	db := stdlib.OpenDB(*cfg.ConnConfig)
	db.SetMaxOpenConns(int(cfg.MaxConns))
	db.SetMaxIdleConns(int(cfg.MaxConns))
	db.SetConnMaxLifetime(cfg.MaxConnLifetime)
	db.SetConnMaxIdleTime(cfg.MaxConnIdleTime)
	if err := migrate(ctx, db, Postgres, m, steps); err != nil {
		_ = db.Close()
		return nil, err
	}
	return &DB{R: db, w: db, engine: Postgres}, nil
}
