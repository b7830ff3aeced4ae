#include "textflag.h"

// func dotAVX2(a, b []float32) float32
// Four 8-wide FMA sums over 32 floats a step, then 8 a step, then one.
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ a_base+0(FP), SI
	MOVQ a_len+8(FP), CX
	MOVQ b_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

loop32:
	CMPQ CX, $32
	JL   loop8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  loop32

loop8:
	CMPQ CX, $8
	JL   reduce
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  loop8

reduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0

tail:
	CMPQ CX, $0
	JE   done
	VMOVSS      (SI), X4
	VFMADD231SS (DI), X4, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  tail

done:
	VZEROUPPER
	MOVSS X0, ret+48(FP)
	RET

// func dotsInt8AVX2(q []int16, vecs []int8, out []int32)
// Per vector, 16 values a step: widen to 16 bits, multiply by the query
// and add pairs (VPMADDWD, into 32-bit sums), then add the eight sums.
TEXT ·dotsInt8AVX2(SB), NOSPLIT, $0-72
	MOVQ q_base+0(FP), SI
	MOVQ q_len+8(FP), DX
	MOVQ vecs_base+24(FP), R8
	MOVQ out_base+48(FP), DI
	MOVQ out_len+56(FP), R10

vec:
	TESTQ R10, R10
	JE    vdone
	VPXOR Y0, Y0, Y0
	XORQ  CX, CX

elem:
	VPMOVSXBW (R8)(CX*1), Y1
	VPMADDWD  (SI)(CX*2), Y1, Y1
	VPADDD    Y1, Y0, Y0
	ADDQ      $16, CX
	CMPQ      CX, DX
	JL        elem

	VEXTRACTI128 $1, Y0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0xb1, X0, X1
	VPADDD       X1, X0, X0
	VMOVD        X0, (DI)
	ADDQ         DX, R8
	ADDQ         $4, DI
	DECQ         R10
	JMP          vec

vdone:
	VZEROUPPER
	RET
