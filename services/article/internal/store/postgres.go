package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"buzhou.dev/platform/sqldb"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// pgAppendChange takes the next feed revision, points the article at it and
// appends the change, in one round trip. The feed_state row lock it takes is
// held to commit, which makes writers commit in revision order.
const pgAppendChange = `WITH f AS (UPDATE feed_state SET revision = revision + 1 RETURNING revision),
a AS (UPDATE articles SET feed_revision = f.revision FROM f WHERE articles.id = $1)
INSERT INTO changes (revision, article_id, kind, change_time, data)
SELECT f.revision, $1::text, $2::smallint, $3::timestamptz, $4::text FROM f
RETURNING revision`

// pgUpdateAndAppend is pgAppendChange that also writes the article.
const pgUpdateAndAppend = `WITH f AS (UPDATE feed_state SET revision = revision + 1 RETURNING revision),
a AS (UPDATE articles SET status = $5, domain = $6, verification_status = $7, revision = $8,
		created_at = $9, updated_at = $10, data = $11, feed_revision = f.revision
	FROM f WHERE articles.id = $1)
INSERT INTO changes (revision, article_id, kind, change_time, data)
SELECT f.revision, $1::text, $2::smallint, $3::timestamptz, $4::text FROM f
RETURNING revision`

// pgStore keeps articles in PostgreSQL; several processes may share it.
type pgStore struct {
	db     *sqldb.Postgres
	now    Clock
	notify notifier
}

// OpenPostgres connects to the PostgreSQL database at url (a URL or
// keyword/value string, which may carry any pgx or server option, such as
// search_path) and brings its schema up to date. nil now means time.Now.
func OpenPostgres(ctx context.Context, url string, now Clock) (Store, error) {
	db, err := sqldb.OpenPostgres(ctx, url, "buzhou-article", migrations(now))
	if err != nil {
		return nil, err
	}
	return &pgStore{db: db, now: now}, nil
}

// write runs fn in a transaction and wakes Notify waiters once it is
// committed.
func (s *pgStore) write(ctx context.Context, fn func(pgx.Tx) error) error {
	if err := s.db.Write(ctx, fn); err != nil {
		return err
	}
	s.notify.broadcast()
	return nil
}

// errPGConflict marks a Create that hit a taken id or slug; the transaction
// is aborted by then, so Create looks the holder up after it.
type errPGConflict struct{}

func (errPGConflict) Error() string { return "store: id or slug taken" }

func isPGConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" &&
		(pe.ConstraintName == "articles_pkey" || pe.ConstraintName == "articles_slug_key")
}

func (s *pgStore) Create(ctx context.Context, a *articlev1.Article) (*articlev1.Article, error) {
	if err := checkNew(a); err != nil {
		return nil, err
	}
	a = cloneArticle(a)
	r, err := newRow(a)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		// The article goes in before the feed counter is locked: a unique check
		// may wait for another transaction, and it must not wait while holding
		// the lock every writer needs.
		_, err := tx.Exec(ctx, `INSERT INTO articles
			(id, slug, status, domain, verification_status, revision, feed_revision, created_at, updated_at, data)
			VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9)`,
			r.id, r.slug, r.status, r.domain, r.verificationStatus, r.revision, r.createdAt, r.updatedAt, r.data)
		if isPGConflict(err) {
			return errPGConflict{}
		}
		if err != nil {
			return fmt.Errorf("store: insert article %q: %w", r.id, err)
		}
		var rev int64
		if err := tx.QueryRow(ctx, pgAppendChange, r.id, int16(articlev1.ChangeKind_CHANGE_KIND_UPSERT), sqldb.Tick(s.now), &r.data).Scan(&rev); err != nil {
			return fmt.Errorf("store: append change for %q: %w", r.id, err)
		}
		return nil
	})
	if errors.Is(err, errPGConflict{}) {
		var existing string
		if err := s.db.Pool.QueryRow(ctx, `SELECT id FROM articles WHERE id = $1 OR slug = $2 ORDER BY id = $1 DESC LIMIT 1`,
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

func (s *pgStore) Get(ctx context.Context, idOrSlug string) (*articlev1.Article, error) {
	var data string
	err := s.db.Pool.QueryRow(ctx, `SELECT data FROM articles WHERE id = $1 OR slug = $1 ORDER BY id = $1 DESC LIMIT 1`,
		idOrSlug).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(idOrSlug)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read article %q: %w", idOrSlug, err)
	}
	return decodeArticle(data)
}

func (s *pgStore) List(ctx context.Context, q ListQuery) ([]*articlev1.Article, string, error) {
	size := pageSize(q.PageSize)
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.PageToken != "" {
		t, id, err := decodePageToken(q.PageToken)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(created_at, id) < ("+arg(t)+", "+arg(id)+")")
	}
	if q.Domain != "" {
		where = append(where, "domain = "+arg(q.Domain))
	}
	if len(q.Statuses) > 0 {
		where = append(where, "status = ANY("+arg(q.Statuses)+")")
	}
	query := "SELECT created_at, id, data FROM articles"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT " + arg(size+1) // one more tells whether a next page exists

	rows, err := s.db.Pool.Query(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list articles: %w", err)
	}
	defer rows.Close()
	var (
		out      []*articlev1.Article
		lastTime time.Time
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
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list articles: %w", err)
	}
	if !more {
		return out, "", nil
	}
	return out, sqldb.EncodeCursor("", lastTime, lastID), nil
}

func (s *pgStore) Update(ctx context.Context, id string, expectedRevision int32, mutate func(*articlev1.Article) error) (*articlev1.Article, error) {
	var out *articlev1.Article
	err := s.write(ctx, func(tx pgx.Tx) error {
		var (
			rev  int32
			data string
		)
		// FOR UPDATE makes concurrent writers of one article take turns, each
		// mutating the state the previous one committed.
		err := tx.QueryRow(ctx, `SELECT revision, data FROM articles WHERE id = $1 FOR UPDATE`, id).Scan(&rev, &data)
		if errors.Is(err, pgx.ErrNoRows) {
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
		var feedRev int64
		if err := tx.QueryRow(ctx, pgUpdateAndAppend, id, int16(kind), at, changeData(kind, r.data),
			r.status, r.domain, r.verificationStatus, r.revision, r.createdAt, r.updatedAt, r.data).Scan(&feedRev); err != nil {
			return fmt.Errorf("store: write article %q: %w", id, err)
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *pgStore) Changes(ctx context.Context, after int64, limit int) ([]*articlev1.ArticleChange, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT revision, kind, article_id, change_time, data FROM changes
		WHERE revision > $1 ORDER BY revision LIMIT $2`, after, changeLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: read changes: %w", err)
	}
	defer rows.Close()
	var out []*articlev1.ArticleChange
	for rows.Next() {
		var (
			rev  int64
			kind int16
			id   string
			at   time.Time
			data *string
		)
		if err := rows.Scan(&rev, &kind, &id, &at, &data); err != nil {
			return nil, fmt.Errorf("store: read changes: %w", err)
		}
		c, err := newChange(rev, articlev1.ChangeKind(kind), id, at, data)
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

func (s *pgStore) HeadRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.db.Pool.QueryRow(ctx, `SELECT COALESCE(MAX(revision), 0) FROM changes`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("store: read head revision: %w", err)
	}
	return rev, nil
}

func (s *pgStore) Notify() <-chan struct{} { return s.notify.wait() }

// Stats counts in one statement so the numbers agree with each other.
func (s *pgStore) Stats(ctx context.Context) (*articlev1.GetArticleStatsResponse, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT status, domain, verification_status, COUNT(*) FROM articles
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

func (s *pgStore) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Close closes the pool; it may be called more than once.
func (s *pgStore) Close() error { return s.db.Close() }
