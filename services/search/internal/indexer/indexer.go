// Package indexer writes article changes from the feed into the index: a
// published (or deprecated) article becomes its chunks with their sparse
// vectors and embeddings, anything else (a draft, an archived article, a
// tombstone) is removed.
package indexer

import (
	"context"
	"fmt"
	"time"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"buzhou.dev/search/internal/document"
	"buzhou.dev/search/internal/embed"
	"buzhou.dev/search/internal/index"
)

// Indexer applies feed changes to an index.
type Indexer struct {
	idx    index.Index
	emb    embed.Embedder
	params document.Params
	now    func() time.Time
}

// New returns an indexer. nil now means time.Now.
func New(idx index.Index, emb embed.Embedder, params document.Params, now func() time.Time) *Indexer {
	if now == nil {
		now = time.Now
	}
	return &Indexer{idx: idx, emb: emb, params: params, now: now}
}

// Apply writes a batch of changes in one index write. Only the last change
// of each article counts; all of the batch's chunks are embedded in one
// call, which the HTTP embedder splits into its own batches. A change of
// the related ids alone (cause RELATED_UPDATE) is skipped: nothing indexed
// depends on them, and re-embedding every article whose list moved would
// double the indexing work.
func (x *Indexer) Apply(ctx context.Context, changes []*articlev1.ArticleChange) error {
	last := map[string]int{}
	for i, c := range changes {
		if !RelatedOnly(c) {
			last[c.GetArticleId()] = i
		}
	}
	var out []index.Change
	var texts []string
	var at [][2]int // (change, chunk) of each text
	for i, c := range changes {
		if j, ok := last[c.GetArticleId()]; !ok || j != i || c.GetArticleId() == "" {
			continue
		}
		ch := index.Change{ArticleID: c.GetArticleId()}
		if c.GetKind() == articlev1.ChangeKind_CHANGE_KIND_UPSERT {
			for j, chunk := range x.params.Chunks(c.GetArticle(), x.now()) {
				ch.Chunks = append(ch.Chunks, chunk.Point)
				texts = append(texts, chunk.EmbedText)
				at = append(at, [2]int{len(out), j})
			}
		}
		out = append(out, ch)
	}
	if len(texts) > 0 {
		vs, err := x.emb.Embed(ctx, texts)
		if err != nil {
			return fmt.Errorf("embed %d chunks: %w", len(texts), err)
		}
		for k, v := range vs {
			out[at[k][0]].Chunks[at[k][1]].Dense = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	if err := x.idx.Write(ctx, out); err != nil {
		return fmt.Errorf("write %d articles to the index: %w", len(out), err)
	}
	return nil
}

// RelatedOnly reports a change that wrote an article's related ids and
// nothing else the index holds.
func RelatedOnly(c *articlev1.ArticleChange) bool {
	if c.GetCause() != articlev1.ChangeCause_CHANGE_CAUSE_RELATED_UPDATE || c.GetKind() != articlev1.ChangeKind_CHANGE_KIND_UPSERT {
		return false
	}
	for _, p := range c.GetChangedPaths() {
		if p != "related_ids" {
			return false
		}
	}
	return true
}
