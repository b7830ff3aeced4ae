// Package state is the search service's own small database, on SQLite (a
// file under the data directory) or PostgreSQL: the feed cursor of each
// index, the unanswered queries and the learned embedding models. The index
// itself lives in its backend; this is what must survive beside it. Both
// engines pass one contract suite (statetest).
package state

import (
	"context"
	"embed"
	"time"

	"buzhou.dev/platform/sqldb"
)

// Store is the search state. Errors wrap the sentinels of
// buzhou.dev/platform/errs: ErrNotFound for a missing model.
type Store interface {
	// Cursor returns the feed revision saved for the index name, 0 when none.
	Cursor(ctx context.Context, name string) (int64, error)
	// SaveCursor records that the index name holds every change up to rev.
	SaveCursor(ctx context.Context, name string, rev int64) error
	// AddUnanswered adds the counts, stamped at, to the queries' rows, and
	// keeps at most keep rows, dropping the rarest and oldest.
	AddUnanswered(ctx context.Context, counts map[string]int64, at time.Time, keep int) error
	// Unanswered returns the most frequent queries first (then the most
	// recent), at most limit.
	Unanswered(ctx context.Context, limit int) ([]Unanswered, error)
	// SaveModel stores a learned model under name, replacing one there.
	SaveModel(ctx context.Context, name string, data []byte) error
	// Model returns the model stored under name.
	Model(ctx context.Context, name string) ([]byte, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// Unanswered is a query that found nothing good enough.
type Unanswered struct {
	Query      string
	Count      int64
	LastSeenAt time.Time
}

// Config chooses the database: PostgreSQL when DatabaseURL is set, else
// SQLite in DataDir/search.db.
type Config = sqldb.Config

// Open opens the store cfg names and brings its schema up to date. nil now
// means time.Now.
func Open(ctx context.Context, cfg Config, now func() time.Time) (Store, error) {
	return sqldb.Open(cfg, "search.db",
		func(url string) (Store, error) { return OpenPostgres(ctx, url, now) },
		func(path string) (Store, error) { return OpenSQLite(ctx, path, now) })
}

// migrationFiles holds the schema of each engine, one numbered file per
// step. embed needs a package variable; nothing writes to it.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migrations is the search schema for sqldb's runner. The table and lock are
// the search service's own, since services may share one database.
func migrations(now func() time.Time) sqldb.Migrations {
	return sqldb.Migrations{Files: migrationFiles, Table: "search_schema_migrations", Lock: 0x0b0e_a002, Now: now}
}
