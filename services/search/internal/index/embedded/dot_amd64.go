package embedded

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dotAVX2 is in dot_amd64.s; len(b) ≥ len(a).
//
//go:noescape
func dotAVX2(a, b []float32) float32

// dotsInt8AVX2 is in dot_amd64.s; len(q) is a positive multiple of 16 and
// len(vecs) = len(out)·len(q).
//
//go:noescape
func dotsInt8AVX2(q []int16, vecs []int8, out []int32)
