// Package store keeps articles and their change feed, on SQLite (default, one
// file) or PostgreSQL. The store is written once over platform/sqldb; only
// the SQL that really differs between the engines is chosen per engine
// (queries.go). Both engines pass one contract suite (storetest).
//
// Every write runs in one transaction that checks the expected revision, bumps
// the article's revision and appends a change with the next feed revision, so
// concurrent writers never lose an update and followers never miss a change.
package store

import (
	"context"
	"time"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// Store is the article store. Errors wrap the sentinels of buzhou.dev/platform/errs:
// ErrNotFound for a missing article, ErrAlreadyExists for a taken id or slug,
// ErrFailedPrecondition for a stale revision.
type Store interface {
	// Create stores a new article. The caller sets id, slug, status, revision (1)
	// and timestamps; Create appends an UPSERT change with cause CREATE and no
	// changed paths, and sets the article's feed revision. It returns the
	// stored article.
	Create(ctx context.Context, a *articlev1.Article) (*articlev1.Article, error)
	// Get returns an article by id, or by slug when no id matches.
	Get(ctx context.Context, idOrSlug string) (*articlev1.Article, error)
	// List returns a page of articles, newest first (created_at, then id,
	// descending), and the token of the next page ("" on the last page). The
	// token is good only for the same Domain and Statuses.
	List(ctx context.Context, q ListQuery) ([]*articlev1.Article, string, error)
	// Update loads the article by id inside a transaction, fails with
	// ErrFailedPrecondition when expectedRevision is not 0 and differs from its
	// revision (unless every revision after it, up to 20, was a RELATED_UPDATE,
	// which no writer conflicts with), calls mutate, then stores the result with
	// revision+1 and updated_at = now (kept for RELATED_UPDATE), and appends a
	// change: TOMBSTONE when the new status is
	// "archived", UPSERT otherwise, with cause and the top-level fields whose
	// value mutate changed (proto names, sorted; never revision or
	// updated_at). mutate must not change id or slug.
	Update(ctx context.Context, id string, expectedRevision int32, cause articlev1.ChangeCause, mutate func(*articlev1.Article) error) (*articlev1.Article, error)
	// Changes returns up to limit changes with feed revision > after, oldest first.
	Changes(ctx context.Context, after int64, limit int) ([]*articlev1.ArticleChange, error)
	// HeadRevision returns the newest feed revision, 0 for an empty feed.
	HeadRevision(ctx context.Context) (int64, error)
	// Notify returns a channel closed at the next committed write of this
	// process; callers wait on it, then call Changes. Take the channel before
	// reading Changes, so a commit in between is not missed. Writes by other
	// processes sharing a PostgreSQL database are seen by polling Changes.
	Notify() <-chan struct{}
	// Stats counts articles.
	Stats(ctx context.Context) (*articlev1.GetArticleStatsResponse, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// ListQuery filters and pages List.
type ListQuery struct {
	Domain string
	// Statuses, when not empty, keeps only articles with one of these statuses.
	Statuses []string
	// PageSize is the most articles per page: 20 when <= 0, at most 100.
	PageSize int
	// MaxBytes bounds a page by the stored JSON size of its articles:
	// DefaultPageBytes when <= 0. A page holds at least one article; one
	// that ends early has a next-page token like any other.
	MaxBytes  int
	PageToken string
}

// DefaultPageBytes bounds a List page when the query sets no bound: far
// enough below what one gRPC answer carries (an article's binary form is
// smaller than its JSON) and what a client wants to parse at once.
const DefaultPageBytes = 4 << 20

// Clock returns the current time; stores take it so tests can fix time.
type Clock func() time.Time
