package load

import (
	"math/bits"
	"time"
)

// Histogram counts latencies the way HdrHistogram does: exact below 128 µs,
// then 64 buckets per power of two, so every value is kept to within 1.6 %
// at a fixed size (about 2,000 buckets up to an hour) and two histograms
// add up bucket by bucket. The zero value is empty and ready.
type Histogram struct {
	counts [subBuckets + maxShift*halfBuckets]uint64
	n      uint64
	max    time.Duration
}

const (
	subBuckets  = 128
	halfBuckets = subBuckets / 2
	// maxShift covers values up to 128 µs << 32, more than a day.
	maxShift = 32
)

// index is the bucket of v microseconds.
func index(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - 7 // v >> shift is in [64, 128)
	if shift > maxShift {
		return subBuckets + maxShift*halfBuckets - 1
	}
	return subBuckets + (shift-1)*halfBuckets + int(v>>shift) - halfBuckets
}

// upper is the highest value (µs) that falls into bucket i: what a
// percentile reports, so that it never understates.
func upper(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	i -= subBuckets
	shift := i/halfBuckets + 1
	lower := uint64(i%halfBuckets+halfBuckets) << shift
	return lower + (1 << shift) - 1
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[index(uint64(d/time.Microsecond))]++
	h.n++
	h.max = max(h.max, d)
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count is the number of latencies recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest latency recorded, exactly.
func (h *Histogram) Max() time.Duration { return h.max }

// Percentile returns the latency at or below which p percent (0–100) of the
// recorded ones fall; 0 when none are.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(p / 100 * float64(h.n))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(upper(i))*time.Microsecond, h.max)
		}
	}
	return h.max
}
