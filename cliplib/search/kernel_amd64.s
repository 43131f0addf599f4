#include "textflag.h"

// func dotAVX2(a, b *float32, n int) float32
// n must be a multiple of 8.
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

avx2loop32:
	CMPQ CX, $32
	JL   avx2loop8
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
	JMP  avx2loop32

avx2loop8:
	CMPQ CX, $8
	JL   avx2done
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  avx2loop8

avx2done:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotAVX512(a, b *float32, n int) float32
// n must be a multiple of 16.
TEXT ·dotAVX512(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

avx512loop64:
	CMPQ CX, $64
	JL   avx512loop16
	VMOVUPS (SI), Z4
	VMOVUPS 64(SI), Z5
	VMOVUPS 128(SI), Z6
	VMOVUPS 192(SI), Z7
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	JMP  avx512loop64

avx512loop16:
	CMPQ CX, $16
	JL   avx512done
	VMOVUPS (SI), Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  avx512loop16

avx512done:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// Horizontal sum of one Y accumulator into a float32 stored at off(DX).
// Clobbers Y15/X15.
#define HSUM_Y(Yr, Xr, off) \
	VEXTRACTF128 $1, Yr, X15 \
	VADDPS       X15, Xr, Xr \
	VHADDPS      Xr, Xr, Xr \
	VHADDPS      Xr, Xr, Xr \
	MOVSS        Xr, off(DX)

// Same for a Z accumulator (whose low halves are Yr/Xr).
#define HSUM_Z(Zr, Yr, Xr, off) \
	VEXTRACTF64X4 $1, Zr, Y15 \
	VADDPS        Y15, Yr, Yr \
	HSUM_Y(Yr, Xr, off)

// func dot2x4AVX2(r0, r1, q0, q1, q2, q3 *float32, n int, out *[8]float32)
// n must be a multiple of 8. out[4*r+q] = <row r, query q>.
TEXT ·dot2x4AVX2(SB), NOSPLIT, $0-64
	MOVQ r0+0(FP), R8
	MOVQ r1+8(FP), R9
	MOVQ q0+16(FP), R10
	MOVQ q1+24(FP), R11
	MOVQ q2+32(FP), R12
	MOVQ q3+40(FP), R13
	MOVQ n+48(FP), CX
	MOVQ out+56(FP), DX
	SHLQ $2, CX
	XORQ AX, AX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

d24avx2loop:
	CMPQ AX, CX
	JGE  d24avx2done
	VMOVUPS (R8)(AX*1), Y8
	VMOVUPS (R9)(AX*1), Y9
	VMOVUPS (R10)(AX*1), Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y4
	VMOVUPS (R11)(AX*1), Y11
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y11, Y9, Y5
	VMOVUPS (R12)(AX*1), Y12
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y12, Y9, Y6
	VMOVUPS (R13)(AX*1), Y13
	VFMADD231PS Y13, Y8, Y3
	VFMADD231PS Y13, Y9, Y7
	ADDQ $32, AX
	JMP  d24avx2loop

d24avx2done:
	HSUM_Y(Y0, X0, 0)
	HSUM_Y(Y1, X1, 4)
	HSUM_Y(Y2, X2, 8)
	HSUM_Y(Y3, X3, 12)
	HSUM_Y(Y4, X4, 16)
	HSUM_Y(Y5, X5, 20)
	HSUM_Y(Y6, X6, 24)
	HSUM_Y(Y7, X7, 28)
	VZEROUPPER
	RET

// func dot2x4AVX512(r0, r1, q0, q1, q2, q3 *float32, n int, out *[8]float32)
// n must be a multiple of 16.
TEXT ·dot2x4AVX512(SB), NOSPLIT, $0-64
	MOVQ r0+0(FP), R8
	MOVQ r1+8(FP), R9
	MOVQ q0+16(FP), R10
	MOVQ q1+24(FP), R11
	MOVQ q2+32(FP), R12
	MOVQ q3+40(FP), R13
	MOVQ n+48(FP), CX
	MOVQ out+56(FP), DX
	SHLQ $2, CX
	XORQ AX, AX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

d24avx512loop:
	CMPQ AX, CX
	JGE  d24avx512done
	VMOVUPS (R8)(AX*1), Z8
	VMOVUPS (R9)(AX*1), Z9
	VMOVUPS (R10)(AX*1), Z10
	VFMADD231PS Z10, Z8, Z0
	VFMADD231PS Z10, Z9, Z4
	VMOVUPS (R11)(AX*1), Z11
	VFMADD231PS Z11, Z8, Z1
	VFMADD231PS Z11, Z9, Z5
	VMOVUPS (R12)(AX*1), Z12
	VFMADD231PS Z12, Z8, Z2
	VFMADD231PS Z12, Z9, Z6
	VMOVUPS (R13)(AX*1), Z13
	VFMADD231PS Z13, Z8, Z3
	VFMADD231PS Z13, Z9, Z7
	ADDQ $64, AX
	JMP  d24avx512loop

d24avx512done:
	HSUM_Z(Z0, Y0, X0, 0)
	HSUM_Z(Z1, Y1, X1, 4)
	HSUM_Z(Z2, Y2, X2, 8)
	HSUM_Z(Z3, Y3, X3, 12)
	HSUM_Z(Z4, Y4, X4, 16)
	HSUM_Z(Z5, Y5, X5, 20)
	HSUM_Z(Z6, Y6, X6, 24)
	HSUM_Z(Z7, Y7, X7, 28)
	VZEROUPPER
	RET

// func prefetchLines(p *float32, lines int)
// Issues PREFETCHT0 for `lines` consecutive 64-byte cache lines from p
// (lines >= 1). Prefetches never fault, so p may point anywhere.
TEXT ·prefetchLines(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ lines+8(FP), CX

pfloop:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	DECQ CX
	JNZ  pfloop
	RET
