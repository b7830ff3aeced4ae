// Package embedded is the in-process index: an inverted index for the sparse
// lexical vectors and an exact scan of the dense ones, both in memory, made
// durable by an append-only log under the data directory that is replayed at
// start-up and compacted when it has grown to twice what it holds.
package embedded

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"buzhou.dev/search/internal/index"
)

var _ index.Index = (*Index)(nil)

// Index is the embedded index. It is safe for concurrent use: queries share
// a read lock, writes take the write lock.
type Index struct {
	mu     sync.RWMutex
	schema index.Schema
	ready  bool
	// id tells this index's contents apart from any other's, for its cursor.
	id string

	slots     []slot
	dense     []float32 // len(slots) × schema.Dim
	byArticle map[string][]int32
	postings  map[uint32][]posting
	df        map[uint32]int32
	alive     int // live slots
	articles  int

	log *wal // nil: memory only
	acc sync.Pool
}

type slot struct {
	payload *index.Payload
	sparse  index.Sparse
	alive   bool
}

type posting struct {
	slot int32
	w    float32
}

// Open opens the index persisted in dir (created when missing); an empty dir
// keeps it in memory only, which tests and a stateless replica use.
func Open(dir string) (*Index, error) {
	ix := &Index{byArticle: map[string][]int32{}, postings: map[uint32][]posting{}, df: map[uint32]int32{}}
	if dir == "" {
		return ix, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded index: create %s: %w", dir, err)
	}
	w, err := openWAL(filepath.Join(dir, "index.log"), ix.replay)
	if err != nil {
		return nil, err
	}
	ix.log = w
	return ix, nil
}

// Backend implements index.Index.
func (ix *Index) Backend() string { return "embedded" }

// Prepare implements index.Index.
func (ix *Index) Prepare(_ context.Context, s index.Schema) (bool, error) {
	if s.Model == "" || s.Dim <= 0 {
		return false, fmt.Errorf("embedded index: schema needs a model and a positive dimension, got %q/%d", s.Model, s.Dim)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.ready && ix.schema == s {
		return false, nil
	}
	// A new file, another model or another dimension: start empty.
	ix.clear()
	// The id survives a schema change in the running process: the caller
	// resets its cursor; only an index that starts empty from nothing gets
	// a new one.
	if ix.id == "" {
		ix.id = newID()
	}
	ix.schema, ix.ready = s, true
	if ix.log != nil {
		if err := ix.log.rewrite(s, ix.id, nil); err != nil {
			return false, err
		}
	}
	return true, nil
}

// CursorName implements index.Index.
func (ix *Index) CursorName() string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return "embedded:" + ix.id
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Reset implements index.Index.
func (ix *Index) Reset(context.Context) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.ready {
		return index.ErrSchema
	}
	// The id stays: the follower resets its cursor itself.
	ix.clear()
	if ix.log != nil {
		return ix.log.rewrite(ix.schema, ix.id, nil)
	}
	return nil
}

func (ix *Index) clear() {
	ix.slots, ix.dense = nil, nil
	ix.byArticle = map[string][]int32{}
	ix.postings = map[uint32][]posting{}
	ix.df = map[uint32]int32{}
	ix.alive, ix.articles = 0, 0
}

// Write implements index.Index.
func (ix *Index) Write(_ context.Context, changes []index.Change) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.ready {
		return index.ErrSchema
	}
	for _, c := range changes {
		if c.ArticleID == "" {
			return fmt.Errorf("embedded index: a change without an article id")
		}
		for i := range c.Chunks {
			if len(c.Chunks[i].Dense) != ix.schema.Dim {
				return fmt.Errorf("embedded index: chunk %d of %s has %d dimensions, the index %d", i, c.ArticleID, len(c.Chunks[i].Dense), ix.schema.Dim)
			}
		}
	}
	if ix.log != nil {
		if err := ix.log.append(changes); err != nil {
			return err
		}
	}
	for _, c := range changes {
		ix.put(c.ArticleID, c.Chunks)
	}
	return ix.maybeCompact()
}

func (ix *Index) put(articleID string, chunks []index.Point) {
	ix.remove(articleID)
	if len(chunks) == 0 {
		return
	}
	ids := make([]int32, 0, len(chunks))
	for i := range chunks {
		p := chunks[i].Payload
		p.ArticleID, p.Chunk = articleID, i
		s := int32(len(ix.slots))
		ix.slots = append(ix.slots, slot{payload: &p, sparse: chunks[i].Sparse, alive: true})
		ix.dense = append(ix.dense, index.Normalize(slices.Clone(chunks[i].Dense))...)
		for j, t := range chunks[i].Sparse.Indices {
			ix.postings[t] = append(ix.postings[t], posting{slot: s, w: chunks[i].Sparse.Values[j]})
			ix.df[t]++
		}
		ids = append(ids, s)
	}
	ix.byArticle[articleID] = ids
	ix.alive += len(ids)
	ix.articles++
}

func (ix *Index) remove(articleID string) {
	ids, ok := ix.byArticle[articleID]
	if !ok {
		return
	}
	for _, s := range ids {
		sl := &ix.slots[s]
		sl.alive = false
		for _, t := range sl.sparse.Indices {
			if ix.df[t]--; ix.df[t] <= 0 {
				delete(ix.df, t)
			}
		}
	}
	delete(ix.byArticle, articleID)
	ix.alive -= len(ids)
	ix.articles--
}

// maybeCompact rebuilds the slots and postings when dead slots outnumber
// live ones, and rewrites the log when it holds more than twice the live
// data.
func (ix *Index) maybeCompact() error {
	dead := len(ix.slots) - ix.alive
	if dead > 256 && dead > ix.alive {
		ix.compactMemory()
	}
	if ix.log != nil && ix.log.needsRewrite() {
		return ix.log.rewrite(ix.schema, ix.id, ix.liveArticles)
	}
	return nil
}

func (ix *Index) compactMemory() {
	old, oldDense, dim := ix.slots, ix.dense, ix.schema.Dim
	ix.slots, ix.dense = make([]slot, 0, ix.alive), make([]float32, 0, ix.alive*dim)
	ix.postings = map[uint32][]posting{}
	for a, ids := range ix.byArticle {
		for i, s := range ids {
			n := int32(len(ix.slots))
			ix.slots = append(ix.slots, old[s])
			ix.dense = append(ix.dense, oldDense[int(s)*dim:int(s+1)*dim]...)
			for j, t := range old[s].sparse.Indices {
				ix.postings[t] = append(ix.postings[t], posting{slot: n, w: old[s].sparse.Values[j]})
			}
			ids[i] = n
		}
		ix.byArticle[a] = ids
	}
}

// liveArticles calls fn for every article with its chunks; the log rewrite
// uses it.
func (ix *Index) liveArticles(fn func(articleID string, chunks []index.Point) error) error {
	dim := ix.schema.Dim
	for a, ids := range ix.byArticle {
		chunks := make([]index.Point, len(ids))
		for i, s := range ids {
			chunks[i] = index.Point{Payload: *ix.slots[s].payload, Sparse: ix.slots[s].sparse, Dense: ix.dense[int(s)*dim : int(s+1)*dim]}
		}
		if err := fn(a, chunks); err != nil {
			return err
		}
	}
	return nil
}

// replay applies one logged operation at start-up.
func (ix *Index) replay(op walOp) {
	switch op.kind {
	case opSchema:
		ix.clear()
		ix.schema, ix.ready, ix.id = op.schema, true, op.id
	case opChange:
		ix.put(op.change.ArticleID, op.change.Chunks)
	case opDamaged:
		ix.clear()
		ix.schema, ix.ready = index.Schema{}, false
	}
}

// Query implements index.Index.
func (ix *Index) Query(_ context.Context, q index.Query) ([]index.Hit, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.ready {
		return nil, index.ErrSchema
	}
	if q.Limit <= 0 {
		return nil, fmt.Errorf("embedded index: limit must be at least 1")
	}
	rankers := q.Active()
	lists := make([][]index.Hit, len(rankers))
	weights := make([]float64, len(rankers))
	for i, r := range rankers {
		limit := q.Limit
		if r.Limit > 0 {
			limit = r.Limit
		}
		if r.Sparse.Len() > 0 {
			lists[i] = ix.lexical(r, q.Filter, limit)
		} else {
			if len(r.Dense) != ix.schema.Dim {
				return nil, fmt.Errorf("embedded index: the query vector has %d dimensions, the index %d", len(r.Dense), ix.schema.Dim)
			}
			lists[i] = ix.denseScan(r, q.Filter, limit)
		}
		weights[i] = r.Weight
	}
	var hits []index.Hit
	switch len(lists) {
	case 0:
		return nil, nil
	case 1:
		hits = lists[0]
	default:
		hits = index.Fuse(lists, weights, q.K, func(h *index.Hit) string {
			return fmt.Sprintf("%s#%d", h.Payload.ArticleID, h.Payload.Chunk)
		})
	}
	if len(hits) > q.Limit {
		hits = hits[:q.Limit]
	}
	return ix.materialise(hits, q.WithVectors), nil
}

// lexical ranks by Σ idf·q·d over the postings of the query's terms.
func (ix *Index) lexical(r index.Ranker, f index.Filter, limit int) []index.Hit {
	accp, _ := ix.acc.Get().(*[]float32)
	if accp == nil {
		accp = new([]float32)
	}
	acc := *accp
	if cap(acc) < len(ix.slots) {
		acc = make([]float32, len(ix.slots))
	}
	acc = acc[:len(ix.slots)]
	var touched []int32
	for i, t := range r.Sparse.Indices {
		ps := ix.postings[t]
		if len(ps) == 0 {
			continue
		}
		w := float32(index.IDF(ix.alive, int(ix.df[t]))) * r.Sparse.Values[i]
		for _, p := range ps {
			if !ix.slots[p.slot].alive {
				continue
			}
			if acc[p.slot] == 0 {
				touched = append(touched, p.slot)
			}
			acc[p.slot] += w * p.w
		}
	}
	top := &topK{k: limit}
	for _, s := range touched {
		score := float64(acc[s])
		acc[s] = 0
		if score <= 0 || r.Threshold > 0 && score < r.Threshold || !f.Match(ix.slots[s].payload) {
			continue
		}
		if r.Boosted {
			score *= index.BoostOf(ix.slots[s].payload)
		}
		top.offer(s, score)
	}
	*accp = acc
	ix.acc.Put(accp)
	return ix.hits(top)
}

// denseScan ranks every live, matching chunk by cosine (the stored vectors
// are unit length, so a dot product).
func (ix *Index) denseScan(r index.Ranker, f index.Filter, limit int) []index.Hit {
	dim := ix.schema.Dim
	qv := index.Normalize(slices.Clone(r.Dense))
	top := &topK{k: limit}
	for s := range ix.slots {
		sl := &ix.slots[s]
		if !sl.alive || !f.Match(sl.payload) {
			continue
		}
		score := dot(qv, ix.dense[s*dim:(s+1)*dim])
		if r.Threshold > 0 && score < r.Threshold {
			continue
		}
		if r.Boosted {
			score *= index.BoostOf(sl.payload)
		}
		top.offer(int32(s), score)
	}
	return ix.hits(top)
}

func dot(a, b []float32) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return float64(s0 + s1 + s2 + s3)
}

// materialise adds the hits' vectors when asked for.
func (ix *Index) materialise(hits []index.Hit, withVectors bool) []index.Hit {
	if !withVectors {
		return hits
	}
	dim := ix.schema.Dim
	for i := range hits {
		s := ix.byArticle[hits[i].Payload.ArticleID][hits[i].Payload.Chunk]
		hits[i].Sparse = ix.slots[s].sparse
		hits[i].Dense = slices.Clone(ix.dense[int(s)*dim : int(s+1)*dim])
	}
	return hits
}

// Chunks implements index.Index.
func (ix *Index) Chunks(_ context.Context, articleID string) ([]index.Point, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.ready {
		return nil, index.ErrSchema
	}
	dim := ix.schema.Dim
	var out []index.Point
	for _, s := range ix.byArticle[articleID] {
		out = append(out, index.Point{Payload: *ix.slots[s].payload, Sparse: ix.slots[s].sparse, Dense: slices.Clone(ix.dense[int(s)*dim : int(s+1)*dim])})
	}
	return out, nil
}

// Count implements index.Index.
func (ix *Index) Count(context.Context) (int64, int64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return int64(ix.articles), int64(ix.alive), nil
}

// Close implements index.Index.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.log != nil {
		return ix.log.close()
	}
	return nil
}

// topK keeps the k best (slot, score) pairs; ties go to the lower slot, so
// answers are stable.
type topK struct {
	k int
	h scoredHeap
}

type scored struct {
	slot  int32
	score float64
}

func (t *topK) offer(s int32, score float64) {
	if t.h.Len() < t.k {
		heap.Push(&t.h, scored{s, score})
		return
	}
	if worse(t.h[0], scored{s, score}) {
		t.h[0] = scored{s, score}
		heap.Fix(&t.h, 0)
	}
}

// hits returns the pairs t kept as hits, best first.
func (ix *Index) hits(t *topK) []index.Hit {
	out := make([]index.Hit, t.h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		e := heap.Pop(&t.h).(scored)
		out[i] = index.Hit{Score: e.score}
		out[i].Payload = *ix.slots[e.slot].payload
	}
	return out
}

// worse reports whether a ranks below b.
func worse(a, b scored) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return a.slot > b.slot
}

type scoredHeap []scored

func (h scoredHeap) Len() int           { return len(h) }
func (h scoredHeap) Less(i, j int) bool { return worse(h[i], h[j]) }
func (h scoredHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *scoredHeap) Push(x any)        { *h = append(*h, x.(scored)) }
func (h *scoredHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
