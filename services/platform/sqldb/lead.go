package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"log/slog"
	"time"
)

// leadEvery is how often Lead tries for a taken leadership and checks a held
// one's connection.
var leadEvery = 5 * time.Second

// Lead runs run while this process leads name among the processes sharing
// the database, and again each time it leads anew, until ctx ends. Work that
// must happen once however many replicas run (following a feed to act on
// each change, a daily schedule) runs under it.
//
// On SQLite one process owns the file, so run runs at once. On PostgreSQL the
// leader holds a session advisory lock keyed by name and the current schema
// on a connection of its own; others try again every 5 s. When that
// connection fails the lock is gone with it, so run's context is cancelled
// and leading starts over; a replica that dies hands over within leadEvery
// of PostgreSQL noticing.
func (db *DB) Lead(ctx context.Context, name string, log *slog.Logger, run func(context.Context)) {
	if db.engine != Postgres {
		run(ctx)
		return
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for ctx.Err() == nil {
		conn, err := db.lead(ctx, name)
		if err != nil {
			if ctx.Err() == nil {
				log.WarnContext(ctx, "leadership not taken; trying again", "lead", name, "err", err, "in", leadEvery)
			}
		} else if conn != nil {
			log.InfoContext(ctx, "leading", "lead", name)
			db.whileHeld(ctx, conn, run)
			log.InfoContext(ctx, "no longer leading", "lead", name)
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(leadEvery):
		}
	}
}

// lead takes name's lock on a connection of its own and returns it, or nil
// when another process holds it.
func (db *DB) lead(ctx context.Context, name string) (*sql.Conn, error) {
	conn, err := db.R.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtextextended(current_schema() || ':' || $1, 0))`, name).Scan(&got); err != nil || !got {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

// whileHeld runs run until ctx ends or conn fails, then gives the lock up.
func (db *DB) whileHeld(ctx context.Context, conn *sql.Conn, run func(context.Context)) {
	held, lost := context.WithCancel(ctx)
	defer lost()
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(held)
	}()
	tick := time.NewTicker(leadEvery)
	defer tick.Stop()
	for held.Err() == nil {
		select {
		case <-done:
			lost()
		case <-held.Done():
		case <-tick.C:
			if err := conn.PingContext(held); err != nil && held.Err() == nil {
				lost()
			}
		}
	}
	<-done
	// Unlocked by hand, the connection goes back to the pool; when that
	// fails the connection is dropped instead, taking the lock with it.
	unlock, cancel := context.WithTimeout(context.Background(), leadEvery)
	defer cancel()
	if _, err := conn.ExecContext(unlock, `SELECT pg_advisory_unlock_all()`); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = conn.Close()
}
