// Package sqldb is the database plumbing the services' stores share: it opens
// SQLite (one file, the default) or PostgreSQL (when a URL is given) behind
// one database/sql handle, brings a store's schema up to date from its
// embedded migration files, and pages through lists.
//
// A store is written once, against DB; only SQL that really differs between
// the engines (how a feed revision is taken, row locks) is chosen by Engine.
// Both engines take $1, $2, … placeholders (SQLite reads $N as parameter N),
// time.Time arguments (SQLite columns keep unix microseconds) and ScanTime
// destinations, and report taken keys through IsConflict.
//
// Errors start with "store:" because they surface as the stores' own errors.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Config chooses the database: PostgreSQL when DatabaseURL is set, else SQLite
// in a file of the service's own name in DataDir.
type Config struct {
	// DatabaseURL is a PostgreSQL URL or keyword/value string as pgx takes it.
	DatabaseURL string
	// DataDir holds the SQLite file when DatabaseURL is empty; it is created
	// when missing.
	DataDir string
}

// Open opens what cfg names: PostgreSQL through postgres when DatabaseURL is
// set, else SQLite through sqlite on DataDir/file, creating DataDir when
// missing. Each store passes its own openers and file name, so the choice is
// made the same way in every service.
func Open[S any](cfg Config, file string, postgres func(url string) (S, error), sqlite func(path string) (S, error)) (S, error) {
	if cfg.DatabaseURL != "" {
		return postgres(cfg.DatabaseURL)
	}
	var zero S
	if cfg.DataDir == "" {
		return zero, errors.New("store: set a data directory for SQLite or a PostgreSQL database URL")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return zero, fmt.Errorf("store: create the data directory: %w", err)
	}
	return sqlite(filepath.Join(cfg.DataDir, file))
}

// Tick reads now (time.Now when nil) at microsecond precision in UTC:
// PostgreSQL keeps no finer, and both engines must hand back exactly the times
// they were given, so a store stamps every write with Tick.
func Tick(now func() time.Time) time.Time {
	if now == nil {
		now = time.Now
	}
	return now().UTC().Truncate(time.Microsecond)
}

// Engine names a database engine; a store picks its engine-specific SQL by it.
type Engine string

// The engines, named as messages name them.
const (
	SQLite   Engine = "SQLite"
	Postgres Engine = "PostgreSQL"
)

// DB is an open database of either engine.
type DB struct {
	// R is the pool for reads; write through Write.
	R *sql.DB

	engine Engine
	// w runs the write transactions: SQLite's one writer connection, or
	// PostgreSQL's pool (R itself).
	w         *sql.DB
	closeOnce sync.Once
	closeErr  error
}

// Engine says which engine db runs on.
func (db *DB) Engine() Engine { return db.engine }

// Write runs fn in a write transaction and commits it when fn returns nil.
// fn's own error comes back unchanged.
func (db *DB) Write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // no-op once committed
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.R.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", db.engine, err)
	}
	return nil
}

// Close closes the pools; later calls return the first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.closeErr = db.R.Close()
		if db.w != db.R {
			db.closeErr = errors.Join(db.closeErr, db.w.Close())
		}
	})
	return db.closeErr
}

// IsConflict reports a taken primary key or unique column, on either engine.
func IsConflict(err error) bool {
	return sqliteCode(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE) || pgCode(err, "23505")
}

// IsMissingReference reports a foreign key naming a row that does not exist.
func IsMissingReference(err error) bool {
	return sqliteCode(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) || pgCode(err, "23503")
}

// sqliteCode reports a SQLite error with one of the extended result codes.
func sqliteCode(err error, codes ...int) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code() == c {
			return true
		}
	}
	return false
}

// pgCode reports a PostgreSQL error with the SQLSTATE code.
func pgCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}
