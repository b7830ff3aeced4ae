// Package triggers starts inspections: the follower inspects articles when
// they are published or edited (drafts too, so that reviewers of a proposal
// see its findings), following the article service's change feed
// from a saved cursor, and Daily runs the due inspections on a schedule.
//
// The follower skips the feed's trust write-backs and inspection repairs
// (its own writes: following them would inspect forever), archives, and articles already inspected at that revision (a replay after a
// lost cursor). Changes arrive in bursts (a backlog, a batch import); a burst
// is worked as one batch in which each article is inspected once, at its
// newest change. The cursor is saved after the batch.
package triggers

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"google.golang.org/grpc"

	"buzhou.dev/platform/grpcx"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/ledger"
)

// CursorName is the follower's saved feed position.
const CursorName = "inspections"

// Feed is the change feed; the article service's client is one.
type Feed interface {
	WatchArticles(ctx context.Context, in *articlev1.WatchArticlesRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[articlev1.ArticleChange], error)
}

// Cursors keeps the follower's position.
type Cursors interface {
	Cursor(ctx context.Context, name string) (int64, error)
	SaveCursor(ctx context.Context, name string, revision int64) error
}

// Inspector is what the follower drives; *ledger.Service is one.
type Inspector interface {
	Inspect(ctx context.Context, a *articlev1.Article, trigger string, skipRepairs bool) (*verificationv1.InspectionRun, error)
	Rescore(ctx context.Context, articleID string) (bool, error)
	LastInspectedRevision(ctx context.Context, articleID string) (int32, error)
}

var _ Inspector = (*ledger.Service)(nil)

// maxBatch bounds the changes worked as one batch.
const maxBatch = 500

// Follower follows the feed.
type Follower struct {
	feed    Feed
	cursors Cursors
	insp    Inspector
	log     *slog.Logger
	// backoff bounds the wait before reconnecting.
	minBackoff, maxBackoff time.Duration
	// sandbox, when set, is handed articles whose code should run again.
	sandbox func(ctx context.Context, a *articlev1.Article, trigger string)
}

// WithSandbox makes the follower hand run every article that is published,
// and every author's edit of an article's code blocks, after its
// inspection; *ledger.Service's RunSandboxOnChange is one (it returns at
// once). Without it nothing runs on change.
func (f *Follower) WithSandbox(run func(ctx context.Context, a *articlev1.Article, trigger string)) *Follower {
	f.sandbox = run
	return f
}

// NewFollower returns a follower.
func NewFollower(feed Feed, cursors Cursors, insp Inspector, log *slog.Logger) *Follower {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Follower{feed: feed, cursors: cursors, insp: insp, log: log, minBackoff: 100 * time.Millisecond, maxBackoff: 30 * time.Second}
}

// Run follows the feed until ctx ends, reconnecting with backoff.
func (f *Follower) Run(ctx context.Context) error {
	wait := f.minBackoff
	for {
		progressed, err := f.follow(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			wait = f.minBackoff
		}
		f.log.WarnContext(ctx, "change feed interrupted; reconnecting", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, f.maxBackoff)
	}
}

// follow reads the feed from the saved cursor until the stream fails; it
// reports whether it saved any progress.
func (f *Follower) follow(ctx context.Context) (bool, error) {
	after, err := f.cursors.Cursor(ctx, CursorName)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := f.feed.WatchArticles(ctx, &articlev1.WatchArticlesRequest{AfterRevision: after})
	if err != nil {
		return false, err
	}
	// The backlog up to the head the stream opened with is worked as whole
	// batches, however it trickles in; an article service without the
	// header gives 0, and batches are then what has arrived.
	md, err := stream.Header()
	if err != nil {
		return false, err
	}
	head, _ := grpcx.FeedHead(md)
	changes := make(chan *articlev1.ArticleChange, maxBatch)
	recvErr := make(chan error, 1)
	go func() {
		for {
			c, err := stream.Recv()
			if err != nil {
				recvErr <- err
				close(changes)
				return
			}
			changes <- c
		}
	}()
	progressed := false
	for {
		first, ok := <-changes
		if !ok {
			return progressed, <-recvErr
		}
		batch := []*articlev1.ArticleChange{first}
	drain:
		for len(batch) < maxBatch {
			if batch[len(batch)-1].GetRevision() < head {
				c, ok := <-changes
				if !ok {
					break drain
				}
				batch = append(batch, c)
				continue
			}
			select {
			case c, ok := <-changes:
				if !ok {
					break drain
				}
				batch = append(batch, c)
			default:
				break drain
			}
		}
		f.work(ctx, batch)
		if err := f.cursors.SaveCursor(ctx, CursorName, batch[len(batch)-1].GetRevision()); err != nil {
			return progressed, err
		}
		progressed = true
	}
}

// work acts on a batch: each article once, at its newest relevant change.
func (f *Follower) work(ctx context.Context, batch []*articlev1.ArticleChange) {
	var (
		order  []string
		newest = map[string]*articlev1.ArticleChange{}
	)
	for _, c := range batch {
		if !relevant(c) {
			continue
		}
		if _, ok := newest[c.GetArticleId()]; !ok {
			order = append(order, c.GetArticleId())
		}
		newest[c.GetArticleId()] = c
	}
	for _, id := range order {
		if err := f.act(ctx, newest[id]); err != nil && ctx.Err() == nil {
			// The daily run catches what a failure here missed.
			f.log.WarnContext(ctx, "inspection after a change failed", "article", id, "revision", newest[id].GetRevision(), "err", err)
		}
	}
}

// relevant reports a change an inspection should follow: a writer's change
// (not the verification service's own, nor the related ids the search
// service writes) of an article that is not archived.
func relevant(c *articlev1.ArticleChange) bool {
	switch c.GetCause() {
	case articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK, articlev1.ChangeCause_CHANGE_CAUSE_INSPECTION_REPAIR,
		articlev1.ChangeCause_CHANGE_CAUSE_RELATED_UPDATE:
		return false
	}
	return c.GetKind() == articlev1.ChangeKind_CHANGE_KIND_UPSERT && c.GetArticle() != nil
}

func (f *Follower) act(ctx context.Context, c *articlev1.ArticleChange) error {
	a := c.GetArticle()
	switch a.GetStatus() {
	case vocab.StatusPublished, vocab.StatusDraft:
	case vocab.StatusDeprecated:
		// Deprecation changes the prior the confidence starts from.
		_, err := f.insp.Rescore(ctx, a.GetId())
		return err
	default:
		return nil
	}
	done, err := f.insp.LastInspectedRevision(ctx, a.GetId())
	if err != nil {
		return err
	}
	if done >= a.GetRevision() {
		return nil // inspected at this revision already (a replay)
	}
	trigger := ledger.TriggerEdit
	switch {
	case a.GetStatus() == vocab.StatusDraft:
		// Findings and risk for the reviewer; no repairs (and so no
		// Inspection Bot record) before anyone decided to publish it.
		_, err = f.insp.Inspect(ctx, a, ledger.TriggerDraft, true)
		return err
	case c.GetCause() == articlev1.ChangeCause_CHANGE_CAUSE_CREATE || c.GetCause() == articlev1.ChangeCause_CHANGE_CAUSE_STATUS_CHANGE:
		trigger = ledger.TriggerPublish
	}
	_, err = f.insp.Inspect(ctx, a, trigger, false)
	if f.sandbox != nil && (trigger == ledger.TriggerPublish || slices.Contains(c.GetChangedPaths(), "code_blocks")) {
		f.sandbox(ctx, a, trigger)
	}
	return err
}

// Schedule says when Daily runs.
type Schedule struct {
	// First is the wait before the first run: at start the feed follower
	// is inspecting what changed while the service was down, and a run at
	// once would inspect the same articles a second time.
	First time.Duration
	// Every is the wait between runs.
	Every time.Duration
	// Retry is the wait after a failed run (the article service not up yet).
	Retry time.Duration
}

// Daily calls run on schedule s until ctx ends.
func Daily(ctx context.Context, s Schedule, run func(context.Context) error, log *slog.Logger) {
	next := s.First
	for {
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		next = s.Every
		if err := run(ctx); err != nil && ctx.Err() == nil {
			next = min(s.Every, s.Retry)
			log.WarnContext(ctx, "scheduled inspections failed; retrying", "err", err, "in", next)
		}
	}
}
