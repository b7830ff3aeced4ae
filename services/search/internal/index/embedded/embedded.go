// Package embedded is the in-process index: an inverted index for the sparse
// lexical vectors and an exact scan of the dense ones, both in memory, made
// durable by an append-only log under the data directory that is replayed at
// start-up and compacted when it has grown to twice what it holds.
package embedded

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"buzhou.dev/platform/vocab"
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

	slots []slot
	// boost is each slot's boost (index.BoostOf, never 0), 0 once its
	// chunk is removed: the one value the scans read for every candidate,
	// so it is kept apart, 4 bytes a slot instead of a slot's ~80.
	boost []float32
	dense []float32 // len(slots) × schema.Dim
	// quant holds each dense vector in 8 bits, len(slots) × Dim, scaled by
	// scale[slot]: what the dense scan reads (see denseScan).
	quant []int8
	scale []float32
	// maxBoost is at least every chunk's boost, for the dense scan to skip
	// chunks that cannot make its list.
	maxBoost  float32
	byArticle map[string][]int32
	// record is where each article's last change lies in the log: an index
	// on disk reads its chunks' terms, weights and texts back from there
	// instead of keeping them twice.
	record   map[string]int64
	postings map[uint32]*postingList
	df       map[uint32]int32
	alive    int // live slots
	articles int

	log *wal // nil: memory only
	acc sync.Pool
	// block is the dense scan's buffer of approximate scores.
	block sync.Pool
}

// slot is one chunk. Its payload is kept without the chunk text, which is
// compressed apart (read only for the few hits that show a snippet), and
// its sparse vector only as term ids: the weights live in the postings.
type slot struct {
	payload *index.Payload
	// terms are the chunk's term ids, for an index in memory only (on disk
	// they are read from the log).
	terms packedTerms
	// text is the chunk's texts compressed, for an index in memory only;
	// an index on disk reads them from its log (at).
	text []byte
	at   chunkText
}

// packedTerms are sorted term ids, delta- and varint-encoded: about two
// bytes a term instead of four.
type packedTerms []byte

func packTerms(ids []uint32) packedTerms {
	b := make([]byte, 0, 2*len(ids))
	prev := uint32(0)
	for _, t := range ids {
		b = binary.AppendUvarint(b, uint64(t-prev))
		prev = t
	}
	return bytes.Clone(b)
}

// each calls fn with every term id in order.
func (p packedTerms) each(fn func(uint32)) {
	prev := uint32(0)
	for b := []byte(p); len(b) > 0; {
		d, n := binary.Uvarint(b)
		b = b[n:]
		prev += uint32(d)
		fn(prev)
	}
}

// postingList holds, for one term, the slots that have it in increasing
// order, and their weights as bfloat16 (a float32's top half): ranking
// needs three significant digits, and 100k articles' postings fit in a
// quarter less memory.
type postingList struct {
	slots []int32
	w     []uint16
}

func (pl *postingList) add(s int32, w float32) {
	if len(pl.slots) == cap(pl.slots) {
		// Grow by a quarter, not append's doubling: posting lists are most
		// of the index, and doubling leaves a third of them empty.
		n := len(pl.slots) + len(pl.slots)/4 + 4
		pl.slots = append(make([]int32, 0, n), pl.slots...)
		pl.w = append(make([]uint16, 0, n), pl.w...)
	}
	pl.slots = append(pl.slots, s)
	pl.w = append(pl.w, toBF16(w))
}

// weight returns slot s's weight, 0 when it lacks the term.
func (pl *postingList) weight(s int32) float32 {
	i, ok := slices.BinarySearch(pl.slots, s)
	if !ok {
		return 0
	}
	return fromBF16(pl.w[i])
}

func toBF16(f float32) uint16 {
	b := math.Float32bits(f)
	return uint16((b + 0x7fff + (b>>16)&1) >> 16) // round to nearest even
}

func fromBF16(u uint16) float32 { return math.Float32frombits(uint32(u) << 16) }

// Open opens the index persisted in dir (created when missing); an empty dir
// keeps it in memory only, which tests and a stateless replica use.
func Open(dir string) (*Index, error) {
	ix := &Index{byArticle: map[string][]int32{}, record: map[string]int64{}, postings: map[uint32]*postingList{}, df: map[uint32]int32{}}
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
	ix.slots, ix.boost, ix.dense, ix.quant, ix.scale, ix.maxBoost = nil, nil, nil, nil, nil, 0
	ix.byArticle = map[string][]int32{}
	ix.record = map[string]int64{}
	ix.postings = map[uint32]*postingList{}
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
	var where []written
	if ix.log != nil {
		var err error
		if where, err = ix.log.append(changes); err != nil {
			return err
		}
	}
	for i, c := range changes {
		var w *written
		if where != nil {
			w = &where[i]
		}
		if err := ix.put(c.ArticleID, c.Chunks, w); err != nil {
			return err
		}
	}
	return ix.maybeCompact()
}

// put indexes an article's chunks; w says where they lie in the log (nil:
// keep what the log would hold in memory).
func (ix *Index) put(articleID string, chunks []index.Point, w *written) error {
	if err := ix.remove(articleID); err != nil {
		return err
	}
	if len(chunks) == 0 {
		return nil
	}
	ids := make([]int32, 0, len(chunks))
	for i := range chunks {
		p := chunks[i].Payload
		p.ArticleID, p.Chunk = articleID, i
		sl := slot{}
		boost := float32(index.BoostOf(&p))
		if w != nil {
			sl.at = w.texts[i]
		} else {
			sl.terms, sl.text = packTerms(chunks[i].Sparse.Indices), packText(p.TextZH, p.TextEN)
		}
		p.TextZH, p.TextEN = "", ""
		sl.payload = &p
		s := int32(len(ix.slots))
		ix.slots = append(ix.slots, sl)
		v := index.Normalize(slices.Clone(chunks[i].Dense))
		ix.boost = append(ix.boost, boost)
		ix.appendDense(v, boost)
		for j, t := range chunks[i].Sparse.Indices {
			ix.list(t).add(s, chunks[i].Sparse.Values[j])
			ix.df[t]++
		}
		ids = append(ids, s)
	}
	ix.byArticle[articleID] = ids
	if w != nil {
		ix.record[articleID] = w.at
	}
	ix.alive += len(ids)
	ix.articles++
	return nil
}

func (ix *Index) remove(articleID string) error {
	ids, ok := ix.byArticle[articleID]
	if !ok {
		return nil
	}
	terms, err := ix.terms(articleID)
	if err != nil {
		return err
	}
	for i, s := range ids {
		ix.boost[s] = 0
		for _, t := range terms[i] {
			if ix.df[t]--; ix.df[t] <= 0 {
				delete(ix.df, t)
			}
		}
	}
	delete(ix.byArticle, articleID)
	delete(ix.record, articleID)
	ix.alive -= len(ids)
	ix.articles--
	return nil
}

// terms returns the term ids of each of an article's chunks.
func (ix *Index) terms(articleID string) ([][]uint32, error) {
	ids := ix.byArticle[articleID]
	out := make([][]uint32, len(ids))
	if ix.log == nil {
		for i, s := range ids {
			ix.slots[s].terms.each(func(t uint32) { out[i] = append(out[i], t) })
		}
		return out, nil
	}
	c, err := ix.log.readChange(ix.record[articleID])
	if err != nil {
		return nil, err
	}
	for i := range ids {
		if i < len(c.Chunks) {
			out[i] = c.Chunks[i].Sparse.Indices
		}
	}
	return out, nil
}

// maybeCompact rebuilds the slots and postings when dead slots outnumber
// live ones, and rewrites the log when it holds more than twice the live
// data.
func (ix *Index) maybeCompact() error {
	dead := len(ix.slots) - ix.alive
	if dead > 256 && dead > ix.alive {
		if err := ix.compactMemory(); err != nil {
			return err
		}
	}
	if ix.log != nil && ix.log.needsRewrite() {
		return ix.rewriteLog()
	}
	return nil
}

func (ix *Index) compactMemory() error {
	termsOf := map[int32][]uint32{}
	for a, ids := range ix.byArticle {
		ts, err := ix.terms(a)
		if err != nil {
			return err
		}
		for i, s := range ids {
			termsOf[s] = ts[i]
		}
	}
	old, oldDense, oldBoost, dim := ix.slots, ix.dense, ix.boost, ix.schema.Dim
	ix.boost = make([]float32, 0, ix.alive)
	ix.slots, ix.dense = make([]slot, 0, ix.alive), make([]float32, 0, ix.alive*dim)
	ix.quant, ix.scale = make([]int8, 0, ix.alive*dim), make([]float32, 0, ix.alive)
	oldPostings := ix.postings
	ix.postings = map[uint32]*postingList{}
	// In slot order, so that every posting list stays sorted.
	moved := make([]int32, len(old))
	for s := range old {
		if oldBoost[s] == 0 {
			continue
		}
		n := int32(len(ix.slots))
		moved[s] = n
		ix.slots = append(ix.slots, old[s])
		ix.boost = append(ix.boost, oldBoost[s])
		ix.appendDense(oldDense[s*dim:(s+1)*dim], oldBoost[s])
		for _, t := range termsOf[int32(s)] {
			ix.list(t).add(n, oldPostings[t].weight(int32(s)))
		}
	}
	for a, ids := range ix.byArticle {
		for i, s := range ids {
			ids[i] = moved[s]
		}
		ix.byArticle[a] = ids
	}
	return nil
}

func (ix *Index) list(t uint32) *postingList {
	pl := ix.postings[t]
	if pl == nil {
		pl = &postingList{}
		ix.postings[t] = pl
	}
	return pl
}

// point rebuilds slot s as it was written: in memory from its weights in
// the postings and its compressed text, on disk from the log.
func (ix *Index) point(s int32, withText bool) (index.Point, error) {
	sl := &ix.slots[s]
	p := index.Point{Payload: *sl.payload, Dense: slices.Clone(ix.dense[int(s)*ix.schema.Dim : int(s+1)*ix.schema.Dim])}
	if ix.log == nil {
		sl.terms.each(func(t uint32) {
			p.Sparse.Indices = append(p.Sparse.Indices, t)
			p.Sparse.Values = append(p.Sparse.Values, ix.postings[t].weight(s))
		})
	} else {
		c, err := ix.log.readChange(ix.record[sl.payload.ArticleID])
		if err != nil {
			return index.Point{}, err
		}
		if sl.payload.Chunk < len(c.Chunks) {
			p.Sparse = c.Chunks[sl.payload.Chunk].Sparse
		}
	}
	if withText {
		p.Payload.TextZH, p.Payload.TextEN = ix.texts(s, "")
	}
	return p, nil
}

// texts returns slot s's texts, from memory or from the log; a log that
// cannot be read (the disk failed) gives none, which only costs snippets.
func (ix *Index) texts(s int32, lang string) (zh, en string) {
	sl := &ix.slots[s]
	if ix.log == nil {
		return unpackText(sl.text)
	}
	// A snippet reads one language: the other is not read from disk.
	read := [2]bool{true, true}
	switch want := slices.Index([]string{vocab.LangZH, vocab.LangEN}, lang); {
	case want < 0:
	case sl.at[want].n > 0:
		read[1-want] = false
	default:
		read[want] = false
	}
	var texts [2]string
	for i, at := range sl.at {
		if !read[i] {
			continue
		}
		t, err := ix.log.readText(at)
		if err != nil {
			return "", ""
		}
		texts[i] = t
	}
	return texts[0], texts[1]
}

// rewriteLog writes the live articles to a new log and points the slots
// at their texts in it.
func (ix *Index) rewriteLog() error {
	moved, records := map[int32]chunkText{}, map[string]int64{}
	err := ix.log.rewrite(ix.schema, ix.id, func(write func(string, []index.Point) (written, error)) error {
		for a, ids := range ix.byArticle {
			chunks := make([]index.Point, len(ids))
			for i, s := range ids {
				p, err := ix.point(s, true)
				if err != nil {
					return err
				}
				chunks[i] = p
			}
			w, err := write(a, chunks)
			if err != nil {
				return err
			}
			records[a] = w.at
			for i, s := range ids {
				moved[s] = w.texts[i]
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for s, at := range moved {
		ix.slots[s].at = at
	}
	for a, at := range records {
		ix.record[a] = at
	}
	return nil
}

// replay applies one logged operation at start-up; earlier records are
// read through w.
func (ix *Index) replay(w *wal, op walOp) error {
	ix.log = w
	switch op.kind {
	case opSchema:
		ix.clear()
		ix.schema, ix.ready, ix.id = op.schema, true, op.id
	case opChange:
		return ix.put(op.change.ArticleID, op.change.Chunks, &written{at: op.at, texts: op.texts})
	case opDamaged:
		ix.clear()
		ix.schema, ix.ready = index.Schema{}, false
	}
	return nil
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
	lists := make([][]scored, len(rankers))
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
	var best []scored
	switch len(lists) {
	case 0:
		return nil, nil
	case 1:
		best = lists[0]
	default:
		// Fused by slot: within the read lock a slot is one chunk.
		fused := index.Fuse(lists, weights, q.K, func(s *scored) int32 { return s.slot })
		best = make([]scored, 0, min(len(fused), q.Limit))
		for _, f := range fused {
			best = append(best, scored{slot: f.Item.slot, score: f.Score})
			if len(best) == q.Limit {
				break
			}
		}
	}
	best = best[:min(len(best), q.Limit)]
	hits := make([]index.Hit, len(best))
	for i, b := range best {
		hits[i].Score = b.score
		hits[i].Payload = ix.slots[b.slot].payload
	}
	return ix.materialise(hits, q.WithVectors, q.WithText)
}

// sums are a lexical scan's buffers, kept between scans: a score per slot
// (zero between scans) and the slots it set.
type sums struct {
	acc     []float32
	touched []int32
}

// lexical ranks by Σ idf·q·d over the postings of the query's terms.
func (ix *Index) lexical(r index.Ranker, f index.Filter, limit int) []scored {
	buf, _ := ix.acc.Get().(*sums)
	if buf == nil {
		buf = &sums{}
	}
	acc, touched := buf.acc, buf.touched[:0]
	if cap(acc) < len(ix.slots) {
		acc = make([]float32, len(ix.slots))
	}
	acc = acc[:len(ix.slots)]
	// Terms in more than a quarter of the chunks (idf under ~1.2, against
	// ~10 for a rare one) are skipped when the query has rarer ones: they
	// barely move the ranking of the chunks that match the rare terms, and
	// their posting lists are the longest.
	common := len(ix.slots) / 4
	rare := false
	for _, t := range r.Sparse.Indices {
		if int(ix.df[t]) > 0 && int(ix.df[t]) <= common {
			rare = true
			break
		}
	}
	for i, t := range r.Sparse.Indices {
		pl := ix.postings[t]
		if pl == nil || rare && len(ix.slots) > 1000 && int(ix.df[t]) > common {
			continue
		}
		w := float32(index.IDF(ix.alive, int(ix.df[t]))) * r.Sparse.Values[i]
		// Dead chunks are summed too and dropped below, once each: the
		// slots are the scan's costliest memory to touch.
		for j, s := range pl.slots {
			if acc[s] == 0 {
				touched = append(touched, s)
			}
			acc[s] += w * fromBF16(pl.w[j])
		}
	}
	top := newTopK(limit, len(touched))
	all := f.IsZero()
	most := 1.0
	if r.Boosted {
		most = float64(ix.maxBoost)
	}
	for _, s := range touched {
		score := float64(acc[s])
		acc[s] = 0
		// As in the dense scan, only chunks that can make the list are
		// looked up.
		if score <= 0 || r.Threshold > 0 && score < r.Threshold || len(top.h) == top.k && score*most < top.h[0].score {
			continue
		}
		boost := ix.boost[s]
		if boost == 0 || !all && !f.Match(ix.slots[s].payload) {
			continue
		}
		if r.Boosted {
			score *= float64(boost)
		}
		top.offer(s, score)
	}
	buf.acc, buf.touched = acc, touched
	ix.acc.Put(buf)
	return top.best()
}

// materialise adds the hits' vectors and text when asked for.
func (ix *Index) materialise(hits []index.Hit, withVectors, withText bool) ([]index.Hit, error) {
	if !withVectors && !withText {
		return hits, nil
	}
	for i := range hits {
		s := ix.byArticle[hits[i].Payload.ArticleID][hits[i].Payload.Chunk]
		p, err := ix.point(s, withText)
		if err != nil {
			return nil, err
		}
		if withVectors {
			hits[i].Sparse, hits[i].Dense = p.Sparse, p.Dense
		}
		hits[i].Payload = &p.Payload
	}
	return hits, nil
}

// Chunks implements index.Index.
func (ix *Index) Chunks(_ context.Context, articleID string) ([]index.Point, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.ready {
		return nil, index.ErrSchema
	}
	var out []index.Point
	for _, s := range ix.byArticle[articleID] {
		p, err := ix.point(s, true)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Texts implements index.Index.
func (ix *Index) Texts(_ context.Context, refs []index.Ref) ([][2]string, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([][2]string, len(refs))
	for i, r := range refs {
		if ids := ix.byArticle[r.ArticleID]; r.Chunk >= 0 && r.Chunk < len(ids) {
			out[i][0], out[i][1] = ix.texts(ids[r.Chunk], r.Lang)
		}
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

// topK keeps the k best (slot, score) pairs in a min-heap (the worst at
// the root); ties go to the lower slot, so answers are stable.
type topK struct {
	k int
	h []scored
}

// newTopK keeps the best k of at most n offers.
func newTopK(k, n int) *topK {
	return &topK{k: k, h: make([]scored, 0, min(k, n))}
}

type scored struct {
	slot  int32
	score float64
}

func (t *topK) offer(s int32, score float64) {
	e := scored{s, score}
	if len(t.h) < t.k {
		t.h = append(t.h, e)
		for i := len(t.h) - 1; i > 0; {
			up := (i - 1) / 2
			if !worse(t.h[i], t.h[up]) {
				break
			}
			t.h[i], t.h[up] = t.h[up], t.h[i]
			i = up
		}
		return
	}
	if !worse(t.h[0], e) {
		return
	}
	t.h[0] = e
	t.down(0, len(t.h))
}

func (t *topK) down(i, n int) {
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && worse(t.h[c+1], t.h[c]) {
			c++
		}
		if !worse(t.h[c], t.h[i]) {
			return
		}
		t.h[i], t.h[c] = t.h[c], t.h[i]
		i = c
	}
}

// best returns the pairs t kept, best first (a heap sort: the worst left
// is moved to the end each time).
func (t *topK) best() []scored {
	for n := len(t.h) - 1; n > 0; n-- {
		t.h[0], t.h[n] = t.h[n], t.h[0]
		t.down(0, n)
	}
	return t.h
}

// worse reports whether a ranks below b.
func worse(a, b scored) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return a.slot > b.slot
}

// packText compresses a chunk's two texts into one buffer (the text is the
// largest part of a payload, and only snippets read it).
func packText(zh, en string) []byte {
	if zh == "" && en == "" {
		return nil
	}
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	_, _ = io.WriteString(w, zh)
	_, _ = w.Write([]byte{0})
	_, _ = io.WriteString(w, en)
	_ = w.Close()
	return bytes.Clone(b.Bytes()) // exactly sized: the buffer grew by doubling
}

func unpackText(b []byte) (zh, en string) {
	if len(b) == 0 {
		return "", ""
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(b)))
	if err != nil {
		return "", "" // cannot happen: the bytes are our own
	}
	zhb, enb, _ := bytes.Cut(raw, []byte{0})
	return string(zhb), string(enb)
}
