package embedded

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDot checks the assembly against the Go loop on every length up to
// 300 (each step and tail of the assembly) and on unaligned slices.
func TestDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := make([]float32, 301), make([]float32, 301)
	for i := range a {
		a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	for n := 0; n <= 300; n++ {
		for _, off := range []int{0, 1} {
			x, y := a[off:off+n], b[off:]
			var want float64
			for i := range x {
				want += float64(x[i]) * float64(y[i])
			}
			got := map[string]float32{"go": dotGo(x, y)}
			if useAVX2 {
				got["avx2"] = dotAVX2(x, y)
			}
			for name, got := range got {
				if math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("%s: dot of %d floats (offset %d) = %v, want %v", name, n, off, got, want)
				}
			}
		}
	}
	if !useAVX2 {
		t.Log("no AVX2 and FMA here: only the Go loop ran")
	}
}

// TestDotsInt8 checks the assembly kernel against the Go loop, for every
// dimension the kernel takes and some it leaves to Go, on extreme values.
func TestDotsInt8(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dim := range []int{1, 15, 16, 32, 48, 128, 384, 1536} {
		q := make([]int16, dim)
		for i := range q {
			q[i] = int16(rng.IntN(255) - 127)
		}
		q[0] = -127
		vecs := make([]int8, 7*dim)
		for i := range vecs {
			vecs[i] = int8(rng.IntN(256) - 128)
		}
		vecs[0] = -128
		want, got := make([]int32, 7), make([]int32, 7)
		dotsInt8Go(q, vecs, want)
		dotsInt8(q, vecs, got)
		if !slices.Equal(got, want) {
			t.Errorf("dim %d: %v, want %v", dim, got, want)
		}
	}
}

func BenchmarkDot(b *testing.B) {
	x, y := make([]float32, 128), make([]float32, 128)
	for i := range x {
		x[i], y[i] = float32(i), float32(128-i)
	}
	var s float32
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			s += dotGo(x, y)
		}
	})
	b.Run("avx2", func(b *testing.B) {
		if !useAVX2 {
			b.Skip("no AVX2 and FMA here")
		}
		for b.Loop() {
			s += dotAVX2(x, y)
		}
	})
	_ = s
}
