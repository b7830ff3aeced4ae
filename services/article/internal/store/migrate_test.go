package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"buzhou.dev/article/internal/store"
	"buzhou.dev/platform/sqldb"
	"buzhou.dev/platform/sqldb/sqldbtest"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// Changes written before causes were kept read as CHANGE_CAUSE_UNSPECIFIED
// with no paths, and the feed goes on from them.
func TestOldChangesHaveNoCause(t *testing.T) {
	t.Parallel()
	engines := []struct {
		name    string
		where   func(t *testing.T) string
		openOld func(ctx context.Context, where string, m sqldb.Migrations) (*sqldb.DB, error)
		open    func(ctx context.Context, where string, now store.Clock) (store.Store, error)
	}{
		{"SQLite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "article.db") }, sqldb.OpenSQLite, store.OpenSQLite},
		{"PostgreSQL", func(t *testing.T) string { return sqldbtest.FreshSchema(t) }, func(ctx context.Context, url string, m sqldb.Migrations) (*sqldb.DB, error) {
			return sqldb.OpenPostgres(ctx, url, "buzhou-article", m)
		}, store.OpenPostgres},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			where := e.where(t)
			old, err := e.openOld(t.Context(), where, store.MigrationsBefore(t, 2))
			if err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			data := `{"id":"art_old","slug":"old","status":"draft","revision":1}`
			err = old.Write(t.Context(), func(tx *sql.Tx) error {
				if old.Engine() == sqldb.Postgres { // the feed counter of revision 1
					if _, err := tx.ExecContext(t.Context(), `UPDATE feed_state SET revision = 1`); err != nil {
						return err
					}
				}
				if _, err := tx.ExecContext(t.Context(), `INSERT INTO articles (id, slug, status, domain, verification_status, revision, feed_revision, created_at, updated_at, data)
					VALUES ('art_old', 'old', 'draft', '', '', 1, 1, $1, $1, $2)`, at, data); err != nil {
					return err
				}
				_, err := tx.ExecContext(t.Context(), `INSERT INTO changes (revision, article_id, kind, change_time, data) VALUES (1, 'art_old', 1, $1, $2)`, at, data)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}

			s, err := e.open(t.Context(), where, nil)
			if err != nil {
				t.Fatal(err)
			}
			sqldbtest.CloseAtEnd(t, s)
			if _, err := s.Update(t.Context(), "art_old", 1, articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT, func(a *articlev1.Article) error {
				a.Tags = []string{"new"}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			changes, err := s.Changes(t.Context(), 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != 2 {
				t.Fatalf("got %d changes, want 2", len(changes))
			}
			if c := changes[0]; c.GetCause() != articlev1.ChangeCause_CHANGE_CAUSE_UNSPECIFIED || len(c.GetChangedPaths()) != 0 || c.GetArticle().GetId() != "art_old" {
				t.Errorf("old change: cause %v, paths %q, article %q; want UNSPECIFIED, none, art_old", c.GetCause(), c.GetChangedPaths(), c.GetArticle().GetId())
			}
			if c := changes[1]; c.GetRevision() != 2 || c.GetCause() != articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT || len(c.GetChangedPaths()) != 1 {
				t.Errorf("new change: revision %d, cause %v, paths %q; want 2, AUTHOR_EDIT, [tags]", c.GetRevision(), c.GetCause(), c.GetChangedPaths())
			}
		})
	}
}
