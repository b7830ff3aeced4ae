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

type sqliteStore struct {
	db  *sqldb.SQLite
	now func() time.Time
}

// OpenSQLite opens (creating if needed) the SQLite file at path and brings
// its schema up to date; the directory must exist.
func OpenSQLite(ctx context.Context, path string, now func() time.Time) (Store, error) {
	db, err := sqldb.OpenSQLite(ctx, path, migrations(now))
	if err != nil {
		return nil, err
	}
	return &sqliteStore{db: db, now: now}, nil
}

func (s *sqliteStore) Cursor(ctx context.Context, name string) (int64, error) {
	var rev int64
	err := s.db.R.QueryRowContext(ctx, `SELECT revision FROM search_cursors WHERE name = ?`, name).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: read the cursor of %s: %w", name, err)
	}
	return rev, nil
}

func (s *sqliteStore) SaveCursor(ctx context.Context, name string, rev int64) error {
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO search_cursors (name, revision, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET revision = excluded.revision, updated_at = excluded.updated_at`,
			name, rev, sqldb.Tick(s.now).UnixMicro())
		if err != nil {
			return fmt.Errorf("store: save the cursor of %s: %w", name, err)
		}
		return nil
	})
}

func (s *sqliteStore) AddUnanswered(ctx context.Context, counts map[string]int64, at time.Time, keep int) error {
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		for q, n := range counts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO search_unanswered (query, count, last_seen_at) VALUES (?, ?, ?)
				ON CONFLICT (query) DO UPDATE SET count = count + excluded.count, last_seen_at = max(last_seen_at, excluded.last_seen_at)`,
				q, n, at.UTC().Truncate(time.Microsecond).UnixMicro()); err != nil {
				return fmt.Errorf("store: count an unanswered query: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM search_unanswered WHERE query NOT IN (
				SELECT query FROM search_unanswered ORDER BY count DESC, last_seen_at DESC, query LIMIT ?)`, keep); err != nil {
			return fmt.Errorf("store: trim unanswered queries: %w", err)
		}
		return nil
	})
}

func (s *sqliteStore) Unanswered(ctx context.Context, limit int) ([]Unanswered, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT query, count, last_seen_at FROM search_unanswered
		ORDER BY count DESC, last_seen_at DESC, query LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list unanswered queries: %w", err)
	}
	defer rows.Close()
	var out []Unanswered
	for rows.Next() {
		var u Unanswered
		var at int64
		if err := rows.Scan(&u.Query, &u.Count, &at); err != nil {
			return nil, fmt.Errorf("store: list unanswered queries: %w", err)
		}
		u.LastSeenAt = time.UnixMicro(at).UTC()
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list unanswered queries: %w", err)
	}
	return out, nil
}

func (s *sqliteStore) SaveModel(ctx context.Context, name string, data []byte) error {
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO search_models (name, data, created_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET data = excluded.data, created_at = excluded.created_at`,
			name, data, sqldb.Tick(s.now).UnixMicro()); err != nil {
			return fmt.Errorf("store: save model %s: %w", name, err)
		}
		return nil
	})
}

func (s *sqliteStore) Model(ctx context.Context, name string) ([]byte, error) {
	var data []byte
	err := s.db.R.QueryRowContext(ctx, `SELECT data FROM search_models WHERE name = ?`, name).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no model %s", errs.ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read model %s: %w", name, err)
	}
	return data, nil
}

func (s *sqliteStore) Ping(ctx context.Context) error { return s.db.Ping(ctx) }
func (s *sqliteStore) Close() error                   { return s.db.Close() }
