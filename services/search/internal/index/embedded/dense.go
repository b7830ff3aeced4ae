package embedded

import (
	"math"
	"slices"

	"buzhou.dev/search/internal/index"
)

// The dense scan reads every live chunk's vector in 8 bits (a quarter of the
// memory traffic of float32, which is what bounds a scan of 100k vectors)
// with the query in 16, keeps the best limit+rescored(limit) chunks by that
// approximate score, and ranks those by the exact float32 cosine. The 8-bit
// score is within about 0.002 of the exact one, so the chunks it misses
// are ties at the cut (BenchmarkDenseScan measures the recall).

// rescored is how many chunks beyond limit are scored exactly.
func rescored(limit int) int { return limit/2 + 32 }

// approxMargin is how far below the threshold an approximate score may be
// and still be scored exactly.
const approxMargin = 0.01

// scanBlock is how many chunks one call of the kernel scores.
const scanBlock = 256

// appendDense adds a unit vector and its chunk's boost to the dense arrays.
func (ix *Index) appendDense(v []float32, boost float32) {
	ix.dense = append(ix.dense, v...)
	ix.maxBoost = max(ix.maxBoost, boost)
	step := quantStep(v)
	ix.scale = append(ix.scale, step)
	for _, x := range v {
		ix.quant = append(ix.quant, int8(math.Round(float64(x/step))))
	}
}

// quantQuery returns q in 16-bit steps of quantStep(q), and the step.
func quantQuery(q []float32) ([]int16, float32) {
	step := quantStep(q)
	out := make([]int16, len(q))
	for i, x := range q {
		out[i] = int16(math.Round(float64(x / step)))
	}
	return out, step
}

// quantStep is v's largest magnitude / 127, the step that puts every value
// of v in −127…127 (1 for a zero vector).
func quantStep(v []float32) float32 {
	var m float32
	for _, x := range v {
		m = max(m, float32(math.Abs(float64(x))))
	}
	if m == 0 {
		return 1
	}
	return m / 127
}

// denseScan ranks the live chunks passing f by cosine with r.Dense (the
// stored vectors are unit length, so a dot product), best first.
func (ix *Index) denseScan(r index.Ranker, f index.Filter, limit int) []scored {
	dim := ix.schema.Dim
	qv := index.Normalize(slices.Clone(r.Dense))
	qq, step := quantQuery(qv)
	cand := newTopK(limit+rescored(limit), len(ix.slots))
	all := f.IsZero()
	bp, _ := ix.block.Get().(*[]int32)
	if bp == nil {
		bp = &[]int32{}
		*bp = make([]int32, scanBlock)
	}
	block := *bp
	floor := math.Inf(-1)
	if r.Threshold > 0 {
		floor = r.Threshold - approxMargin
	}
	most := 1.0 // the most a chunk's boost can raise its score
	if r.Boosted {
		most = float64(ix.maxBoost)
	}
	for from := 0; from < len(ix.slots); from += scanBlock {
		n := min(scanBlock, len(ix.slots)-from)
		dotsInt8(qq, ix.quant[from*dim:(from+n)*dim], block[:n])
		scales := ix.scale[from : from+n]
		for i, d := range block[:n] {
			// Most chunks fail one of the first two tests (the second:
			// even the largest boost would not make the list); only the
			// rest are looked up.
			score := float64(float32(d) * step * scales[i])
			if score < floor || score >= 0 && len(cand.h) == cand.k && score*most < cand.h[0].score {
				continue
			}
			s := from + i
			boost := ix.boost[s]
			if boost == 0 || !all && !f.Match(ix.slots[s].payload) {
				continue
			}
			if r.Boosted {
				score *= float64(boost)
			}
			cand.offer(int32(s), score)
		}
	}
	ix.block.Put(bp)
	top := newTopK(limit, len(cand.h))
	for _, c := range cand.h {
		s := int(c.slot)
		score := dot(qv, ix.dense[s*dim:(s+1)*dim])
		if r.Threshold > 0 && score < r.Threshold {
			continue
		}
		if r.Boosted {
			score *= float64(ix.boost[s])
		}
		top.offer(c.slot, score)
	}
	return top.best()
}
