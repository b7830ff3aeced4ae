package embedded

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"buzhou.dev/search/internal/index"
	"buzhou.dev/search/internal/index/indextest"
)

func TestContractInMemory(t *testing.T) {
	t.Parallel()
	indextest.Run(t, func(t *testing.T) index.Index {
		ix, err := Open("")
		if err != nil {
			t.Fatal(err)
		}
		return ix
	})
}

func TestContractOnDisk(t *testing.T) {
	t.Parallel()
	indextest.Run(t, func(t *testing.T) index.Index {
		ix, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return ix
	})
}

func mustOpen(t *testing.T, dir string) *Index {
	t.Helper()
	ix, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func prepare(t *testing.T, ix *Index) bool {
	t.Helper()
	fresh, err := ix.Prepare(context.Background(), indextest.Schema())
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return fresh
}

func articles(t *testing.T, ix *Index) []string {
	t.Helper()
	hits, err := ix.Query(context.Background(), index.Query{Rankers: []index.Ranker{{Dense: []float32{1, 1, 1, 1}, Weight: 1}}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range hits {
		if h.Payload.Chunk == 0 {
			out = append(out, h.Payload.ArticleID)
		}
	}
	slices.Sort(out)
	return out
}

func TestReopenKeepsWhatWasWritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ix := mustOpen(t, dir)
	prepare(t, ix)
	ctx := context.Background()
	for _, batch := range [][]index.Change{
		{{ArticleID: "a", Chunks: []index.Point{indextest.Point("a", []uint32{1}, 1), indextest.Point("a", []uint32{2}, 1)}}},
		{{ArticleID: "b", Chunks: []index.Point{indextest.Point("b", []uint32{1}, 1)}}, {ArticleID: "c", Chunks: []index.Point{indextest.Point("c", []uint32{3}, 1)}}},
		{{ArticleID: "b"}},
	} {
		if err := ix.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	ix.Close()
	again := mustOpen(t, dir)
	if prepare(t, again) {
		t.Fatalf("a reopened index with the same schema reported fresh")
	}
	if got := articles(t, again); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("after reopening: %v, want [a c]", got)
	}
	if a, c, _ := again.Count(ctx); a != 2 || c != 3 {
		t.Fatalf("after reopening: %d articles, %d chunks; want 2, 3", a, c)
	}
}

func TestDamagedLog(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		damage    func(b []byte) []byte
		wantFresh bool
		want      []string
	}{
		{"torn last record is dropped", func(b []byte) []byte { return b[:len(b)-3] }, false, []string{"a"}},
		{"flipped byte in the middle rebuilds", func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }, true, nil},
		{"garbage file rebuilds", func(b []byte) []byte { return []byte("not a log at all") }, true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ix := mustOpen(t, dir)
			prepare(t, ix)
			ctx := context.Background()
			if err := ix.Write(ctx, []index.Change{{ArticleID: "a", Chunks: []index.Point{indextest.Point("a", []uint32{1}, 1)}}}); err != nil {
				t.Fatal(err)
			}
			if err := ix.Write(ctx, []index.Change{{ArticleID: "b", Chunks: []index.Point{indextest.Point("b", []uint32{1}, 1)}}}); err != nil {
				t.Fatal(err)
			}
			ix.Close()
			path := filepath.Join(dir, "index.log")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, c.damage(b), 0o640); err != nil {
				t.Fatal(err)
			}
			again := mustOpen(t, dir)
			if fresh := prepare(t, again); fresh != c.wantFresh {
				t.Fatalf("fresh = %v, want %v", fresh, c.wantFresh)
			}
			if got := articles(t, again); !slices.Equal(got, c.want) {
				t.Fatalf("articles = %v, want %v", got, c.want)
			}
		})
	}
}

func TestSchemaChangeOnDiskRebuilds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ix := mustOpen(t, dir)
	prepare(t, ix)
	if err := ix.Write(context.Background(), []index.Change{{ArticleID: "a", Chunks: []index.Point{indextest.Point("a", []uint32{1}, 1)}}}); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	again := mustOpen(t, dir)
	fresh, err := again.Prepare(context.Background(), index.Schema{Model: "another", Dim: indextest.Dim})
	if err != nil || !fresh {
		t.Fatalf("Prepare with another model = %v, %v; want fresh", fresh, err)
	}
	again.Close()
	third := mustOpen(t, dir)
	if fresh, _ := third.Prepare(context.Background(), index.Schema{Model: "another", Dim: indextest.Dim}); fresh {
		t.Fatalf("the new schema was not kept")
	}
}

func TestCompaction(t *testing.T) {
	t.Parallel()
	t.Run("memory", func(t *testing.T) { t.Parallel(); testCompaction(t, "") })
	t.Run("disk", func(t *testing.T) { t.Parallel(); testCompaction(t, t.TempDir()) })
}

func testCompaction(t *testing.T, dir string) {
	ix := mustOpen(t, dir)
	prepare(t, ix)
	ctx := context.Background()
	// Rewrite the same articles many times: dead slots pile up and must be
	// compacted away without changing answers.
	for round := range 50 {
		var batch []index.Change
		for _, a := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
			batch = append(batch, index.Change{ArticleID: a, Chunks: []index.Point{indextest.Point(a, []uint32{uint32(round)}, 1)}})
		}
		if err := ix.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	ix.mu.RLock()
	slots := len(ix.slots)
	ix.mu.RUnlock()
	if slots > 300 {
		t.Fatalf("%d slots for 10 live chunks: not compacted", slots)
	}
	hits, err := ix.Query(ctx, index.Query{Rankers: []index.Ranker{{Sparse: index.Sparse{Indices: []uint32{49}, Values: []float32{1}}, Weight: 1}}, Limit: 20})
	if err != nil || len(hits) != 10 {
		t.Fatalf("after compaction term 49 finds %d, %v; want 10", len(hits), err)
	}
}

func TestTextsSurviveReopenAndRewrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ix := mustOpen(t, dir)
	prepare(t, ix)
	ctx := context.Background()
	p := indextest.Point("a", []uint32{1}, 1)
	p.Payload.TextZH, p.Payload.TextEN = "中文正文", "English body"
	if err := ix.Write(ctx, []index.Change{{ArticleID: "a", Chunks: []index.Point{p}}}); err != nil {
		t.Fatal(err)
	}
	check := func(ix *Index, when string) {
		t.Helper()
		got, err := ix.Texts(ctx, []index.Ref{{ArticleID: "a"}})
		if err != nil || got[0] != [2]string{"中文正文", "English body"} {
			t.Fatalf("%s: texts %q, %v", when, got, err)
		}
		chunks, err := ix.Chunks(ctx, "a")
		if err != nil || len(chunks) != 1 || chunks[0].Sparse.Len() != 1 || chunks[0].Payload.TextEN != "English body" {
			t.Fatalf("%s: chunks %+v, %v", when, chunks, err)
		}
	}
	check(ix, "written")
	ix.mu.Lock()
	if err := ix.rewriteLog(); err != nil {
		t.Fatal(err)
	}
	ix.mu.Unlock()
	check(ix, "after a log rewrite")
	ix.Close()
	again := mustOpen(t, dir)
	prepare(t, again)
	check(again, "reopened")
	ix.mu.RLock()
	inMemory := len(again.slots[0].text)
	ix.mu.RUnlock()
	if inMemory != 0 {
		t.Errorf("an index on disk keeps %d bytes of text in memory", inMemory)
	}
}

// TestLargeDenseScanFindsTheNearest checks the 8-bit dense scan against
// the exact answer, on clustered vectors like embeddings.
func TestLargeDenseScanFindsTheNearest(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a large index")
	}
	const dim, n = 32, 25000
	ix := mustOpen(t, "")
	if _, err := ix.Prepare(context.Background(), index.Schema{Model: "m", Dim: dim}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	centres := make([][]float32, 50)
	for i := range centres {
		centres[i] = make([]float32, dim)
		for j := range centres[i] {
			centres[i][j] = float32(rng.NormFloat64())
		}
	}
	vec := func() []float32 {
		c := centres[rng.IntN(len(centres))]
		v := make([]float32, dim)
		for j := range v {
			v[j] = c[j] + 0.5*float32(rng.NormFloat64())
		}
		return v
	}
	var batch []index.Change
	for i := range n {
		batch = append(batch, index.Change{ArticleID: fmt.Sprint(i), Chunks: []index.Point{{Dense: vec()}}})
	}
	if err := ix.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	found, want := 0, 0
	for range 20 {
		q := vec()
		hits, err := ix.Query(context.Background(), index.Query{Rankers: []index.Ranker{{Dense: q, Weight: 1}}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		exact := exactTop(ix, q, 10)
		for _, h := range hits {
			if slices.Contains(exact, h.Payload.ArticleID) {
				found++
			}
		}
		want += len(exact)
	}
	if recall := float64(found) / float64(want); recall < 0.99 {
		t.Errorf("recall@10 of the dense scan %.3f, want ≥ 0.99", recall)
	}
}

func exactTop(ix *Index, q []float32, k int) []string {
	q = index.Normalize(slices.Clone(q))
	type sc struct {
		id string
		s  float64
	}
	var all []sc
	for a, ids := range ix.byArticle {
		s := ids[0]
		all = append(all, sc{a, dot(q, ix.dense[int(s)*ix.schema.Dim:int(s+1)*ix.schema.Dim])})
	}
	slices.SortFunc(all, func(x, y sc) int { return cmp.Compare(y.s, x.s) })
	var out []string
	for _, x := range all[:k] {
		out = append(out, x.id)
	}
	return out
}
