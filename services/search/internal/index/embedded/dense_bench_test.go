package embedded

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"buzhou.dev/search/internal/document"
	"buzhou.dev/search/internal/embed"
	"buzhou.dev/search/internal/index"
	"buzhou.dev/search/internal/indexer"
	"buzhou.dev/search/synth"
)

// BenchmarkDenseScan compares the dense ranker's scan (8-bit, then exact
// for the best) with an exact float32 scan of every chunk, on the vectors
// the service makes (synthetic articles, the learned embedder): the time of
// each and the share of the exact top 10 and top 200 chunks it finds.
func BenchmarkDenseScan(b *testing.B) {
	for _, n := range synth.Sizes("BUZHOU_BENCH_SIZES", "10000") {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			g := synth.New(1)
			var units []string
			for i := range min(n, 2000) {
				units = append(units, document.LearningUnits(g.Article(i))...)
			}
			m, err := embed.Learn(units, embed.LearnConfig{})
			if err != nil {
				b.Fatal(err)
			}
			emb := embed.NewLearned(m)
			ix, err := Open("")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ix.Prepare(ctx, index.Schema{Model: emb.Model(), Dim: emb.Dim()}); err != nil {
				b.Fatal(err)
			}
			x := indexer.New(ix, emb, document.Default(), nil)
			g = synth.New(1)
			for i := 0; i < n; i += 256 {
				var batch []*articlev1.ArticleChange
				for j := i; j < min(i+256, n); j++ {
					a := g.Article(j)
					a.Id = fmt.Sprintf("art_%d", j)
					batch = append(batch, &articlev1.ArticleChange{Revision: int64(j + 1), Kind: articlev1.ChangeKind_CHANGE_KIND_UPSERT, ArticleId: a.Id, Article: a})
				}
				if err := x.Apply(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			queries := make([][]float32, 200)
			for i := range queries {
				vs, err := emb.Embed(ctx, []string{g.Query()})
				if err != nil {
					b.Fatal(err)
				}
				queries[i] = vs[0]
			}
			scan := func(exact bool, q []float32, limit int) []scored {
				if exact {
					return exactScan(ix, q, 0.15, limit)
				}
				return ix.denseScan(index.Ranker{Dense: q, Threshold: 0.15}, index.Filter{}, limit)
			}
			recall := func(k int) float64 {
				found, want := 0, 0
				for _, q := range queries {
					got := scan(false, q, k)
					for _, e := range scan(true, q, k) {
						want++
						if slices.ContainsFunc(got, func(g scored) bool { return g.slot == e.slot }) {
							found++
						}
					}
				}
				return float64(found) / float64(max(want, 1))
			}
			r10, r200 := recall(10), recall(200)
			for _, exact := range []bool{true, false} {
				name := map[bool]string{true: "exact", false: "scan"}[exact]
				b.Run(name, func(b *testing.B) {
					// The thread's own CPU time: what a scan costs, however
					// busy the machine.
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					i, cpu := 0, threadCPU(b)
					for b.Loop() {
						scan(exact, queries[i%len(queries)], 200)
						i++
					}
					b.ReportMetric(float64(threadCPU(b)-cpu)/float64(time.Millisecond)/float64(i), "cpu-ms/scan")
					b.ReportMetric(float64(ix.alive), "chunks")
					if !exact {
						b.ReportMetric(r10, "recall@10")
						b.ReportMetric(r200, "recall@200")
					}
				})
			}
		})
	}
}

// exactScan is the dense ranker's answer by float32 over every chunk.
func exactScan(ix *Index, q []float32, threshold float64, limit int) []scored {
	q = index.Normalize(slices.Clone(q))
	top := &topK{k: limit}
	dim := ix.schema.Dim
	for s := range ix.slots {
		if ix.boost[s] == 0 {
			continue
		}
		if score := float64(dotGo(q, ix.dense[s*dim:(s+1)*dim])); score >= threshold {
			top.offer(int32(s), score)
		}
	}
	return top.best()
}

// threadCPU is the CPU time of the calling thread.
func threadCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
