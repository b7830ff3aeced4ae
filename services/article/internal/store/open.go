package store

import (
	"context"

	"buzhou.dev/platform/sqldb"
)

// Config chooses the database: PostgreSQL when DatabaseURL is set, else SQLite
// in DataDir/article.db (DataDir is created when missing).
type Config = sqldb.Config

// Open opens the store cfg names and brings its schema up to date. nil now
// means time.Now.
func Open(ctx context.Context, cfg Config, now Clock) (Store, error) {
	return sqldb.Open(cfg, "article.db",
		func(url string) (Store, error) { return OpenPostgres(ctx, url, now) },
		func(path string) (Store, error) { return OpenSQLite(ctx, path, now) })
}
