// Package embedtest is the contract suite every embedder passes.
package embedtest

import (
	"context"
	"fmt"
	"math"
	"testing"

	"buzhou.dev/search/internal/embed"
	"buzhou.dev/search/internal/index"
)

// Run checks e against the Embedder contract. Similar says whether e is
// expected to place texts sharing words nearer than unrelated ones (true for
// every real model and for the offline embedders).
func Run(t *testing.T, e embed.Embedder, similar bool) {
	ctx := context.Background()
	if e.Model() == "" || e.Dim() <= 0 {
		t.Fatalf("Model() = %q, Dim() = %d; want a name and a positive dimension", e.Model(), e.Dim())
	}
	texts := []string{
		"connect ECONNREFUSED 127.0.0.1:5432 when the database is down",
		"PostgreSQL refuses connections: ECONNREFUSED on port 5432",
		"如何在 Claude Code 中添加 MCP 服务器",
		"Bake bread with sourdough starter and rye flour",
	}
	vs, err := e.Embed(ctx, texts)
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if len(vs) != len(texts) {
		t.Fatalf("Embed returned %d vectors for %d texts", len(vs), len(texts))
	}
	for i, v := range vs {
		if len(v) != e.Dim() {
			t.Fatalf("vector %d has %d dimensions, Dim() says %d", i, len(v), e.Dim())
		}
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		if math.Abs(n-1) > 1e-3 {
			t.Errorf("vector %d has squared norm %v, want unit length", i, n)
		}
	}
	t.Run("deterministic and in order", func(t *testing.T) {
		again, err := e.Embed(ctx, []string{texts[2], texts[0]})
		if err != nil {
			t.Fatal(err)
		}
		if c := index.Cosine(again[0], vs[2]); c < 0.999 {
			t.Errorf("the same text embeds differently: cosine %v", c)
		}
		if c := index.Cosine(again[1], vs[0]); c < 0.999 {
			t.Errorf("batch order is not kept: cosine %v", c)
		}
	})
	if similar {
		t.Run("shared words are nearer", func(t *testing.T) {
			if near, far := index.Cosine(vs[0], vs[1]), index.Cosine(vs[0], vs[3]); near <= far {
				t.Errorf("cosine(ECONNREFUSED texts) = %v ≤ cosine(ECONNREFUSED, bread) = %v", near, far)
			}
		})
	}
	t.Run("many texts", func(t *testing.T) {
		many := make([]string, 150)
		for i := range many {
			many[i] = fmt.Sprintf("%s (%d)", texts[i%len(texts)], i)
		}
		out, err := e.Embed(ctx, many)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(many) {
			t.Fatalf("%d vectors for %d texts", len(out), len(many))
		}
		one, err := e.Embed(ctx, many[149:])
		if err != nil {
			t.Fatal(err)
		}
		if c := index.Cosine(one[0], out[149]); c < 0.999 {
			t.Errorf("the last of many texts embeds differently alone: cosine %v", c)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := e.Embed(cctx, texts); err == nil {
			t.Errorf("Embed with a cancelled context succeeded")
		}
	})
}
