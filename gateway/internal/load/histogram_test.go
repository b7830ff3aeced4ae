package load

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestHistogramBuckets: every value falls in a bucket whose upper bound is
// at or above it and within the stated precision.
func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 12345, 1 << 20, 1<<37 + 7} {
		u := upper(index(v))
		if u < v || float64(u-v) > 0.016*float64(v)+1 {
			t.Errorf("value %d: bucket %d reaches %d", v, index(v), u)
		}
	}
	for i := 1; i < subBuckets+maxShift*halfBuckets; i++ {
		if upper(i) <= upper(i-1) {
			t.Fatalf("bucket %d does not reach past bucket %d", i, i-1)
		}
	}
}

// TestHistogramPercentiles agrees with sorting, to its precision.
func TestHistogramPercentiles(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var h, a, b Histogram
	var all []time.Duration
	for i := range 100_000 {
		d := time.Duration(r.ExpFloat64() * float64(3*time.Millisecond))
		all = append(all, d)
		h.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	slices.Sort(all)
	for _, p := range []float64{50, 90, 99, 99.9} {
		want := all[int(p/100*float64(len(all)))-1]
		for name, hist := range map[string]*Histogram{"one": &h, "merged": &a} {
			got := hist.Percentile(p)
			if got < want-time.Microsecond || float64(got-want) > 0.02*float64(want)+float64(time.Microsecond) {
				t.Errorf("%s: p%v = %v, sorted says %v", name, p, got, want)
			}
		}
	}
	if h.Max() != all[len(all)-1] || h.Count() != 100_000 || h.Percentile(100) != h.Max() {
		t.Errorf("max %v (want %v), count %d", h.Max(), all[len(all)-1], h.Count())
	}
	var empty Histogram
	if empty.Percentile(99) != 0 {
		t.Error("an empty histogram has a p99")
	}
}
