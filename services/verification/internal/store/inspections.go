package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/sqldb"
)

// pgFindingsLock is the first key of the advisory lock that makes updates of
// one article's findings take turns on PostgreSQL (the second is a hash of
// the article id). SQLite write transactions take turns anyway.
const pgFindingsLock = 0x0b0e_a013

const findingColumns = `id, article_id, rule_key, field_path, severity, title, evidence, suggested_patch, auto_fixable,
	status, report_count, created_at, updated_at`

func scanFinding(rows *sql.Rows) (Finding, error) {
	var f Finding
	err := rows.Scan(&f.ID, &f.ArticleID, &f.RuleKey, &f.FieldPath, &f.Severity, &f.Title, &f.Evidence, &f.SuggestedPatch,
		&f.AutoFixable, &f.Status, &f.ReportCount, sqldb.ScanTime(&f.CreatedAt), sqldb.ScanTime(&f.UpdatedAt))
	return f, err
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func articleFindings(ctx context.Context, q querier, articleID string) ([]Finding, error) {
	return queryAll(ctx, q, "findings of article "+articleID, scanFinding,
		`SELECT `+findingColumns+` FROM findings WHERE article_id = $1 ORDER BY id`, articleID)
}

func (s *sqlStore) ArticleFindings(ctx context.Context, articleID string) ([]Finding, error) {
	return articleFindings(ctx, s.db.R, articleID)
}

// checkFinding rejects what the findings table cannot hold.
func checkFinding(articleID string, f Finding) error {
	switch {
	case f.ID == "":
		return fmt.Errorf("%w: a finding of article %q has no id; set one before storing it", errs.ErrInvalid, articleID)
	case f.ArticleID != articleID:
		return fmt.Errorf("%w: finding %q belongs to article %q, not %q", errs.ErrInvalid, f.ID, f.ArticleID, articleID)
	case f.RuleKey == "" || f.Severity == "" || f.Status == "":
		return fmt.Errorf("%w: finding %q needs a rule, a severity and a status", errs.ErrInvalid, f.ID)
	}
	return nil
}

func (s *sqlStore) UpdateFindings(ctx context.Context, articleID string, mutate func([]Finding) ([]Finding, error)) ([]Finding, error) {
	var out []Finding
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if s.db.Engine() == sqldb.Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, pgFindingsLock, articleID); err != nil {
				return fmt.Errorf("store: lock findings of article %q: %w", articleID, err)
			}
		}
		cur, err := articleFindings(ctx, tx, articleID)
		if err != nil {
			return err
		}
		changed, err := mutate(slices.Clone(cur))
		if err != nil {
			return err
		}
		at := sqldb.Tick(s.now)
		for _, f := range changed {
			if err := checkFinding(articleID, f); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO findings (`+findingColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
				ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, title = excluded.title, evidence = excluded.evidence,
					suggested_patch = excluded.suggested_patch, auto_fixable = excluded.auto_fixable, status = excluded.status,
					report_count = excluded.report_count, updated_at = excluded.updated_at`,
				f.ID, f.ArticleID, f.RuleKey, f.FieldPath, f.Severity, f.Title, f.Evidence, f.SuggestedPatch, f.AutoFixable,
				f.Status, f.ReportCount, at); err != nil {
				if sqldb.IsConflict(err) {
					return fmt.Errorf("%w: article %q already has a finding of rule %q at %q; update that one", errs.ErrAlreadyExists, articleID, f.RuleKey, f.FieldPath)
				}
				return fmt.Errorf("store: write finding %q: %w", f.ID, err)
			}
		}
		out, err = articleFindings(ctx, tx, articleID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// runData is the JSON of a run's data column.
type runData struct {
	Findings []runFinding `json:"findings,omitempty"`
	Notes    []string     `json:"notes,omitempty"`
	Repairs  []Repair     `json:"repairs,omitempty"`
}

// runFinding is a Finding as a run keeps it.
type runFinding struct {
	ID             string    `json:"id"`
	RuleKey        string    `json:"ruleKey"`
	FieldPath      string    `json:"fieldPath"`
	Severity       string    `json:"severity"`
	Title          string    `json:"title"`
	Evidence       string    `json:"evidence"`
	SuggestedPatch string    `json:"suggestedPatch,omitempty"`
	AutoFixable    bool      `json:"autoFixable,omitempty"`
	Status         string    `json:"status"`
	ReportCount    int32     `json:"reportCount,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

const runColumns = `id, article_id, article_revision, run_trigger, status, risk_level, repaired_revision, record_id,
	started_at, created_at, data`

func scanRun(rows *sql.Rows) (Run, error) {
	var (
		r        Run
		recordID sql.NullString
		data     string
	)
	if err := rows.Scan(&r.ID, &r.ArticleID, &r.ArticleRevision, &r.Trigger, &r.Status, &r.RiskLevel, &r.RepairedRevision, &recordID,
		sqldb.ScanTime(&r.StartedAt), sqldb.ScanTime(&r.FinishedAt), &data); err != nil {
		return Run{}, err
	}
	r.RecordID = recordID.String
	var d runData
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return Run{}, fmt.Errorf("store: run %q: decode data: %w", r.ID, err)
	}
	r.Notes, r.Repairs = d.Notes, d.Repairs
	for _, f := range d.Findings {
		r.Findings = append(r.Findings, Finding{ID: f.ID, ArticleID: r.ArticleID, RuleKey: f.RuleKey, FieldPath: f.FieldPath,
			Severity: f.Severity, Title: f.Title, Evidence: f.Evidence, SuggestedPatch: f.SuggestedPatch, AutoFixable: f.AutoFixable,
			Status: f.Status, ReportCount: f.ReportCount, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt})
	}
	return r, nil
}

func (s *sqlStore) AddRun(ctx context.Context, run Run, record *Record) (Run, error) {
	switch {
	case run.ID == "" || run.ArticleID == "":
		return Run{}, fmt.Errorf("%w: the new run needs an id and an article", errs.ErrInvalid)
	case record != nil && record.ArticleID != run.ArticleID:
		return Run{}, fmt.Errorf("%w: run %q is of article %q but its record of %q", errs.ErrInvalid, run.ID, run.ArticleID, record.ArticleID)
	}
	if record != nil {
		if err := checkRecord(*record); err != nil {
			return Run{}, err
		}
	}
	d := runData{Notes: run.Notes, Repairs: run.Repairs}
	for _, f := range run.Findings {
		d.Findings = append(d.Findings, runFinding{ID: f.ID, RuleKey: f.RuleKey, FieldPath: f.FieldPath, Severity: f.Severity,
			Title: f.Title, Evidence: f.Evidence, SuggestedPatch: f.SuggestedPatch, AutoFixable: f.AutoFixable, Status: f.Status,
			ReportCount: f.ReportCount, CreatedAt: exact(f.CreatedAt), UpdatedAt: exact(f.UpdatedAt)})
	}
	data, err := json.Marshal(d)
	if err != nil {
		return Run{}, fmt.Errorf("store: run %q: encode data: %w", run.ID, err)
	}
	at := sqldb.Tick(s.now)
	run.FinishedAt, run.StartedAt = at, exact(run.StartedAt)
	err = s.withRecord(ctx, record, at, func(tx *sql.Tx, recordID string) error {
		run.RecordID = recordID
		_, err := tx.ExecContext(ctx, `INSERT INTO inspection_runs (`+runColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			run.ID, run.ArticleID, run.ArticleRevision, run.Trigger, run.Status, run.RiskLevel, run.RepairedRevision,
			nullString(run.RecordID), run.StartedAt, run.FinishedAt, string(data))
		if err := runInsertError(err, run.ID, run.RecordID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending_repairs WHERE run_id = $1`, run.ID); err != nil {
			return fmt.Errorf("store: settle the pending repair of run %q: %w", run.ID, err)
		}
		return nil
	})
	if err != nil {
		return Run{}, err
	}
	// What a read gives back: the findings' times at the store's precision.
	for i := range run.Findings {
		run.Findings[i].CreatedAt, run.Findings[i].UpdatedAt = exact(run.Findings[i].CreatedAt), exact(run.Findings[i].UpdatedAt)
	}
	return run, nil
}

// withRecord stores record (when not nil) created at at, then calls insert
// with its id ("" without one), in one transaction: a run and the record it
// filed are stored together or not at all.
func (s *sqlStore) withRecord(ctx context.Context, record *Record, at time.Time, insert func(tx *sql.Tx, recordID string) error) error {
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		id := ""
		if record != nil {
			r := *record
			r.CreatedAt = at
			stored, err := insertRecord(ctx, tx, r)
			if err != nil {
				return err
			}
			*record = stored
			id = stored.ID
		}
		return insert(tx, id)
	})
}

// runInsertError words the failure of inserting run id naming recordID.
func runInsertError(err error, id, recordID string) error {
	switch {
	case err == nil:
		return nil
	case sqldb.IsConflict(err):
		return fmt.Errorf("%w: a run with id %q already exists; use a new id", errs.ErrAlreadyExists, id)
	case sqldb.IsMissingReference(err):
		return fmt.Errorf("%w: run %q names record %q, which does not exist", errs.ErrNotFound, id, recordID)
	}
	return fmt.Errorf("store: insert run %q: %w", id, err)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *sqlStore) ListRuns(ctx context.Context, articleID string, page Page) ([]Run, string, error) {
	return sqldb.List(ctx, s.db.R, sqldb.Page{
		Kind: tokenRuns, Table: "inspection_runs", Columns: runColumns,
		Filters: []sqldb.Filter{{Column: "article_id", Values: []string{articleID}}},
		Size:    pageSize(page.Size), Token: page.Token,
	}, func(rows *sql.Rows) (Run, sqldb.Row, error) {
		r, err := scanRun(rows)
		return r, sqldb.Row{CreatedAt: r.FinishedAt, ID: r.ID}, err
	})
}

func (s *sqlStore) SavePendingRepair(ctx context.Context, p PendingRepair) error {
	if p.Run.ID == "" || p.Run.ArticleID == "" || p.Record.ArticleID != p.Run.ArticleID {
		return fmt.Errorf("%w: a pending repair needs a run id, an article and a record of that article", errs.ErrInvalid)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("store: pending repair of run %q: encode: %w", p.Run.ID, err)
	}
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO pending_repairs (run_id, article_id, data) VALUES ($1, $2, $3)`, p.Run.ID, p.Run.ArticleID, string(data))
		switch {
		case sqldb.IsConflict(err):
			return fmt.Errorf("%w: run %q already has a pending repair", errs.ErrAlreadyExists, p.Run.ID)
		case err != nil:
			return fmt.Errorf("store: save the pending repair of run %q: %w", p.Run.ID, err)
		}
		return nil
	})
}

func (s *sqlStore) PendingRepairs(ctx context.Context) ([]PendingRepair, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT data FROM pending_repairs ORDER BY run_id`)
	if err != nil {
		return nil, fmt.Errorf("store: read pending repairs: %w", err)
	}
	defer rows.Close()
	var out []PendingRepair
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("store: read pending repairs: %w", err)
		}
		var p PendingRepair
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			return nil, fmt.Errorf("store: decode a pending repair: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read pending repairs: %w", err)
	}
	return out, nil
}

func (s *sqlStore) DropPendingRepair(ctx context.Context, runID string) error {
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending_repairs WHERE run_id = $1`, runID); err != nil {
			return fmt.Errorf("store: drop the pending repair of run %q: %w", runID, err)
		}
		return nil
	})
}

func (s *sqlStore) Cursor(ctx context.Context, name string) (int64, error) {
	var rev int64
	err := s.db.R.QueryRowContext(ctx, `SELECT revision FROM feed_cursors WHERE name = $1`, name).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: read cursor %q: %w", name, err)
	}
	return rev, nil
}

func (s *sqlStore) SaveCursor(ctx context.Context, name string, revision int64) error {
	if strings.TrimSpace(name) == "" || revision < 0 {
		return fmt.Errorf("%w: a cursor needs a name and a revision of 0 or more", errs.ErrInvalid)
	}
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO feed_cursors (name, revision) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET revision = excluded.revision`, name, revision); err != nil {
			return fmt.Errorf("store: save cursor %q: %w", name, err)
		}
		return nil
	})
}
