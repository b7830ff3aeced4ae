package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/sqldb"
)

// Page token kinds of the trust lists (see tokenPrincipals).
const (
	tokenRecords   = "r"
	tokenVerifiers = "v"
	tokenRuns      = "i"
)

// recordColumns in the order scanRecord reads them; recordSuperseded is the
// extra column ListRecords reads after them.
const (
	recordColumns = `id, article_id, verifier_id, verifier_name, verifier_type, result, os, runtime, runtime_version,
		extras, notes, evidence, created_at`
	recordSuperseded = `EXISTS (SELECT 1 FROM verification_records n
		WHERE n.article_id = verification_records.article_id AND n.verifier_id = verification_records.verifier_id
		AND (n.created_at, n.id) > (verification_records.created_at, verification_records.id))`
)

func scanRecord(sc scanner, extra ...any) (Record, error) {
	var (
		r      Record
		extras string
	)
	dest := []any{&r.ID, &r.ArticleID, &r.VerifierID, &r.VerifierName, &r.VerifierType, &r.Result, &r.OS, &r.Runtime,
		&r.RuntimeVersion, &extras, &r.Notes, &r.Evidence, sqldb.ScanTime(&r.CreatedAt)}
	if err := sc.Scan(append(dest, extra...)...); err != nil {
		return Record{}, err
	}
	if err := json.Unmarshal([]byte(extras), &r.Extras); err != nil {
		return Record{}, fmt.Errorf("store: record %q: decode extras: %w", r.ID, err)
	}
	return r, nil
}

func (r Record) sortKey() (time.Time, string) { return r.CreatedAt, r.ID }

// checkRecord rejects what the records table cannot hold.
func checkRecord(r Record) error {
	switch {
	case r.ID == "":
		return fmt.Errorf("%w: the new record has no id; set one before storing it", errs.ErrInvalid)
	case r.ArticleID == "" || r.VerifierID == "":
		return fmt.Errorf("%w: record %q needs an article and a verifier", errs.ErrInvalid, r.ID)
	case r.Result == "":
		return fmt.Errorf("%w: record %q has no result", errs.ErrInvalid, r.ID)
	}
	return nil
}

func (s *sqlStore) EnsureVerifier(ctx context.Context, p Principal) error {
	if err := checkPrincipal(p); err != nil {
		return err
	}
	at := sqldb.Tick(s.now)
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO principals (`+principalColumns+`) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO NOTHING`, p.ID, p.Name, p.Type, at); err != nil {
			return fmt.Errorf("store: insert principal %q: %w", p.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO verifiers (principal_id, passed, partial, failed, last_verified_at, created_at)
			VALUES ($1, 0, 0, 0, NULL, $2) ON CONFLICT (principal_id) DO NOTHING`, p.ID, at); err != nil {
			return fmt.Errorf("store: insert verifier %q: %w", p.ID, err)
		}
		return nil
	})
}

func (s *sqlStore) AddRecord(ctx context.Context, r Record) (Record, error) {
	if err := checkRecord(r); err != nil {
		return Record{}, err
	}
	r.CreatedAt = sqldb.Tick(s.now)
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = insertRecord(ctx, tx, r)
		return err
	})
	if err != nil {
		return Record{}, err
	}
	return r, nil
}

// insertRecord stores r (CreatedAt set) and counts it on its verifier.
func insertRecord(ctx context.Context, tx *sql.Tx, r Record) (Record, error) {
	extras, err := json.Marshal(r.Extras)
	if err != nil {
		return Record{}, fmt.Errorf("store: record %q: encode extras: %w", r.ID, err)
	}
	if r.Extras == nil {
		extras = []byte("{}")
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO verification_records (`+recordColumns+`)
		SELECT $1, $2, p.id, p.name, p.type, $4, $5, $6, $7, $8, $9, $10, $11 FROM principals p WHERE p.id = $3
		RETURNING verifier_name, verifier_type`,
		r.ID, r.ArticleID, r.VerifierID, r.Result, r.OS, r.Runtime, r.RuntimeVersion, string(extras), r.Notes, r.Evidence, r.CreatedAt,
	).Scan(&r.VerifierName, &r.VerifierType)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Record{}, principalNotFound(r.VerifierID)
	case sqldb.IsConflict(err):
		return Record{}, fmt.Errorf("%w: a record with id %q already exists; use a new id", errs.ErrAlreadyExists, r.ID)
	case err != nil:
		return Record{}, fmt.Errorf("store: insert record %q: %w", r.ID, err)
	}
	var passed, partial, failed int
	switch r.Result {
	case "passed":
		passed = 1
	case "partial":
		partial = 1
	case "failed":
		failed = 1
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO verifiers AS v (principal_id, passed, partial, failed, last_verified_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $5)
		ON CONFLICT (principal_id) DO UPDATE SET passed = v.passed + excluded.passed, partial = v.partial + excluded.partial,
			failed = v.failed + excluded.failed, last_verified_at = excluded.last_verified_at`,
		r.VerifierID, passed, partial, failed, r.CreatedAt); err != nil {
		return Record{}, fmt.Errorf("store: count record %q on its verifier: %w", r.ID, err)
	}
	return r, nil
}

func (s *sqlStore) ListRecords(ctx context.Context, articleID string, page Page) ([]Record, string, error) {
	return sqldb.List(ctx, s.db.R, sqldb.Page{
		Kind: tokenRecords, Table: "verification_records", Columns: recordColumns + ", " + recordSuperseded,
		Filters: []sqldb.Filter{{Column: "article_id", Values: []string{articleID}}},
		Size:    pageSize(page.Size), Token: page.Token,
	}, func(rows *sql.Rows) (Record, sqldb.Row, error) {
		var superseded bool
		r, err := scanRecord(rows, &superseded)
		r.Superseded = superseded
		at, id := r.sortKey()
		return r, sqldb.Row{CreatedAt: at, ID: id}, err
	})
}

func (s *sqlStore) ArticleRecords(ctx context.Context, articleID string) ([]Record, error) {
	return queryAll(ctx, s.db.R, "records of article "+articleID, scanRecordRow,
		`SELECT `+recordColumns+` FROM verification_records WHERE article_id = $1 ORDER BY created_at DESC, id DESC`, articleID)
}

func scanRecordRow(rows *sql.Rows) (Record, error) { return scanRecord(rows) }

// queryAll runs a query and scans every row with scan; what names the rows
// for errors.
func queryAll[T any](ctx context.Context, q querier, what string, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: read %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read %s: %w", what, err)
	}
	return out, nil
}

func (s *sqlStore) ArticlesWithRecords(ctx context.Context, after string, limit int) ([]string, error) {
	return queryAll(ctx, s.db.R, "articles with records", func(rows *sql.Rows) (string, error) {
		var id string
		return id, rows.Scan(&id)
	}, `SELECT DISTINCT article_id FROM verification_records WHERE article_id > $1 ORDER BY article_id LIMIT $2`, after, max(limit, 1))
}

func (s *sqlStore) CountRecords(ctx context.Context) (total, passed int64, err error) {
	err = s.db.R.QueryRowContext(ctx, `SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN result = 'passed' THEN 1 ELSE 0 END), 0) AS BIGINT)
		FROM verification_records`).Scan(&total, &passed)
	if err != nil {
		return 0, 0, fmt.Errorf("store: count records: %w", err)
	}
	return total, passed, nil
}

// verifierRows is the derived table ListVerifiers pages through: a verifier
// with its principal and verdict sums, its id and created_at being what
// sqldb.List orders by.
const verifierRows = `(SELECT v.principal_id AS id, p.name AS name, p.type AS type, p.created_at AS principal_created_at,
		v.passed AS passed, v.partial AS partial, v.failed AS failed, v.last_verified_at AS last_verified_at,
		v.created_at AS created_at,
		CAST(COALESCE((SELECT SUM(d.confirmed) FROM reputation_verdicts d WHERE d.verifier_id = v.principal_id), 0) AS BIGINT) AS confirmed,
		CAST(COALESCE((SELECT SUM(d.contradicted) FROM reputation_verdicts d WHERE d.verifier_id = v.principal_id), 0) AS BIGINT) AS contradicted
	FROM verifiers v JOIN principals p ON p.id = v.principal_id) AS verifier_rows`

const verifierColumns = `id, name, type, principal_created_at, passed, partial, failed, last_verified_at, created_at, confirmed, contradicted`

func (s *sqlStore) ListVerifiers(ctx context.Context, page Page) ([]Verifier, string, error) {
	return sqldb.List(ctx, s.db.R, sqldb.Page{Kind: tokenVerifiers, Table: verifierRows, Columns: verifierColumns, Size: pageSize(page.Size), Token: page.Token},
		func(rows *sql.Rows) (Verifier, sqldb.Row, error) {
			var v Verifier
			err := rows.Scan(&v.ID, &v.Name, &v.Type, sqldb.ScanTime(&v.CreatedAt), &v.Passed, &v.Partial, &v.Failed,
				sqldb.ScanTime(&v.LastVerifiedAt), sqldb.ScanTime(&v.BecameAt), &v.Confirmed, &v.Contradicted)
			return v, sqldb.Row{CreatedAt: v.BecameAt, ID: v.ID}, err
		})
}

func (s *sqlStore) ReplaceVerdicts(ctx context.Context, articleID string, verdicts []Verdict) error {
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM reputation_verdicts WHERE article_id = $1`, articleID); err != nil {
			return fmt.Errorf("store: replace verdicts of article %q: %w", articleID, err)
		}
		if len(verdicts) == 0 {
			return nil
		}
		args := []any{articleID}
		values := make([]string, len(verdicts))
		for i, v := range verdicts {
			n := len(args)
			values[i] = fmt.Sprintf("($1, $%d, $%d, $%d)", n+1, n+2, n+3)
			args = append(args, v.VerifierID, boolInt(v.Confirmed), boolInt(v.Contradicted))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO reputation_verdicts (article_id, verifier_id, confirmed, contradicted) VALUES `+
			strings.Join(values, ", "), args...); err != nil {
			return fmt.Errorf("store: replace verdicts of article %q: %w", articleID, err)
		}
		return nil
	})
}

// boolInt is a 0/1 integer column's value (a CHECKed integer in both engines).
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
