package ranking_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"buzhou.dev/search/internal/document"
	"buzhou.dev/search/internal/embed"
	"buzhou.dev/search/internal/index"
	"buzhou.dev/search/internal/index/embedded"
	"buzhou.dev/search/internal/indexer"
	"buzhou.dev/search/internal/ranking"
	"buzhou.dev/search/synth"
)

// BenchmarkEngine measures search in process (no REST) on synthetic
// corpora, with the learned embedder: indexing throughput, heap, and
// query latency percentiles.
func BenchmarkEngine(b *testing.B) {
	// make bench runs 1k and 10k here; the REST benchmark adds 100k.
	for _, n := range synth.Sizes("BUZHOU_BENCH_SIZES", "1000,10000") {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			// Articles are made twice from the same seed rather than held,
			// so the heap figure is the index's.
			article := func(g *synth.Generator, i int) *articlev1.Article {
				a := g.Article(i)
				a.Id = fmt.Sprintf("art_%d", i)
				return a
			}
			var units []string
			g := synth.New(1)
			for i := range min(n, 6000) {
				units = append(units, document.LearningUnits(article(g, i))...)
			}
			start := time.Now()
			m, err := embed.Learn(units, embed.LearnConfig{})
			if err != nil {
				b.Fatal(err)
			}
			learnTook := time.Since(start)
			emb := embed.NewLearned(m)
			idx, err := embedded.Open(b.TempDir()) // on disk, as the service runs it
			if err != nil {
				b.Fatal(err)
			}
			if _, err := idx.Prepare(ctx, index.Schema{Model: emb.Model(), Dim: emb.Dim()}); err != nil {
				b.Fatal(err)
			}
			params := document.Default()
			x := indexer.New(idx, emb, params, nil)
			units = nil
			g = synth.New(1)
			start = time.Now()
			for i := 0; i < n; i += 256 {
				var batch []*articlev1.ArticleChange
				for j := i; j < min(i+256, n); j++ {
					a := article(g, j)
					batch = append(batch, &articlev1.ArticleChange{Revision: int64(j + 1), Kind: articlev1.ChangeKind_CHANGE_KIND_UPSERT, ArticleId: a.Id, Article: a})
				}
				if err := x.Apply(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			indexTook := time.Since(start)
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			eng := ranking.New(idx, emb, params, ranking.Default())
			queries := make([]string, 200)
			for i := range queries {
				queries[i] = g.Query()
			}
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				// What a search of the API does: rank, snippets for the
				// page, confidence of the best.
				t := time.Now()
				ans, err := eng.Search(ctx, ranking.Request{Text: queries[i%len(queries)], Mode: ranking.Hybrid, Limit: 1000})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := eng.Snippets(ctx, ans.Results[:min(20, len(ans.Results))], ans.Query, "en"); err != nil {
					b.Fatal(err)
				}
				if _, _, err := eng.Confidence(ctx, ans); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99")
			b.ReportMetric(float64(n)/indexTook.Seconds(), "articles/s-index")
			b.ReportMetric(learnTook.Seconds(), "s-learn")
			b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "MiB-heap")
		})
	}
}
