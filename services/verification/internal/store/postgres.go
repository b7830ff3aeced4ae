package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"buzhou.dev/platform/sqldb"
)

// pgStore keeps the verification data in PostgreSQL; several processes may
// share it.
type pgStore struct {
	db  *sqldb.Postgres
	now Clock
}

var _ Store = (*pgStore)(nil)

// OpenPostgres connects to the PostgreSQL database at url (a URL or
// keyword/value string, which may carry any pgx or server option, such as
// search_path) and brings its schema up to date. nil now means time.Now.
func OpenPostgres(ctx context.Context, url string, now Clock) (Store, error) {
	db, err := sqldb.OpenPostgres(ctx, url, "buzhou-verification", migrations(now))
	if err != nil {
		return nil, err
	}
	return &pgStore{db: db, now: now}, nil
}

// pgConstraint returns the constraint a statement violated, "" for other
// errors.
func pgConstraint(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "23503") { // unique, foreign key
		return pe.ConstraintName
	}
	return ""
}

// pgTime is a nullable time column: NULL for the zero time.
func pgTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func scanPGPrincipal(row pgx.Row, extra ...any) (Principal, error) {
	var p Principal
	if err := row.Scan(append([]any{&p.ID, &p.Name, &p.Type, &p.CreatedAt}, extra...)...); err != nil {
		return Principal{}, err
	}
	p.CreatedAt = p.CreatedAt.UTC()
	return p, nil
}

// scanPGKey reads keyColumns, then extra.
func scanPGKey(row pgx.Row, extra ...any) (Key, error) {
	var (
		k                Key
		expires, revoked *time.Time
	)
	dest := []any{&k.ID, &k.Name, &k.PrincipalID, &k.Prefix, &k.SecretHash, &k.Scopes, &expires, &revoked, &k.CreatedAt,
		&k.RateLimitPerMinute, &k.DailyQuota, &k.MonthlyQuota, &k.Bootstrap}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return Key{}, err
	}
	if expires != nil {
		k.ExpiresAt = expires.UTC()
	}
	if revoked != nil {
		k.RevokedAt = revoked.UTC()
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	return k, nil
}

func pgInsertPrincipal(ctx context.Context, tx pgx.Tx, p Principal) error {
	_, err := tx.Exec(ctx, `INSERT INTO principals (id, name, type, created_at) VALUES ($1, $2, $3, $4)`,
		p.ID, p.Name, p.Type, p.CreatedAt)
	if pgConstraint(err) == "principals_pkey" {
		return principalExists(p.ID)
	}
	if err != nil {
		return fmt.Errorf("store: insert principal %q: %w", p.ID, err)
	}
	return nil
}

func (s *pgStore) CreatePrincipal(ctx context.Context, p Principal) (Principal, error) {
	if err := checkPrincipal(p); err != nil {
		return Principal{}, err
	}
	p.CreatedAt = sqldb.Tick(s.now)
	if err := s.db.Write(ctx, func(tx pgx.Tx) error { return pgInsertPrincipal(ctx, tx, p) }); err != nil {
		return Principal{}, err
	}
	return p, nil
}

func (s *pgStore) GetPrincipal(ctx context.Context, id string) (Principal, error) {
	p, err := scanPGPrincipal(s.db.Pool.QueryRow(ctx, `SELECT `+principalColumns+` FROM principals WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, principalNotFound(id)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("store: read principal %q: %w", id, err)
	}
	return p, nil
}

func (s *pgStore) ListPrincipals(ctx context.Context, page Page) ([]Principal, string, error) {
	return pgList(ctx, s.db.Pool, "principals", principalColumns, tokenPrincipals, page,
		func(rows pgx.Rows) (Principal, time.Time, string, error) {
			p, err := scanPGPrincipal(rows)
			return p, p.CreatedAt, p.ID, err
		})
}

// pgList pages through table newest first (created_at, then id, descending).
func pgList[T any](ctx context.Context, pool *pgxpool.Pool, table, columns string, kind byte, page Page,
	scan func(pgx.Rows) (T, time.Time, string, error)) ([]T, string, error) {
	size := pageSize(page.Size)
	query := `SELECT ` + columns + ` FROM ` + table
	args := []any{size + 1} // one more tells whether a next page exists
	if page.Token != "" {
		at, id, err := decodePageToken(kind, page.Token)
		if err != nil {
			return nil, "", err
		}
		query += ` WHERE (created_at, id) < ($2, $3)`
		args = append(args, at, id)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT $1`
	rows, err := pool.Query(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list %s: %w", table, err)
	}
	defer rows.Close()
	var (
		out      []T
		lastTime time.Time
		lastID   string
		more     bool
	)
	for rows.Next() {
		if len(out) == size {
			more = true
			break
		}
		v, at, id, err := scan(rows)
		if err != nil {
			return nil, "", fmt.Errorf("store: list %s: %w", table, err)
		}
		out = append(out, v)
		lastTime, lastID = at, id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list %s: %w", table, err)
	}
	if !more {
		return out, "", nil
	}
	return out, sqldb.EncodeCursor(string(kind), lastTime, lastID), nil
}

func (s *pgStore) CreateKey(ctx context.Context, k Key, newOwner *Principal) (Key, error) {
	if err := checkKey(k, newOwner); err != nil {
		return Key{}, err
	}
	at := sqldb.Tick(s.now)
	k.CreatedAt = at
	k.ExpiresAt = exact(k.ExpiresAt)
	k.RevokedAt = exact(k.RevokedAt)
	k.Scopes = append([]string{}, k.Scopes...)
	err := s.db.Write(ctx, func(tx pgx.Tx) error {
		if newOwner != nil {
			owner := *newOwner
			owner.CreatedAt = at
			if err := pgInsertPrincipal(ctx, tx, owner); err != nil {
				return err
			}
		}
		// Principals are never deleted, so the foreign key alone tells a
		// missing owner apart; no read first.
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			k.ID, k.Name, k.PrincipalID, k.Prefix, k.SecretHash, k.Scopes, pgTime(k.ExpiresAt), pgTime(k.RevokedAt),
			k.CreatedAt, k.RateLimitPerMinute, k.DailyQuota, k.MonthlyQuota, k.Bootstrap)
		switch pgConstraint(err) {
		case "":
		case "api_keys_pkey":
			return keyExists(k.ID)
		case "api_keys_secret_hash_key":
			return secretTaken(k.ID)
		case "api_keys_principal_fkey":
			return principalNotFound(k.PrincipalID)
		}
		if err != nil {
			return fmt.Errorf("store: insert key %q: %w", k.ID, err)
		}
		return nil
	})
	if err != nil {
		return Key{}, err
	}
	return k, nil
}

func (s *pgStore) GetKey(ctx context.Context, id string) (Key, error) {
	k, err := scanPGKey(s.db.Pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, keyNotFound(id)
	}
	if err != nil {
		return Key{}, fmt.Errorf("store: read key %q: %w", id, err)
	}
	return k, nil
}

func (s *pgStore) KeyByHash(ctx context.Context, secretHash string) (Key, Principal, error) {
	var p Principal
	k, err := scanPGKey(s.db.Pool.QueryRow(ctx, `SELECT `+prefixColumns("k.", keyColumns)+`, p.id, p.name, p.type, p.created_at
		FROM api_keys k JOIN principals p ON p.id = k.principal_id WHERE k.secret_hash = $1`, secretHash),
		&p.ID, &p.Name, &p.Type, &p.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, Principal{}, keyNotFoundByHash()
	}
	if err != nil {
		return Key{}, Principal{}, fmt.Errorf("store: find key by secret hash: %w", err)
	}
	p.CreatedAt = p.CreatedAt.UTC()
	return k, p, nil
}

func (s *pgStore) ListKeys(ctx context.Context, page Page) ([]Key, string, error) {
	return pgList(ctx, s.db.Pool, "api_keys", keyColumns, tokenKeys, page,
		func(rows pgx.Rows) (Key, time.Time, string, error) {
			k, err := scanPGKey(rows)
			return k, k.CreatedAt, k.ID, err
		})
}

func (s *pgStore) RevokeKey(ctx context.Context, id string) (Key, error) {
	k, err := scanPGKey(s.db.Pool.QueryRow(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2
		RETURNING `+keyColumns, sqldb.Tick(s.now), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, keyNotFound(id)
	}
	if err != nil {
		return Key{}, fmt.Errorf("store: revoke key %q: %w", id, err)
	}
	return k, nil
}

func (s *pgStore) UpsertBootstrapKey(ctx context.Context, owner Principal, k Key) (Key, error) {
	if err := checkKey(k, &owner); err != nil {
		return Key{}, err
	}
	at := sqldb.Tick(s.now)
	scopes := append([]string{}, k.Scopes...)
	var out Key
	err := s.db.Write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO principals (id, name, type, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO NOTHING`, owner.ID, owner.Name, owner.Type, at); err != nil {
			return fmt.Errorf("store: insert principal %q: %w", owner.ID, err)
		}
		var err error
		out, err = scanPGKey(tx.QueryRow(ctx, `INSERT INTO api_keys (`+keyColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, $11, $12)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, principal_id = excluded.principal_id,
				prefix = excluded.prefix, secret_hash = excluded.secret_hash, scopes = excluded.scopes,
				expires_at = excluded.expires_at, revoked_at = NULL,
				rate_limit_per_minute = excluded.rate_limit_per_minute, daily_quota = excluded.daily_quota,
				monthly_quota = excluded.monthly_quota, bootstrap = excluded.bootstrap
			RETURNING `+keyColumns,
			k.ID, k.Name, k.PrincipalID, k.Prefix, k.SecretHash, scopes, pgTime(exact(k.ExpiresAt)),
			at, k.RateLimitPerMinute, k.DailyQuota, k.MonthlyQuota, k.Bootstrap))
		if pgConstraint(err) == "api_keys_secret_hash_key" {
			return secretTaken(k.ID)
		}
		if err != nil {
			return fmt.Errorf("store: upsert key %q: %w", k.ID, err)
		}
		return nil
	})
	if err != nil {
		return Key{}, err
	}
	return out, nil
}

func (s *pgStore) AddAgentUsage(ctx context.Context, usage []AgentUsage) error {
	merged, err := mergeUsage(usage)
	if err != nil || len(merged) == 0 {
		return err
	}
	today := day(sqldb.Tick(s.now))
	return s.db.Write(ctx, func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, u := range merged {
			b.Queue(`INSERT INTO agent_usage AS a (agent_id, day, calls, errors, total_latency_ms)
				VALUES ($1, $2::date, $3, $4, $5)
				ON CONFLICT (agent_id, day) DO UPDATE SET calls = a.calls + excluded.calls,
					errors = a.errors + excluded.errors, total_latency_ms = a.total_latency_ms + excluded.total_latency_ms`,
				u.AgentID, today, u.Calls, u.Errors, u.TotalLatencyMs)
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("store: add agent usage: %w", err)
		}
		return nil
	})
}

func (s *pgStore) AgentUsageTotals(ctx context.Context, limit int) ([]AgentTotals, error) {
	var lim *int // NULL is PostgreSQL's "no limit"
	if limit > 0 {
		lim = &limit
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT agent_id, SUM(calls)::bigint, SUM(errors)::bigint, SUM(total_latency_ms)::bigint, COUNT(*)
		FROM agent_usage GROUP BY agent_id ORDER BY SUM(calls) DESC, agent_id LIMIT $1`, lim)
	if err != nil {
		return nil, fmt.Errorf("store: sum agent usage: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AgentTotals, error) {
		var t AgentTotals
		err := row.Scan(&t.AgentID, &t.Calls, &t.Errors, &t.TotalLatencyMs, &t.Days)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: sum agent usage: %w", err)
	}
	return out, nil
}

func (s *pgStore) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Close closes the pool; it may be called more than once.
func (s *pgStore) Close() error { return s.db.Close() }
