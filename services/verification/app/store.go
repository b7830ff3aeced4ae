package app

import (
	"context"
	"time"

	"buzhou.dev/platform/metrics"
	"buzhou.dev/verification/internal/store"
)

// timedStore times every operation of the verification store that reaches
// the database (Close passes through as it is).
type timedStore struct {
	store.Store
	m *metrics.Part
}

func (s timedStore) CreatePrincipal(ctx context.Context, p store.Principal) (_ store.Principal, err error) {
	defer s.m.ObserveStore("CreatePrincipal", time.Now(), &err)
	return s.Store.CreatePrincipal(ctx, p)
}

func (s timedStore) GetPrincipal(ctx context.Context, id string) (_ store.Principal, err error) {
	defer s.m.ObserveStore("GetPrincipal", time.Now(), &err)
	return s.Store.GetPrincipal(ctx, id)
}

func (s timedStore) ListPrincipals(ctx context.Context, page store.Page) (_ []store.Principal, _ string, err error) {
	defer s.m.ObserveStore("ListPrincipals", time.Now(), &err)
	return s.Store.ListPrincipals(ctx, page)
}

func (s timedStore) CreateKey(ctx context.Context, k store.Key, newOwner *store.Principal) (_ store.Key, err error) {
	defer s.m.ObserveStore("CreateKey", time.Now(), &err)
	return s.Store.CreateKey(ctx, k, newOwner)
}

func (s timedStore) GetKey(ctx context.Context, id string) (_ store.Key, err error) {
	defer s.m.ObserveStore("GetKey", time.Now(), &err)
	return s.Store.GetKey(ctx, id)
}

func (s timedStore) KeyByHash(ctx context.Context, secretHash string) (_ store.Key, _ store.Principal, err error) {
	defer s.m.ObserveStore("KeyByHash", time.Now(), &err)
	return s.Store.KeyByHash(ctx, secretHash)
}

func (s timedStore) ListKeys(ctx context.Context, page store.Page) (_ []store.Key, _ string, err error) {
	defer s.m.ObserveStore("ListKeys", time.Now(), &err)
	return s.Store.ListKeys(ctx, page)
}

func (s timedStore) RevokeKey(ctx context.Context, id string) (_ store.Key, err error) {
	defer s.m.ObserveStore("RevokeKey", time.Now(), &err)
	return s.Store.RevokeKey(ctx, id)
}

func (s timedStore) UpsertBootstrapKey(ctx context.Context, owner store.Principal, k store.Key) (_ store.Key, err error) {
	defer s.m.ObserveStore("UpsertBootstrapKey", time.Now(), &err)
	return s.Store.UpsertBootstrapKey(ctx, owner, k)
}

func (s timedStore) AddAgentUsage(ctx context.Context, usage []store.AgentUsage) (err error) {
	defer s.m.ObserveStore("AddAgentUsage", time.Now(), &err)
	return s.Store.AddAgentUsage(ctx, usage)
}

func (s timedStore) AgentUsageTotals(ctx context.Context, limit int) (_ []store.AgentTotals, err error) {
	defer s.m.ObserveStore("AgentUsageTotals", time.Now(), &err)
	return s.Store.AgentUsageTotals(ctx, limit)
}

func (s timedStore) EnsureVerifier(ctx context.Context, p store.Principal) (err error) {
	defer s.m.ObserveStore("EnsureVerifier", time.Now(), &err)
	return s.Store.EnsureVerifier(ctx, p)
}

func (s timedStore) AddRecord(ctx context.Context, r store.Record) (_ store.Record, err error) {
	defer s.m.ObserveStore("AddRecord", time.Now(), &err)
	return s.Store.AddRecord(ctx, r)
}

func (s timedStore) ListRecords(ctx context.Context, articleID string, page store.Page) (_ []store.Record, _ string, err error) {
	defer s.m.ObserveStore("ListRecords", time.Now(), &err)
	return s.Store.ListRecords(ctx, articleID, page)
}

func (s timedStore) ArticleRecords(ctx context.Context, articleID string) (_ []store.Record, err error) {
	defer s.m.ObserveStore("ArticleRecords", time.Now(), &err)
	return s.Store.ArticleRecords(ctx, articleID)
}

func (s timedStore) ArticlesWithRecords(ctx context.Context, after string, limit int) (_ []string, err error) {
	defer s.m.ObserveStore("ArticlesWithRecords", time.Now(), &err)
	return s.Store.ArticlesWithRecords(ctx, after, limit)
}

func (s timedStore) CountRecords(ctx context.Context) (_, _ int64, err error) {
	defer s.m.ObserveStore("CountRecords", time.Now(), &err)
	return s.Store.CountRecords(ctx)
}

func (s timedStore) ListVerifiers(ctx context.Context, page store.Page) (_ []store.Verifier, _ string, err error) {
	defer s.m.ObserveStore("ListVerifiers", time.Now(), &err)
	return s.Store.ListVerifiers(ctx, page)
}

func (s timedStore) ReplaceVerdicts(ctx context.Context, articleID string, verdicts []store.Verdict) (err error) {
	defer s.m.ObserveStore("ReplaceVerdicts", time.Now(), &err)
	return s.Store.ReplaceVerdicts(ctx, articleID, verdicts)
}

func (s timedStore) UpdateFindings(ctx context.Context, articleID string, mutate func([]store.Finding) ([]store.Finding, error)) (_ []store.Finding, err error) {
	defer s.m.ObserveStore("UpdateFindings", time.Now(), &err)
	return s.Store.UpdateFindings(ctx, articleID, mutate)
}

func (s timedStore) ArticleFindings(ctx context.Context, articleID string) (_ []store.Finding, err error) {
	defer s.m.ObserveStore("ArticleFindings", time.Now(), &err)
	return s.Store.ArticleFindings(ctx, articleID)
}

func (s timedStore) AddRun(ctx context.Context, run store.Run, record *store.Record) (_ store.Run, err error) {
	defer s.m.ObserveStore("AddRun", time.Now(), &err)
	return s.Store.AddRun(ctx, run, record)
}

func (s timedStore) ListRuns(ctx context.Context, articleID string, page store.Page) (_ []store.Run, _ string, err error) {
	defer s.m.ObserveStore("ListRuns", time.Now(), &err)
	return s.Store.ListRuns(ctx, articleID, page)
}

func (s timedStore) Cursor(ctx context.Context, name string) (_ int64, err error) {
	defer s.m.ObserveStore("Cursor", time.Now(), &err)
	return s.Store.Cursor(ctx, name)
}

func (s timedStore) SaveCursor(ctx context.Context, name string, revision int64) (err error) {
	defer s.m.ObserveStore("SaveCursor", time.Now(), &err)
	return s.Store.SaveCursor(ctx, name, revision)
}

func (s timedStore) Ping(ctx context.Context) (err error) {
	defer s.m.ObserveStore("Ping", time.Now(), &err)
	return s.Store.Ping(ctx)
}

func (s timedStore) AddSandboxRun(ctx context.Context, run store.SandboxRun, record *store.Record) (_ store.SandboxRun, err error) {
	defer s.m.ObserveStore("AddSandboxRun", time.Now(), &err)
	return s.Store.AddSandboxRun(ctx, run, record)
}

func (s timedStore) ListSandboxRuns(ctx context.Context, articleID string, page store.Page) (_ []store.SandboxRun, _ string, err error) {
	defer s.m.ObserveStore("ListSandboxRuns", time.Now(), &err)
	return s.Store.ListSandboxRuns(ctx, articleID, page)
}
