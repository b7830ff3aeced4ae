package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/sqldb"
)

type pgStore struct {
	db  *sqldb.Postgres
	now func() time.Time
}

// OpenPostgres connects to the PostgreSQL database at url and brings its
// schema up to date.
func OpenPostgres(ctx context.Context, url string, now func() time.Time) (Store, error) {
	db, err := sqldb.OpenPostgres(ctx, url, "buzhou-search", migrations(now))
	if err != nil {
		return nil, err
	}
	return &pgStore{db: db, now: now}, nil
}

func (s *pgStore) Cursor(ctx context.Context, name string) (int64, error) {
	var rev int64
	err := s.db.Pool.QueryRow(ctx, `SELECT revision FROM search_cursors WHERE name = $1`, name).Scan(&rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: read the cursor of %s: %w", name, err)
	}
	return rev, nil
}

func (s *pgStore) SaveCursor(ctx context.Context, name string, rev int64) error {
	_, err := s.db.Pool.Exec(ctx, `INSERT INTO search_cursors (name, revision, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET revision = excluded.revision, updated_at = excluded.updated_at`,
		name, rev, sqldb.Tick(s.now))
	if err != nil {
		return fmt.Errorf("store: save the cursor of %s: %w", name, err)
	}
	return nil
}

func (s *pgStore) AddUnanswered(ctx context.Context, counts map[string]int64, at time.Time, keep int) error {
	return s.db.Write(ctx, func(tx pgx.Tx) error {
		for q, n := range counts {
			if _, err := tx.Exec(ctx, `INSERT INTO search_unanswered (query, count, last_seen_at) VALUES ($1, $2, $3)
				ON CONFLICT (query) DO UPDATE SET count = search_unanswered.count + excluded.count,
					last_seen_at = greatest(search_unanswered.last_seen_at, excluded.last_seen_at)`,
				q, n, at.UTC().Truncate(time.Microsecond)); err != nil {
				return fmt.Errorf("store: count an unanswered query: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM search_unanswered WHERE query NOT IN (
				SELECT query FROM search_unanswered ORDER BY count DESC, last_seen_at DESC, query LIMIT $1)`, keep); err != nil {
			return fmt.Errorf("store: trim unanswered queries: %w", err)
		}
		return nil
	})
}

func (s *pgStore) Unanswered(ctx context.Context, limit int) ([]Unanswered, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT query, count, last_seen_at FROM search_unanswered
		ORDER BY count DESC, last_seen_at DESC, query LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list unanswered queries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Unanswered, error) {
		var u Unanswered
		err := r.Scan(&u.Query, &u.Count, &u.LastSeenAt)
		u.LastSeenAt = u.LastSeenAt.UTC()
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list unanswered queries: %w", err)
	}
	return out, nil
}

func (s *pgStore) SaveModel(ctx context.Context, name string, data []byte) error {
	if _, err := s.db.Pool.Exec(ctx, `INSERT INTO search_models (name, data, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET data = excluded.data, created_at = excluded.created_at`,
		name, data, sqldb.Tick(s.now)); err != nil {
		return fmt.Errorf("store: save model %s: %w", name, err)
	}
	return nil
}

func (s *pgStore) Model(ctx context.Context, name string) ([]byte, error) {
	var data []byte
	err := s.db.Pool.QueryRow(ctx, `SELECT data FROM search_models WHERE name = $1`, name).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: no model %s", errs.ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read model %s: %w", name, err)
	}
	return data, nil
}

func (s *pgStore) Ping(ctx context.Context) error { return s.db.Ping(ctx) }
func (s *pgStore) Close() error                   { return s.db.Close() }
