package store

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

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

const (
	// The writer runs every transaction as BEGIN IMMEDIATE: it takes the write
	// lock before reading, so the max+1 feed revision it computes cannot be
	// taken by another process in between. WAL lets readers go on meanwhile;
	// busy_timeout makes another process's writer wait instead of failing.
	sqliteWriterParams = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	// Readers cannot write at all, so a mistake cannot bypass the one writer.
	sqliteReaderParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"
)

// sqliteStore keeps articles in one SQLite file. All writes of the process go
// through one connection, so they queue in Go instead of fighting over the
// file lock (SQLITE_BUSY); reads use a pool of their own.
type sqliteStore struct {
	w, r      *sql.DB
	now       Clock
	notify    notifier
	closeOnce sync.Once
	closeErr  error
}

// OpenSQLite opens (creating if needed) the SQLite database file at path and
// brings its schema up to date. The directory must exist. nil now means
// time.Now.
func OpenSQLite(ctx context.Context, path string, now Clock) (Store, error) {
	// The reader and writer pools must reach the same file, which rules out
	// in-memory databases; '?' would be taken for the start of the parameters.
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?') {
		return nil, errors.New("store: give the SQLite database as a plain file path without '?'")
	}
	w, err := sql.Open("sqlite", path+"?"+sqliteWriterParams)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite writer: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &sqliteStore{w: w, now: clockOrNow(now)}
	if err := s.migrateRetrying(ctx); err != nil {
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
	s.r = r
	return s, nil
}

// migrateRetrying retries migrate while the file is busy. Processes opening a
// new file at the same moment race to switch it to WAL, and SQLite answers
// the loser SQLITE_BUSY at once instead of calling the busy handler; a moment
// later the file is in WAL mode and the open goes through.
func (s *sqliteStore) migrateRetrying(ctx context.Context) error {
	const giveUp = 10 * time.Second
	deadline := time.Now().Add(giveUp)
	wait := 5 * time.Millisecond
	for {
		err := s.migrate(ctx)
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

// migrate applies the pending schema steps in one transaction. BEGIN
// IMMEDIATE makes a second process opening the same file wait, then find the
// steps done.
func (s *sqliteStore) migrate(ctx context.Context) error {
	steps, err := loadMigrations("sqlite")
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	applied, err := sqliteVersions(ctx, tx)
	if err != nil {
		return err
	}
	for _, m := range steps {
		if applied[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("store: migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, tick(s.now).UnixMicro()); err != nil {
			return fmt.Errorf("store: record migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit migrations: %w", err)
	}
	return nil
}

func sqliteVersions(ctx context.Context, tx *sql.Tx) (map[int]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	return applied, nil
}

// write runs fn in a write transaction and wakes Notify waiters once it is
// committed.
func (s *sqliteStore) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
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
	s.notify.broadcast()
	return nil
}

// sqliteNextRevision is gap-free because the transaction holds the write lock
// from its start and a rolled-back one leaves no row behind.
func sqliteNextRevision(ctx context.Context, tx *sql.Tx) (int64, error) {
	var rev int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(revision), 0) + 1 FROM changes`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("store: next feed revision: %w", err)
	}
	return rev, nil
}

func sqliteInsertChange(ctx context.Context, tx *sql.Tx, rev int64, kind articlev1.ChangeKind, id string, at time.Time, data *string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO changes (revision, article_id, kind, change_time, data) VALUES (?, ?, ?, ?, ?)`,
		rev, id, int32(kind), at.UnixMicro(), data); err != nil {
		return fmt.Errorf("store: append change %d: %w", rev, err)
	}
	return nil
}

func isSQLiteBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// isSQLiteConflict reports a taken primary key or unique column.
func isSQLiteConflict(err error) bool {
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

func (s *sqliteStore) Create(ctx context.Context, a *articlev1.Article) (*articlev1.Article, error) {
	if err := checkNew(a); err != nil {
		return nil, err
	}
	a = cloneArticle(a)
	r, err := newRow(a)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		at := tick(s.now)
		rev, err := sqliteNextRevision(ctx, tx)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO articles
			(id, slug, status, domain, verification_status, revision, feed_revision, created_at, updated_at, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.id, r.slug, r.status, r.domain, r.verificationStatus, r.revision, rev,
			r.createdAt.UnixMicro(), r.updatedAt.UnixMicro(), r.data)
		if isSQLiteConflict(err) {
			// A failed statement leaves the transaction usable in SQLite.
			var existing string
			if err := tx.QueryRowContext(ctx, `SELECT id FROM articles WHERE id = ? OR slug = ? ORDER BY id = ? DESC LIMIT 1`,
				r.id, r.slug, r.id).Scan(&existing); err != nil {
				return fmt.Errorf("store: find the article holding id %q or slug %q: %w", r.id, r.slug, err)
			}
			return alreadyExists(a, existing)
		}
		if err != nil {
			return fmt.Errorf("store: insert article %q: %w", r.id, err)
		}
		return sqliteInsertChange(ctx, tx, rev, articlev1.ChangeKind_CHANGE_KIND_UPSERT, r.id, at, &r.data)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (s *sqliteStore) Get(ctx context.Context, idOrSlug string) (*articlev1.Article, error) {
	var data string
	err := s.r.QueryRowContext(ctx, `SELECT data FROM articles WHERE id = ? OR slug = ? ORDER BY id = ? DESC LIMIT 1`,
		idOrSlug, idOrSlug, idOrSlug).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(idOrSlug)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read article %q: %w", idOrSlug, err)
	}
	return decodeArticle(data)
}

func (s *sqliteStore) List(ctx context.Context, q ListQuery) ([]*articlev1.Article, string, error) {
	size := pageSize(q.PageSize)
	var where []string
	var args []any
	if q.PageToken != "" {
		t, id, err := decodePageToken(q.PageToken)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(created_at, id) < (?, ?)")
		args = append(args, t.UnixMicro(), id)
	}
	if q.Domain != "" {
		where = append(where, "domain = ?")
		args = append(args, q.Domain)
	}
	if len(q.Statuses) > 0 {
		where = append(where, "status IN (?"+strings.Repeat(", ?", len(q.Statuses)-1)+")")
		for _, st := range q.Statuses {
			args = append(args, st)
		}
	}
	query := "SELECT created_at, id, data FROM articles"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, size+1) // one more tells whether a next page exists

	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list articles: %w", err)
	}
	defer rows.Close()
	var (
		out      []*articlev1.Article
		lastTime int64
		lastID   string
		more     bool
	)
	for rows.Next() {
		if len(out) == size {
			more = true
			break
		}
		var data string
		if err := rows.Scan(&lastTime, &lastID, &data); err != nil {
			return nil, "", fmt.Errorf("store: list articles: %w", err)
		}
		a, err := decodeArticle(data)
		if err != nil {
			return nil, "", err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list articles: %w", err)
	}
	if !more {
		return out, "", nil
	}
	return out, encodePageToken(time.UnixMicro(lastTime), lastID), nil
}

func (s *sqliteStore) Update(ctx context.Context, id string, expectedRevision int32, mutate func(*articlev1.Article) error) (*articlev1.Article, error) {
	var out *articlev1.Article
	err := s.write(ctx, func(tx *sql.Tx) error {
		var (
			rev  int32
			data string
		)
		err := tx.QueryRowContext(ctx, `SELECT revision, data FROM articles WHERE id = ?`, id).Scan(&rev, &data)
		if errors.Is(err, sql.ErrNoRows) {
			return notFoundID(id)
		}
		if err != nil {
			return fmt.Errorf("store: read article %q: %w", id, err)
		}
		a, err := decodeArticle(data)
		if err != nil {
			return err
		}
		at := tick(s.now)
		a, kind, err := prepareUpdate(a, rev, expectedRevision, mutate, at)
		if err != nil {
			return err
		}
		r, err := newRow(a)
		if err != nil {
			return err
		}
		feedRev, err := sqliteNextRevision(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE articles SET status = ?, domain = ?, verification_status = ?,
			revision = ?, feed_revision = ?, created_at = ?, updated_at = ?, data = ? WHERE id = ?`,
			r.status, r.domain, r.verificationStatus, r.revision, feedRev,
			r.createdAt.UnixMicro(), r.updatedAt.UnixMicro(), r.data, id); err != nil {
			return fmt.Errorf("store: write article %q: %w", id, err)
		}
		if err := sqliteInsertChange(ctx, tx, feedRev, kind, id, at, changeData(kind, r.data)); err != nil {
			return err
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *sqliteStore) Changes(ctx context.Context, after int64, limit int) ([]*articlev1.ArticleChange, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT revision, kind, article_id, change_time, data FROM changes
		WHERE revision > ? ORDER BY revision LIMIT ?`, after, changeLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: read changes: %w", err)
	}
	defer rows.Close()
	var out []*articlev1.ArticleChange
	for rows.Next() {
		var (
			rev, at int64
			kind    int32
			id      string
			data    sql.NullString
		)
		if err := rows.Scan(&rev, &kind, &id, &at, &data); err != nil {
			return nil, fmt.Errorf("store: read changes: %w", err)
		}
		var snapshot *string
		if data.Valid {
			snapshot = &data.String
		}
		c, err := newChange(rev, articlev1.ChangeKind(kind), id, time.UnixMicro(at), snapshot)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read changes: %w", err)
	}
	return out, nil
}

func (s *sqliteStore) HeadRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(revision), 0) FROM changes`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("store: read head revision: %w", err)
	}
	return rev, nil
}

func (s *sqliteStore) Notify() <-chan struct{} { return s.notify.wait() }

// Stats counts in one statement so the numbers agree with each other.
func (s *sqliteStore) Stats(ctx context.Context) (*articlev1.GetArticleStatsResponse, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT status, domain, verification_status, COUNT(*) FROM articles
		GROUP BY status, domain, verification_status`)
	if err != nil {
		return nil, fmt.Errorf("store: count articles: %w", err)
	}
	defer rows.Close()
	c := newStatsCounter()
	for rows.Next() {
		var (
			status, domain, verification string
			n                            int64
		)
		if err := rows.Scan(&status, &domain, &verification, &n); err != nil {
			return nil, fmt.Errorf("store: count articles: %w", err)
		}
		c.add(status, domain, verification, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: count articles: %w", err)
	}
	return c.resp, nil
}

func (s *sqliteStore) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("store: ping SQLite: %w", err)
	}
	return nil
}

// Close closes both pools; later calls return the first call's result.
func (s *sqliteStore) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.r.Close(), s.w.Close())
	})
	return s.closeErr
}
