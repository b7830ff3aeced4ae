package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"buzhou.dev/platform/sqldb"
)

// sqlStore keeps the verification data in a sqldb database of either
// engine; every statement is one SQL text for both.
type sqlStore struct {
	db  *sqldb.DB
	now Clock
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
	return &sqlStore{db: db, now: now}, nil
}

// OpenPostgres connects to the PostgreSQL database at url (a URL or
// keyword/value string, which may carry any pgx or server option, such as
// search_path) and brings its schema up to date. nil now means time.Now.
// Several processes may share the database.
func OpenPostgres(ctx context.Context, url string, now Clock) (Store, error) {
	db, err := sqldb.OpenPostgres(ctx, url, "buzhou-verification", migrations(now))
	if err != nil {
		return nil, err
	}
	return &sqlStore{db: db, now: now}, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanPrincipal reads principalColumns, then extra.
func scanPrincipal(sc scanner, extra ...any) (Principal, error) {
	var p Principal
	if err := sc.Scan(append([]any{&p.ID, &p.Name, &p.Type, sqldb.ScanTime(&p.CreatedAt)}, extra...)...); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// scanKey reads keyColumns, then extra.
func scanKey(sc scanner, extra ...any) (Key, error) {
	var k Key
	dest := []any{&k.ID, &k.Name, &k.PrincipalID, &k.Prefix, &k.SecretHash, sqldb.ScanStrings(&k.Scopes),
		sqldb.ScanTime(&k.ExpiresAt), sqldb.ScanTime(&k.RevokedAt), sqldb.ScanTime(&k.CreatedAt),
		&k.RateLimitPerMinute, &k.DailyQuota, &k.MonthlyQuota, &k.Bootstrap}
	if err := sc.Scan(append(dest, extra...)...); err != nil {
		return Key{}, err
	}
	return k, nil
}

func insertPrincipal(ctx context.Context, tx *sql.Tx, p Principal) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO principals (`+principalColumns+`) VALUES ($1, $2, $3, $4)`,
		p.ID, p.Name, p.Type, p.CreatedAt)
	if sqldb.IsConflict(err) {
		return principalExists(p.ID)
	}
	if err != nil {
		return fmt.Errorf("store: insert principal %q: %w", p.ID, err)
	}
	return nil
}

func (s *sqlStore) CreatePrincipal(ctx context.Context, p Principal) (Principal, error) {
	if err := checkPrincipal(p); err != nil {
		return Principal{}, err
	}
	p.CreatedAt = sqldb.Tick(s.now)
	if err := s.db.Write(ctx, func(tx *sql.Tx) error { return insertPrincipal(ctx, tx, p) }); err != nil {
		return Principal{}, err
	}
	return p, nil
}

func (s *sqlStore) GetPrincipal(ctx context.Context, id string) (Principal, error) {
	p, err := scanPrincipal(s.db.R.QueryRowContext(ctx, `SELECT `+principalColumns+` FROM principals WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, principalNotFound(id)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("store: read principal %q: %w", id, err)
	}
	return p, nil
}

func (s *sqlStore) ListPrincipals(ctx context.Context, page Page) ([]Principal, string, error) {
	return list(ctx, s.db, "principals", principalColumns, tokenPrincipals, page, scanPrincipal)
}

func (s *sqlStore) ListKeys(ctx context.Context, page Page) ([]Key, string, error) {
	return list(ctx, s.db, "api_keys", keyColumns, tokenKeys, page, scanKey)
}

// list pages through a table of rows with an id and created_at, newest first.
func list[T interface{ sortKey() (time.Time, string) }](ctx context.Context, db *sqldb.DB, table, columns, kind string, page Page,
	scan func(scanner, ...any) (T, error)) ([]T, string, error) {
	return sqldb.List(ctx, db.R, sqldb.Page{Kind: kind, Table: table, Columns: columns, Size: pageSize(page.Size), Token: page.Token},
		func(rows *sql.Rows) (T, sqldb.Row, error) {
			v, err := scan(rows)
			at, id := v.sortKey()
			return v, sqldb.Row{CreatedAt: at, ID: id}, err
		})
}

func (p Principal) sortKey() (time.Time, string) { return p.CreatedAt, p.ID }
func (k Key) sortKey() (time.Time, string)       { return k.CreatedAt, k.ID }

func (s *sqlStore) CreateKey(ctx context.Context, k Key, newOwner *Principal) (Key, error) {
	if err := checkKey(k, newOwner); err != nil {
		return Key{}, err
	}
	scopes := s.db.Strings(k.Scopes)
	at := sqldb.Tick(s.now)
	k.CreatedAt = at
	k.ExpiresAt = exact(k.ExpiresAt)
	k.RevokedAt = exact(k.RevokedAt)
	k.Scopes = append([]string{}, k.Scopes...)
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if newOwner != nil {
			owner := *newOwner
			owner.CreatedAt = at
			if err := insertPrincipal(ctx, tx, owner); err != nil {
				return err
			}
		}
		// Principals are never deleted, so the foreign key alone tells a
		// missing owner apart; no read first.
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			k.ID, k.Name, k.PrincipalID, k.Prefix, k.SecretHash, scopes, sqldb.NullTime(k.ExpiresAt), sqldb.NullTime(k.RevokedAt),
			k.CreatedAt, k.RateLimitPerMinute, k.DailyQuota, k.MonthlyQuota, k.Bootstrap)
		switch {
		case sqldb.IsMissingReference(err):
			return principalNotFound(k.PrincipalID)
		case sqldb.IsConflict(err):
			return errKeyTaken{}
		case err != nil:
			return fmt.Errorf("store: insert key %q: %w", k.ID, err)
		}
		return nil
	})
	if errors.Is(err, errKeyTaken{}) {
		// Keys are never deleted: what holds the id holds it still.
		if _, err := s.GetKey(ctx, k.ID); err == nil {
			return Key{}, keyExists(k.ID)
		}
		return Key{}, secretTaken(k.ID)
	}
	if err != nil {
		return Key{}, err
	}
	return k, nil
}

// errKeyTaken marks a CreateKey that hit a taken id or secret hash. CreateKey
// tells which after the transaction: PostgreSQL refuses every statement of a
// transaction after a failed one.
type errKeyTaken struct{}

func (errKeyTaken) Error() string { return "store: key id or secret hash taken" }

func (s *sqlStore) GetKey(ctx context.Context, id string) (Key, error) {
	k, err := scanKey(s.db.R.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, keyNotFound(id)
	}
	if err != nil {
		return Key{}, fmt.Errorf("store: read key %q: %w", id, err)
	}
	return k, nil
}

func (s *sqlStore) KeyByHash(ctx context.Context, secretHash string) (Key, Principal, error) {
	var p Principal
	k, err := scanKey(s.db.R.QueryRowContext(ctx, `SELECT `+prefixColumns("k.", keyColumns)+`, `+prefixColumns("p.", principalColumns)+`
		FROM api_keys k JOIN principals p ON p.id = k.principal_id WHERE k.secret_hash = $1`, secretHash),
		&p.ID, &p.Name, &p.Type, sqldb.ScanTime(&p.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, Principal{}, keyNotFoundByHash()
	}
	if err != nil {
		return Key{}, Principal{}, fmt.Errorf("store: find key by secret hash: %w", err)
	}
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

func (s *sqlStore) RevokeKey(ctx context.Context, id string) (Key, error) {
	var k Key
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRowContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2
			RETURNING `+keyColumns, sqldb.Tick(s.now), id))
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

func (s *sqlStore) UpsertBootstrapKey(ctx context.Context, owner Principal, k Key) (Key, error) {
	if err := checkKey(k, &owner); err != nil {
		return Key{}, err
	}
	scopes := s.db.Strings(k.Scopes)
	at := sqldb.Tick(s.now)
	var out Key
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO principals (`+principalColumns+`) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO NOTHING`, owner.ID, owner.Name, owner.Type, at); err != nil {
			return fmt.Errorf("store: insert principal %q: %w", owner.ID, err)
		}
		var err error
		out, err = scanKey(tx.QueryRowContext(ctx, `INSERT INTO api_keys (`+keyColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, $11, $12)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, principal_id = excluded.principal_id,
				prefix = excluded.prefix, secret_hash = excluded.secret_hash, scopes = excluded.scopes,
				expires_at = excluded.expires_at, revoked_at = NULL,
				rate_limit_per_minute = excluded.rate_limit_per_minute, daily_quota = excluded.daily_quota,
				monthly_quota = excluded.monthly_quota, bootstrap = excluded.bootstrap
			RETURNING `+keyColumns,
			k.ID, k.Name, k.PrincipalID, k.Prefix, k.SecretHash, scopes, sqldb.NullTime(exact(k.ExpiresAt)),
			at, k.RateLimitPerMinute, k.DailyQuota, k.MonthlyQuota, k.Bootstrap))
		if sqldb.IsConflict(err) {
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

// usageBatch is how many agents one statement adds to, well below the
// engines' limits on parameters (4 per agent).
const usageBatch = 500

func (s *sqlStore) AddAgentUsage(ctx context.Context, usage []AgentUsage) error {
	merged, err := mergeUsage(usage)
	if err != nil || len(merged) == 0 {
		return err
	}
	today := day(sqldb.Tick(s.now))
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		for batch := range slices.Chunk(merged, usageBatch) {
			// One statement per batch; mergeUsage made the agents distinct,
			// which PostgreSQL needs of the rows of one upsert.
			args := []any{today}
			values := make([]string, len(batch))
			for i, u := range batch {
				n := len(args)
				values[i] = fmt.Sprintf("($%d, $1, $%d, $%d, $%d)", n+1, n+2, n+3, n+4)
				args = append(args, u.AgentID, u.Calls, u.Errors, u.TotalLatencyMs)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO agent_usage AS a (agent_id, day, calls, errors, total_latency_ms)
				VALUES `+strings.Join(values, ", ")+`
				ON CONFLICT (agent_id, day) DO UPDATE SET calls = a.calls + excluded.calls,
					errors = a.errors + excluded.errors, total_latency_ms = a.total_latency_ms + excluded.total_latency_ms`,
				args...); err != nil {
				return fmt.Errorf("store: add agent usage: %w", err)
			}
		}
		return nil
	})
}

func (s *sqlStore) AgentUsageTotals(ctx context.Context, limit int) ([]AgentTotals, error) {
	query := `SELECT agent_id, CAST(SUM(calls) AS BIGINT), CAST(SUM(errors) AS BIGINT), CAST(SUM(total_latency_ms) AS BIGINT), COUNT(*)
		FROM agent_usage GROUP BY agent_id ORDER BY SUM(calls) DESC, agent_id`
	var args []any
	if limit > 0 {
		query += ` LIMIT $1`
		args = append(args, limit)
	}
	rows, err := s.db.R.QueryContext(ctx, query, args...)
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

func (s *sqlStore) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

func (s *sqlStore) Lead(ctx context.Context, name string, log *slog.Logger, run func(context.Context)) {
	s.db.Lead(ctx, name, log, run)
}

// Close closes the database; later calls return the first call's result.
func (s *sqlStore) Close() error { return s.db.Close() }
