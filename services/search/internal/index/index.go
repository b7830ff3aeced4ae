// Package index is the one interface of the search service's index backends:
// the embedded in-process index (the default) and Qdrant. An index holds
// points, one per article section ("chunk"), each with a sparse lexical
// vector, a dense embedding and a payload for filters and display, and
// answers hybrid queries: a lexical ranking (Σ idf·q·d over the sparse
// vectors, idf = ln((N − df + 0.5)/(df + 0.5) + 1) as Qdrant's IDF modifier
// computes it), a dense ranking (cosine), fused by weighted reciprocal rank
// fusion. Both backends pass the contract suite in indextest.
package index

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
)

// ErrSchema is returned by Query and Write before Prepare.
var ErrSchema = errors.New("index: call Prepare with the embedding model first")

// Schema is what an index's vectors mean. An index built for another schema
// is dropped and rebuilt, never mixed.
type Schema struct {
	// Model names the embedding model, e.g. "hash-v1".
	Model string
	// Dim is the dense vector dimension.
	Dim int
}

// Sparse is a sparse vector: term ids (sorted, unique) and their weights.
type Sparse struct {
	Indices []uint32
	Values  []float32
}

// NewSparse builds a Sparse from a map of weights, dropping zeros.
func NewSparse(m map[uint32]float32) Sparse {
	s := Sparse{Indices: make([]uint32, 0, len(m)), Values: make([]float32, 0, len(m))}
	for k, v := range m {
		if v != 0 {
			s.Indices = append(s.Indices, k)
		}
	}
	slices.Sort(s.Indices)
	for _, k := range s.Indices {
		s.Values = append(s.Values, m[k])
	}
	return s
}

// Len is the number of non-zero entries.
func (s Sparse) Len() int { return len(s.Indices) }

// Payload is what a point carries besides its vectors: the article fields
// filters and result lists need. Every filterable field has a payload index
// in Qdrant.
type Payload struct {
	ArticleID string
	// Chunk numbers an article's sections from 0; chunk 0 holds the title,
	// summary, QA pairs, tags and keywords.
	Chunk              int
	Slug               string
	Domain             string
	Status             string // article status: published or deprecated
	VerificationStatus string
	Confidence         int32
	Tags               []string
	Langs              []string // languages with content
	Versions           []string // applicable versions as written
	// VerifiedAt and UpdatedAt are Unix seconds, 0 when unknown.
	VerifiedAt, UpdatedAt int64
	TitleZH, TitleEN      string
	SummaryZH, SummaryEN  string
	// Heading is the section the chunk starts with, "" for chunk 0.
	Heading string
	// TextZH and TextEN are the chunk's searchable text, for snippets.
	TextZH, TextEN string
	// Boost multiplies the point's score in every boosted ranker: the trust
	// prior, so that verified, confident, recently verified articles win
	// near-ties and deprecated ones sink. 0 counts as 1.
	Boost float64
}

// Point is one indexed chunk.
type Point struct {
	Payload Payload
	Sparse  Sparse
	Dense   []float32
}

// Change replaces every chunk of an article with Chunks (numbered from 0 in
// order; their payloads' ArticleID and Chunk are set from here). No chunks
// delete the article; deleting a missing one is fine.
type Change struct {
	ArticleID string
	Chunks    []Point
}

// Ref names one chunk.
type Ref struct {
	ArticleID string
	Chunk     int
	// Lang, when set (vocab.LangZH or LangEN), says only the text in that
	// language is needed, or the other one's when it has none: Texts may
	// leave the text nobody will read empty.
	Lang string
}

// Filter restricts a query; zero fields do not restrict.
type Filter struct {
	Domain             string
	VerificationStatus string
	// Lang keeps articles with content in this language.
	Lang string
	// Tags keeps articles carrying every one of them.
	Tags          []string
	MinConfidence int32
	// Statuses keeps articles with one of these article statuses.
	Statuses []string
	// ExcludeArticle drops every chunk of this article.
	ExcludeArticle string
}

// IsZero reports a filter that keeps everything.
func (f Filter) IsZero() bool {
	return f.Domain == "" && f.VerificationStatus == "" && f.Lang == "" && len(f.Tags) == 0 &&
		f.MinConfidence == 0 && len(f.Statuses) == 0 && f.ExcludeArticle == ""
}

// Match reports whether p passes the filter; backends that filter in
// process share it, so the rule is written once.
func (f Filter) Match(p *Payload) bool {
	if f.Domain != "" && p.Domain != f.Domain ||
		f.VerificationStatus != "" && p.VerificationStatus != f.VerificationStatus ||
		f.Lang != "" && !slices.Contains(p.Langs, f.Lang) ||
		f.MinConfidence > 0 && p.Confidence < f.MinConfidence ||
		len(f.Statuses) > 0 && !slices.Contains(f.Statuses, p.Status) ||
		f.ExcludeArticle != "" && p.ArticleID == f.ExcludeArticle {
		return false
	}
	for _, t := range f.Tags {
		if !slices.Contains(p.Tags, t) {
			return false
		}
	}
	return true
}

// Ranker is one ranking of a query: lexical over the sparse vectors
// (Σ idf·q·d, only chunks sharing a term) when Sparse is set, else by cosine
// over the dense vectors.
type Ranker struct {
	Sparse Sparse
	Dense  []float32
	// Weight weighs the ranker in the fusion; rankers with weight 0 are
	// skipped.
	Weight float64
	// Limit is how many chunks the ranker contributes; 0 means the query's.
	Limit int
	// Threshold, when above 0, drops chunks scoring below it, so that
	// "matches" means something for the dense ranker. It applies before
	// the boost.
	Threshold float64
	// Boosted multiplies each chunk's score by its payload's Boost before
	// ranking.
	Boosted bool
}

// BoostOf is p's boost, 1 when unset.
func BoostOf(p *Payload) float64 {
	if p.Boost <= 0 {
		return 1
	}
	return p.Boost
}

// Query ranks chunks by one ranker, or by several fused with weighted
// reciprocal rank fusion (see RRF). In Qdrant each ranker is a prefetch.
type Query struct {
	Rankers []Ranker
	// K is the fusion constant; 0 means DefaultK.
	K int
	// Limit bounds the answer (chunks).
	Limit  int
	Filter Filter
	// WithVectors returns the hits' vectors too.
	WithVectors bool
	// WithText returns the hits' chunk texts (TextZH, TextEN) too; they
	// are the bulk of a payload and only snippets need them.
	WithText bool
}

// DefaultK is the fusion constant when Query.K is 0: small, as in Qdrant, so
// that the first ranks of each ranker weigh clearly more than the tail.
const DefaultK = 2

// Active returns the rankers that take part: weight above 0 and a vector.
func (q Query) Active() []Ranker {
	var out []Ranker
	for _, r := range q.Rankers {
		if r.Weight > 0 && (r.Sparse.Len() > 0 || len(r.Dense) > 0) {
			out = append(out, r)
		}
	}
	return out
}

// Hit is one ranked chunk. Its Payload may be the index's own (hits are
// many, and copying a payload per hit was a tenth of a search): read it,
// never change it.
type Hit struct {
	Payload *Payload
	// Sparse and Dense are set when the query asks for them (WithVectors).
	Sparse Sparse
	Dense  []float32
	// Score is the fused score, or the single ranker's score.
	Score float64
}

// Index is an index backend.
type Index interface {
	// Backend names it: "embedded" or "qdrant".
	Backend() string
	// CursorName names the feed cursor of what the index holds, valid after
	// Prepare: writers sharing one index share it ("qdrant:<collection>"),
	// an index of its own has its own ("embedded:<id>", a new id whenever it
	// starts empty).
	CursorName() string
	// Prepare makes the index ready for schema. It reports fresh when the
	// index is empty because it was just created, or was dropped because it
	// had been built for another schema: the caller then rebuilds it from
	// feed revision 0.
	Prepare(ctx context.Context, s Schema) (fresh bool, err error)
	// Reset drops every point (a reindex).
	Reset(ctx context.Context) error
	// Write applies the changes in order and returns once all of them are
	// durable and visible.
	Write(ctx context.Context, changes []Change) error
	// Query ranks chunks.
	Query(ctx context.Context, q Query) ([]Hit, error)
	// Chunks returns the article's chunks with their vectors and texts, in
	// order; none when it is not indexed.
	Chunks(ctx context.Context, articleID string) ([]Point, error)
	// Texts returns the chunk texts (zh, en) of the given chunks, for
	// snippets; a missing chunk has none.
	Texts(ctx context.Context, refs []Ref) ([][2]string, error)
	// Count returns the number of articles and chunks indexed.
	Count(ctx context.Context) (articles, chunks int64, err error)
	// Close releases the index.
	Close() error
}

// IDF is the inverse document frequency of a term found in df of n points,
// as Qdrant's IDF modifier computes it.
func IDF(n, df int) float64 {
	return math.Log((float64(n)-float64(df)+0.5)/(float64(df)+0.5) + 1)
}

// Cosine is the cosine similarity of two vectors; 0 when either is zero.
func Cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range min(len(a), len(b)) {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// Normalize scales v to unit length in place; a zero vector stays zero.
func Normalize(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(n))
	for i := range v {
		v[i] *= inv
	}
	return v
}

// RRF is one ranker's share of a fused score for an item at rank (from 1)
// with weight, as Qdrant computes weighted reciprocal rank fusion:
// 1 / (rank/weight + k − 1), which is 1/(k + rank − 1) at weight 1.
func RRF(rank int, weight float64, k int) float64 {
	return 1 / (float64(rank)/weight + float64(k) - 1)
}

// Fused is an item of fused lists with its fused score.
type Fused[T any] struct {
	Item  T
	Score float64
}

// Fuse merges ranked lists by weighted reciprocal rank fusion (RRF), best
// first. Items are the same when their keys are; the first list an item
// appears in supplies it. Ties keep the order of first appearance. Lists
// with weight 0 are skipped.
func Fuse[T any, K comparable](lists [][]T, weights []float64, k int, key func(*T) K) []Fused[T] {
	if k <= 0 {
		k = DefaultK
	}
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	at := make(map[K]int, n)
	out := make([]Fused[T], 0, n)
	for li, l := range lists {
		if weights[li] <= 0 {
			continue
		}
		for r := range l {
			kk := key(&l[r])
			i, ok := at[kk]
			if !ok {
				i = len(out)
				at[kk] = i
				out = append(out, Fused[T]{Item: l[r]})
			}
			out[i].Score += RRF(r+1, weights[li], k)
		}
	}
	// Stable: equal scores keep the order of first appearance.
	slices.SortStableFunc(out, func(a, b Fused[T]) int { return cmp.Compare(b.Score, a.Score) })
	return out
}
