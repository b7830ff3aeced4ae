package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const (
	// The writer runs every transaction as BEGIN IMMEDIATE: it takes the write
	// lock before reading, so what a transaction reads (the next feed revision,
	// whether a row exists) still holds when it writes, even with another
	// process on the file. WAL lets readers go on meanwhile; busy_timeout makes
	// another process's writer wait instead of failing.
	sqliteWriterParams = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	// Readers cannot write at all, so a mistake cannot bypass the one writer.
	sqliteReaderParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"
)

// SQLite is one database file. All writes of the process go through one
// connection, so they queue in Go instead of fighting over the file lock
// (SQLITE_BUSY); reads use a pool of their own.
type SQLite struct {
	// R is the pool of read-only connections; write through Write.
	R *sql.DB

	w         *sql.DB
	closeOnce sync.Once
	closeErr  error
}

// OpenSQLite opens (creating if needed) the SQLite database file at path and
// applies the pending steps of m's migrations/sqlite. The directory must
// exist.
func OpenSQLite(ctx context.Context, path string, m Migrations) (*SQLite, error) {
	// The reader and writer pools must reach the same file, which rules out
	// in-memory databases; '?' would be taken for the start of the parameters.
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?') {
		return nil, errors.New("store: give the SQLite database as a plain file path without '?'")
	}
	steps, err := m.load("sqlite")
	if err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite", path+"?"+sqliteWriterParams)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite writer: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrateSQLiteRetrying(ctx, w, m, steps); err != nil {
		_ = w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", path+"?"+sqliteReaderParams)
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("store: open SQLite readers: %w", err)
	}
	readers := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	return &SQLite{R: r, w: w}, nil
}

// Write runs fn in a write transaction and commits it when fn returns nil.
func (db *SQLite) Write(ctx context.Context, fn func(*sql.Tx) error) error {
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

// Ping checks that the file answers.
func (db *SQLite) Ping(ctx context.Context) error {
	var one int
	if err := db.R.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("store: ping SQLite: %w", err)
	}
	return nil
}

// Close closes both pools; later calls return the first call's result.
func (db *SQLite) Close() error {
	db.closeOnce.Do(func() {
		db.closeErr = errors.Join(db.R.Close(), db.w.Close())
	})
	return db.closeErr
}

// IsSQLiteConflict reports a taken primary key or unique column.
func IsSQLiteConflict(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}

func isSQLiteBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// migrateSQLiteRetrying retries migrateSQLite while the file is busy.
// Processes opening a new file at the same moment race to switch it to WAL,
// and SQLite answers the loser SQLITE_BUSY at once instead of calling the busy
// handler; a moment later the file is in WAL mode and the open goes through.
func migrateSQLiteRetrying(ctx context.Context, w *sql.DB, m Migrations, steps []migration) error {
	const giveUp = 10 * time.Second
	deadline := time.Now().Add(giveUp)
	wait := 5 * time.Millisecond
	for {
		err := migrateSQLite(ctx, w, m, steps)
		if err == nil || !isSQLiteBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("store: open SQLite: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// migrateSQLite applies the pending steps in one transaction. BEGIN IMMEDIATE
// makes a second process opening the same file wait, then find the steps done.
func migrateSQLite(ctx context.Context, w *sql.DB, m Migrations, steps []migration) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+m.Table+` (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("store: create %s: %w", m.Table, err)
	}
	applied, err := sqliteVersions(ctx, tx, m.Table)
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+m.Table+` (version, name, applied_at) VALUES (?, ?, ?)`,
			s.version, s.name, Tick(m.Now).UnixMicro()); err != nil {
			return fmt.Errorf("store: record migration %s: %w", s.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit migrations: %w", err)
	}
	return nil
}

func sqliteVersions(ctx context.Context, tx *sql.Tx, table string) (map[int]bool, error) {
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
