package ledger_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"

	"buzhou.dev/platform/auth"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/articletest"
	"buzhou.dev/verification/internal/identity"
	"buzhou.dev/verification/internal/ledger"
	"buzhou.dev/verification/internal/linkcheck"
	"buzhou.dev/verification/internal/store"
	"buzhou.dev/verification/internal/store/storetest"
)

// env is a ledger on a real SQLite store and a fake article service.
type env struct {
	t        testing.TB
	st       store.Store
	articles *articletest.Server
	clock    *storetest.Clock
	svc      *ledger.Service
}

type options struct {
	repairer bool
	related  ledger.Related
	links    ledger.Links
}

func newEnv(t testing.TB, o options) *env {
	t.Helper()
	clock := storetest.NewClock(time.Date(2026, 3, 23, 18, 26, 0, 0, time.UTC))
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "verification.db"), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := identity.New(st, clock.Now, nil, nil).EnsureBots(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, articles: articletest.Start(t), clock: clock}
	d := ledger.Deps{Store: st, Articles: e.articles.Client, Related: o.related, Links: o.links, Now: clock.Now}
	if o.repairer {
		d.Repairer = e.articles.Client
	}
	e.svc = ledger.New(d, ledger.Options{})
	return e
}

// verifier registers a principal and returns a context acting as it.
func (e *env) verifier(id, name, typ string) context.Context {
	e.t.Helper()
	if _, err := e.st.CreatePrincipal(e.t.Context(), store.Principal{ID: id, Name: name, Type: typ}); err != nil {
		e.t.Fatal(err)
	}
	return auth.WithPrincipal(e.t.Context(), &auth.Principal{ID: id, Name: name, Type: typ, Scopes: []string{auth.ScopeVerificationsWrite, auth.ScopeInspectionsRun}})
}

// publish stores a published article by "author" and returns it.
func (e *env) publish(a *articlev1.Article) *articlev1.Article {
	a.Status = "published"
	if a.Author == "" {
		a.Author = "author"
	}
	return e.articles.Put(a, articlev1.ChangeCause_CHANGE_CAUSE_CREATE)
}

func (e *env) record(ctx context.Context, articleID, result string) *verificationv1.VerificationRecord {
	e.t.Helper()
	r, err := e.svc.CreateVerificationRecord(ctx, &verificationv1.CreateVerificationRecordRequest{
		ArticleId: articleID, Result: result, Environment: &verificationv1.Environment{Os: "Linux", Runtime: "Python", RuntimeVersion: "3.12"}, Notes: "ran it",
	})
	if err != nil {
		e.t.Fatalf("CreateVerificationRecord(%s, %s): %v", articleID, result, err)
	}
	return r
}

func (e *env) inspect(ctx context.Context, articleID string, skip bool) *verificationv1.InspectionRun {
	e.t.Helper()
	run, err := e.svc.RunInspection(ctx, &verificationv1.RunInspectionRequest{ArticleId: articleID, SkipRepairs: skip})
	if err != nil {
		e.t.Fatalf("RunInspection(%s): %v", articleID, err)
	}
	return run
}

func (e *env) openFindings(articleID string) map[string]*verificationv1.Finding {
	e.t.Helper()
	resp, err := e.svc.ListInspectionRuns(e.t.Context(), &verificationv1.ListInspectionRunsRequest{IdOrSlug: articleID})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]*verificationv1.Finding{}
	for _, f := range resp.GetOpenFindings() {
		out[f.GetRuleKey()+"@"+f.GetFieldPath()] = f
	}
	return out
}

// article is a clean bilingual article: the only content finding it raises
// is none; without records it has verification.missing_record.
func article(title string) *articlev1.Article {
	qa := func(q string) *articlev1.QaPair {
		return &articlev1.QaPair{Question: &articlev1.LocalizedText{En: q + "?", Zh: q + "？"}, Answer: &articlev1.LocalizedText{En: "Because.", Zh: "因为。"}}
	}
	return &articlev1.Article{
		Title:      &articlev1.LocalizedText{En: title, Zh: "中文 " + title},
		Summary:    &articlev1.LocalizedText{En: "Summary of " + title, Zh: "摘要"},
		Content:    &articlev1.LocalizedText{En: "## Fix\n\nRestart the service for " + title + ".", Zh: "## 解决\n\n重启服务。"},
		Domain:     "error_codes",
		Tags:       []string{"ports"},
		Keywords:   []string{"port"},
		CodeBlocks: []*articlev1.CodeBlock{{Id: "cb1", Language: "bash", Code: "systemctl restart app"}},
		QaPairs:    []*articlev1.QaPair{qa("Why"), qa("How"), qa("When")},
	}
}

// fakeRelated answers ListRelatedArticles from a table, or with err.
type fakeRelated struct {
	items []*searchv1.SearchItem
	err   error
}

func (f fakeRelated) ListRelatedArticles(context.Context, *searchv1.ListRelatedArticlesRequest, ...grpc.CallOption) (*searchv1.ListRelatedArticlesResponse, error) {
	return &searchv1.ListRelatedArticlesResponse{Items: f.items}, f.err
}

// lateRelated is a Related set after the env is built (the fake answer
// names articles the test publishes first).
type lateRelated struct{ ledger.Related }

// fakeLinks answers every link with the result of its URL in the table.
type fakeLinks map[string]linkcheck.Result

func (f fakeLinks) CheckAll(_ context.Context, urls []string) []linkcheck.Result {
	out := make([]linkcheck.Result, len(urls))
	for i, u := range urls {
		out[i] = f[u]
		out[i].URL = u
	}
	return out
}

func causes(changes []*articlev1.ArticleChange) []articlev1.ChangeCause {
	var out []articlev1.ChangeCause
	for _, c := range changes {
		out = append(out, c.GetCause())
	}
	return out
}
