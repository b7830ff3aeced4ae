package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/errs"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/ledger"
	"buzhou.dev/verification/internal/store"
)

// lossy is an article service whose repair answers are lost: it writes the
// repair (or not) and reports UNAVAILABLE, as a crash of this service
// between the write and its run looks from the store.
type lossy struct {
	ledger.Repairer
	write bool
}

func (l lossy) RepairArticle(ctx context.Context, in *articlev1.RepairArticleRequest, opts ...grpc.CallOption) (*articlev1.Article, error) {
	if l.write {
		if _, err := l.Repairer.RepairArticle(ctx, in, opts...); err != nil {
			return nil, err
		}
	}
	return nil, status.Error(codes.Unavailable, "connection reset")
}

// TestRepairCutShort: a repair whose call was cut short is settled by what
// the article shows — a written one gets its run, audit entries and the
// bot's record once; one not written leaves nothing.
func TestRepairCutShort(t *testing.T) {
	t.Parallel()
	for _, written := range []bool{true, false} {
		t.Run(fmt.Sprintf("written=%v", written), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, options{})
			svc := ledger.New(ledger.Deps{Store: e.st, Articles: e.articles.Client, Repairer: lossy{e.articles.Client, written}, Now: e.clock.Now}, ledger.Options{})
			a := article("Messy tags")
			a.Tags, a.Keywords = []string{"API Key"}, nil
			a = e.publish(a)
			before := len(e.articles.Changes(a.GetId()))

			if _, err := svc.RunInspection(t.Context(), &verificationv1.RunInspectionRequest{ArticleId: a.GetId()}); !errors.Is(err, errs.ErrUnavailable) {
				t.Fatalf("inspection with its repair's answer lost: %v, want unavailable", err)
			}
			if p, err := e.st.PendingRepairs(t.Context()); err != nil || len(p) != 1 {
				t.Fatalf("pending repairs %v, %v; want the one cut short", p, err)
			}
			completed, dropped, err := svc.SettleRepairs(t.Context())
			if err != nil || completed+dropped != 1 || (completed == 1) != written {
				t.Fatalf("SettleRepairs = %d recorded, %d dropped, %v", completed, dropped, err)
			}
			// Settled once: again, nothing.
			if c, d, err := svc.SettleRepairs(t.Context()); c+d != 0 || err != nil {
				t.Fatalf("second SettleRepairs = %d, %d, %v", c, d, err)
			}
			runs, _, err := e.st.ListRuns(t.Context(), a.GetId(), store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			records, err := e.st.ArticleRecords(t.Context(), a.GetId())
			if err != nil {
				t.Fatal(err)
			}
			revisions := len(e.articles.Changes(a.GetId())) - before
			if !written {
				if len(runs) != 0 || len(records) != 0 || revisions != 0 {
					t.Fatalf("a repair never written left %d runs, %d records, %d revisions", len(runs), len(records), revisions)
				}
				return
			}
			got := e.articles.Get(a.GetId())
			if len(runs) != 1 || len(records) != 1 || revisions != 1 {
				t.Fatalf("a written repair has %d runs, %d records, %d revisions; want one each", len(runs), len(records), revisions)
			}
			r := runs[0]
			if r.RepairedRevision != got.GetRevision() || len(r.Repairs) == 0 || r.RecordID != records[0].ID ||
				got.GetRecentVerifications()[0].GetId() != records[0].ID {
				t.Fatalf("run %+v, record %s; the article shows revision %d, records %v", r, records[0].ID, got.GetRevision(), got.GetRecentVerifications())
			}
			if open := e.openFindings(a.GetId()); open["tags.not_normalized@tags"] != nil {
				t.Errorf("the repaired finding is still open: %v", open)
			}
		})
	}
}
