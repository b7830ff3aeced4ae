// Package storetest is the contract every store.Store engine meets. Each
// engine's tests call Run with a way to make fresh databases, so SQLite and
// PostgreSQL are held to exactly the same behaviour.
package storetest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/article/internal/store"
	"buzhou.dev/platform/errs"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// Run runs the contract suite; every subtest runs in parallel on a store of
// its own.
//
// open returns a fresh, empty store and arranges for it to be closed when t
// ends. reopen closes s, opens the same database again and arranges for the
// new store to be closed when t ends; with nil reopen the persistence test is
// skipped.
func Run(t *testing.T, open func(t *testing.T) store.Store, reopen func(t *testing.T, s store.Store) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateGet", testCreateGet},
		{"GetPrefersID", testGetPrefersID},
		{"GetMissing", testGetMissing},
		{"CreateDuplicate", testCreateDuplicate},
		{"CreateInvalid", testCreateInvalid},
		{"List", testList},
		{"ListPageSize", testListPageSize},
		{"ListBadToken", testListBadToken},
		{"ListTokenBindsFilters", testListTokenBindsFilters},
		{"ListByteBudget", testListByteBudget},
		{"ListBigArticles", testListBigArticles},
		{"Update", testUpdate},
		{"UpdateStale", testUpdateStale},
		{"UpdateMutateError", testUpdateMutateError},
		{"UpdateMissing", testUpdateMissing},
		{"UpdateKeepsIdentity", testUpdateKeepsIdentity},
		{"ConcurrentUpdatesChecked", testConcurrentUpdatesChecked},
		{"ConcurrentUpdatesUnchecked", testConcurrentUpdatesUnchecked},
		{"ConcurrentCreates", testConcurrentCreates},
		{"ChangeFeed", testChangeFeed},
		{"ChangeCausesAndPaths", testChangeCausesAndPaths},
		{"RelatedUpdatesDoNotConflict", testRelatedUpdatesDoNotConflict},
		{"Notify", testNotify},
		{"Stats", testStats},
		{"Ping", testPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
	t.Run("Persistence", func(t *testing.T) {
		t.Parallel()
		if reopen == nil {
			t.Skip("the engine cannot reopen a database")
		}
		testPersistence(t, open(t), reopen)
	})
}

// baseTime has nanoseconds on purpose: the stored article must come back
// exactly, even where the sort columns keep only microseconds.
func baseTime() time.Time {
	return time.Date(2026, 3, 14, 9, 26, 53, 589_793_238, time.UTC)
}

// newArticle fills every kind of field so that a lossy round trip shows.
func newArticle(id, slug string, created time.Time) *articlev1.Article {
	ts := timestamppb.New(created)
	return &articlev1.Article{
		Id:      id,
		Slug:    slug,
		Title:   &articlev1.LocalizedText{En: "Fix " + id, Zh: "修复 " + id},
		Summary: &articlev1.LocalizedText{En: "Summary of " + id},
		Content: &articlev1.LocalizedText{En: "# Body\n\nSteps.", Zh: "# 正文"},
		Domain:  "agent",
		Tags:    []string{"go", "sqlite"},
		CodeBlocks: []*articlev1.CodeBlock{
			{Id: "cb1", Language: "bash", Code: "echo hi", Description: "greets", Runnable: true},
		},
		QaPairs: []*articlev1.QaPair{{
			Question: &articlev1.LocalizedText{En: "Why?"},
			Answer:   &articlev1.LocalizedText{En: "Because."},
		}},
		References:         []*articlev1.Reference{{Title: "Docs", Url: "https://example.com/docs"}},
		ApplicableVersions: []string{"openai>=1.0"},
		RuntimeEnv:         []*articlev1.RuntimeEnv{{Name: "python", Version: "3.11"}},
		RiskLevel:          "low",
		ConfidenceScore:    80,
		VerificationStatus: "pending",
		Status:             "published",
		Author:             "tester",
		CreatedAt:          ts,
		UpdatedAt:          ts,
		PublishedAt:        ts,
		Revision:           1,
		RecentVerifications: []*articlev1.VerificationRecordSummary{{
			Id:          "ver_1",
			Verifier:    &articlev1.VerifierRef{Id: "bot", Name: "Bot", Type: "official_bot"},
			Result:      "passed",
			Environment: &articlev1.VerificationEnvironment{Os: "Linux", Runtime: "Python", RuntimeVersion: "3.11"},
			VerifiedAt:  ts,
		}},
		VerificationCount: 1,
	}
}

// edit is the cause of the suite's updates that are not about causes.
const edit = articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT

func mustCreate(t *testing.T, s store.Store, a *articlev1.Article) *articlev1.Article {
	t.Helper()
	got, err := s.Create(t.Context(), a)
	if err != nil {
		t.Fatalf("Create(%s): %v", a.GetId(), err)
	}
	return got
}

func mustGet(t *testing.T, s store.Store, idOrSlug string) *articlev1.Article {
	t.Helper()
	got, err := s.Get(t.Context(), idOrSlug)
	if err != nil {
		t.Fatalf("Get(%s): %v", idOrSlug, err)
	}
	return got
}

func mustUpdate(t *testing.T, s store.Store, id string, expected int32, mutate func(*articlev1.Article) error) *articlev1.Article {
	t.Helper()
	return mustUpdateAs(t, s, id, expected, edit, mutate)
}

// mustUpdateAs is mustUpdate with a cause of its own.
func mustUpdateAs(t *testing.T, s store.Store, id string, expected int32, cause articlev1.ChangeCause, mutate func(*articlev1.Article) error) *articlev1.Article {
	t.Helper()
	got, err := s.Update(t.Context(), id, expected, cause, mutate)
	if err != nil {
		t.Fatalf("Update(%s): %v", id, err)
	}
	return got
}

func mustHead(t *testing.T, s store.Store) int64 {
	t.Helper()
	head, err := s.HeadRevision(t.Context())
	if err != nil {
		t.Fatalf("HeadRevision: %v", err)
	}
	return head
}

// allChanges pages through the whole feed in small steps, which also
// exercises limit and after.
func allChanges(t *testing.T, s store.Store) []*articlev1.ArticleChange {
	t.Helper()
	var out []*articlev1.ArticleChange
	var after int64
	for {
		page, err := s.Changes(t.Context(), after, 7)
		if err != nil {
			t.Fatalf("Changes(%d, 7): %v", after, err)
		}
		if len(page) > 7 {
			t.Fatalf("Changes(%d, 7) returned %d changes", after, len(page))
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].GetRevision()
	}
}

// checkGapFree fails unless the feed's revisions are exactly 1..len.
func checkGapFree(t *testing.T, changes []*articlev1.ArticleChange) {
	t.Helper()
	for i, c := range changes {
		if c.GetRevision() != int64(i+1) {
			t.Fatalf("change %d has feed revision %d, want %d (revisions must be gap-free and in order)", i, c.GetRevision(), i+1)
		}
	}
}

func wantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got error %v, want one wrapping %q", what, err, sentinel)
	}
}

func diff(want, got any) string {
	return cmp.Diff(want, got, protocmp.Transform())
}

// window is a stretch of wall time; store-made times must fall inside it.
type window struct{ from, to time.Time }

func startWindow() window { return window{from: time.Now().Truncate(time.Microsecond)} }

func (w window) end() window { w.to = time.Now(); return w }

func (w window) check(t *testing.T, what string, ts *timestamppb.Timestamp) {
	t.Helper()
	if ts == nil {
		t.Fatalf("%s is not set", what)
	}
	got := ts.AsTime()
	if got.Before(w.from) || got.After(w.to) {
		t.Fatalf("%s = %v, want between %v and %v", what, got, w.from, w.to)
	}
}

func testCreateGet(t *testing.T, s store.Store) {
	in := newArticle("art_cg", "create-get", baseTime())
	keep := proto.Clone(in)
	got := mustCreate(t, s, in)
	if d := diff(keep, got); d != "" {
		t.Fatalf("Create returned another article (-want +got):\n%s", d)
	}
	if d := diff(keep, in); d != "" {
		t.Fatalf("Create changed the caller's article (-want +got):\n%s", d)
	}
	for _, key := range []string{"art_cg", "create-get"} {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			if d := diff(keep, mustGet(t, s, key)); d != "" {
				t.Fatalf("Get(%s) (-want +got):\n%s", key, d)
			}
		})
	}
}

// An id that is also another article's slug names the article with that id.
func testGetPrefersID(t *testing.T, s store.Store) {
	byID := mustCreate(t, s, newArticle("alpha", "first-slug", baseTime()))
	mustCreate(t, s, newArticle("art_other", "alpha", baseTime()))
	if d := diff(byID, mustGet(t, s, "alpha")); d != "" {
		t.Fatalf("Get(alpha) must find the article whose id is alpha (-want +got):\n%s", d)
	}
}

func testGetMissing(t *testing.T, s store.Store) {
	mustCreate(t, s, newArticle("art_1", "present", baseTime()))
	_, err := s.Get(t.Context(), "absent")
	wantErr(t, "Get(absent)", err, errs.ErrNotFound)
	if !strings.Contains(err.Error(), "absent") {
		t.Errorf("error %q does not name the missing article", err)
	}
}

func testCreateDuplicate(t *testing.T, s store.Store) {
	first := mustCreate(t, s, newArticle("art_first", "first", baseTime()))
	tests := []struct {
		name     string
		in       *articlev1.Article
		mentions []string
	}{
		{"same id", newArticle("art_first", "another", baseTime()), []string{"art_first"}},
		{"same slug", newArticle("art_second", "first", baseTime()), []string{`"first"`, "art_first"}},
		{"same id and slug", newArticle("art_first", "first", baseTime()), []string{"art_first"}},
	}
	// The group returns once its parallel cases are done.
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				_, err := s.Create(t.Context(), tt.in)
				wantErr(t, "Create", err, errs.ErrAlreadyExists)
				for _, m := range tt.mentions {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not mention %s", err, m)
					}
				}
			})
		}
	})
	// Nothing of the failed creates may remain.
	if head := mustHead(t, s); head != 1 {
		t.Errorf("HeadRevision = %d after failed creates, want 1", head)
	}
	if _, err := s.Get(t.Context(), "art_second"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Get(art_second) = %v, want not found", err)
	}
	if d := diff(first, mustGet(t, s, "art_first")); d != "" {
		t.Errorf("the existing article changed (-want +got):\n%s", d)
	}
}

func testCreateInvalid(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		in   *articlev1.Article
	}{
		{"nil", nil},
		{"no id", newArticle("", "slug", baseTime())},
		{"no slug", newArticle("art_1", "", baseTime())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.Create(t.Context(), tt.in)
			wantErr(t, "Create", err, errs.ErrInvalid)
		})
	}
}

// listFixture stores seven articles: pairs share created_at so the id breaks
// ties, domains alternate and statuses cycle. It returns the ids in the order
// List must give them.
func listFixture(t *testing.T, s store.Store) (ids []string, domain map[string]string, status map[string]string) {
	t.Helper()
	domains := []string{"agent", "mcp"}
	statuses := []string{"published", "draft", "deprecated"}
	domain, status = map[string]string{}, map[string]string{}
	for i := range 7 {
		id := fmt.Sprintf("art_list_%d", i)
		a := newArticle(id, fmt.Sprintf("list-%d", i), baseTime().Add(time.Duration(i/2)*time.Minute))
		a.Domain = domains[i%2]
		a.Status = statuses[i%3]
		mustCreate(t, s, a)
		domain[id], status[id] = a.Domain, a.Status
	}
	// Newest first; within one created_at, higher id first.
	return []string{"art_list_6", "art_list_5", "art_list_4", "art_list_3", "art_list_2", "art_list_1", "art_list_0"}, domain, status
}

// listAll pages through q to the end and returns the ids and the number of
// pages. Every page keeps to the page size and, but for a page of one, to
// the byte budget: the binary form of its articles, which gRPC carries, is
// smaller than the stored JSON the budget counts.
func listAll(t *testing.T, s store.Store, q store.ListQuery) ([]string, int) {
	t.Helper()
	budget := q.MaxBytes
	if budget <= 0 {
		budget = store.DefaultPageBytes
	}
	var ids []string
	pages := 0
	for {
		got, next, err := s.List(t.Context(), q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		pages++
		if q.PageSize > 0 && len(got) > q.PageSize {
			t.Fatalf("List(%+v) returned %d articles", q, len(got))
		}
		if len(got) == 0 && next != "" {
			t.Fatalf("page %d is empty and has a next page", pages)
		}
		size := 0
		for _, a := range got {
			size += proto.Size(a)
			ids = append(ids, a.GetId())
		}
		if len(got) > 1 && size > budget {
			t.Fatalf("page %d holds %d articles of %d bytes, over the budget of %d", pages, len(got), size, budget)
		}
		if next == "" {
			return ids, pages
		}
		if pages > 100 {
			t.Fatalf("List never ends")
		}
		q.PageToken = next
	}
}

func testList(t *testing.T, s store.Store) {
	order, domain, status := listFixture(t, s)
	keep := func(ok func(id string) bool) []string {
		var out []string
		for _, id := range order {
			if ok(id) {
				out = append(out, id)
			}
		}
		return out
	}
	tests := []struct {
		name      string
		q         store.ListQuery
		want      []string
		wantPages int
	}{
		{"pages of 3", store.ListQuery{PageSize: 3}, order, 3},
		{"pages of 2", store.ListQuery{PageSize: 2}, order, 4},
		{"pages of 1", store.ListQuery{PageSize: 1}, order, 7},
		{"one page", store.ListQuery{PageSize: 7}, order, 1},
		{"domain", store.ListQuery{PageSize: 2, Domain: "mcp"},
			keep(func(id string) bool { return domain[id] == "mcp" }), 2},
		{"status", store.ListQuery{PageSize: 2, Statuses: []string{"published"}},
			keep(func(id string) bool { return status[id] == "published" }), 2},
		{"statuses", store.ListQuery{PageSize: 2, Statuses: []string{"published", "deprecated"}},
			keep(func(id string) bool { return status[id] != "draft" }), 3},
		{"domain and status", store.ListQuery{PageSize: 1, Domain: "agent", Statuses: []string{"published", "draft"}},
			keep(func(id string) bool { return domain[id] == "agent" && status[id] != "deprecated" }), 3},
		{"no match", store.ListQuery{Domain: "tools_github"}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, pages := listAll(t, s, tt.q)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			if pages != tt.wantPages {
				t.Errorf("got %d pages, want %d", pages, tt.wantPages)
			}
		})
	}
	t.Run("articles are whole", func(t *testing.T) {
		t.Parallel()
		got, _, err := s.List(t.Context(), store.ListQuery{PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("got %d articles, want 1", len(got))
		}
		if d := diff(mustGet(t, s, got[0].GetId()), got[0]); d != "" {
			t.Errorf("List and Get disagree (-get +list):\n%s", d)
		}
	})
}

func testListPageSize(t *testing.T, s store.Store) {
	for i := range 23 {
		mustCreate(t, s, newArticle(fmt.Sprintf("art_%02d", i), fmt.Sprintf("size-%02d", i), baseTime().Add(time.Duration(i)*time.Second)))
	}
	tests := []struct {
		name     string
		size     int
		wantLen  int
		wantMore bool
	}{
		{"default", 0, 20, true},
		{"negative is default", -5, 20, true},
		{"over the maximum is clamped", 1000, 23, false},
		{"exact", 23, 23, false},
		{"one", 1, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, next, err := s.List(t.Context(), store.ListQuery{PageSize: tt.size})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantLen || (next != "") != tt.wantMore {
				t.Errorf("List(PageSize %d) = %d articles, next %q; want %d, more %v", tt.size, len(got), next, tt.wantLen, tt.wantMore)
			}
		})
	}
}

func testListBadToken(t *testing.T, s store.Store) {
	mustCreate(t, s, newArticle("art_1", "one", baseTime()))
	b64 := base64.RawURLEncoding.EncodeToString
	for _, tok := range []string{"!!!", "not a token", b64([]byte("123")), b64([]byte("abc.art_1")), b64([]byte("123.")), "eyJ9fQ=="} {
		t.Run(tok, func(t *testing.T) {
			t.Parallel()
			_, _, err := s.List(t.Context(), store.ListQuery{PageToken: tok})
			wantErr(t, "List", err, errs.ErrInvalid)
			if !strings.Contains(err.Error(), "page token") {
				t.Errorf("error %q does not name the page token", err)
			}
		})
	}
}

// A page token is good only for the filters it was made with (AIP-158): with
// others it would skip or repeat rows without a word. The page size may
// change from page to page.
func testListTokenBindsFilters(t *testing.T, s store.Store) {
	order, domain, status := listFixture(t, s)
	first := store.ListQuery{PageSize: 1, Domain: "mcp", Statuses: []string{"published", "deprecated"}}
	page, next, err := s.List(t.Context(), first)
	if err != nil || len(page) != 1 || next == "" {
		t.Fatalf("first page: %d articles, next %q, %v", len(page), next, err)
	}
	tests := []struct {
		name string
		q    store.ListQuery
		ok   bool
	}{
		{"same filters", first, true},
		{"another page size", store.ListQuery{PageSize: 5, Domain: "mcp", Statuses: []string{"published", "deprecated"}}, true},
		{"statuses in another order", store.ListQuery{PageSize: 1, Domain: "mcp", Statuses: []string{"deprecated", "published"}}, true},
		{"another domain", store.ListQuery{PageSize: 1, Domain: "agent", Statuses: []string{"published", "deprecated"}}, false},
		{"no domain", store.ListQuery{PageSize: 1, Statuses: []string{"published", "deprecated"}}, false},
		{"other statuses", store.ListQuery{PageSize: 1, Domain: "mcp", Statuses: []string{"published"}}, false},
		{"no statuses", store.ListQuery{PageSize: 1, Domain: "mcp"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := tt.q
			q.PageToken = next
			got, _, err := s.List(t.Context(), q)
			if !tt.ok {
				wantErr(t, "List with a token of other filters", err, errs.ErrInvalid)
				for _, m := range []string{"page token", "other filters", "restart paging without pageToken"} {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not say %q", err, m)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			// The page goes on right after the first one.
			var want []string
			for _, id := range order {
				if domain[id] == "mcp" && status[id] != "draft" && id != page[0].GetId() {
					want = append(want, id)
				}
			}
			want = want[:min(len(want), q.PageSize)]
			var ids []string
			for _, a := range got {
				ids = append(ids, a.GetId())
			}
			if d := cmp.Diff(want, ids); d != "" {
				t.Errorf("ids after the token (-want +got):\n%s", d)
			}
		})
	}
}

// A page ends early at its byte budget, always holds at least one article,
// and paging still visits every article once.
func testListByteBudget(t *testing.T, s store.Store) {
	order, _, _ := listFixture(t, s)
	b, err := protojson.Marshal(mustGet(t, s, order[0]))
	if err != nil {
		t.Fatal(err)
	}
	one := len(b) // the stored size of each, give or take a few bytes
	tests := []struct {
		name      string
		maxBytes  int
		wantPages int
	}{
		{"two and a half articles", one*5/2 + 10, 4},
		{"under one article", one / 2, 7},
		{"one byte", 1, 7},
		{"all of them", 100 * one, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ids, pages := listAll(t, s, store.ListQuery{PageSize: 7, MaxBytes: tt.maxBytes})
			if d := cmp.Diff(order, ids); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			if pages != tt.wantPages {
				t.Errorf("got %d pages, want %d", pages, tt.wantPages)
			}
		})
	}
}

// testListBigArticles is the list that used to fail: 40 published articles
// near the content limit in both languages do not fit one answer; with the
// default budget pages end early and still cover them all.
func testListBigArticles(t *testing.T, s store.Store) {
	if testing.Short() {
		t.Skip("writes 20 MB")
	}
	const n = 40
	var want []string
	for i := range n {
		id := fmt.Sprintf("art_big_%02d", i)
		a := newArticle(id, fmt.Sprintf("big-%02d", i), baseTime().Add(time.Duration(i)*time.Second))
		a.Content = &articlev1.LocalizedText{
			En: strings.Repeat("Big body. ", 25<<10), // 250 KiB
			Zh: strings.Repeat("大的正文。", 17<<10),      // 255 KiB
		}
		mustCreate(t, s, a)
		want = append([]string{id}, want...)
	}
	ids, pages := listAll(t, s, store.ListQuery{PageSize: n, Statuses: []string{"published"}})
	if d := cmp.Diff(want, ids); d != "" {
		t.Errorf("ids (-want +got):\n%s", d)
	}
	if pages < 5 {
		t.Errorf("got %d pages of 20 MB of articles, want at least 5 under the 4 MiB budget", pages)
	}
}

func testUpdate(t *testing.T, s store.Store) {
	created := mustCreate(t, s, newArticle("art_up", "update-me", baseTime()))
	tests := []struct {
		name     string
		expected int32
	}{
		{"checked", 1},
		{"unchecked", 0},
		{"checked again", 3},
	}
	want := proto.Clone(created).(*articlev1.Article)
	// The steps run in order, each on the state the one before left.
	for i, tt := range tests {
		tag := fmt.Sprintf("tag%d", i)
		w := startWindow()
		got := mustUpdate(t, s, "art_up", tt.expected, func(a *articlev1.Article) error {
			a.Tags = append(a.Tags, tag)
			a.Title.En = "Title " + tag
			return nil
		})
		w = w.end()
		w.check(t, tt.name+": updated_at", got.GetUpdatedAt())
		want.Tags = append(want.Tags, tag)
		want.Title.En = "Title " + tag
		want.Revision = int32(i + 2)
		want.UpdatedAt = got.GetUpdatedAt()
		if d := diff(want, got); d != "" {
			t.Fatalf("%s: Update returned (-want +got):\n%s", tt.name, d)
		}
		if d := diff(want, mustGet(t, s, "art_up")); d != "" {
			t.Fatalf("%s: Get after Update (-want +got):\n%s", tt.name, d)
		}
	}
	if head := mustHead(t, s); head != 4 {
		t.Fatalf("HeadRevision = %d, want 4", head)
	}
}

func testUpdateStale(t *testing.T, s store.Store) {
	mustCreate(t, s, newArticle("art_st", "stale", baseTime()))
	before := mustUpdate(t, s, "art_st", 1, func(a *articlev1.Article) error { a.Tags = nil; return nil })
	t.Run("cases", func(t *testing.T) {
		for _, expected := range []int32{1, 3, -1} {
			t.Run(fmt.Sprint(expected), func(t *testing.T) {
				t.Parallel()
				called := false
				_, err := s.Update(t.Context(), "art_st", expected, edit, func(a *articlev1.Article) error {
					called = true
					a.Status = "draft"
					return nil
				})
				wantErr(t, "Update", err, errs.ErrFailedPrecondition)
				if called {
					t.Error("mutate was called despite the stale revision")
				}
				if msg := err.Error(); !strings.Contains(msg, "revision 2") || !strings.Contains(msg, fmt.Sprint(expected)) {
					t.Errorf("error %q does not give both revisions", msg)
				}
			})
		}
	})
	if d := diff(before, mustGet(t, s, "art_st")); d != "" {
		t.Errorf("a stale update was written (-want +got):\n%s", d)
	}
	if head := mustHead(t, s); head != 2 {
		t.Errorf("HeadRevision = %d, want 2", head)
	}
}

func testUpdateMutateError(t *testing.T, s store.Store) {
	before := mustCreate(t, s, newArticle("art_me", "mutate-error", baseTime()))
	boom := errors.New("boom: the title is bad")
	_, err := s.Update(t.Context(), "art_me", 1, edit, func(a *articlev1.Article) error {
		a.Status = "archived" // changed, but must not be written
		a.Tags = append(a.Tags, "lost")
		return boom
	})
	if err != boom { // the contract is "unchanged", not merely "wrapped"
		t.Fatalf("Update returned %v, want mutate's own error unchanged", err)
	}
	if d := diff(before, mustGet(t, s, "art_me")); d != "" {
		t.Fatalf("a failed mutate was written (-want +got):\n%s", d)
	}
	if head := mustHead(t, s); head != 1 {
		t.Fatalf("HeadRevision = %d, want 1", head)
	}
}

func testUpdateMissing(t *testing.T, s store.Store) {
	mustCreate(t, s, newArticle("art_1", "by-slug", baseTime()))
	// Writes name articles by id only.
	for _, id := range []string{"art_none", "by-slug"} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			_, err := s.Update(t.Context(), id, 0, edit, func(*articlev1.Article) error {
				t.Error("mutate called for a missing article")
				return nil
			})
			wantErr(t, "Update", err, errs.ErrNotFound)
		})
	}
}

func testUpdateKeepsIdentity(t *testing.T, s store.Store) {
	before := mustCreate(t, s, newArticle("art_id", "identity", baseTime()))
	tests := []struct {
		name   string
		mutate func(*articlev1.Article)
	}{
		{"id", func(a *articlev1.Article) { a.Id = "art_new" }},
		{"slug", func(a *articlev1.Article) { a.Slug = "renamed" }},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				_, err := s.Update(t.Context(), "art_id", 0, edit, func(a *articlev1.Article) error { tt.mutate(a); return nil })
				wantErr(t, "Update", err, errs.ErrInvalid)
			})
		}
	})
	if d := diff(before, mustGet(t, s, "art_id")); d != "" {
		t.Errorf("the article changed (-want +got):\n%s", d)
	}
	if head := mustHead(t, s); head != 1 {
		t.Errorf("HeadRevision = %d, want 1", head)
	}
}

const (
	writers         = 8
	updatesPerWrite = 10
)

// testConcurrentUpdatesChecked is the read-modify-write a client does with
// If-Match: every writer retries on a stale revision until its tag sticks.
func testConcurrentUpdatesChecked(t *testing.T, s store.Store) {
	mustCreate(t, s, &articlev1.Article{Id: "art_cc", Slug: "concurrent", Status: "draft", Revision: 1})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range updatesPerWrite {
				tag := fmt.Sprintf("w%d-%d", w, i)
				for {
					a, err := s.Get(t.Context(), "art_cc")
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					_, err = s.Update(t.Context(), "art_cc", a.GetRevision(), edit, func(a *articlev1.Article) error {
						a.Tags = append(a.Tags, tag)
						return nil
					})
					if errors.Is(err, errs.ErrFailedPrecondition) {
						continue
					}
					if err != nil {
						t.Errorf("Update: %v", err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	checkConcurrentResult(t, s, "art_cc")
}

// testConcurrentUpdatesUnchecked shows Update itself is atomic: without a
// revision check no writer's change is lost either.
func testConcurrentUpdatesUnchecked(t *testing.T, s store.Store) {
	mustCreate(t, s, &articlev1.Article{Id: "art_cu", Slug: "concurrent", Status: "draft", Revision: 1})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range updatesPerWrite {
				tag := fmt.Sprintf("w%d-%d", w, i)
				if _, err := s.Update(t.Context(), "art_cu", 0, edit, func(a *articlev1.Article) error {
					a.Tags = append(a.Tags, tag)
					return nil
				}); err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	checkConcurrentResult(t, s, "art_cu")
}

func checkConcurrentResult(t *testing.T, s store.Store, id string) {
	t.Helper()
	if t.Failed() {
		return
	}
	var want []string
	for w := range writers {
		for i := range updatesPerWrite {
			want = append(want, fmt.Sprintf("w%d-%d", w, i))
		}
	}
	got := mustGet(t, s, id)
	tags := slices.Sorted(slices.Values(got.GetTags()))
	slices.Sort(want)
	if d := cmp.Diff(want, tags); d != "" {
		t.Fatalf("tags (-want +got):\n%s", d)
	}
	if got.GetRevision() != writers*updatesPerWrite+1 {
		t.Fatalf("revision = %d, want %d", got.GetRevision(), writers*updatesPerWrite+1)
	}
	changes := allChanges(t, s)
	checkGapFree(t, changes)
	if len(changes) != writers*updatesPerWrite+1 {
		t.Fatalf("got %d changes, want %d", len(changes), writers*updatesPerWrite+1)
	}
	// Each snapshot is one tag longer than the one before: the feed is in
	// commit order.
	for i, c := range changes {
		if n := len(c.GetArticle().GetTags()); n != i {
			t.Fatalf("change %d holds %d tags, want %d", c.GetRevision(), n, i)
		}
		if r := c.GetArticle().GetRevision(); r != int32(i+1) {
			t.Fatalf("change %d holds article revision %d, want %d", c.GetRevision(), r, i+1)
		}
	}
}

func testConcurrentCreates(t *testing.T, s store.Store) {
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range 5 {
				id := fmt.Sprintf("art_%d_%d", w, i)
				if _, err := s.Create(t.Context(), newArticle(id, id, baseTime())); err != nil {
					t.Errorf("Create: %v", err)
				}
				// Every writer also tries one slug all the others want.
				if i == 0 {
					_, err := s.Create(t.Context(), newArticle(fmt.Sprintf("art_race_%d", w), "contested", baseTime()))
					if err != nil && !errors.Is(err, errs.ErrAlreadyExists) {
						t.Errorf("Create(contested): %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	changes := allChanges(t, s)
	checkGapFree(t, changes)
	if want := writers*5 + 1; len(changes) != want {
		t.Fatalf("got %d changes, want %d", len(changes), want)
	}
}

func testChangeFeed(t *testing.T, s store.Store) {
	if head := mustHead(t, s); head != 0 {
		t.Fatalf("HeadRevision of an empty store = %d, want 0", head)
	}
	if got, err := s.Changes(t.Context(), 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("Changes of an empty store = %v, %v; want none", got, err)
	}

	w := startWindow()
	a1 := mustCreate(t, s, newArticle("art_a", "a", baseTime()))
	b1 := mustCreate(t, s, newArticle("art_b", "b", baseTime()))
	a2 := mustUpdate(t, s, "art_a", 1, func(a *articlev1.Article) error { a.Tags = []string{"changed"}; return nil })
	b2 := mustUpdate(t, s, "art_b", 1, func(a *articlev1.Article) error { a.Status = "archived"; return nil })
	a3 := mustUpdate(t, s, "art_a", 2, func(a *articlev1.Article) error { a.Status = "deprecated"; return nil })
	w = w.end()

	upsert, tomb := articlev1.ChangeKind_CHANGE_KIND_UPSERT, articlev1.ChangeKind_CHANGE_KIND_TOMBSTONE
	create := articlev1.ChangeCause_CHANGE_CAUSE_CREATE
	want := []*articlev1.ArticleChange{
		{Revision: 1, Kind: upsert, ArticleId: "art_a", Article: a1, Cause: create},
		{Revision: 2, Kind: upsert, ArticleId: "art_b", Article: b1, Cause: create},
		{Revision: 3, Kind: upsert, ArticleId: "art_a", Article: a2, Cause: edit, ChangedPaths: []string{"tags"}},
		{Revision: 4, Kind: tomb, ArticleId: "art_b", Cause: edit, ChangedPaths: []string{"status"}},
		{Revision: 5, Kind: upsert, ArticleId: "art_a", Article: a3, Cause: edit, ChangedPaths: []string{"status"}},
	}
	got := allChanges(t, s)
	ignoreTime := protocmp.IgnoreFields(&articlev1.ArticleChange{}, "change_time")
	if d := cmp.Diff(want, got, protocmp.Transform(), ignoreTime); d != "" {
		t.Fatalf("Changes (-want +got):\n%s", d)
	}
	var last time.Time
	for _, c := range got {
		w.check(t, fmt.Sprintf("change %d change_time", c.GetRevision()), c.GetChangeTime())
		if ct := c.GetChangeTime().AsTime(); ct.Before(last) {
			t.Fatalf("change %d is older than the change before it", c.GetRevision())
		} else {
			last = ct
		}
	}
	// An update's feed entry carries the time the store stamped on it.
	for _, u := range []struct {
		rev int64
		a   *articlev1.Article
	}{{3, a2}, {4, b2}, {5, a3}} {
		if d := diff(u.a.GetUpdatedAt(), got[u.rev-1].GetChangeTime()); d != "" {
			t.Errorf("change %d change_time differs from updated_at (-want +got):\n%s", u.rev, d)
		}
	}
	if head := mustHead(t, s); head != 5 {
		t.Fatalf("HeadRevision = %d, want 5", head)
	}
	// Archiving hides nothing from Get; visibility is the service's business.
	if d := diff(b2, mustGet(t, s, "art_b")); d != "" {
		t.Fatalf("Get(archived) (-want +got):\n%s", d)
	}

	tests := []struct {
		after    int64
		limit    int
		wantRevs []int64
	}{
		{0, 2, []int64{1, 2}},
		{2, 100, []int64{3, 4, 5}},
		{3, 1, []int64{4}},
		{4, 0, []int64{5}}, // 0 is the default limit
		{5, 10, nil},
		{99, 10, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("after %d limit %d", tt.after, tt.limit), func(t *testing.T) {
			t.Parallel()
			page, err := s.Changes(t.Context(), tt.after, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var revs []int64
			for _, c := range page {
				revs = append(revs, c.GetRevision())
			}
			if d := cmp.Diff(tt.wantRevs, revs); d != "" {
				t.Fatalf("revisions (-want +got):\n%s", d)
			}
			if len(page) == 0 {
				return
			}
			if d := cmp.Diff(got[tt.after:tt.after+int64(len(page))], page, protocmp.Transform()); d != "" {
				t.Fatalf("page differs from the whole feed (-want +got):\n%s", d)
			}
		})
	}
}

// Every feed entry says why it was written and which top-level fields
// changed, so that followers can skip their own writes and what they do not
// index.
func testChangeCausesAndPaths(t *testing.T, s store.Store) {
	mustCreate(t, s, newArticle("art_c", "causes", baseTime()))
	trust, repair, status := articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK, articlev1.ChangeCause_CHANGE_CAUSE_INSPECTION_REPAIR, articlev1.ChangeCause_CHANGE_CAUSE_STATUS_CHANGE
	related := articlev1.ChangeCause_CHANGE_CAUSE_RELATED_UPDATE
	var updated [2]*timestamppb.Timestamp // updated_at before and after the related write
	steps := []struct {
		name   string
		cause  articlev1.ChangeCause
		mutate func(*articlev1.Article)
		paths  []string
	}{
		{"nothing", edit, func(*articlev1.Article) {}, nil},
		{"trust", trust, func(a *articlev1.Article) { a.ConfidenceScore, a.VerificationStatus = 91, "verified" }, []string{"confidence_score", "verification_status"}},
		{"same values again", trust, func(a *articlev1.Article) { a.ConfidenceScore, a.Tags = 91, []string{"go", "sqlite"} }, nil},
		{"bookkeeping only", edit, func(a *articlev1.Article) {
			a.Revision, a.UpdatedAt = 99, timestamppb.New(time.Unix(0, 0))
		}, nil},
		{"nested", edit, func(a *articlev1.Article) { a.Title.Zh = "新标题"; a.CodeBlocks[0].Code = "echo bye" }, []string{"code_blocks", "title"}},
		{"cleared", repair, func(a *articlev1.Article) { a.PublishedAt, a.References, a.RiskLevel = nil, nil, "" }, []string{"published_at", "references", "risk_level"}},
		{"related", related, func(a *articlev1.Article) { a.RelatedIds = []string{"art_x"} }, []string{"related_ids"}},
		{"archived", status, func(a *articlev1.Article) { a.Status = "archived" }, []string{"status"}},
	}
	for _, st := range steps {
		if st.cause == related {
			updated[0] = mustGet(t, s, "art_c").GetUpdatedAt()
		}
		a := mustUpdateAs(t, s, "art_c", 0, st.cause, func(a *articlev1.Article) error { st.mutate(a); return nil })
		if st.cause == related {
			updated[1] = a.GetUpdatedAt()
		}
	}
	// Related ids are not an edit: updated_at stays.
	if !updated[0].AsTime().Equal(updated[1].AsTime()) {
		t.Errorf("a related write moved updated_at from %v to %v", updated[0].AsTime(), updated[1].AsTime())
	}
	changes := allChanges(t, s)
	if len(changes) != len(steps)+1 {
		t.Fatalf("got %d changes, want %d", len(changes), len(steps)+1)
	}
	if c := changes[0]; c.GetCause() != articlev1.ChangeCause_CHANGE_CAUSE_CREATE || len(c.GetChangedPaths()) != 0 {
		t.Errorf("create: cause %v, paths %q; want CREATE and none", c.GetCause(), c.GetChangedPaths())
	}
	for i, st := range steps {
		c := changes[i+1]
		if c.GetCause() != st.cause {
			t.Errorf("%s: cause %v, want %v", st.name, c.GetCause(), st.cause)
		}
		if d := cmp.Diff(st.paths, c.GetChangedPaths(), cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%s: changed paths (-want +got):\n%s", st.name, d)
		}
	}
}

// A writer's expected revision still holds when only related-id updates
// came after it (the search service writes them whenever it likes); any
// other change after it is a conflict.
func testRelatedUpdatesDoNotConflict(t *testing.T, s store.Store) {
	related := articlev1.ChangeCause_CHANGE_CAUSE_RELATED_UPDATE
	a := mustCreate(t, s, newArticle("art_r", "related-conflicts", baseTime()))
	relate := func(ids ...string) *articlev1.Article {
		return mustUpdateAs(t, s, "art_r", 0, related, func(a *articlev1.Article) error { a.RelatedIds = ids; return nil })
	}
	relate("art_x")
	relate("art_y")
	got := mustUpdateAs(t, s, "art_r", a.GetRevision(), edit, func(a *articlev1.Article) error { a.Title.En = "edited"; return nil })
	if got.GetRevision() != a.GetRevision()+3 || got.GetTitle().GetEn() != "edited" || !cmp.Equal(got.GetRelatedIds(), []string{"art_y"}) {
		t.Fatalf("edit over two related updates: revision %d, title %q, related %v", got.GetRevision(), got.GetTitle().GetEn(), got.GetRelatedIds())
	}
	relate("art_z")
	// Revision got.Revision-1 was followed by the edit: a conflict.
	_, err := s.Update(t.Context(), "art_r", got.GetRevision()-1, edit, func(*articlev1.Article) error { return nil })
	if !errors.Is(err, errs.ErrFailedPrecondition) {
		t.Fatalf("an edit over another edit: %v, want ErrFailedPrecondition", err)
	}
	// A revision from the future is never right.
	if _, err := s.Update(t.Context(), "art_r", got.GetRevision()+5, edit, func(*articlev1.Article) error { return nil }); !errors.Is(err, errs.ErrFailedPrecondition) {
		t.Fatalf("a revision ahead of the article: %v, want ErrFailedPrecondition", err)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func testNotify(t *testing.T, s store.Store) {
	mustCreate(t, s, newArticle("art_n", "notify", baseTime()))
	ch := s.Notify()
	if closed(ch) {
		t.Fatal("Notify's channel is closed before any new write")
	}
	// Failed writes commit nothing and wake nobody.
	if _, err := s.Create(t.Context(), newArticle("art_n", "notify", baseTime())); err == nil {
		t.Fatal("duplicate Create succeeded")
	}
	if _, err := s.Update(t.Context(), "art_n", 7, edit, func(*articlev1.Article) error { return nil }); err == nil {
		t.Fatal("stale Update succeeded")
	}
	if closed(ch) {
		t.Fatal("Notify's channel closed after failed writes")
	}

	woke := make(chan struct{})
	go func() {
		<-ch
		close(woke)
	}()
	mustUpdate(t, s, "art_n", 0, func(a *articlev1.Article) error { a.Tags = nil; return nil })
	if !closed(ch) {
		t.Fatal("Notify's channel is still open after Update returned")
	}
	select {
	case <-woke:
	case <-time.After(5 * time.Second):
		t.Fatal("a waiter was not woken")
	}

	next := s.Notify()
	if closed(next) {
		t.Fatal("the channel after a write is already closed")
	}
	mustCreate(t, s, newArticle("art_n2", "notify-2", baseTime()))
	if !closed(next) {
		t.Fatal("Notify's channel is still open after Create returned")
	}
}

func testStats(t *testing.T, s store.Store) {
	got, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(&articlev1.GetArticleStatsResponse{}, got); d != "" {
		t.Fatalf("Stats of an empty store (-want +got):\n%s", d)
	}
	for _, f := range []struct{ id, status, domain, verification string }{
		{"art_1", "published", "agent", "verified"},
		{"art_2", "published", "mcp", "pending"},
		{"art_3", "draft", "agent", "pending"},
		{"art_4", "deprecated", "skill", "verified"},
		{"art_5", "published", "transport", "failed"}, // archived below
	} {
		a := newArticle(f.id, f.id, baseTime())
		a.Status, a.Domain, a.VerificationStatus = f.status, f.domain, f.verification
		mustCreate(t, s, a)
	}
	mustUpdate(t, s, "art_5", 0, func(a *articlev1.Article) error { a.Status = "archived"; return nil })

	got, err = s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := &articlev1.GetArticleStatsResponse{
		Total:                5,
		ByStatus:             map[string]int64{"published": 2, "draft": 1, "deprecated": 1, "archived": 1},
		ByDomain:             map[string]int64{"agent": 2, "mcp": 1, "skill": 1},
		ByVerificationStatus: map[string]int64{"verified": 2, "pending": 2},
	}
	if d := diff(want, got); d != "" {
		t.Fatalf("Stats (-want +got):\n%s", d)
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testPersistence(t *testing.T, s store.Store, reopen func(t *testing.T, s store.Store) store.Store) {
	mustCreate(t, s, newArticle("art_a", "a", baseTime()))
	mustCreate(t, s, newArticle("art_b", "b", baseTime().Add(time.Second)))
	a := mustUpdate(t, s, "art_a", 1, func(a *articlev1.Article) error { a.Tags = []string{"kept"}; return nil })
	mustUpdate(t, s, "art_b", 1, func(a *articlev1.Article) error { a.Status = "archived"; return nil })
	changes := allChanges(t, s)
	list, _, err := s.List(t.Context(), store.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	s = reopen(t, s)

	if d := diff(a, mustGet(t, s, "art_a")); d != "" {
		t.Fatalf("Get after reopen (-want +got):\n%s", d)
	}
	if d := diff(a, mustGet(t, s, "a")); d != "" {
		t.Fatalf("Get by slug after reopen (-want +got):\n%s", d)
	}
	if d := diff(changes, allChanges(t, s)); d != "" {
		t.Fatalf("Changes after reopen (-want +got):\n%s", d)
	}
	gotList, _, err := s.List(t.Context(), store.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(list, gotList); d != "" {
		t.Fatalf("List after reopen (-want +got):\n%s", d)
	}
	gotStats, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(stats, gotStats); d != "" {
		t.Fatalf("Stats after reopen (-want +got):\n%s", d)
	}
	if head := mustHead(t, s); head != 4 {
		t.Fatalf("HeadRevision after reopen = %d, want 4", head)
	}

	// New writes continue the sequences.
	mustCreate(t, s, newArticle("art_c", "c", baseTime()))
	if got := mustUpdate(t, s, "art_a", 2, func(*articlev1.Article) error { return nil }); got.GetRevision() != 3 {
		t.Fatalf("revision after reopen = %d, want 3", got.GetRevision())
	}
	if _, err := s.Create(t.Context(), newArticle("art_x", "a", baseTime())); !errors.Is(err, errs.ErrAlreadyExists) {
		t.Fatalf("slug uniqueness lost after reopen: %v", err)
	}
	all := allChanges(t, s)
	checkGapFree(t, all)
	if len(all) != 6 {
		t.Fatalf("got %d changes, want 6", len(all))
	}

	// Opening a third time finds the schema complete and changes nothing.
	s = reopen(t, s)
	if head := mustHead(t, s); head != 6 {
		t.Fatalf("HeadRevision after the second reopen = %d, want 6", head)
	}
}
