package indexer

import (
	"context"
	"sync/atomic"
	"testing"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"buzhou.dev/search/internal/document"
	"buzhou.dev/search/internal/embed"
	"buzhou.dev/search/internal/index"
	"buzhou.dev/search/internal/index/embedded"
)

// counting counts the texts it embeds.
type counting struct {
	embed.Embedder
	texts atomic.Int64
}

func (c *counting) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c.texts.Add(int64(len(texts)))
	return c.Embedder.Embed(ctx, texts)
}

// A revision that only writes related ids is not indexed again (no
// embedding), alone or after the article's edit in one batch, and the
// article stays indexed; an edit after it is indexed.
func TestRelatedOnlyChangesAreNotReindexed(t *testing.T) {
	t.Parallel()
	idx, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	emb := &counting{Embedder: embed.NewHashing(0)}
	if _, err := idx.Prepare(t.Context(), index.Schema{Model: emb.Model(), Dim: emb.Dim()}); err != nil {
		t.Fatal(err)
	}
	x := New(idx, emb, document.Default(), nil)
	art := func(title string, related ...string) *articlev1.Article {
		return &articlev1.Article{Id: "art_1", Slug: "s", Status: "published", Title: &articlev1.LocalizedText{En: title},
			Summary: &articlev1.LocalizedText{En: "a summary"}, RelatedIds: related}
	}
	change := func(rev int64, cause articlev1.ChangeCause, a *articlev1.Article, paths ...string) *articlev1.ArticleChange {
		return &articlev1.ArticleChange{Revision: rev, Kind: articlev1.ChangeKind_CHANGE_KIND_UPSERT, ArticleId: a.GetId(), Article: a, Cause: cause, ChangedPaths: paths}
	}
	related := articlev1.ChangeCause_CHANGE_CAUSE_RELATED_UPDATE
	steps := []struct {
		name    string
		batch   []*articlev1.ArticleChange
		embeds  bool
		wantHit string
	}{
		{"create", []*articlev1.ArticleChange{change(1, articlev1.ChangeCause_CHANGE_CAUSE_CREATE, art("kettle"))}, true, "kettle"},
		{"related only", []*articlev1.ArticleChange{change(2, related, art("kettle", "art_2"), "related_ids")}, false, "kettle"},
		{"an edit, then its related ids", []*articlev1.ArticleChange{
			change(3, articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT, art("teapot", "art_2"), "title"),
			change(4, related, art("teapot", "art_3"), "related_ids"),
		}, true, "teapot"},
		// A RELATED_UPDATE naming other fields (not what the article
		// service writes) is indexed rather than trusted.
		{"related cause with other fields", []*articlev1.ArticleChange{change(5, related, art("samovar"), "related_ids", "title")}, true, "samovar"},
	}
	for _, st := range steps {
		before := emb.texts.Load()
		if err := x.Apply(t.Context(), st.batch); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if embedded := emb.texts.Load() > before; embedded != st.embeds {
			t.Errorf("%s: embedded %v, want %v", st.name, embedded, st.embeds)
		}
		chunks, err := idx.Chunks(t.Context(), "art_1")
		if err != nil || len(chunks) == 0 || chunks[0].Payload.TitleEN != st.wantHit {
			t.Fatalf("%s: indexed %d chunks (%v), want the title %q", st.name, len(chunks), err, st.wantHit)
		}
	}
}
