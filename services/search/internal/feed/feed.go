// Package feed follows the article service's change feed (WatchArticles) from
// a durably saved cursor and hands the changes, in batches, to the indexer.
// The cursor is saved only after a batch was written to the index, and a
// batch that fails is retried with backoff until it succeeds: a slow or
// failing backend delays updates but never loses one. Restarted, the follower
// resumes from its cursor; Rebuild starts over from revision 0.
package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// Cursors saves and reads the follower's position (the search state store).
type Cursors interface {
	Cursor(ctx context.Context, name string) (int64, error)
	SaveCursor(ctx context.Context, name string, rev int64) error
}

// Apply writes a batch of changes, in feed order, to the index; it returns
// once they are durable.
type Apply func(ctx context.Context, changes []*articlev1.ArticleChange) error

// Config configures a Follower.
type Config struct {
	// Client is the article service.
	Client articlev1.ArticleServiceClient
	// Cursors keeps the position under Name.
	Cursors Cursors
	Name    string
	// Apply writes batches to the index.
	Apply Apply
	// Batch is the most changes per Apply; 0 means 256.
	Batch int
	// Quiet is how long the stream must stay silent, with everything
	// received applied, for the follower to count as caught up when the
	// article service does not say where its feed's head is (head_revision
	// 0 with articles there); 0 means 300 ms. Otherwise the follower is
	// caught up once it has applied the head it was told when its stream
	// opened: a feed that is never silent (steady writes) must not keep
	// search unready for ever.
	Quiet time.Duration
	// MinBackoff and MaxBackoff bound the waits between retries; 0 means
	// 100 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	Log                    *slog.Logger
	// OnCaughtUp, when set, is called each time the follower first catches
	// up after a start or a rebuild.
	OnCaughtUp func()
}

// Follower follows the feed. Its status methods are safe to call from any
// goroutine.
type Follower struct {
	cfg Config

	applied, received atomic.Int64
	caughtUp          atomic.Bool
	rebuilding        atomic.Bool
	target            atomic.Int64
	mu                sync.Mutex
	lastErr           string
	rebuild           chan rebuildReq
}

type rebuildReq struct {
	reset func(context.Context) error
	done  chan error
}

// New returns a follower; Run starts it.
func New(cfg Config) *Follower {
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.Quiet <= 0 {
		cfg.Quiet = 300 * time.Millisecond
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Follower{cfg: cfg, rebuild: make(chan rebuildReq)}
}

// Status is the follower's position.
type Status struct {
	// Applied is the revision written to the index and saved.
	Applied int64
	// Received is the newest revision received.
	Received int64
	// CaughtUp is true once the backlog found at start (or at the last
	// rebuild) is applied.
	CaughtUp   bool
	Rebuilding bool
	// Target is the revision a rebuild must reach.
	Target int64
	// LastErr is the error being retried, "" when all is well.
	LastErr string
}

// Status reports where the follower is.
func (f *Follower) Status() Status {
	f.mu.Lock()
	lastErr := f.lastErr
	f.mu.Unlock()
	applied := f.applied.Load()
	return Status{
		Applied: applied, Received: max(f.received.Load(), applied),
		CaughtUp: f.caughtUp.Load(), Rebuilding: f.rebuilding.Load(), Target: f.target.Load(), LastErr: lastErr,
	}
}

func (f *Follower) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		f.lastErr = ""
	} else {
		f.lastErr = err.Error()
	}
}

// Rebuild makes the follower start over from revision 0: between two
// batches it runs reset (which empties the index), saves cursor 0 and
// reopens the feed from the start. It returns the revision the rebuild must
// reach to be complete.
func (f *Follower) Rebuild(ctx context.Context, reset func(context.Context) error) (int64, error) {
	req := rebuildReq{reset: reset, done: make(chan error, 1)}
	select {
	case f.rebuild <- req:
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: the index is busy; try again in a moment", errs.ErrUnavailable)
	}
	select {
	case err := <-req.done:
		if err != nil {
			return 0, err
		}
		return f.target.Load(), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// errRestart ends one stream so that Run opens the next from revision 0.
var errRestart = errors.New("feed: restart from revision 0")

// Run follows the feed until ctx ends, and returns ctx's error.
func (f *Follower) Run(ctx context.Context) error {
	b := f.backoff()
	var from int64
	for {
		rev, err := f.cfg.Cursors.Cursor(ctx, f.cfg.Name)
		if err == nil {
			from = rev
			break
		}
		if err := f.retryWait(ctx, b, "read the feed cursor", err); err != nil {
			return err
		}
	}
	f.applied.Store(from)
	for {
		err := f.follow(ctx, from, b)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		from = f.applied.Load()
		if errors.Is(err, errRestart) {
			continue
		}
		if err := f.retryWait(ctx, b, "follow the article feed", err); err != nil {
			return err
		}
	}
}

// follow reads one stream from revision from and applies it batch by batch.
func (f *Follower) follow(ctx context.Context, from int64, b *backoff) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A cheap call first: a stream reports an unreachable service only on
	// its first receive, which might look like a quiet feed.
	stats, err := f.cfg.Client.GetArticleStats(sctx, &articlev1.GetArticleStatsRequest{})
	if err != nil {
		return fmt.Errorf("reach the article service: %w", err)
	}
	// Silence means the end of the backlog only once the stream has said
	// something, or when there can be nothing to say: no article yet, or a
	// resumed follower that may well be up to date. Before that a loaded
	// machine may just be slow to send the first change.
	heard := from > 0 || stats.GetTotal() == 0
	head := stats.GetHeadRevision()
	if head > 0 && from >= head {
		f.reached(ctx)
	}
	stream, err := f.cfg.Client.WatchArticles(sctx, &articlev1.WatchArticlesRequest{AfterRevision: from})
	if err != nil {
		return fmt.Errorf("open the article feed: %w", err)
	}
	msgs := make(chan *articlev1.ArticleChange, 2*f.cfg.Batch)
	errc := make(chan error, 1)
	go func() {
		for {
			c, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			f.received.Store(c.GetRevision())
			select {
			case msgs <- c:
			case <-sctx.Done():
				return
			}
		}
	}()
	quiet := time.NewTimer(f.cfg.Quiet)
	defer quiet.Stop()
	for {
		var batch []*articlev1.ArticleChange
		select {
		case c := <-msgs:
			batch = append(batch, c)
			heard = true
		case err := <-errc:
			// What was received and not applied is read again from the
			// cursor by the next stream.
			return fmt.Errorf("the article feed broke off: %w", err)
		case <-quiet.C:
			if !heard {
				quiet.Reset(f.cfg.Quiet)
				continue
			}
			f.reached(ctx)
			continue
		case req := <-f.rebuild:
			return f.restart(ctx, req)
		case <-ctx.Done():
			return ctx.Err()
		}
	drain:
		for len(batch) < f.cfg.Batch {
			select {
			case c := <-msgs:
				batch = append(batch, c)
			default:
				break drain
			}
		}
		batch = f.unseen(batch)
		if len(batch) == 0 {
			continue
		}
		last := batch[len(batch)-1].GetRevision()
		if err := f.retry(ctx, b, "write changes to the index", func() error { return f.cfg.Apply(ctx, batch) }); err != nil {
			return err
		}
		// Only now, with the changes in the index, does the cursor move.
		if err := f.retry(ctx, b, "save the feed cursor", func() error { return f.cfg.Cursors.SaveCursor(ctx, f.cfg.Name, last) }); err != nil {
			return err
		}
		f.applied.Store(last)
		if head > 0 && last >= head {
			f.reached(ctx)
		}
		quiet.Reset(f.cfg.Quiet)
	}
}

// reached marks the backlog applied: the follower is caught up, and a
// rebuild that has reached its target is complete.
func (f *Follower) reached(ctx context.Context) {
	if !f.caughtUp.Load() {
		f.caughtUp.Store(true)
		f.cfg.Log.InfoContext(ctx, "caught up with the article feed", "revision", f.applied.Load())
		if f.cfg.OnCaughtUp != nil {
			f.cfg.OnCaughtUp()
		}
	}
	if f.rebuilding.Load() && f.applied.Load() >= f.target.Load() {
		f.rebuilding.Store(false)
	}
}

// unseen drops changes at or below the applied revision, which a
// reconnecting stream may repeat.
func (f *Follower) unseen(batch []*articlev1.ArticleChange) []*articlev1.ArticleChange {
	applied := f.applied.Load()
	out := batch[:0]
	for _, c := range batch {
		if c.GetRevision() > applied {
			out = append(out, c)
		}
	}
	return out
}

func (f *Follower) restart(ctx context.Context, req rebuildReq) error {
	target := f.applied.Load()
	err := req.reset(ctx)
	if err == nil {
		err = f.cfg.Cursors.SaveCursor(ctx, f.cfg.Name, 0)
	}
	if err != nil {
		req.done <- fmt.Errorf("reset the index: %w", err)
		return nil // go on from where we were
	}
	f.target.Store(target)
	f.rebuilding.Store(true)
	f.caughtUp.Store(false)
	f.applied.Store(0)
	f.received.Store(0)
	f.cfg.Log.InfoContext(ctx, "rebuilding the index from feed revision 0", "target", target)
	req.done <- nil
	return errRestart
}

// retry runs fn until it succeeds or ctx ends, waiting with backoff between
// tries; a success resets the backoff.
func (f *Follower) retry(ctx context.Context, b *backoff, what string, fn func() error) error {
	for {
		err := fn()
		if err == nil {
			b.reset()
			f.setErr(nil)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := f.retryWait(ctx, b, what, err); err != nil {
			return err
		}
	}
}

// retryWait records and logs err, then waits for the next try.
func (f *Follower) retryWait(ctx context.Context, b *backoff, what string, err error) error {
	d := b.next()
	f.setErr(fmt.Errorf("%s: %w", what, err))
	f.cfg.Log.WarnContext(ctx, "search feed: "+what+" failed; retrying", "err", err, "retry_in", d.String())
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func (f *Follower) backoff() *backoff {
	return &backoff{min: f.cfg.MinBackoff, max: f.cfg.MaxBackoff}
}

// backoff doubles its wait from min up to max.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// Snapshot reads the whole feed from revision 0 up to its head (or, when the
// article service does not say where that is, until it has been quiet for
// quiet), and returns the last state of every article still public
// (published or deprecated), for learning from.
func Snapshot(ctx context.Context, client articlev1.ArticleServiceClient, quiet time.Duration) ([]*articlev1.Article, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stats, err := client.GetArticleStats(sctx, &articlev1.GetArticleStatsRequest{})
	if err != nil {
		return nil, fmt.Errorf("reach the article service: %w", err)
	}
	head := stats.GetHeadRevision()
	stream, err := client.WatchArticles(sctx, &articlev1.WatchArticlesRequest{})
	if err != nil {
		return nil, fmt.Errorf("open the article feed: %w", err)
	}
	type msg struct {
		c   *articlev1.ArticleChange
		err error
	}
	msgs := make(chan msg, 256)
	go func() {
		for {
			c, err := stream.Recv()
			select {
			case msgs <- msg{c, err}:
			case <-sctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	latest := map[string]*articlev1.Article{}
	var order []string
	timer := time.NewTimer(quiet)
	defer timer.Stop()
	snapshot := func() []*articlev1.Article {
		var out []*articlev1.Article
		for _, id := range order {
			if a := latest[id]; a != nil {
				out = append(out, a)
			}
		}
		return out
	}
	for {
		select {
		case m := <-msgs:
			if m.err != nil {
				return nil, fmt.Errorf("read the article feed: %w", m.err)
			}
			id := m.c.GetArticleId()
			if _, seen := latest[id]; !seen {
				order = append(order, id)
			}
			latest[id] = nil
			if a := m.c.GetArticle(); m.c.GetKind() == articlev1.ChangeKind_CHANGE_KIND_UPSERT && vocab.IsPublic(a.GetStatus()) {
				latest[id] = a
			}
			if head > 0 && m.c.GetRevision() >= head {
				return snapshot(), nil
			}
			timer.Reset(quiet)
		case <-timer.C:
			if head > 0 {
				continue // the head is still to come; a busy machine is slow
			}
			return snapshot(), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
