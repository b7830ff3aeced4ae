package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"buzhou.dev/platform/sqldb"
)

// sqliteStore keeps the verification data in one SQLite file (see
// sqldb.SQLite for how reads and writes reach it).
type sqliteStore struct {
	db  *sqldb.SQLite
	now Clock
}

var _ Store = (*sqliteStore)(nil)

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

// sqliteTime is a nullable time column: NULL for the zero time.
func sqliteTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func sqliteScopes(scopes []string) (string, error) {
	if scopes == nil {
		scopes = []string{}
	}
	b, err := json.Marshal(scopes)
	if err != nil {
		return "", fmt.Errorf("store: encode scopes: %w", err)
	}
	return string(b), nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanSQLitePrincipal(sc scanner, extra ...any) (Principal, error) {
	var (
		p       Principal
		created int64
	)
	if err := sc.Scan(append([]any{&p.ID, &p.Name, &p.Type, &created}, extra...)...); err != nil {
		return Principal{}, err
	}
	p.CreatedAt = time.UnixMicro(created).UTC()
	return p, nil
}

// scanSQLiteKey reads keyColumns, then extra.
func scanSQLiteKey(sc scanner, extra ...any) (Key, error) {
	var (
		k                Key
		scopes           string
		expires, revoked sql.NullInt64
		created          int64
		rateLimit        int64
		bootstrap        int64
	)
	dest := []any{&k.ID, &k.Name, &k.PrincipalID, &k.Prefix, &k.SecretHash, &scopes, &expires, &revoked, &created,
		&rateLimit, &k.DailyQuota, &k.MonthlyQuota, &bootstrap}
	if err := sc.Scan(append(dest, extra...)...); err != nil {
		return Key{}, err
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return Key{}, fmt.Errorf("store: decode scopes of key %q: %w", k.ID, err)
	}
	if expires.Valid {
		k.ExpiresAt = time.UnixMicro(expires.Int64).UTC()
	}
	if revoked.Valid {
		k.RevokedAt = time.UnixMicro(revoked.Int64).UTC()
	}
	k.CreatedAt = time.UnixMicro(created).UTC()
	k.RateLimitPerMinute = int32(rateLimit)
	k.Bootstrap = bootstrap != 0
	return k, nil
}

func sqliteInsertPrincipal(ctx context.Context, tx *sql.Tx, p Principal) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO principals (id, name, type, created_at) VALUES (?, ?, ?, ?)`,
		p.ID, p.Name, p.Type, p.CreatedAt.UnixMicro())
	if sqldb.IsSQLiteConflict(err) {
		return principalExists(p.ID)
	}
	if err != nil {
		return fmt.Errorf("store: insert principal %q: %w", p.ID, err)
	}
	return nil
}

func (s *sqliteStore) CreatePrincipal(ctx context.Context, p Principal) (Principal, error) {
	if err := checkPrincipal(p); err != nil {
		return Principal{}, err
	}
	p.CreatedAt = sqldb.Tick(s.now)
	if err := s.db.Write(ctx, func(tx *sql.Tx) error { return sqliteInsertPrincipal(ctx, tx, p) }); err != nil {
		return Principal{}, err
	}
	return p, nil
}

func (s *sqliteStore) GetPrincipal(ctx context.Context, id string) (Principal, error) {
	p, err := scanSQLitePrincipal(s.db.R.QueryRowContext(ctx, `SELECT `+principalColumns+` FROM principals WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, principalNotFound(id)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("store: read principal %q: %w", id, err)
	}
	return p, nil
}

func (s *sqliteStore) ListPrincipals(ctx context.Context, page Page) ([]Principal, string, error) {
	return sqliteList(ctx, s.db.R, "principals", principalColumns, tokenPrincipals, page,
		func(rows *sql.Rows) (Principal, time.Time, string, error) {
			p, err := scanSQLitePrincipal(rows)
			return p, p.CreatedAt, p.ID, err
		})
}

// sqliteList pages through table newest first (created_at, then id,
// descending).
func sqliteList[T any](ctx context.Context, db *sql.DB, table, columns string, kind byte, page Page,
	scan func(*sql.Rows) (T, time.Time, string, error)) ([]T, string, error) {
	size := pageSize(page.Size)
	query := `SELECT ` + columns + ` FROM ` + table
	var args []any
	if page.Token != "" {
		at, id, err := decodePageToken(kind, page.Token)
		if err != nil {
			return nil, "", err
		}
		query += ` WHERE (created_at, id) < (?, ?)`
		args = append(args, at.UnixMicro(), id)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, size+1) // one more tells whether a next page exists
	rows, err := db.QueryContext(ctx, query, args...)
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
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list %s: %w", table, err)
	}
	if !more {
		return out, "", nil
	}
	return out, sqldb.EncodeCursor(string(kind), lastTime, lastID), nil
}

func (s *sqliteStore) CreateKey(ctx context.Context, k Key, newOwner *Principal) (Key, error) {
	if err := checkKey(k, newOwner); err != nil {
		return Key{}, err
	}
	scopes, err := sqliteScopes(k.Scopes)
	if err != nil {
		return Key{}, err
	}
	at := sqldb.Tick(s.now)
	k.CreatedAt = at
	k.ExpiresAt = exact(k.ExpiresAt)
	k.RevokedAt = exact(k.RevokedAt)
	k.Scopes = append([]string(nil), k.Scopes...)
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if newOwner != nil {
			owner := *newOwner
			owner.CreatedAt = at
			if err := sqliteInsertPrincipal(ctx, tx, owner); err != nil {
				return err
			}
		} else {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM principals WHERE id = ?`, k.PrincipalID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return principalNotFound(k.PrincipalID)
			}
			if err != nil {
				return fmt.Errorf("store: read principal %q: %w", k.PrincipalID, err)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Name, k.PrincipalID, k.Prefix, k.SecretHash, scopes, sqliteTime(k.ExpiresAt), sqliteTime(k.RevokedAt),
			k.CreatedAt.UnixMicro(), k.RateLimitPerMinute, k.DailyQuota, k.MonthlyQuota, k.Bootstrap)
		if sqldb.IsSQLiteConflict(err) {
			// A failed statement leaves the transaction usable in SQLite.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE id = ?`, k.ID).Scan(&n); err != nil {
				return fmt.Errorf("store: find the key holding id %q: %w", k.ID, err)
			}
			if n > 0 {
				return keyExists(k.ID)
			}
			return secretTaken(k.ID)
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

func (s *sqliteStore) GetKey(ctx context.Context, id string) (Key, error) {
	k, err := scanSQLiteKey(s.db.R.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, keyNotFound(id)
	}
	if err != nil {
		return Key{}, fmt.Errorf("store: read key %q: %w", id, err)
	}
	return k, nil
}

func (s *sqliteStore) KeyByHash(ctx context.Context, secretHash string) (Key, Principal, error) {
	var (
		p       Principal
		created int64
	)
	k, err := scanSQLiteKey(s.db.R.QueryRowContext(ctx, `SELECT `+prefixColumns("k.", keyColumns)+`, p.id, p.name, p.type, p.created_at
		FROM api_keys k JOIN principals p ON p.id = k.principal_id WHERE k.secret_hash = ?`, secretHash),
		&p.ID, &p.Name, &p.Type, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, Principal{}, keyNotFoundByHash()
	}
	if err != nil {
		return Key{}, Principal{}, fmt.Errorf("store: find key by secret hash: %w", err)
	}
	p.CreatedAt = time.UnixMicro(created).UTC()
	return k, p, nil
}

// prefixColumns qualifies every column of a list with a table alias.
func prefixColumns(alias, columns string) string {
	fields := strings.Split(columns, ",")
	for i, f := range fields {
		fields[i] = alias + strings.TrimSpace(f)
	}
	return strings.Join(fields, ", ")
}

func (s *sqliteStore) ListKeys(ctx context.Context, page Page) ([]Key, string, error) {
	return sqliteList(ctx, s.db.R, "api_keys", keyColumns, tokenKeys, page,
		func(rows *sql.Rows) (Key, time.Time, string, error) {
			k, err := scanSQLiteKey(rows)
			return k, k.CreatedAt, k.ID, err
		})
}

func (s *sqliteStore) RevokeKey(ctx context.Context, id string) (Key, error) {
	var k Key
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = scanSQLiteKey(tx.QueryRowContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?
			RETURNING `+keyColumns, sqldb.Tick(s.now).UnixMicro(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return keyNotFound(id)
		}
		if err != nil {
			return fmt.Errorf("store: revoke key %q: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return Key{}, err
	}
	return k, nil
}

func (s *sqliteStore) UpsertBootstrapKey(ctx context.Context, owner Principal, k Key) (Key, error) {
	if err := checkKey(k, &owner); err != nil {
		return Key{}, err
	}
	scopes, err := sqliteScopes(k.Scopes)
	if err != nil {
		return Key{}, err
	}
	at := sqldb.Tick(s.now)
	var out Key
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO principals (id, name, type, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, owner.ID, owner.Name, owner.Type, at.UnixMicro()); err != nil {
			return fmt.Errorf("store: insert principal %q: %w", owner.ID, err)
		}
		var err error
		out, err = scanSQLiteKey(tx.QueryRowContext(ctx, `INSERT INTO api_keys (`+keyColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, principal_id = excluded.principal_id,
				prefix = excluded.prefix, secret_hash = excluded.secret_hash, scopes = excluded.scopes,
				expires_at = excluded.expires_at, revoked_at = NULL,
				rate_limit_per_minute = excluded.rate_limit_per_minute, daily_quota = excluded.daily_quota,
				monthly_quota = excluded.monthly_quota, bootstrap = excluded.bootstrap
			RETURNING `+keyColumns,
			k.ID, k.Name, k.PrincipalID, k.Prefix, k.SecretHash, scopes, sqliteTime(exact(k.ExpiresAt)),
			at.UnixMicro(), k.RateLimitPerMinute, k.DailyQuota, k.MonthlyQuota, k.Bootstrap))
		if sqldb.IsSQLiteConflict(err) {
			return secretTaken(k.ID) // the id conflict is the upsert's; only the secret can clash
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

func (s *sqliteStore) AddAgentUsage(ctx context.Context, usage []AgentUsage) error {
	merged, err := mergeUsage(usage)
	if err != nil || len(merged) == 0 {
		return err
	}
	today := day(sqldb.Tick(s.now))
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		for _, u := range merged {
			if _, err := tx.ExecContext(ctx, `INSERT INTO agent_usage (agent_id, day, calls, errors, total_latency_ms)
				VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (agent_id, day) DO UPDATE SET calls = calls + excluded.calls,
					errors = errors + excluded.errors, total_latency_ms = total_latency_ms + excluded.total_latency_ms`,
				u.AgentID, today, u.Calls, u.Errors, u.TotalLatencyMs); err != nil {
				return fmt.Errorf("store: add usage of agent %q: %w", u.AgentID, err)
			}
		}
		return nil
	})
}

func (s *sqliteStore) AgentUsageTotals(ctx context.Context, limit int) ([]AgentTotals, error) {
	if limit <= 0 {
		limit = -1 // SQLite's "no limit"
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT agent_id, SUM(calls), SUM(errors), SUM(total_latency_ms), COUNT(*)
		FROM agent_usage GROUP BY agent_id ORDER BY SUM(calls) DESC, agent_id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: sum agent usage: %w", err)
	}
	defer rows.Close()
	var out []AgentTotals
	for rows.Next() {
		var t AgentTotals
		if err := rows.Scan(&t.AgentID, &t.Calls, &t.Errors, &t.TotalLatencyMs, &t.Days); err != nil {
			return nil, fmt.Errorf("store: sum agent usage: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sum agent usage: %w", err)
	}
	return out, nil
}

func (s *sqliteStore) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Close closes the database; later calls return the first call's result.
func (s *sqliteStore) Close() error { return s.db.Close() }
