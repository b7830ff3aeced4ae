package store

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/platform/errs"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

const (
	defaultPageSize = 20
	maxPageSize     = 100
	// Changes answers at most this many entries per call so one follower
	// catching up from 0 cannot pull the whole feed into memory at once; it
	// simply calls again from the last revision it got.
	defaultChangeLimit = 100
	maxChangeLimit     = 1000

	statusArchived = "archived"

	// tokenArticles starts the article list's page tokens.
	tokenArticles = "a"
)

// asTime turns a proto timestamp into a column value of microsecond precision;
// an unset timestamp becomes the Unix epoch rather than failing the write.
func asTime(ts *timestamppb.Timestamp) time.Time {
	return ts.AsTime().UTC().Truncate(time.Microsecond)
}

// row is an article as the articles table holds it: the filter and sort
// columns beside the protojson of the whole article.
type row struct {
	id, slug, status, domain, verificationStatus string
	revision                                     int32
	createdAt, updatedAt                         time.Time
	data                                         string
}

func newRow(a *articlev1.Article) (row, error) {
	data, err := encodeArticle(a)
	if err != nil {
		return row{}, err
	}
	return row{
		id:                 a.GetId(),
		slug:               a.GetSlug(),
		status:             a.GetStatus(),
		domain:             a.GetDomain(),
		verificationStatus: a.GetVerificationStatus(),
		revision:           a.GetRevision(),
		createdAt:          asTime(a.GetCreatedAt()),
		updatedAt:          asTime(a.GetUpdatedAt()),
		data:               data,
	}, nil
}

func encodeArticle(a *articlev1.Article) (string, error) {
	b, err := protojson.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("store: encode article %q: %w", a.GetId(), err)
	}
	return string(b), nil
}

// decodeArticle discards unknown fields so that rows written by a newer
// version of the service still load after a rollback.
func decodeArticle(data string) (*articlev1.Article, error) {
	a := &articlev1.Article{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal([]byte(data), a); err != nil {
		return nil, fmt.Errorf("store: decode stored article: %w", err)
	}
	return a, nil
}

// checkNew rejects what the tables cannot hold; everything else about a new
// article is the domain layer's business.
func checkNew(a *articlev1.Article) error {
	switch {
	case a == nil:
		return fmt.Errorf("%w: no article given; send the article to create", errs.ErrInvalid)
	case a.GetId() == "":
		return fmt.Errorf("%w: the new article has no id; set one before storing it", errs.ErrInvalid)
	case a.GetSlug() == "":
		return fmt.Errorf("%w: article %q has no slug; set one before storing it", errs.ErrInvalid, a.GetId())
	}
	return nil
}

func alreadyExists(a *articlev1.Article, existingID string) error {
	if existingID == a.GetId() {
		return fmt.Errorf("%w: an article with id %q already exists; create it with a new id or update that article",
			errs.ErrAlreadyExists, existingID)
	}
	return fmt.Errorf("%w: an article with slug %q already exists (id %s); change the English title or update that article",
		errs.ErrAlreadyExists, a.GetSlug(), existingID)
}

// NotFound is the error for an article that does not exist, and for one the
// caller may not see: a refusal that read otherwise would tell that a draft
// is there.
func NotFound(idOrSlug string) error {
	return fmt.Errorf("%w: article %q not found; check the id or slug", errs.ErrNotFound, idOrSlug)
}

// notFoundID is for writes, which name articles by id only.
func notFoundID(id string) error {
	return fmt.Errorf("%w: article %q not found; check the id (writes take the id, not the slug)", errs.ErrNotFound, id)
}

// prepareUpdate is the middle of Update: a is the stored article (at
// revision rev), freshly decoded so mutate may change it freely. It returns
// the article to store, the kind of its feed entry and the fields mutate
// changed.
func prepareUpdate(a *articlev1.Article, rev, expected int32, cause articlev1.ChangeCause, mutate func(*articlev1.Article) error, now time.Time) (*articlev1.Article, articlev1.ChangeKind, []string, error) {
	id, slug := a.GetId(), a.GetSlug()
	if expected != 0 && expected != rev {
		return nil, 0, nil, fmt.Errorf("%w: article %s is at revision %d, you sent If-Match %d; fetch it again and reapply your change",
			errs.ErrFailedPrecondition, id, rev, expected)
	}
	before := cloneArticle(a)
	if err := mutate(a); err != nil {
		return nil, 0, nil, err // the caller's own error, passed on untouched
	}
	if a.GetId() != id || a.GetSlug() != slug {
		return nil, 0, nil, fmt.Errorf("%w: article %s: the id and slug of an article never change; leave them as they are",
			errs.ErrInvalid, id)
	}
	a.Revision = rev + 1
	if touches(cause) {
		a.UpdatedAt = timestamppb.New(now)
	}
	return a, changeKind(a), changedPaths(before, a), nil
}

// touches reports whether a change of this cause moves updated_at. The
// related ids the search service writes are not news about the article's
// content: readers (and "updated" dates on pages) should not see them as
// an edit.
func touches(cause articlev1.ChangeCause) bool {
	return cause != articlev1.ChangeCause_CHANGE_CAUSE_RELATED_UPDATE
}

// changedPaths lists the top-level fields whose value differs between before
// and after, by proto name, sorted (the descriptor's order is not). The
// fields every Update sets are bookkeeping, not news to followers.
func changedPaths(before, after *articlev1.Article) []string {
	b, a := before.ProtoReflect(), after.ProtoReflect()
	fields := b.Descriptor().Fields()
	var out []string
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch fd.Name() {
		case "revision", "updated_at":
			continue
		}
		if b.Has(fd) != a.Has(fd) || !b.Get(fd).Equal(a.Get(fd)) {
			out = append(out, string(fd.Name()))
		}
	}
	slices.Sort(out)
	return out
}

// changeKind tells followers to drop archived articles and keep the rest.
func changeKind(a *articlev1.Article) articlev1.ChangeKind {
	if a.GetStatus() == statusArchived {
		return articlev1.ChangeKind_CHANGE_KIND_TOMBSTONE
	}
	return articlev1.ChangeKind_CHANGE_KIND_UPSERT
}

// changeData is the snapshot a feed entry keeps: none for a tombstone, whose
// followers only need the id.
func changeData(kind articlev1.ChangeKind, data string) *string {
	if kind == articlev1.ChangeKind_CHANGE_KIND_TOMBSTONE {
		return nil
	}
	return &data
}

// newChange makes a feed entry of a changes row.
func newChange(rev int64, kind articlev1.ChangeKind, articleID string, at time.Time, data *string, cause articlev1.ChangeCause, paths []string) (*articlev1.ArticleChange, error) {
	c := &articlev1.ArticleChange{
		Revision:     rev,
		Kind:         kind,
		ArticleId:    articleID,
		ChangeTime:   timestamppb.New(at),
		Cause:        cause,
		ChangedPaths: paths,
	}
	if data != nil {
		a, err := decodeArticle(*data)
		if err != nil {
			return nil, err
		}
		c.Article = a
	}
	return c, nil
}

func pageSize(n int) int {
	switch {
	case n <= 0:
		return defaultPageSize
	case n > maxPageSize:
		return maxPageSize
	}
	return n
}

func pageBytes(n int) int {
	if n <= 0 {
		return DefaultPageBytes
	}
	return n
}

func changeLimit(n int) int {
	switch {
	case n <= 0:
		return defaultChangeLimit
	case n > maxChangeLimit:
		return maxChangeLimit
	}
	return n
}

// statsCounter folds (status, domain, verification status, count) groups
// into the stats answer; archived articles count only in total and by_status.
type statsCounter struct {
	resp *articlev1.GetArticleStatsResponse
}

func newStatsCounter() statsCounter {
	return statsCounter{resp: &articlev1.GetArticleStatsResponse{
		ByStatus:             map[string]int64{},
		ByDomain:             map[string]int64{},
		ByVerificationStatus: map[string]int64{},
	}}
}

func (c statsCounter) add(status, domain, verification string, n int64) {
	c.resp.Total += n
	c.resp.ByStatus[status] += n
	if status == statusArchived {
		return
	}
	c.resp.ByDomain[domain] += n
	c.resp.ByVerificationStatus[verification] += n
}

// notifier is a broadcast: every waiter holds the same channel, closed and
// forgotten at the next commit. It is made lazily so that commits nobody
// waits for cost nothing.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) broadcast() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// cloneArticle keeps the caller's message apart from the one the store hands
// back.
func cloneArticle(a *articlev1.Article) *articlev1.Article {
	return proto.Clone(a).(*articlev1.Article)
}
