// Package embed holds the embedders behind one interface: the offline
// feature-hashing default, an embedder learned from the hub's own articles
// (latent semantic analysis over both language halves of every article), and
// a client for any OpenAI-compatible /v1/embeddings endpoint. All pass the
// contract suite in embedtest.
package embed

import (
	"context"
	"hash/fnv"
	"math"

	"buzhou.dev/search/internal/analysis"
	"buzhou.dev/search/internal/index"
)

// Embedder turns texts into dense vectors of one dimension.
type Embedder interface {
	// Model names the model as the index records it, e.g. "hash-v1"; a
	// different name means vectors that cannot be mixed.
	Model() string
	// Dim is the vector dimension.
	Dim() int
	// Embed returns one vector per text, in order: unit length, or zero
	// for a text with nothing the model knows (it then has no dense
	// opinion). Texts must not be empty.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Hashing is the offline deterministic embedder: words, identifier parts
// and CJK bigrams (the analysis terms), Latin character trigrams and CJK
// single characters, each hashed to a signed dimension with a sub-linear
// term frequency, then L2-normalised. It knows no meaning, only shared
// surface features, so misspellings and partial words still land near.
type Hashing struct {
	dim int
}

// HashingModel is the model name of the hashing embedder.
const HashingModel = "hash-v1"

// NewHashing returns a hashing embedder of dim dimensions (384 when dim ≤ 0).
func NewHashing(dim int) *Hashing {
	if dim <= 0 {
		dim = 384
	}
	return &Hashing{dim: dim}
}

// Model implements Embedder.
func (h *Hashing) Model() string { return HashingModel }

// Dim implements Embedder.
func (h *Hashing) Dim() int { return h.dim }

// Embed implements Embedder.
func (h *Hashing) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i] = h.embed(t)
	}
	return out, nil
}

// Feature weights of the hashing embedder: whole terms say most, trigrams
// and single CJK characters carry the fuzzy part.
const (
	hashTermWeight = 1.0
	hashGramWeight = 0.35
	hashCharWeight = 0.35
)

func (h *Hashing) embed(text string) []float32 {
	tf := map[string]float64{}
	for _, t := range analysis.Terms(text) {
		tf[t] += hashTermWeight
	}
	for _, g := range analysis.Grams(text) {
		tf[g] += hashGramWeight
	}
	analysis.Scan(text, func(t analysis.Token) {
		if t.CJK {
			for _, r := range t.Text {
				tf["@"+string(r)] += hashCharWeight
			}
		}
	})
	v := make([]float32, h.dim)
	for f, w := range tf {
		d, sign := hashFeature(f, h.dim)
		v[d] += float32(sign * (1 + math.Log1p(w)))
	}
	return index.Normalize(v)
}

// hashFeature maps a feature to a dimension and a sign (the sign halves the
// bias collisions add).
func hashFeature(f string, dim int) (int, float64) {
	hf := fnv.New64a()
	hf.Write([]byte(f))
	s := hf.Sum64()
	sign := 1.0
	if s>>63 == 1 {
		sign = -1
	}
	return int(s % uint64(dim)), sign
}
