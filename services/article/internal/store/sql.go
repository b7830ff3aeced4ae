package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"buzhou.dev/platform/sqldb"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// sqlStore keeps articles in a sqldb database of either engine; the SQL
// that differs between them is in q.
type sqlStore struct {
	db     *sqldb.DB
	q      queries
	now    Clock
	notify notifier
}

var _ Store = (*sqlStore)(nil)

// OpenSQLite opens (creating if needed) the SQLite database file at path and
// brings its schema up to date. The directory must exist. nil now means
// time.Now.
func OpenSQLite(ctx context.Context, path string, now Clock) (Store, error) {
	db, err := sqldb.OpenSQLite(ctx, path, migrations(now))
	if err != nil {
		return nil, err
	}
	return &sqlStore{db: db, q: queriesFor(db.Engine()), now: now}, nil
}

// OpenPostgres connects to the PostgreSQL database at url (a URL or
// keyword/value string, which may carry any pgx or server option, such as
// search_path) and brings its schema up to date. nil now means time.Now.
// Several processes may share the database.
func OpenPostgres(ctx context.Context, url string, now Clock) (Store, error) {
	db, err := sqldb.OpenPostgres(ctx, url, "buzhou-article", migrations(now))
	if err != nil {
		return nil, err
	}
	return &sqlStore{db: db, q: queriesFor(db.Engine()), now: now}, nil
}

// write runs fn in a write transaction and wakes Notify waiters once it is
// committed.
func (s *sqlStore) write(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := s.db.Write(ctx, fn); err != nil {
		return err
	}
	s.notify.broadcast()
	return nil
}

// errTaken marks a Create that hit a taken id or slug. Create names the
// holder after the transaction: PostgreSQL refuses every statement of a
// transaction after a failed one.
type errTaken struct{}

func (errTaken) Error() string { return "store: id or slug taken" }

// getArticle finds an article by id, or by slug when no id matches.
const getArticle = `SELECT data FROM articles WHERE id = $1 OR slug = $1 ORDER BY id = $1 DESC LIMIT 1`

func (s *sqlStore) Create(ctx context.Context, a *articlev1.Article) (*articlev1.Article, error) {
	if err := checkNew(a); err != nil {
		return nil, err
	}
	a = cloneArticle(a)
	r, err := newRow(a)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q.insertArticle,
			r.id, r.slug, r.status, r.domain, r.verificationStatus, r.revision, r.createdAt, r.updatedAt, r.data)
		if sqldb.IsConflict(err) {
			return errTaken{}
		}
		if err != nil {
			return fmt.Errorf("store: insert article %q: %w", r.id, err)
		}
		if _, err := tx.ExecContext(ctx, s.q.appendChange, r.id, int32(articlev1.ChangeKind_CHANGE_KIND_UPSERT),
			sqldb.Tick(s.now), r.data, int32(articlev1.ChangeCause_CHANGE_CAUSE_CREATE), s.db.Strings(nil)); err != nil {
			return fmt.Errorf("store: append change for %q: %w", r.id, err)
		}
		return nil
	})
	if errors.Is(err, errTaken{}) {
		// Articles are never deleted, so the holder is still there.
		var existing string
		if err := s.db.R.QueryRowContext(ctx, `SELECT id FROM articles WHERE id = $1 OR slug = $2 ORDER BY id = $1 DESC LIMIT 1`,
			r.id, r.slug).Scan(&existing); err != nil {
			return nil, fmt.Errorf("store: find the article holding id %q or slug %q: %w", r.id, r.slug, err)
		}
		return nil, alreadyExists(a, existing)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (s *sqlStore) Get(ctx context.Context, idOrSlug string) (*articlev1.Article, error) {
	var data string
	err := s.db.R.QueryRowContext(ctx, getArticle, idOrSlug).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, NotFound(idOrSlug)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read article %q: %w", idOrSlug, err)
	}
	return decodeArticle(data)
}

func (s *sqlStore) List(ctx context.Context, q ListQuery) ([]*articlev1.Article, string, error) {
	var domains []string
	if q.Domain != "" {
		domains = []string{q.Domain}
	}
	// The page holds the stored JSON; only the rows that make the page are
	// decoded.
	page, next, err := sqldb.List(ctx, s.db.R, sqldb.Page{
		Kind:     tokenArticles,
		Table:    "articles",
		Columns:  "created_at, id, data",
		Filters:  []sqldb.Filter{{Column: "domain", Values: domains}, {Column: "status", Values: q.Statuses}},
		Size:     pageSize(q.PageSize),
		MaxBytes: pageBytes(q.MaxBytes),
		Token:    q.PageToken,
	}, func(rows *sql.Rows) (string, sqldb.Row, error) {
		var r sqldb.Row
		var data string
		err := rows.Scan(sqldb.ScanTime(&r.CreatedAt), &r.ID, &data)
		r.Bytes = len(data)
		return data, r, err
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]*articlev1.Article, 0, len(page))
	for _, data := range page {
		a, err := decodeArticle(data)
		if err != nil {
			return nil, "", err
		}
		out = append(out, a)
	}
	return out, next, nil
}

func (s *sqlStore) Update(ctx context.Context, id string, expectedRevision int32, cause articlev1.ChangeCause, mutate func(*articlev1.Article) error) (*articlev1.Article, error) {
	var out *articlev1.Article
	err := s.write(ctx, func(tx *sql.Tx) error {
		var (
			rev  int32
			data string
		)
		err := tx.QueryRowContext(ctx, s.q.lockArticle, id).Scan(&rev, &data)
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
		if expectedRevision > 0 && expectedRevision < rev {
			if ok, err := s.relatedOnlySince(ctx, tx, id, int(rev-expectedRevision)); err != nil {
				return err
			} else if ok {
				expectedRevision = rev
			}
		}
		at := sqldb.Tick(s.now)
		a, kind, paths, err := prepareUpdate(a, rev, expectedRevision, cause, mutate, at)
		if err != nil {
			return err
		}
		r, err := newRow(a)
		if err != nil {
			return err
		}
		args := []any{id, int32(kind), at, changeData(kind, r.data), int32(cause), s.db.Strings(paths),
			r.status, r.domain, r.verificationStatus, r.revision, r.createdAt, r.updatedAt, r.data}
		for _, q := range s.q.updateAndAppend {
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("store: write article %q: %w", id, err)
			}
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// relatedOnlySince reports whether the article's last n revisions were all
// related-id updates: those never conflict with a writer's If-Match, since
// no writer sets related ids, and the search service may write them at any
// moment. Bounded: a writer further behind than that gets the conflict.
func (s *sqlStore) relatedOnlySince(ctx context.Context, tx *sql.Tx, id string, n int) (bool, error) {
	if n > maxRelatedOnly {
		return false, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT cause FROM changes WHERE article_id = $1 ORDER BY revision DESC LIMIT $2`, id, n)
	if err != nil {
		return false, fmt.Errorf("store: read the changes of article %q: %w", id, err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var cause int32
		if err := rows.Scan(&cause); err != nil {
			return false, fmt.Errorf("store: read the changes of article %q: %w", id, err)
		}
		if articlev1.ChangeCause(cause) != articlev1.ChangeCause_CHANGE_CAUSE_RELATED_UPDATE {
			return false, nil
		}
		seen++
	}
	return seen == n, rows.Err()
}

// maxRelatedOnly bounds the revisions relatedOnlySince looks back over.
const maxRelatedOnly = 20

func (s *sqlStore) Changes(ctx context.Context, after int64, limit int) ([]*articlev1.ArticleChange, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT revision, kind, article_id, change_time, data, cause, changed_paths FROM changes
		WHERE revision > $1 ORDER BY revision LIMIT $2`, after, changeLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: read changes: %w", err)
	}
	defer rows.Close()
	var out []*articlev1.ArticleChange
	for rows.Next() {
		var (
			rev         int64
			kind, cause int32
			id          string
			at          time.Time
			data        *string
			paths       []string
		)
		if err := rows.Scan(&rev, &kind, &id, sqldb.ScanTime(&at), &data, &cause, sqldb.ScanStrings(&paths)); err != nil {
			return nil, fmt.Errorf("store: read changes: %w", err)
		}
		c, err := newChange(rev, articlev1.ChangeKind(kind), id, at, data, articlev1.ChangeCause(cause), paths)
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

func (s *sqlStore) HeadRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.db.R.QueryRowContext(ctx, `SELECT COALESCE(MAX(revision), 0) FROM changes`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("store: read head revision: %w", err)
	}
	return rev, nil
}

func (s *sqlStore) Notify() <-chan struct{} { return s.notify.wait() }

// Stats counts in one statement so the numbers agree with each other.
func (s *sqlStore) Stats(ctx context.Context) (*articlev1.GetArticleStatsResponse, error) {
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

func (s *sqlStore) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Close closes the database; later calls return the first call's result.
func (s *sqlStore) Close() error { return s.db.Close() }
