//go:build !amd64

package embedded

const useAVX2 = false

func dotAVX2(a, b []float32) float32 { return dotGo(a, b) }

func dotsInt8AVX2(q []int16, vecs []int8, out []int32) { dotsInt8Go(q, vecs, out) }
