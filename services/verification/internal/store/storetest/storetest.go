// Package storetest is the contract every store.Store engine meets. Each
// engine's tests call Run with a way to make fresh databases, so SQLite and
// PostgreSQL are held to exactly the same behaviour. The helpers that reach
// the test PostgreSQL server are in buzhou.dev/platform/sqldb/sqldbtest.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"buzhou.dev/platform/errs"
	"buzhou.dev/verification/internal/store"
)

// Opener makes a fresh, empty database and opens a store on it whose clock is
// now; both are released when t ends. reopen opens another store on the same
// database (also closed when t ends).
type Opener func(t *testing.T, now store.Clock) (s store.Store, reopen func() store.Store)

// Run runs the contract suite; every subtest runs in parallel on a database of
// its own.
func Run(t *testing.T, open Opener) {
	tests := []namedTest{
		{"PrincipalCreateGet", testPrincipalCreateGet},
		{"PrincipalDuplicate", testPrincipalDuplicate},
		{"PrincipalInvalid", testPrincipalInvalid},
		{"PrincipalMissing", testPrincipalMissing},
		{"ListPrincipals", testListPrincipals},
		{"ListPageSize", testListPageSize},
		{"ListBadToken", testListBadToken},
		{"KeyCreateWithNewOwner", testKeyCreateWithNewOwner},
		{"KeyCreateExistingOwner", testKeyCreateExistingOwner},
		{"KeyCreateConflicts", testKeyCreateConflicts},
		{"KeyCreateInvalid", testKeyCreateInvalid},
		{"KeyMissing", testKeyMissing},
		{"ListKeys", testListKeys},
		{"RevokeKey", testRevokeKey},
		{"BootstrapKey", testBootstrapKey},
		{"BootstrapKeySecretTaken", testBootstrapKeySecretTaken},
		{"AgentUsage", testAgentUsage},
		{"AgentUsageInvalid", testAgentUsageInvalid},
		{"AgentUsageMany", testAgentUsageMany},
		{"AgentUsageConcurrent", testAgentUsageConcurrent},
		{"Persistence", testPersistence},
		{"Ping", testPing},
	}
	for _, tt := range append(tests, trustTests()...) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

// Clock is a settable clock for tests; it is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// baseTime has nanoseconds on purpose: stores keep microseconds.
func baseTime() time.Time {
	return time.Date(2026, 3, 14, 23, 59, 58, 589_793_238, time.UTC)
}

func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Hash is the hex SHA-256 of secret, the form the store keeps.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func diff(want, got any) string {
	return cmp.Diff(want, got, cmpopts.EquateEmpty())
}

func wantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got error %v, want one wrapping %q", what, err, sentinel)
	}
}

func newKey(id, owner string) store.Key {
	return store.Key{
		ID:          id,
		Name:        "key " + id,
		PrincipalID: owner,
		Prefix:      "bzk_" + id,
		SecretHash:  Hash("secret of " + id),
		Scopes:      []string{"articles:write", "keys:admin"},
	}
}

func mustPrincipal(t *testing.T, s store.Store, id string) store.Principal {
	t.Helper()
	p, err := s.CreatePrincipal(t.Context(), store.Principal{ID: id, Name: "name of " + id, Type: "third_party_agent"})
	if err != nil {
		t.Fatalf("CreatePrincipal(%s): %v", id, err)
	}
	return p
}

func mustKey(t *testing.T, s store.Store, k store.Key, owner *store.Principal) store.Key {
	t.Helper()
	got, err := s.CreateKey(t.Context(), k, owner)
	if err != nil {
		t.Fatalf("CreateKey(%s): %v", k.ID, err)
	}
	return got
}

func mustGetKey(t *testing.T, s store.Store, id string) store.Key {
	t.Helper()
	k, err := s.GetKey(t.Context(), id)
	if err != nil {
		t.Fatalf("GetKey(%s): %v", id, err)
	}
	return k
}

func testPrincipalCreateGet(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, _ := open(t, clock.Now)
	in := store.Principal{ID: "prn_1", Name: "Ada 机器人", Type: "human_expert", CreatedAt: time.Unix(1, 0)}
	got, err := s.CreatePrincipal(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.CreatedAt = micro(baseTime()) // the store stamps its own clock
	if d := diff(want, got); d != "" {
		t.Fatalf("CreatePrincipal (-want +got):\n%s", d)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("created_at is in %v, want UTC", got.CreatedAt.Location())
	}
	read, err := s.GetPrincipal(t.Context(), "prn_1")
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, read); d != "" {
		t.Fatalf("GetPrincipal (-want +got):\n%s", d)
	}
}

func testPrincipalDuplicate(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	first := mustPrincipal(t, s, "prn_dup")
	_, err := s.CreatePrincipal(t.Context(), store.Principal{ID: "prn_dup", Name: "other", Type: "official_bot"})
	wantErr(t, "second CreatePrincipal", err, errs.ErrAlreadyExists)
	if !strings.Contains(err.Error(), "prn_dup") {
		t.Errorf("error %q does not name the id", err)
	}
	got, err := s.GetPrincipal(t.Context(), "prn_dup")
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(first, got); d != "" {
		t.Fatalf("the first principal changed (-want +got):\n%s", d)
	}
}

func testPrincipalInvalid(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	tests := []struct {
		name string
		p    store.Principal
	}{
		{"no id", store.Principal{Name: "n", Type: "official_bot"}},
		{"no name", store.Principal{ID: "prn_x", Type: "official_bot"}},
		{"no type", store.Principal{ID: "prn_x", Name: "n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.CreatePrincipal(t.Context(), tt.p)
			wantErr(t, "CreatePrincipal", err, errs.ErrInvalid)
		})
	}
}

func testPrincipalMissing(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	_, err := s.GetPrincipal(t.Context(), "prn_absent")
	wantErr(t, "GetPrincipal", err, errs.ErrNotFound)
}

// collect pages through a list with pages of size, checking each page's size.
func collect[T any](t *testing.T, size int, list func(store.Page) ([]T, string, error)) []T {
	t.Helper()
	var (
		out []T
		tok string
	)
	for range 1000 {
		page, next, err := list(store.Page{Size: size, Token: tok})
		if err != nil {
			t.Fatalf("list page after %q: %v", tok, err)
		}
		if len(page) > size {
			t.Fatalf("page of %d rows, asked for %d", len(page), size)
		}
		if next != "" && len(page) != size {
			t.Fatalf("short page of %d rows with a next token", len(page))
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		tok = next
	}
	t.Fatal("the list never ends")
	return nil
}

// testListPrincipals writes rows with equal and distinct times, so pages
// must break created_at ties by id.
func testListPrincipals(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, _ := open(t, clock.Now)
	var want []store.Principal // newest first
	for i := range 8 {
		if i%3 == 0 {
			clock.Advance(time.Second)
		}
		p := mustPrincipal(t, s, fmt.Sprintf("prn_%02d", i))
		want = append([]store.Principal{p}, want...)
	}
	for _, size := range []int{1, 3, 8, 50} {
		t.Run(fmt.Sprint(size), func(t *testing.T) { // not parallel: the test writes more rows below
			got := collect(t, size, func(p store.Page) ([]store.Principal, string, error) {
				return s.ListPrincipals(t.Context(), p)
			})
			if d := diff(want, got); d != "" {
				t.Fatalf("ListPrincipals in pages of %d (-want +got):\n%s", size, d)
			}
		})
	}
	// Rows written after a page was read do not shift the next page.
	first, tok, err := s.ListPrincipals(t.Context(), store.Page{Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	mustPrincipal(t, s, "prn_late")
	rest, _, err := s.ListPrincipals(t.Context(), store.Page{Size: 50, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, append(first, rest...)); d != "" {
		t.Fatalf("pages around a new row (-want +got):\n%s", d)
	}
}

func testListPageSize(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	for i := range 201 {
		mustPrincipal(t, s, fmt.Sprintf("prn_%03d", i))
	}
	tests := []struct {
		name string
		size int
		want int
	}{
		{"default", 0, 50},
		{"negative is the default", -5, 50},
		{"asked", 7, 7},
		{"capped", 1000, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, next, err := s.ListPrincipals(t.Context(), store.Page{Size: tt.size})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want || next == "" {
				t.Fatalf("got %d rows, next %q; want %d rows and a next token", len(got), next, tt.want)
			}
		})
	}
}

func testListBadToken(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	p := mustPrincipal(t, s, "prn_a")
	mustPrincipal(t, s, "prn_b")
	mustKey(t, s, newKey("key_a", p.ID), nil)
	mustKey(t, s, newKey("key_b", p.ID), nil)
	_, keyTok, err := s.ListKeys(t.Context(), store.Page{Size: 1})
	if err != nil || keyTok == "" {
		t.Fatalf("ListKeys: token %q, error %v", keyTok, err)
	}
	_, prnTok, err := s.ListPrincipals(t.Context(), store.Page{Size: 1})
	if err != nil || prnTok == "" {
		t.Fatalf("ListPrincipals: token %q, error %v", prnTok, err)
	}
	for _, tok := range []string{"%%%", "bm90IGEgdG9rZW4", keyTok, keyTok + "x"} {
		_, _, err := s.ListPrincipals(t.Context(), store.Page{Token: tok})
		wantErr(t, fmt.Sprintf("ListPrincipals(token %q)", tok), err, errs.ErrInvalid)
	}
	for _, tok := range []string{"%%%", prnTok} {
		_, _, err := s.ListKeys(t.Context(), store.Page{Token: tok})
		wantErr(t, fmt.Sprintf("ListKeys(token %q)", tok), err, errs.ErrInvalid)
	}
}

func testKeyCreateWithNewOwner(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, _ := open(t, clock.Now)
	in := store.Key{
		ID:                 "key_full",
		Name:               "deploy bot 部署",
		PrincipalID:        "prn_new",
		Prefix:             "bzk_Ab12Cd34",
		SecretHash:         Hash("the secret"),
		Scopes:             []string{"verifications:write", "inspections:run"},
		ExpiresAt:          baseTime().Add(48 * time.Hour),
		RateLimitPerMinute: 600,
		DailyQuota:         10_000,
		MonthlyQuota:       1 << 40,
	}
	owner := store.Principal{ID: "prn_new", Name: "deploy bot 部署", Type: "third_party_agent"}
	keep := in
	keep.Scopes = append([]string(nil), in.Scopes...)
	got, err := s.CreateKey(t.Context(), in, &owner)
	if err != nil {
		t.Fatal(err)
	}
	want := keep
	want.CreatedAt = micro(baseTime())
	want.ExpiresAt = micro(keep.ExpiresAt)
	if d := diff(want, got); d != "" {
		t.Fatalf("CreateKey (-want +got):\n%s", d)
	}
	if d := diff(want, mustGetKey(t, s, "key_full")); d != "" {
		t.Fatalf("GetKey (-want +got):\n%s", d)
	}
	k, p, err := s.KeyByHash(t.Context(), Hash("the secret"))
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, k); d != "" {
		t.Fatalf("KeyByHash key (-want +got):\n%s", d)
	}
	wantOwner := owner
	wantOwner.CreatedAt = micro(baseTime())
	if d := diff(wantOwner, p); d != "" {
		t.Fatalf("KeyByHash principal (-want +got):\n%s", d)
	}
	got.Scopes[0] = "changed"
	if d := diff(want, mustGetKey(t, s, "key_full")); d != "" {
		t.Fatalf("the answer shares memory with the store (-want +got):\n%s", d)
	}
}

func testKeyCreateExistingOwner(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	p := mustPrincipal(t, s, "prn_owner")
	for _, id := range []string{"key_1", "key_2"} {
		k := mustKey(t, s, newKey(id, p.ID), nil)
		_, owner, err := s.KeyByHash(t.Context(), k.SecretHash)
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(p, owner); d != "" {
			t.Fatalf("owner of %s (-want +got):\n%s", id, d)
		}
	}
	_, err := s.CreateKey(t.Context(), newKey("key_orphan", "prn_absent"), nil)
	wantErr(t, "CreateKey with a missing owner", err, errs.ErrNotFound)
	if !strings.Contains(err.Error(), "prn_absent") {
		t.Errorf("error %q does not name the missing principal", err)
	}
	_, err = s.GetKey(t.Context(), "key_orphan")
	wantErr(t, "GetKey of the refused key", err, errs.ErrNotFound)
}

// testKeyCreateConflicts also checks that a refused key leaves nothing
// behind, its new owner included.
func testKeyCreateConflicts(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	p := mustPrincipal(t, s, "prn_taken")
	first := mustKey(t, s, newKey("key_taken", p.ID), nil)
	sameHash := newKey("key_other", p.ID)
	sameHash.SecretHash = first.SecretHash
	tests := []struct {
		name  string
		key   store.Key
		owner *store.Principal
	}{
		{"same id", newKey("key_taken", p.ID), nil},
		{"same secret", sameHash, nil},
		{"same secret with a new owner", func() store.Key { k := sameHash; k.PrincipalID = "prn_fresh"; return k }(),
			&store.Principal{ID: "prn_fresh", Name: "fresh", Type: "third_party_agent"}},
		{"owner id taken", func() store.Key { k := newKey("key_new", "prn_taken"); return k }(),
			&store.Principal{ID: "prn_taken", Name: "again", Type: "third_party_agent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateKey(t.Context(), tt.key, tt.owner)
			wantErr(t, "CreateKey", err, errs.ErrAlreadyExists)
			if strings.Contains(err.Error(), first.SecretHash) {
				t.Errorf("error %q shows the secret hash", err)
			}
		})
	}
	if _, err := s.GetPrincipal(t.Context(), "prn_fresh"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("the owner of a refused key was kept: %v", err)
	}
	for _, id := range []string{"key_other", "key_new"} {
		if _, err := s.GetKey(t.Context(), id); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("refused key %s was kept: %v", id, err)
		}
	}
	if d := diff(first, mustGetKey(t, s, "key_taken")); d != "" {
		t.Fatalf("the first key changed (-want +got):\n%s", d)
	}
}

func testKeyCreateInvalid(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	mustPrincipal(t, s, "prn_1")
	with := func(f func(*store.Key)) store.Key { k := newKey("key_x", "prn_1"); f(&k); return k }
	tests := []struct {
		name  string
		key   store.Key
		owner *store.Principal
	}{
		{"no id", with(func(k *store.Key) { k.ID = "" }), nil},
		{"no principal", with(func(k *store.Key) { k.PrincipalID = "" }), nil},
		{"no hash", with(func(k *store.Key) { k.SecretHash = "" }), nil},
		{"no prefix", with(func(k *store.Key) { k.Prefix = "" }), nil},
		{"negative quota", with(func(k *store.Key) { k.DailyQuota = -1 }), nil},
		{"owner mismatch", newKey("key_x", "prn_a"), &store.Principal{ID: "prn_b", Name: "b", Type: "official_bot"}},
		{"owner without name", newKey("key_x", "prn_a"), &store.Principal{ID: "prn_a", Type: "official_bot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.CreateKey(t.Context(), tt.key, tt.owner)
			wantErr(t, "CreateKey", err, errs.ErrInvalid)
		})
	}
}

func testKeyMissing(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	_, err := s.GetKey(t.Context(), "key_absent")
	wantErr(t, "GetKey", err, errs.ErrNotFound)
	_, _, err = s.KeyByHash(t.Context(), Hash("nobody's"))
	wantErr(t, "KeyByHash", err, errs.ErrNotFound)
	_, err = s.RevokeKey(t.Context(), "key_absent")
	wantErr(t, "RevokeKey", err, errs.ErrNotFound)
}

func testListKeys(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, _ := open(t, clock.Now)
	p := mustPrincipal(t, s, "prn_1")
	var want []store.Key // newest first
	for i := range 7 {
		if i%2 == 0 {
			clock.Advance(time.Millisecond)
		}
		k := mustKey(t, s, newKey(fmt.Sprintf("key_%02d", i), p.ID), nil)
		want = append([]store.Key{k}, want...)
	}
	for _, size := range []int{2, 7, 200} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			got := collect(t, size, func(pg store.Page) ([]store.Key, string, error) {
				return s.ListKeys(t.Context(), pg)
			})
			if d := diff(want, got); d != "" {
				t.Fatalf("ListKeys in pages of %d (-want +got):\n%s", size, d)
			}
		})
	}
}

func testRevokeKey(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, _ := open(t, clock.Now)
	p := mustPrincipal(t, s, "prn_1")
	k := mustKey(t, s, newKey("key_r", p.ID), nil)
	other := mustKey(t, s, newKey("key_kept", p.ID), nil)
	clock.Advance(time.Hour)
	got, err := s.RevokeKey(t.Context(), "key_r")
	if err != nil {
		t.Fatal(err)
	}
	want := k
	want.RevokedAt = micro(baseTime().Add(time.Hour))
	if d := diff(want, got); d != "" {
		t.Fatalf("RevokeKey (-want +got):\n%s", d)
	}
	clock.Advance(time.Hour)
	again, err := s.RevokeKey(t.Context(), "key_r")
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, again); d != "" {
		t.Fatalf("a second RevokeKey must keep the first time (-want +got):\n%s", d)
	}
	byHash, _, err := s.KeyByHash(t.Context(), k.SecretHash)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, byHash); d != "" {
		t.Fatalf("KeyByHash of a revoked key (-want +got):\n%s", d)
	}
	if d := diff(other, mustGetKey(t, s, "key_kept")); d != "" {
		t.Fatalf("another key changed (-want +got):\n%s", d)
	}
}

func bootstrapOwner() store.Principal {
	return store.Principal{ID: "prn_admin", Name: "admin", Type: "official_bot"}
}

func bootstrapKey(secret string) store.Key {
	return store.Key{
		ID: "key_bootstrap", Name: "bootstrap", PrincipalID: "prn_admin", Prefix: secret[:3] + "…",
		SecretHash: Hash(secret), Scopes: []string{"articles:write", "verifications:write", "inspections:run", "keys:admin"},
		Bootstrap: true,
	}
}

func testBootstrapKey(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, _ := open(t, clock.Now)
	created := micro(baseTime())

	got, err := s.UpsertBootstrapKey(t.Context(), bootstrapOwner(), bootstrapKey("first-secret"))
	if err != nil {
		t.Fatal(err)
	}
	want := bootstrapKey("first-secret")
	want.CreatedAt = created
	if d := diff(want, got); d != "" {
		t.Fatalf("first UpsertBootstrapKey (-want +got):\n%s", d)
	}
	owner, err := s.GetPrincipal(t.Context(), "prn_admin")
	if err != nil {
		t.Fatal(err)
	}
	wantOwner := bootstrapOwner()
	wantOwner.CreatedAt = created
	if d := diff(wantOwner, owner); d != "" {
		t.Fatalf("bootstrap owner (-want +got):\n%s", d)
	}

	clock.Advance(time.Hour)
	again, err := s.UpsertBootstrapKey(t.Context(), store.Principal{ID: "prn_admin", Name: "renamed", Type: "human_expert"}, bootstrapKey("first-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, again); d != "" {
		t.Fatalf("repeated UpsertBootstrapKey must change nothing (-want +got):\n%s", d)
	}
	owner, err = s.GetPrincipal(t.Context(), "prn_admin")
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(wantOwner, owner); d != "" {
		t.Fatalf("an existing owner must be kept as it is (-want +got):\n%s", d)
	}

	// A new secret replaces the old one; the old hash finds nothing.
	rotated, err := s.UpsertBootstrapKey(t.Context(), bootstrapOwner(), bootstrapKey("second-secret"))
	if err != nil {
		t.Fatal(err)
	}
	want = bootstrapKey("second-secret")
	want.CreatedAt = created
	if d := diff(want, rotated); d != "" {
		t.Fatalf("rotated UpsertBootstrapKey (-want +got):\n%s", d)
	}
	if _, _, err := s.KeyByHash(t.Context(), Hash("first-secret")); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("KeyByHash(old secret) = %v, want not found", err)
	}
	if k, _, err := s.KeyByHash(t.Context(), Hash("second-secret")); err != nil || k.ID != "key_bootstrap" {
		t.Fatalf("KeyByHash(new secret) = %v, %v", k.ID, err)
	}

	// A revoked bootstrap key comes back when it is upserted again.
	if _, err := s.RevokeKey(t.Context(), "key_bootstrap"); err != nil {
		t.Fatal(err)
	}
	back, err := s.UpsertBootstrapKey(t.Context(), bootstrapOwner(), bootstrapKey("second-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, back); d != "" {
		t.Fatalf("UpsertBootstrapKey after a revocation (-want +got):\n%s", d)
	}
	list, _, err := s.ListKeys(t.Context(), store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("got %d keys, want the one bootstrap key", len(list))
	}
}

func testBootstrapKeySecretTaken(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	p := mustPrincipal(t, s, "prn_1")
	k := newKey("key_1", p.ID)
	k.SecretHash = Hash("shared-secret")
	mustKey(t, s, k, nil)
	_, err := s.UpsertBootstrapKey(t.Context(), bootstrapOwner(), bootstrapKey("shared-secret"))
	wantErr(t, "UpsertBootstrapKey", err, errs.ErrAlreadyExists)
	if _, err := s.GetKey(t.Context(), "key_bootstrap"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("GetKey(key_bootstrap) = %v, want not found", err)
	}
}

func mustUsage(t *testing.T, s store.Store, usage ...store.AgentUsage) {
	t.Helper()
	if err := s.AddAgentUsage(t.Context(), usage); err != nil {
		t.Fatalf("AddAgentUsage: %v", err)
	}
}

func mustTotals(t *testing.T, s store.Store, limit int) []store.AgentTotals {
	t.Helper()
	got, err := s.AgentUsageTotals(t.Context(), limit)
	if err != nil {
		t.Fatalf("AgentUsageTotals: %v", err)
	}
	return got
}

func testAgentUsage(t *testing.T, open Opener) {
	clock := NewClock(baseTime()) // two seconds before midnight UTC
	s, _ := open(t, clock.Now)
	if got := mustTotals(t, s, 0); len(got) != 0 {
		t.Fatalf("totals of an empty store: %v", got)
	}
	mustUsage(t, s) // nothing to add
	mustUsage(t, s,
		store.AgentUsage{AgentID: "claude-code", Calls: 10, Errors: 1, TotalLatencyMs: 500},
		store.AgentUsage{AgentID: "cursor", Calls: 3, TotalLatencyMs: 30},
		store.AgentUsage{AgentID: "claude-code", Calls: 5, Errors: 1, TotalLatencyMs: 100}, // same agent twice in one call
	)
	mustUsage(t, s, store.AgentUsage{AgentID: "cursor", Calls: 1, Errors: 1, TotalLatencyMs: 10})
	clock.Advance(3 * time.Second) // the next UTC day
	mustUsage(t, s,
		store.AgentUsage{AgentID: "cursor", Calls: 20, Errors: 2, TotalLatencyMs: 200},
		store.AgentUsage{AgentID: "aider", Calls: 4, TotalLatencyMs: 4},
		store.AgentUsage{AgentID: "zed", Calls: 4},
	)
	want := []store.AgentTotals{
		{AgentID: "cursor", Calls: 24, Errors: 3, TotalLatencyMs: 240, Days: 2},
		{AgentID: "claude-code", Calls: 15, Errors: 2, TotalLatencyMs: 600, Days: 1},
		{AgentID: "aider", Calls: 4, TotalLatencyMs: 4, Days: 1},
		{AgentID: "zed", Calls: 4, Days: 1},
	}
	if d := diff(want, mustTotals(t, s, 0)); d != "" {
		t.Fatalf("AgentUsageTotals (-want +got):\n%s", d)
	}
	if d := diff(want[:2], mustTotals(t, s, 2)); d != "" {
		t.Fatalf("AgentUsageTotals(limit 2) (-want +got):\n%s", d)
	}
}

// testAgentUsageMany flushes more agents at once than one statement takes,
// twice, so that the second flush adds to every row of the first.
func testAgentUsageMany(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	const agents = 1234
	usage := make([]store.AgentUsage, agents)
	for i := range usage {
		usage[i] = store.AgentUsage{AgentID: fmt.Sprintf("agent-%04d", i), Calls: int64(i + 1), Errors: 1, TotalLatencyMs: 2}
	}
	mustUsage(t, s, usage...)
	mustUsage(t, s, usage...)
	got := mustTotals(t, s, 0)
	if len(got) != agents {
		t.Fatalf("got totals of %d agents, want %d", len(got), agents)
	}
	for i, tot := range got {
		n := agents - i // most calls first
		want := store.AgentTotals{AgentID: fmt.Sprintf("agent-%04d", n-1), Calls: int64(2 * n), Errors: 2, TotalLatencyMs: 4, Days: 1}
		if d := diff(want, tot); d != "" {
			t.Fatalf("totals %d (-want +got):\n%s", i, d)
		}
	}
}

func testAgentUsageInvalid(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	tests := []struct {
		name  string
		usage []store.AgentUsage
	}{
		{"no agent", []store.AgentUsage{{Calls: 1}}},
		{"negative calls", []store.AgentUsage{{AgentID: "a", Calls: 1}, {AgentID: "b", Calls: -1}}},
		{"negative errors", []store.AgentUsage{{AgentID: "a", Errors: -1}}},
		{"negative latency", []store.AgentUsage{{AgentID: "a", TotalLatencyMs: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := s.AddAgentUsage(t.Context(), tt.usage)
			wantErr(t, "AddAgentUsage", err, errs.ErrInvalid)
		})
	}
	t.Cleanup(func() {
		// Cleanup runs after the parallel subtests: none may have written.
		got, err := s.AgentUsageTotals(context.Background(), 0)
		if err != nil || len(got) != 0 {
			t.Errorf("refused usage was written: %v, %v", got, err)
		}
	})
}

// testAgentUsageConcurrent has writers add to the same rows in opposite
// orders; no addition may be lost, and PostgreSQL must not deadlock.
func testAgentUsageConcurrent(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	agents := []string{"a", "b", "c", "d"}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for range 10 {
				var usage []store.AgentUsage
				for i := range agents {
					id := agents[i]
					if w%2 == 1 {
						id = agents[len(agents)-1-i]
					}
					usage = append(usage, store.AgentUsage{AgentID: id, Calls: 2, Errors: 1, TotalLatencyMs: 3})
				}
				if err := s.AddAgentUsage(t.Context(), usage); err != nil {
					t.Errorf("AddAgentUsage: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	var want []store.AgentTotals
	for _, id := range agents {
		want = append(want, store.AgentTotals{AgentID: id, Calls: 160, Errors: 80, TotalLatencyMs: 240, Days: 1})
	}
	if d := diff(want, mustTotals(t, s, 0)); d != "" {
		t.Fatalf("AgentUsageTotals (-want +got):\n%s", d)
	}
}

func testPersistence(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, reopen := open(t, clock.Now)
	p := mustPrincipal(t, s, "prn_1")
	k := mustKey(t, s, newKey("key_1", p.ID), nil)
	if _, err := s.UpsertBootstrapKey(t.Context(), bootstrapOwner(), bootstrapKey("admin-secret")); err != nil {
		t.Fatal(err)
	}
	mustUsage(t, s, store.AgentUsage{AgentID: "a", Calls: 1})
	keys, _, err := s.ListKeys(t.Context(), store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	principals, _, err := s.ListPrincipals(t.Context(), store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = reopen() // migrations run again and find nothing to do
	gotKeys, _, err := s.ListKeys(t.Context(), store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(keys, gotKeys); d != "" {
		t.Fatalf("keys after reopen (-want +got):\n%s", d)
	}
	gotPrincipals, _, err := s.ListPrincipals(t.Context(), store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(principals, gotPrincipals); d != "" {
		t.Fatalf("principals after reopen (-want +got):\n%s", d)
	}
	if d := diff(k, mustGetKey(t, s, "key_1")); d != "" {
		t.Fatalf("key after reopen (-want +got):\n%s", d)
	}
	if d := diff([]store.AgentTotals{{AgentID: "a", Calls: 1, Days: 1}}, mustTotals(t, s, 0)); d != "" {
		t.Fatalf("usage after reopen (-want +got):\n%s", d)
	}
}

func testPing(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}
