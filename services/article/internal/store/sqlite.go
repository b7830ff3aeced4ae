package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"buzhou.dev/platform/sqldb"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// sqliteStore keeps articles in one SQLite file (see sqldb.SQLite for how
// reads and writes reach it).
type sqliteStore struct {
	db     *sqldb.SQLite
	now    Clock
	notify notifier
}

// OpenSQLite opens (creating if needed) the SQLite database file at path and
// brings its schema up to date. The directory must exist. nil now means
// time.Now.
func OpenSQLite(ctx context.Context, path string, now Clock) (Store, error) {
	db, err := sqldb.OpenSQLite(ctx, path, migrations(now))
	if err != nil {
		return nil, err
	}
	return &sqliteStore{db: db, now: now}, nil
}

// write runs fn in a write transaction and wakes Notify waiters once it is
// committed.
func (s *sqliteStore) write(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := s.db.Write(ctx, fn); err != nil {
		return err
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
		at := sqldb.Tick(s.now)
		rev, err := sqliteNextRevision(ctx, tx)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO articles
			(id, slug, status, domain, verification_status, revision, feed_revision, created_at, updated_at, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.id, r.slug, r.status, r.domain, r.verificationStatus, r.revision, rev,
			r.createdAt.UnixMicro(), r.updatedAt.UnixMicro(), r.data)
		if sqldb.IsSQLiteConflict(err) {
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
	err := s.db.R.QueryRowContext(ctx, `SELECT data FROM articles WHERE id = ? OR slug = ? ORDER BY id = ? DESC LIMIT 1`,
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

	rows, err := s.db.R.QueryContext(ctx, query, args...)
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
	return out, sqldb.EncodeCursor("", time.UnixMicro(lastTime), lastID), nil
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
		at := sqldb.Tick(s.now)
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
	rows, err := s.db.R.QueryContext(ctx, `SELECT revision, kind, article_id, change_time, data FROM changes
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
	if err := s.db.R.QueryRowContext(ctx, `SELECT COALESCE(MAX(revision), 0) FROM changes`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("store: read head revision: %w", err)
	}
	return rev, nil
}

func (s *sqliteStore) Notify() <-chan struct{} { return s.notify.wait() }

// Stats counts in one statement so the numbers agree with each other.
func (s *sqliteStore) Stats(ctx context.Context) (*articlev1.GetArticleStatsResponse, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT status, domain, verification_status, COUNT(*) FROM articles
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

func (s *sqliteStore) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Close closes the database; later calls return the first call's result.
func (s *sqliteStore) Close() error { return s.db.Close() }
