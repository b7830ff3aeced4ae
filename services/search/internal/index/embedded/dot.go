package embedded

// dot is the dot product of a and b[:len(a)]: the dense scan's inner loop,
// in assembly where the CPU has AVX2 and FMA (about ten times the pure Go).
func dot(a, b []float32) float64 {
	b = b[:len(a)]
	if useAVX2 {
		return float64(dotAVX2(a, b))
	}
	return float64(dotGo(a, b))
}

// dotGo is dot in Go: four sums, and re-slicing that lets the compiler
// drop the bounds checks.
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	for len(a) >= 4 && len(b) >= 4 {
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		s2 += a[2] * b[2]
		s3 += a[3] * b[3]
		a, b = a[4:], b[4:]
	}
	for i := range a {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// dotsInt8 sets out[i] to the dot product of q and the i-th vector of
// len(q) values in vecs, in assembly where the CPU has AVX2 and len(q) is a
// multiple of 16 (every embedder's dimension here is).
func dotsInt8(q []int16, vecs []int8, out []int32) {
	dim := len(q)
	vecs = vecs[:len(out)*dim]
	if useAVX2 && dim%16 == 0 && dim > 0 {
		dotsInt8AVX2(q, vecs, out)
		return
	}
	dotsInt8Go(q, vecs, out)
}

func dotsInt8Go(q []int16, vecs []int8, out []int32) {
	dim := len(q)
	for i := range out {
		v := vecs[i*dim : (i+1)*dim]
		var s int32
		for j, x := range v {
			s += int32(q[j]) * int32(x)
		}
		out[i] = s
	}
}
