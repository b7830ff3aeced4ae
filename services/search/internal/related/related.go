// Package related keeps every indexed article's relatedIds up to date: it
// watches the changes the feed follower applies, works out whose related
// list may have moved, and, once the index has caught up and the feed has
// been quiet for a moment, ranks those lists again and writes the ones that
// changed to the article service (SetRelatedArticles, cause RELATED_UPDATE).
//
// Its own writes come back through the feed; they only tell it the list
// now stored and never make an article dirty, and an unchanged list is
// never written (nor stored by the article service), so there is no write
// loop through the feed.
package related

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// Rank returns the ids of the published articles most like an indexed
// article, most similar first, never itself (ranking.Engine.Related).
type Rank func(ctx context.Context, articleID string, limit int) ([]string, error)

// Config configures a Writer.
type Config struct {
	// Rank ranks an article's related list.
	Rank Rank
	// Articles is the article service the lists are written to.
	Articles articlev1.ArticleServiceClient
	// Ready reports whether the index has caught up with the feed; lists
	// are ranked only then, against the whole index.
	Ready func() bool
	// Limit is the length of a list; 0 means 5 (what pages show).
	Limit int
	// Debounce is how long the applied changes must pause before lists are
	// ranked, MaxDelay the longest a dirty list waits under a steady
	// stream; 0 means 2 s and 30 s.
	Debounce, MaxDelay time.Duration
	// PerSecond paces the ranking and writing of lists so that a rebuilt
	// hub's backlog does not crowd out searches; 0 means 50.
	PerSecond int
	Log       *slog.Logger
}

// maxTries bounds the writes of one list that the article service refuses
// (a related article archived meanwhile): the feed brings the news and the
// next try ranks without it.
const maxTries = 3

// Writer keeps related lists; Observe is called by the feed's apply, Run in
// a goroutine of its own.
type Writer struct {
	cfg  Config
	wake chan struct{}

	mu sync.Mutex
	// stored is the list each indexed article holds, as the feed last said;
	// holders the reverse: for each article, the articles listing it.
	stored  map[string][]string
	holders map[string]map[string]bool
	// dirty holds the articles whose list must be ranked again; true also
	// ranks again the lists of the articles in its new list (a changed
	// article may now belong in its neighbours' lists).
	dirty map[string]bool
	tries map[string]int
	// first is when the oldest dirty entry came, last the latest change.
	first, last time.Time
	// all asks for every list to be ranked again once caught up.
	all bool
	// flushing is how many lists the running flush has yet to rank.
	flushing int
}

// New returns a writer.
func New(cfg Config) *Writer {
	if cfg.Limit <= 0 {
		cfg.Limit = 5
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 2 * time.Second
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 30 * time.Second
	}
	if cfg.PerSecond <= 0 {
		cfg.PerSecond = 50
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Writer{
		cfg: cfg, wake: make(chan struct{}, 1),
		stored: map[string][]string{}, holders: map[string]map[string]bool{}, dirty: map[string]bool{}, tries: map[string]int{},
	}
}

// Observe takes note of changes the index has applied, in feed order.
func (w *Writer) Observe(changes []*articlev1.ArticleChange) {
	w.mu.Lock()
	defer w.mu.Unlock()
	replay := !w.cfg.Ready()
	marked := false
	for _, c := range changes {
		id, a := c.GetArticleId(), c.GetArticle()
		switch {
		case id == "":
		case c.GetKind() != articlev1.ChangeKind_CHANGE_KIND_UPSERT || !vocab.IsPublic(a.GetStatus()):
			// Gone from the index: the lists pointing to it go too.
			w.markHolders(id)
			w.setStored(id, nil, false)
			delete(w.dirty, id)
			marked = true
		case c.GetCause() == articlev1.ChangeCause_CHANGE_CAUSE_RELATED_UPDATE:
			// Our own write (or an earlier run's): the stored list, nothing
			// to rank. Replaying history, a list written after the
			// article's last edit is as fresh as that history knows.
			w.setStored(id, a.GetRelatedIds(), true)
			if replay {
				delete(w.dirty, id)
			}
		default:
			w.setStored(id, a.GetRelatedIds(), true)
			w.mark(id, true)
			// Lists that hold it rank it from its new text.
			w.markHolders(id)
			marked = true
		}
	}
	if marked {
		w.last = time.Now()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// setStored records the list id holds (indexed false: id left the index);
// the caller holds mu.
func (w *Writer) setStored(id string, ids []string, indexed bool) {
	for _, r := range w.stored[id] {
		delete(w.holders[r], id)
		if len(w.holders[r]) == 0 {
			delete(w.holders, r)
		}
	}
	if !indexed {
		delete(w.stored, id)
		return
	}
	w.stored[id] = slices.Clone(ids)
	for _, r := range ids {
		if w.holders[r] == nil {
			w.holders[r] = map[string]bool{}
		}
		w.holders[r][id] = true
	}
}

// markHolders makes dirty the lists that hold id; the caller holds mu.
func (w *Writer) markHolders(id string) {
	for other := range w.holders[id] {
		if other != id {
			w.mark(other, false)
		}
	}
}

// mark makes id dirty; the caller holds mu.
func (w *Writer) mark(id string, spread bool) {
	if len(w.dirty) == 0 {
		w.first = time.Now()
	}
	w.dirty[id] = w.dirty[id] || spread
}

// RankAll asks for every indexed article's list to be ranked again once the
// index has caught up: after a reindex, whose new embedding model may see
// other neighbours.
func (w *Writer) RankAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all = true
}

// Pending returns how many lists wait to be ranked: dirty ones, those the
// running flush has yet to reach, and every list when all are to be ranked
// again. Zero means the lists are what the index says (the hub is settled).
func (w *Writer) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.dirty) + w.flushing
	if w.all {
		n = max(n, len(w.stored))
	}
	return n
}

// Run ranks and writes dirty lists until ctx ends.
func (w *Writer) Run(ctx context.Context) {
	poll := time.NewTicker(w.cfg.Debounce / 4)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-poll.C:
		}
		if w.due() {
			w.flush(ctx)
		}
	}
}

// due reports whether dirty lists should be ranked now: the index is
// caught up, and the changes paused (or the oldest waited long enough).
func (w *Writer) due() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.cfg.Ready() {
		return false
	}
	if w.all {
		w.all = false
		for id := range w.stored {
			w.mark(id, false)
		}
		return len(w.dirty) > 0
	}
	now := time.Now()
	return len(w.dirty) > 0 &&
		(now.Sub(w.last) >= w.cfg.Debounce || now.Sub(w.first) >= w.cfg.MaxDelay)
}

// flush ranks the dirty lists (and those of the spread ones' neighbours)
// and writes the lists that changed.
func (w *Writer) flush(ctx context.Context) {
	w.mu.Lock()
	dirty := w.dirty
	w.dirty = map[string]bool{}
	w.mu.Unlock()

	pace := time.NewTicker(time.Second / time.Duration(w.cfg.PerSecond))
	defer pace.Stop()
	todo := slices.Sorted(maps.Keys(dirty))
	done := map[string]bool{}
	written := 0
	left := func(n int) {
		w.mu.Lock()
		w.flushing = n
		w.mu.Unlock()
	}
	defer left(0)
	for len(todo) > 0 {
		left(len(todo))
		id := todo[0]
		todo = todo[1:]
		if done[id] {
			continue
		}
		done[id] = true
		select {
		case <-ctx.Done():
			w.requeue(slices.Collect(maps.Keys(dirty)))
			return
		case <-pace.C:
		}
		ids, err := w.cfg.Rank(ctx, id, w.cfg.Limit)
		if errs.Code(err) == codes.NotFound {
			continue // no longer indexed; its removal is in the feed
		}
		if err != nil {
			w.cfg.Log.WarnContext(ctx, "rank related articles", "article", id, "err", err)
			w.retry(id)
			continue
		}
		if dirty[id] {
			for _, r := range ids {
				if !done[r] {
					todo = append(todo, r)
				}
			}
		}
		if w.write(ctx, id, ids) {
			written++
		}
	}
	if written > 0 {
		w.cfg.Log.InfoContext(ctx, "related articles written", "articles", written, "ranked", len(done))
	}
}

// write stores id's list when it differs from what the article holds, and
// reports whether it wrote.
func (w *Writer) write(ctx context.Context, id string, ids []string) bool {
	w.mu.Lock()
	cur, known := w.stored[id]
	w.mu.Unlock()
	if known && slices.Equal(cur, ids) {
		return false
	}
	a, err := w.cfg.Articles.SetRelatedArticles(ctx, &articlev1.SetRelatedArticlesRequest{ArticleId: id, RelatedIds: ids})
	switch status.Code(err) {
	case codes.OK:
		w.mu.Lock()
		delete(w.tries, id)
		if _, still := w.stored[id]; still {
			w.setStored(id, a.GetRelatedIds(), true)
		}
		w.mu.Unlock()
		return true
	case codes.NotFound:
		return false // deleted meanwhile
	}
	w.cfg.Log.WarnContext(ctx, "write related articles", "article", id, "err", err)
	w.retry(id)
	return false
}

// retry makes id dirty again unless it failed maxTries times in a row.
func (w *Writer) retry(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tries[id]++
	if w.tries[id] > maxTries {
		delete(w.tries, id)
		return
	}
	if _, indexed := w.stored[id]; indexed {
		w.mark(id, false)
		w.last = time.Now()
	}
}

// requeue makes ids dirty again (a flush cut short).
func (w *Writer) requeue(ids []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		if _, indexed := w.stored[id]; indexed {
			w.mark(id, false)
		}
	}
}
