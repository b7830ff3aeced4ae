package related

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// hub is a fake article service with a feed: SetRelatedArticles stores a
// list as the real one does (nothing when unchanged) and appends the
// RELATED_UPDATE change, which the test hands back to the writer as the
// feed follower would.
type hub struct {
	articlev1.ArticleServiceClient
	mu       sync.Mutex
	articles map[string]*articlev1.Article
	feed     []*articlev1.ArticleChange
	writes   atomic.Int64
}

func (h *hub) SetRelatedArticles(_ context.Context, req *articlev1.SetRelatedArticlesRequest, _ ...grpc.CallOption) (*articlev1.Article, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.articles[req.GetArticleId()]
	if !ok {
		return nil, status.Error(codes.NotFound, "no such article")
	}
	if slices.Equal(a.GetRelatedIds(), req.GetRelatedIds()) {
		return proto.CloneOf(a), nil
	}
	h.writes.Add(1)
	a.RelatedIds = slices.Clone(req.GetRelatedIds())
	a.Revision++
	h.feed = append(h.feed, &articlev1.ArticleChange{Kind: articlev1.ChangeKind_CHANGE_KIND_UPSERT, ArticleId: a.GetId(),
		Article: proto.CloneOf(a), Cause: articlev1.ChangeCause_CHANGE_CAUSE_RELATED_UPDATE, ChangedPaths: []string{"related_ids"}})
	return proto.CloneOf(a), nil
}

// put writes an article as an author would and returns its change.
func (h *hub) put(id string, cause articlev1.ChangeCause) *articlev1.ArticleChange {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.articles[id]
	if !ok {
		a = &articlev1.Article{Id: id, Status: "published"}
		h.articles[id] = a
	}
	a.Revision++
	return &articlev1.ArticleChange{Kind: articlev1.ChangeKind_CHANGE_KIND_UPSERT, ArticleId: id, Article: proto.CloneOf(a), Cause: cause}
}

func (h *hub) archive(id string) *articlev1.ArticleChange {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.articles, id)
	return &articlev1.ArticleChange{Kind: articlev1.ChangeKind_CHANGE_KIND_TOMBSTONE, ArticleId: id}
}

// drain returns the changes the writer's own writes made.
func (h *hub) drain() []*articlev1.ArticleChange {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.feed
	h.feed = nil
	return out
}

// index is the "similarity" the fake ranker reads: each article's
// neighbours, best first, among those indexed.
type index struct {
	mu    sync.Mutex
	near  map[string][]string
	ranks atomic.Int64
}

func (x *index) rank(_ context.Context, id string, limit int) ([]string, error) {
	x.ranks.Add(1)
	x.mu.Lock()
	defer x.mu.Unlock()
	near, ok := x.near[id]
	if !ok {
		return nil, status.Error(codes.NotFound, "not indexed")
	}
	var out []string
	for _, n := range near {
		if _, indexed := x.near[n]; indexed && len(out) < limit {
			out = append(out, n)
		}
	}
	return out, nil
}

func (x *index) set(id string, near ...string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if near == nil {
		delete(x.near, id)
		return
	}
	x.near[id] = near
}

func TestWriterWritesChangedListsOnlyAndSettles(t *testing.T) {
	t.Parallel()
	h := &hub{articles: map[string]*articlev1.Article{}}
	x := &index{near: map[string][]string{}}
	var ready atomic.Bool
	w := New(Config{Rank: x.rank, Articles: h, Ready: ready.Load, Limit: 2, Debounce: 10 * time.Millisecond, PerSecond: 10000})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go w.Run(ctx)
	// settle hands the writer's own writes back until it stops writing.
	settle := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		quietRounds := 0
		for quietRounds < 5 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the writer did not settle (%d writes, %d pending)", what, h.writes.Load(), w.Pending())
			}
			time.Sleep(30 * time.Millisecond)
			if own := h.drain(); len(own) > 0 {
				w.Observe(own)
				quietRounds = 0
			} else if w.Pending() == 0 {
				quietRounds++
			}
		}
	}
	lists := func() map[string][]string {
		h.mu.Lock()
		defer h.mu.Unlock()
		out := map[string][]string{}
		for id, a := range h.articles {
			out[id] = a.GetRelatedIds()
		}
		return out
	}

	// The backlog, replayed before the index is caught up: nothing is
	// ranked until it is.
	x.set("a", "b", "c")
	x.set("b", "a", "c")
	x.set("c", "b", "a")
	create := articlev1.ChangeCause_CHANGE_CAUSE_CREATE
	w.Observe([]*articlev1.ArticleChange{h.put("a", create), h.put("b", create), h.put("c", create)})
	time.Sleep(50 * time.Millisecond)
	if n := x.ranks.Load(); n != 0 {
		t.Fatalf("ranked %d lists before the index caught up", n)
	}
	ready.Store(true)
	settle("first lists")
	want := map[string][]string{"a": {"b", "c"}, "b": {"a", "c"}, "c": {"b", "a"}}
	if got := lists(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lists %v, want %v", got, want)
	}
	if n := h.writes.Load(); n != 3 {
		t.Errorf("%d writes for three new lists", n)
	}

	// A trust write-back re-ranks, but the same lists write nothing.
	before, ranksBefore := h.writes.Load(), x.ranks.Load()
	w.Observe([]*articlev1.ArticleChange{h.put("b", articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK)})
	settle("a trust write")
	if h.writes.Load() != before || x.ranks.Load() == ranksBefore {
		t.Errorf("a trust write: %d writes (want none), %d ranks (want some)", h.writes.Load()-before, x.ranks.Load()-ranksBefore)
	}

	// A new article near c: c's list changes, and so do its neighbours'.
	x.set("d", "c", "b")
	x.set("c", "d", "b", "a")
	x.set("b", "d", "a")
	w.Observe([]*articlev1.ArticleChange{h.put("d", create)})
	settle("a new article")
	want = map[string][]string{"a": {"b", "c"}, "b": {"d", "a"}, "c": {"d", "b"}, "d": {"c", "b"}}
	if got := lists(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after a new article: lists %v, want %v", got, want)
	}

	// Archived: every list holding it is ranked again without it.
	x.set("b")
	w.Observe([]*articlev1.ArticleChange{h.archive("b")})
	settle("an archive")
	for id, l := range lists() {
		if slices.Contains(l, "b") {
			t.Errorf("%s still lists the archived article: %v", id, l)
		}
	}
	// After a reindex (a new model) every list is ranked again, with no
	// change in the feed to say so.
	x.set("a", "d", "c")
	w.RankAll()
	settle("ranking all again")
	if got := lists()["a"]; !slices.Equal(got, []string{"d", "c"}) {
		t.Errorf("after RankAll a lists %v, want [d c]", got)
	}
	// Its own writes coming back change nothing: no write, no rank.
	before, ranksBefore = h.writes.Load(), x.ranks.Load()
	time.Sleep(100 * time.Millisecond)
	if h.writes.Load() != before || x.ranks.Load() != ranksBefore {
		t.Errorf("idle writer: %d writes, %d ranks", h.writes.Load()-before, x.ranks.Load()-ranksBefore)
	}
}

// TestPendingCountsTheFlush: the lists a running flush has taken but not
// ranked yet are still pending (a load run waits for 0 to measure a
// settled hub).
func TestPendingCountsTheFlush(t *testing.T) {
	t.Parallel()
	h := &hub{articles: map[string]*articlev1.Article{}}
	x := &index{near: map[string][]string{}}
	release := make(chan struct{})
	var ranking atomic.Int64
	rank := func(ctx context.Context, id string, limit int) ([]string, error) {
		if ranking.Add(1) == 1 {
			<-release // the first list waits, so the flush is caught in the middle
		}
		return x.rank(ctx, id, limit)
	}
	w := New(Config{Rank: rank, Articles: h, Ready: func() bool { return true }, Limit: 2, Debounce: time.Millisecond, PerSecond: 10000})
	var changes []*articlev1.ArticleChange
	for _, id := range []string{"a", "b", "c"} {
		x.set(id, "a", "b", "c")
		changes = append(changes, h.put(id, articlev1.ChangeCause_CHANGE_CAUSE_UNSPECIFIED))
	}
	w.Observe(changes)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go w.Run(ctx)
	for ranking.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if n := w.Pending(); n != 3 {
		t.Errorf("with the flush on its first of 3 lists, Pending = %d, want 3", n)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for w.Pending() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Pending stayed %d after the flush", w.Pending())
		}
		time.Sleep(time.Millisecond)
	}
	if h.writes.Load() != 3 {
		t.Errorf("%d lists written, want 3", h.writes.Load())
	}
}
