package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/sqldb"
)

// sqlStore keeps the search state in a sqldb database of either engine;
// statements are one SQL text for both where the engines agree.
type sqlStore struct {
	db  *sqldb.DB
	now func() time.Time
}

var _ Store = (*sqlStore)(nil)

// OpenSQLite opens (creating if needed) the SQLite file at path and brings
// its schema up to date; the directory must exist.
func OpenSQLite(ctx context.Context, path string, now func() time.Time) (Store, error) {
	db, err := sqldb.OpenSQLite(ctx, path, migrations(now))
	if err != nil {
		return nil, err
	}
	return &sqlStore{db: db, now: now}, nil
}

// OpenPostgres connects to the PostgreSQL database at url and brings its
// schema up to date.
func OpenPostgres(ctx context.Context, url string, now func() time.Time) (Store, error) {
	db, err := sqldb.OpenPostgres(ctx, url, "buzhou-search", migrations(now))
	if err != nil {
		return nil, err
	}
	return &sqlStore{db: db, now: now}, nil
}

func (s *sqlStore) Cursor(ctx context.Context, name string) (int64, error) {
	var rev int64
	err := s.db.R.QueryRowContext(ctx, `SELECT revision FROM search_cursors WHERE name = $1`, name).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: read the cursor of %s: %w", name, err)
	}
	return rev, nil
}

func (s *sqlStore) SaveCursor(ctx context.Context, name string, rev int64) error {
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO search_cursors (name, revision, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET revision = excluded.revision, updated_at = excluded.updated_at`,
			name, rev, sqldb.Tick(s.now))
		if err != nil {
			return fmt.Errorf("store: save the cursor of %s: %w", name, err)
		}
		return nil
	})
}

func (s *sqlStore) AddUnanswered(ctx context.Context, counts map[string]int64, at time.Time, keep int) error {
	// The engines name "the larger of two" differently.
	later := "max(search_unanswered.last_seen_at, excluded.last_seen_at)"
	if s.db.Engine() == sqldb.Postgres {
		later = "greatest(search_unanswered.last_seen_at, excluded.last_seen_at)"
	}
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		for q, n := range counts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO search_unanswered (query, count, last_seen_at) VALUES ($1, $2, $3)
				ON CONFLICT (query) DO UPDATE SET count = search_unanswered.count + excluded.count, last_seen_at = `+later,
				q, n, at.UTC().Truncate(time.Microsecond)); err != nil {
				return fmt.Errorf("store: count an unanswered query: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM search_unanswered WHERE query NOT IN (
				SELECT query FROM search_unanswered ORDER BY count DESC, last_seen_at DESC, query LIMIT $1)`, keep); err != nil {
			return fmt.Errorf("store: trim unanswered queries: %w", err)
		}
		return nil
	})
}

func (s *sqlStore) Unanswered(ctx context.Context, limit int) ([]Unanswered, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT query, count, last_seen_at FROM search_unanswered
		ORDER BY count DESC, last_seen_at DESC, query LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list unanswered queries: %w", err)
	}
	defer rows.Close()
	var out []Unanswered
	for rows.Next() {
		var u Unanswered
		if err := rows.Scan(&u.Query, &u.Count, sqldb.ScanTime(&u.LastSeenAt)); err != nil {
			return nil, fmt.Errorf("store: list unanswered queries: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list unanswered queries: %w", err)
	}
	return out, nil
}

func (s *sqlStore) SaveModel(ctx context.Context, name string, data []byte) error {
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO search_models (name, data, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET data = excluded.data, created_at = excluded.created_at`,
			name, data, sqldb.Tick(s.now)); err != nil {
			return fmt.Errorf("store: save model %s: %w", name, err)
		}
		return nil
	})
}

func (s *sqlStore) Model(ctx context.Context, name string) ([]byte, error) {
	var data []byte
	err := s.db.R.QueryRowContext(ctx, `SELECT data FROM search_models WHERE name = $1`, name).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no model %s", errs.ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read model %s: %w", name, err)
	}
	return data, nil
}

func (s *sqlStore) Ping(ctx context.Context) error { return s.db.Ping(ctx) }
func (s *sqlStore) Close() error                   { return s.db.Close() }
