// Package indextest is the contract suite every index backend passes: the
// embedded index, the Qdrant adapter against the in-process fake, and the
// Qdrant adapter against a real server (make test-qdrant).
package indextest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"buzhou.dev/platform/vocab"
	"buzhou.dev/search/internal/index"
)

// Dim is the dimension of the suite's vectors.
const Dim = 4

// Schema is the schema the suite prepares.
func Schema() index.Schema { return index.Schema{Model: "test-model", Dim: Dim} }

// Open returns a new, empty index that nobody else uses; the suite closes it.
type Open func(t *testing.T) index.Index

// Run runs the contract suite on the indexes open returns.
func Run(t *testing.T, open Open) {
	t.Run("Prepare", func(t *testing.T) { t.Parallel(); testPrepare(t, open) })
	t.Run("WriteReplaceDelete", func(t *testing.T) { t.Parallel(); testWrite(t, open) })
	t.Run("Lexical", func(t *testing.T) { t.Parallel(); testLexical(t, open) })
	t.Run("Dense", func(t *testing.T) { t.Parallel(); testDense(t, open) })
	t.Run("Fusion", func(t *testing.T) { t.Parallel(); testFusion(t, open) })
	t.Run("Filters", func(t *testing.T) { t.Parallel(); testFilters(t, open) })
	t.Run("PayloadAndVectors", func(t *testing.T) { t.Parallel(); testPayload(t, open) })
	t.Run("Refusals", func(t *testing.T) { t.Parallel(); testRefusals(t, open) })
	t.Run("Reset", func(t *testing.T) { t.Parallel(); testReset(t, open) })
	t.Run("Boost", func(t *testing.T) { t.Parallel(); testBoost(t, open) })
}

func prepared(t *testing.T, open Open) index.Index {
	t.Helper()
	ix := open(t)
	t.Cleanup(func() { ix.Close() })
	fresh, err := ix.Prepare(context.Background(), Schema())
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if !fresh {
		t.Fatalf("Prepare on a new index reported it not fresh")
	}
	return ix
}

// Point makes a point for article a: terms are sparse indices of weight 1,
// dense is padded to Dim.
func Point(a string, terms []uint32, dense ...float32) index.Point {
	m := map[uint32]float32{}
	for _, t := range terms {
		m[t]++
	}
	v := make([]float32, Dim)
	copy(v, dense)
	return index.Point{
		Payload: index.Payload{Slug: a + "-slug", Domain: "mcp", Status: "published", VerificationStatus: "pending", Confidence: 72, Langs: []string{"en"}, TitleEN: "title of " + a},
		Sparse:  index.NewSparse(m), Dense: v,
	}
}

func write(t *testing.T, ix index.Index, changes ...index.Change) {
	t.Helper()
	if err := ix.Write(context.Background(), changes); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func put(a string, chunks ...index.Point) index.Change {
	return index.Change{ArticleID: a, Chunks: chunks}
}

func query(t *testing.T, ix index.Index, q index.Query) []string {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 10
	}
	hits, err := ix.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	var out []string
	for _, h := range hits {
		id := h.Payload.ArticleID
		if h.Payload.Chunk > 0 {
			id = fmt.Sprintf("%s#%d", id, h.Payload.Chunk)
		}
		out = append(out, id)
	}
	return out
}

func lexR(terms ...uint32) index.Ranker {
	m := map[uint32]float32{}
	for _, t := range terms {
		m[t] = 1
	}
	return index.Ranker{Sparse: index.NewSparse(m), Weight: 1}
}

func denseR(v ...float32) index.Ranker {
	d := make([]float32, Dim)
	copy(d, v)
	return index.Ranker{Dense: d, Weight: 1}
}

func lex(terms ...uint32) index.Query { return index.Query{Rankers: []index.Ranker{lexR(terms...)}} }

func dense(v ...float32) index.Query { return index.Query{Rankers: []index.Ranker{denseR(v...)}} }

func fused(rs ...index.Ranker) index.Query { return index.Query{Rankers: rs} }

func count(t *testing.T, ix index.Index) (int64, int64) {
	t.Helper()
	a, c, err := ix.Count(context.Background())
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return a, c
}

func testPrepare(t *testing.T, open Open) {
	ctx := context.Background()
	ix := prepared(t, open)
	write(t, ix, put("a", Point("a", []uint32{1}, 1)))
	if fresh, err := ix.Prepare(ctx, Schema()); err != nil || fresh {
		t.Fatalf("Prepare again with the same schema = %v, %v; want not fresh", fresh, err)
	}
	if a, _ := count(t, ix); a != 1 {
		t.Fatalf("Prepare with the same schema lost points: %d articles", a)
	}
	for _, s := range []index.Schema{{Model: "other-model", Dim: Dim}, {Model: "other-model", Dim: Dim + 2}} {
		fresh, err := ix.Prepare(ctx, s)
		if err != nil || !fresh {
			t.Fatalf("Prepare(%v) = %v, %v; want fresh", s, fresh, err)
		}
		if a, c := count(t, ix); a != 0 || c != 0 {
			t.Fatalf("Prepare(%v) kept %d articles, %d chunks; a schema change must empty the index", s, a, c)
		}
	}
	if _, err := ix.Prepare(ctx, index.Schema{Model: "", Dim: 0}); err == nil {
		t.Fatalf("Prepare with an empty schema succeeded")
	}
}

func testWrite(t *testing.T, open Open) {
	ix := prepared(t, open)
	write(t, ix,
		put("a", Point("a", []uint32{1, 2}, 1), Point("a", []uint32{3}, 1), Point("a", []uint32{4}, 1)),
		put("b", Point("b", []uint32{1}, 0, 1)))
	if a, c := count(t, ix); a != 2 || c != 4 {
		t.Fatalf("count = %d articles, %d chunks; want 2, 4", a, c)
	}
	if got := query(t, ix, lex(4)); !slices.Equal(got, []string{"a#2"}) {
		t.Fatalf("term 4 finds %v, want [a#2]", got)
	}
	// Fewer chunks: the stale ones go.
	write(t, ix, put("a", Point("a", []uint32{5}, 1)))
	if a, c := count(t, ix); a != 2 || c != 2 {
		t.Fatalf("after replacing a with one chunk: %d articles, %d chunks; want 2, 2", a, c)
	}
	if got := query(t, ix, lex(4)); len(got) != 0 {
		t.Fatalf("a stale chunk is still found: %v", got)
	}
	if got := query(t, ix, lex(5)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("term 5 finds %v, want [a]", got)
	}
	// Delete, twice and of a missing article: fine.
	write(t, ix, index.Change{ArticleID: "a"}, index.Change{ArticleID: "a"}, index.Change{ArticleID: "never-there"})
	if a, c := count(t, ix); a != 1 || c != 1 {
		t.Fatalf("after deleting a: %d articles, %d chunks; want 1, 1", a, c)
	}
	if got := query(t, ix, lex(1, 5)); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after deleting a, terms 1 and 5 find %v, want [b]", got)
	}
	// In one batch, later changes win.
	write(t, ix, put("c", Point("c", []uint32{7}, 1)), index.Change{ArticleID: "c"}, put("d", Point("d", []uint32{7}, 1)), put("d", Point("d", []uint32{8}, 1)))
	if got := query(t, ix, lex(7, 8)); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("after a batch, terms 7 and 8 find %v, want [d]", got)
	}
	chunks, err := ix.Chunks(context.Background(), "a")
	if err != nil || len(chunks) != 0 {
		t.Fatalf("Chunks of a deleted article = %d, %v", len(chunks), err)
	}
}

func testLexical(t *testing.T, open Open) {
	ix := prepared(t, open)
	// Term 1 is everywhere, term 9 rare: idf makes 9 decide.
	write(t, ix,
		put("common", Point("common", []uint32{1, 1, 1})),
		put("rare", Point("rare", []uint32{1, 9})),
		put("other1", Point("other1", []uint32{1, 2})),
		put("other2", Point("other2", []uint32{1, 3})),
		put("nothing", Point("nothing", []uint32{4})))
	got := query(t, ix, lex(1, 9))
	if len(got) != 4 || got[0] != "rare" {
		t.Fatalf("terms 1 and 9 rank %v; want rare first and 4 matches (not the one without either term)", got)
	}
	// Heavier query weight counts more.
	q := index.Query{Rankers: []index.Ranker{{Sparse: index.Sparse{Indices: []uint32{2, 3}, Values: []float32{3, 1}}, Weight: 1}}, Limit: 10}
	if got := query(t, ix, q); !slices.Equal(got, []string{"other1", "other2"}) {
		t.Fatalf("weighted terms rank %v, want [other1 other2]", got)
	}
	q.Limit = 1
	if got := query(t, ix, q); len(got) != 1 {
		t.Fatalf("limit 1 gave %v", got)
	}
	// The scores fall down the list.
	hits, err := ix.Query(context.Background(), index.Query{Rankers: []index.Ranker{lexR(1, 9)}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Fatalf("scores rise down the list: %v then %v", hits[i-1].Score, hits[i].Score)
		}
	}
}

func testDense(t *testing.T, open Open) {
	ix := prepared(t, open)
	write(t, ix,
		put("x", Point("x", nil, 1, 0)),
		put("xy", Point("xy", nil, 1, 1)),
		put("y", Point("y", nil, 0, 1)),
		put("minus-x", Point("minus-x", nil, -1, 0)))
	if got := query(t, ix, dense(1, 0.1)); !slices.Equal(got[:3], []string{"x", "xy", "y"}) || len(got) != 4 {
		t.Fatalf("dense ranks %v, want x, xy, y, minus-x", got)
	}
	q := dense(1, 0.1)
	q.Rankers[0].Threshold = 0.5
	if got := query(t, ix, q); !slices.Equal(got, []string{"x", "xy"}) {
		t.Fatalf("dense above 0.5 ranks %v, want [x xy]", got)
	}
	// Scale does not matter: cosine.
	if got := query(t, ix, dense(100, 10)); got[0] != "x" {
		t.Fatalf("a long query vector ranks %v", got)
	}
}

func testFusion(t *testing.T, open Open) {
	ix := prepared(t, open)
	// lexOnly matches the term best, denseOnly the vector best, both is
	// second in each: fused at equal weight, both wins.
	write(t, ix,
		put("lexOnly", Point("lexOnly", []uint32{5, 5, 5}, 0, 0, 1)),
		put("both", Point("both", []uint32{5}, 1, 0.3)),
		put("denseOnly", Point("denseOnly", []uint32{6}, 1, 0)),
		put("neither", Point("neither", []uint32{6}, 0, 1)))
	d := denseR(1, 0)
	d.Threshold = 0.5
	q := fused(lexR(5), d)
	got := query(t, ix, q)
	if len(got) != 3 || got[0] != "both" {
		t.Fatalf("fused ranking %v, want both first of 3", got)
	}
	q.Limit = 10
	hits, err := ix.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	// both is 2nd lexically and 2nd densely: 2 × 1/(2 + 2 − 1).
	if want := 2 * index.RRF(2, 1, index.DefaultK); !near(hits[0].Score, want) {
		t.Fatalf("fused score of both = %v, want %v (RRF with k=%d)", hits[0].Score, want, index.DefaultK)
	}
	// Weights tip it: a light dense weight puts lexOnly first; weight 0
	// leaves the other ranking alone.
	d.Weight = 0.1
	if got := query(t, ix, fused(lexR(5), d)); got[0] != "lexOnly" {
		t.Fatalf("dense weight 0.1 ranks %v, want lexOnly first", got)
	}
	lz := lexR(5)
	lz.Weight = 0
	if got := query(t, ix, fused(lz, denseR(1, 0))); got[0] != "denseOnly" || len(got) != 4 {
		t.Fatalf("lexical weight 0 ranks %v, want the dense ranking", got)
	}
	// A ranker's limit bounds its share.
	l1, d1 := lexR(5), d
	l1.Limit, d1.Limit, d1.Weight = 1, 1, 1
	if got := query(t, ix, fused(l1, d1)); len(got) != 2 {
		t.Fatalf("limit 1 for each ranker gave %v, want 2 hits", got)
	}
	// Three rankers: a second lexical one over other terms adds its hits.
	if got := query(t, ix, fused(lexR(5), d, lexR(6))); len(got) != 4 {
		t.Fatalf("three rankers found %v, want all 4", got)
	}
}

func near(a, b float64) bool { return a-b < 1e-4 && b-a < 1e-4 }

func testFilters(t *testing.T, open Open) {
	ix := prepared(t, open)
	mk := func(a string, f func(*index.Payload)) index.Change {
		p := Point(a, []uint32{1}, 1)
		f(&p.Payload)
		return put(a, p)
	}
	write(t, ix,
		mk("mcp-verified", func(p *index.Payload) {
			p.VerificationStatus = "verified"
			p.Confidence = 95
			p.Tags = []string{"node", "ports"}
		}),
		mk("mcp-zh", func(p *index.Payload) { p.Langs = []string{"zh"}; p.Tags = []string{"node"} }),
		mk("agent-failed", func(p *index.Payload) { p.Domain = "agent"; p.VerificationStatus = "failed"; p.Confidence = 50 }),
		mk("deprecated", func(p *index.Payload) { p.Status = "deprecated"; p.Langs = []string{"zh", "en"} }),
	)
	cases := []struct {
		name string
		f    index.Filter
		want []string
	}{
		{"none", index.Filter{}, []string{"agent-failed", "deprecated", "mcp-verified", "mcp-zh"}},
		{"domain", index.Filter{Domain: "agent"}, []string{"agent-failed"}},
		{"verification status", index.Filter{VerificationStatus: "verified"}, []string{"mcp-verified"}},
		{"language", index.Filter{Lang: "zh"}, []string{"deprecated", "mcp-zh"}},
		{"one tag", index.Filter{Tags: []string{"node"}}, []string{"mcp-verified", "mcp-zh"}},
		{"every tag", index.Filter{Tags: []string{"node", "ports"}}, []string{"mcp-verified"}},
		{"unknown tag", index.Filter{Tags: []string{"nope"}}, nil},
		{"min confidence", index.Filter{MinConfidence: 72}, []string{"deprecated", "mcp-verified", "mcp-zh"}},
		{"statuses", index.Filter{Statuses: []string{"published"}}, []string{"agent-failed", "mcp-verified", "mcp-zh"}},
		{"exclude", index.Filter{ExcludeArticle: "mcp-zh"}, []string{"agent-failed", "deprecated", "mcp-verified"}},
		{"combined", index.Filter{Domain: "mcp", Lang: "en", MinConfidence: 90}, []string{"mcp-verified"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, q := range []index.Query{lex(1), dense(1), fused(lexR(1), denseR(1))} {
				q.Filter = c.f
				got := query(t, ix, q)
				slices.Sort(got)
				if !slices.Equal(got, c.want) {
					t.Errorf("filter %+v (%d rankers) finds %v, want %v", c.f, len(q.Rankers), got, c.want)
				}
			}
		})
	}
}

func testPayload(t *testing.T, open Open) {
	ix := prepared(t, open)
	p := Point("full", []uint32{3, 1, 2}, 0.5, 0.5, 0.5, 0.5)
	p.Payload = index.Payload{
		Slug: "full-slug", Domain: "error_codes", Status: "published", VerificationStatus: "verified", Confidence: 91,
		Tags: []string{"a", "b"}, Langs: []string{"zh", "en"}, Versions: []string{">=1.2 <2", "python>=3.9"},
		VerifiedAt: 1767225600, UpdatedAt: 1767225700, TitleZH: "标题", TitleEN: "Title", SummaryZH: "摘要", SummaryEN: "Summary",
		TextZH: "正文", TextEN: "Body text", Boost: 1.05,
	}
	second := Point("full", []uint32{4}, 1)
	second.Payload = p.Payload
	second.Payload.Heading, second.Payload.TextEN = "## Later", "later text"
	write(t, ix, put("full", p, second))
	hits, err := ix.Query(context.Background(), index.Query{Rankers: []index.Ranker{lexR(1)}, Limit: 5, WithVectors: true, WithText: true})
	if err != nil || len(hits) != 1 {
		t.Fatalf("Query = %d hits, %v", len(hits), err)
	}
	want := p
	want.Payload.ArticleID = "full"
	// Weights may be kept at reduced precision (the embedded index keeps
	// bfloat16): 1 % is plenty for ranking.
	opts := []cmp.Option{cmpopts.EquateEmpty(), cmpopts.EquateApprox(0.01, 1e-6)}
	got := index.Point{Payload: *hits[0].Payload, Sparse: hits[0].Sparse, Dense: hits[0].Dense}
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Errorf("hit point differs (-want +got):\n%s", d)
	}
	hits, err = ix.Query(context.Background(), index.Query{Rankers: []index.Ranker{lexR(1)}, Limit: 5})
	if err != nil || len(hits) != 1 || hits[0].Dense != nil || hits[0].Sparse.Len() != 0 || hits[0].Payload.TextEN != "" || hits[0].Payload.SummaryEN != "Summary" {
		t.Errorf("without WithVectors and WithText the hit carries vectors or text, or lacks the rest: %+v, %v", hits, err)
	}
	texts, err := ix.Texts(context.Background(), []index.Ref{{ArticleID: "full", Chunk: 1}, {ArticleID: "full"}, {ArticleID: "nope"}, {ArticleID: "full", Chunk: 9}})
	if err != nil || texts[0] != [2]string{"正文", "later text"} || texts[1] != [2]string{"正文", "Body text"} || texts[2] != [2]string{} || texts[3] != [2]string{} {
		t.Errorf("Texts = %q, %v", texts, err)
	}
	// With a language, at least that text comes (or the other, when it
	// has none); a backend may send both.
	enOnly := Point("enonly", []uint32{5}, 1)
	enOnly.Payload.TextEN = "English only"
	write(t, ix, put("enonly", enOnly))
	texts, err = ix.Texts(context.Background(), []index.Ref{{ArticleID: "full", Lang: vocab.LangEN}, {ArticleID: "full", Lang: vocab.LangZH}, {ArticleID: "enonly", Lang: vocab.LangZH}})
	if err != nil || texts[0][1] != "Body text" || texts[1][0] != "正文" || texts[2][1] != "English only" {
		t.Errorf("Texts by language = %q, %v", texts, err)
	}
	chunks, err := ix.Chunks(context.Background(), "full")
	if err != nil || len(chunks) != 2 {
		t.Fatalf("Chunks = %d, %v; want 2", len(chunks), err)
	}
	want2 := second
	want2.Payload.ArticleID, want2.Payload.Chunk = "full", 1
	if d := cmp.Diff([]index.Point{want, want2}, chunks, opts...); d != "" {
		t.Errorf("chunks differ (-want +got):\n%s", d)
	}
	// A hit's payload may be the index's own: rewriting the article must
	// not change what an earlier answer holds.
	before := *hits[0].Payload
	changed := p
	changed.Payload.TitleEN, changed.Payload.VerificationStatus, changed.Payload.Boost = "New title", "failed", 0.5
	write(t, ix, put("full", changed))
	if d := cmp.Diff(before, *hits[0].Payload); d != "" {
		t.Errorf("a rewrite changed an earlier hit's payload (-before +after):\n%s", d)
	}
	hits, err = ix.Query(context.Background(), index.Query{Rankers: []index.Ranker{lexR(1)}, Limit: 5})
	if err != nil || len(hits) != 1 || hits[0].Payload.TitleEN != "New title" {
		t.Errorf("after the rewrite, hits = %+v, %v; want the new title", hits, err)
	}
}

func testRefusals(t *testing.T, open Open) {
	ctx := context.Background()
	unprepared := open(t)
	t.Cleanup(func() { unprepared.Close() })
	if _, err := unprepared.Query(ctx, lex(1)); err == nil {
		t.Errorf("Query before Prepare succeeded")
	}
	ix := prepared(t, open)
	bad := Point("bad", []uint32{1}, 1)
	bad.Dense = []float32{1, 2}
	if err := ix.Write(ctx, []index.Change{put("bad", bad)}); err == nil {
		t.Errorf("Write with a %d-dimensional vector into a %d-dimensional index succeeded", len(bad.Dense), Dim)
	}
	if a, _ := count(t, ix); a != 0 {
		t.Errorf("a refused write left %d articles", a)
	}
	if _, err := ix.Query(ctx, index.Query{Rankers: []index.Ranker{{Dense: []float32{1, 2}, Weight: 1}}, Limit: 1}); err == nil {
		t.Errorf("Query with a 2-dimensional vector succeeded")
	}
	if _, err := ix.Query(ctx, index.Query{Rankers: []index.Ranker{lexR(1)}, Limit: 0}); err == nil {
		t.Errorf("Query with limit 0 succeeded")
	}
}

func testReset(t *testing.T, open Open) {
	ix := prepared(t, open)
	write(t, ix, put("a", Point("a", []uint32{1}, 1)), put("b", Point("b", []uint32{1}, 1)))
	if err := ix.Reset(context.Background()); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if a, c := count(t, ix); a != 0 || c != 0 {
		t.Fatalf("after Reset: %d articles, %d chunks", a, c)
	}
	write(t, ix, put("c", Point("c", []uint32{1}, 1)))
	if got := query(t, ix, lex(1)); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("after Reset and a write: %v", got)
	}
}

func testBoost(t *testing.T, open Open) {
	ix := prepared(t, open)
	tie := func(a string, boost float64) index.Change {
		p := Point(a, []uint32{1}, 1)
		p.Payload.Boost = boost
		return put(a, p)
	}
	// Equal in every ranker; the boost decides when asked to, and a boost
	// under 1 sinks.
	write(t, ix, tie("plain", 0), tie("trusted", 1.05), tie("sunk", 0.6))
	for _, r := range []index.Ranker{lexR(1), denseR(1)} {
		r.Boosted = true
		if got := query(t, ix, index.Query{Rankers: []index.Ranker{r}}); !slices.Equal(got, []string{"trusted", "plain", "sunk"}) {
			t.Errorf("boosted ranking %v, want trusted, plain, sunk", got)
		}
	}
	l, d := lexR(1), denseR(1)
	l.Boosted, d.Boosted = true, true
	if got := query(t, ix, fused(l, d)); !slices.Equal(got, []string{"trusted", "plain", "sunk"}) {
		t.Errorf("boosted fusion %v", got)
	}
	hits, err := ix.Query(context.Background(), index.Query{Rankers: []index.Ranker{l}, Limit: 3})
	if err != nil || len(hits) != 3 || !near(hits[0].Score/hits[1].Score, 1.05) {
		t.Errorf("boosted scores %v, %v: want the boost as a factor", hits, err)
	}
}
