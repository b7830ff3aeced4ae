package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/sqldb"
)

// tokenSandboxRuns is the page token kind of sandbox run lists.
const tokenSandboxRuns = "s"

const sandboxRunColumns = `id, article_id, article_revision, run_trigger, result, record_id, created_at, data`

// sandboxData is the JSON of a sandbox run's data column.
type sandboxData struct {
	Blocks    []SandboxBlock `json:"blocks"`
	OS        string         `json:"os"`
	Kernel    string         `json:"kernel,omitempty"`
	Isolation string         `json:"isolation,omitempty"`
}

func scanSandboxRun(rows *sql.Rows) (SandboxRun, error) {
	var (
		r        SandboxRun
		recordID sql.NullString
		data     string
	)
	if err := rows.Scan(&r.ID, &r.ArticleID, &r.ArticleRevision, &r.Trigger, &r.Result, &recordID, sqldb.ScanTime(&r.CreatedAt), &data); err != nil {
		return SandboxRun{}, err
	}
	r.RecordID = recordID.String
	var d sandboxData
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return SandboxRun{}, fmt.Errorf("store: sandbox run %q: decode data: %w", r.ID, err)
	}
	r.Blocks, r.OS, r.Kernel, r.Isolation = d.Blocks, d.OS, d.Kernel, d.Isolation
	return r, nil
}

func (s *sqlStore) AddSandboxRun(ctx context.Context, run SandboxRun, record *Record) (SandboxRun, error) {
	switch {
	case run.ID == "" || run.ArticleID == "":
		return SandboxRun{}, fmt.Errorf("%w: the new sandbox run needs an id and an article", errs.ErrInvalid)
	case run.Result == "":
		return SandboxRun{}, fmt.Errorf("%w: sandbox run %q needs a result", errs.ErrInvalid, run.ID)
	case record != nil && record.ArticleID != run.ArticleID:
		return SandboxRun{}, fmt.Errorf("%w: sandbox run %q is of article %q but its record of %q", errs.ErrInvalid, run.ID, run.ArticleID, record.ArticleID)
	}
	if record != nil {
		if err := checkRecord(*record); err != nil {
			return SandboxRun{}, err
		}
	}
	data, err := json.Marshal(sandboxData{Blocks: run.Blocks, OS: run.OS, Kernel: run.Kernel, Isolation: run.Isolation})
	if err != nil {
		return SandboxRun{}, fmt.Errorf("store: sandbox run %q: encode data: %w", run.ID, err)
	}
	run.CreatedAt = sqldb.Tick(s.now)
	err = s.withRecord(ctx, record, run.CreatedAt, func(tx *sql.Tx, recordID string) error {
		run.RecordID = recordID
		_, err := tx.ExecContext(ctx, `INSERT INTO sandbox_runs (`+sandboxRunColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			run.ID, run.ArticleID, run.ArticleRevision, run.Trigger, run.Result, nullString(run.RecordID), run.CreatedAt, string(data))
		return runInsertError(err, run.ID, run.RecordID)
	})
	if err != nil {
		return SandboxRun{}, err
	}
	return run, nil
}

func (s *sqlStore) ListSandboxRuns(ctx context.Context, articleID string, page Page) ([]SandboxRun, string, error) {
	return sqldb.List(ctx, s.db.R, sqldb.Page{
		Kind: tokenSandboxRuns, Table: "sandbox_runs", Columns: sandboxRunColumns,
		Filters: []sqldb.Filter{{Column: "article_id", Values: []string{articleID}}},
		Size:    pageSize(page.Size), Token: page.Token,
	}, func(rows *sql.Rows) (SandboxRun, sqldb.Row, error) {
		r, err := scanSandboxRun(rows)
		return r, sqldb.Row{CreatedAt: r.CreatedAt, ID: r.ID}, err
	})
}
