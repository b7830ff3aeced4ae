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

func (s timedStore) Ping(ctx context.Context) (err error) {
	defer s.m.ObserveStore("Ping", time.Now(), &err)
	return s.Store.Ping(ctx)
}
