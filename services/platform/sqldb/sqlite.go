package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const (
	// Time arguments bind as unix microseconds, the INTEGER every SQLite time
	// column holds (PostgreSQL's precision, so both engines order alike).
	sqliteParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_time_integer_format=unix_micro"
	// The writer runs every transaction as BEGIN IMMEDIATE: it takes the write
	// lock before reading, so what a transaction reads (the next feed revision,
	// whether a row exists) still holds when it writes, even with another
	// process on the file. WAL lets readers go on meanwhile; busy_timeout makes
	// another process's writer wait instead of failing.
	sqliteWriterParams = sqliteParams + "&_pragma=journal_mode(WAL)&_txlock=immediate"
	// Readers cannot write at all, so a mistake cannot bypass the one writer.
	sqliteReaderParams = sqliteParams + "&_pragma=query_only(1)"
)

// OpenSQLite opens (creating if needed) the SQLite database file at path and
// applies the pending steps of m's migrations/sqlite. The directory must
// exist.
//
// All writes of the process go through one connection, so they queue in Go
// instead of fighting over the file lock (SQLITE_BUSY); reads use a pool of
// their own.
func OpenSQLite(ctx context.Context, path string, m Migrations) (*DB, error) {
	// The reader and writer pools must reach the same file, which rules out
	// in-memory databases; '?' would be taken for the start of the parameters.
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?') {
		return nil, errors.New("store: give the SQLite database as a plain file path without '?'")
	}
	steps, err := m.load(SQLite)
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
	return &DB{R: r, w: w, engine: SQLite}, nil
}

// isSQLiteBusy reports SQLITE_BUSY with any extended code.
func isSQLiteBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// migrateSQLiteRetrying retries migrate while the file is busy. Processes
// opening a new file at the same moment race to switch it to WAL, and SQLite
// answers the loser SQLITE_BUSY at once instead of calling the busy handler;
// a moment later the file is in WAL mode and the open goes through.
func migrateSQLiteRetrying(ctx context.Context, w *sql.DB, m Migrations, steps []migration) error {
	const giveUp = 10 * time.Second
	deadline := time.Now().Add(giveUp)
	wait := 5 * time.Millisecond
	for {
		err := migrate(ctx, w, SQLite, m, steps)
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
