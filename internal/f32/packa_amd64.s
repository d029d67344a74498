//go:build amd64 && !purego

#include "textflag.h"

// func packA6Asm(dst *float32, rows *[6]*float32, alpha float32, blocks int)
//
// packA's full strip of six rows (gemm.go), eight columns at a time:
//
//	dst[6p + i] = alpha * rows[i][p]    for p < 8*blocks, i < 6
//
// Each block loads and scales eight values of each row (VMULPS, one rounding as Go's
// alpha * v), transposes the 6 x 8 block as the top of an 8 x 8 one whose last two rows are
// zero (unpack, then shuffle; the 128-bit halves then hold columns p and p+4) and stores the
// six values of each column, 16 + 8 bytes, never past the block.
TEXT ·packA6Asm(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ rows+8(FP), R8
	VBROADCASTSS alpha+16(FP), Y15
	MOVQ blocks+24(FP), CX
	TESTQ CX, CX
	JLE done
	MOVQ 0(R8), R9
	MOVQ 8(R8), R10
	MOVQ 16(R8), R11
	MOVQ 24(R8), R12
	MOVQ 32(R8), R13
	MOVQ 40(R8), BX
	XORQ AX, AX             // byte offset into the rows
	VXORPS Y6, Y6, Y6       // rows 6 and 7

loop:
	VMULPS (R9)(AX*1), Y15, Y0
	VMULPS (R10)(AX*1), Y15, Y1
	VMULPS (R11)(AX*1), Y15, Y2
	VMULPS (R12)(AX*1), Y15, Y3
	VMULPS (R13)(AX*1), Y15, Y4
	VMULPS (BX)(AX*1), Y15, Y5
	VUNPCKLPS Y1, Y0, Y8    // t0
	VUNPCKHPS Y1, Y0, Y9    // t1
	VUNPCKLPS Y3, Y2, Y10   // t2
	VUNPCKHPS Y3, Y2, Y11   // t3
	VUNPCKLPS Y5, Y4, Y12   // t4
	VUNPCKHPS Y5, Y4, Y13   // t5 (t6 = t7 = 0)
	VSHUFPS $0x44, Y10, Y8, Y0   // u0: rows 0-3 of columns 0 | 4
	VSHUFPS $0xee, Y10, Y8, Y1   // u1: columns 1 | 5
	VSHUFPS $0x44, Y11, Y9, Y2   // u2: columns 2 | 6
	VSHUFPS $0xee, Y11, Y9, Y3   // u3: columns 3 | 7
	VSHUFPS $0x44, Y6, Y12, Y4   // u4: rows 4-5 of columns 0 | 4
	VSHUFPS $0xee, Y6, Y12, Y5   // u5
	VSHUFPS $0x44, Y6, Y13, Y7   // u6
	VSHUFPS $0xee, Y6, Y13, Y14  // u7
	VMOVUPS X0, 0(DI)
	VMOVQ X4, 16(DI)
	VMOVUPS X1, 24(DI)
	VMOVQ X5, 40(DI)
	VMOVUPS X2, 48(DI)
	VMOVQ X7, 64(DI)
	VMOVUPS X3, 72(DI)
	VMOVQ X14, 88(DI)
	VEXTRACTF128 $1, Y0, X8
	VEXTRACTF128 $1, Y4, X9
	VMOVUPS X8, 96(DI)
	VMOVQ X9, 112(DI)
	VEXTRACTF128 $1, Y1, X8
	VEXTRACTF128 $1, Y5, X9
	VMOVUPS X8, 120(DI)
	VMOVQ X9, 136(DI)
	VEXTRACTF128 $1, Y2, X8
	VEXTRACTF128 $1, Y7, X9
	VMOVUPS X8, 144(DI)
	VMOVQ X9, 160(DI)
	VEXTRACTF128 $1, Y3, X8
	VEXTRACTF128 $1, Y14, X9
	VMOVUPS X8, 168(DI)
	VMOVQ X9, 184(DI)
	ADDQ $32, AX
	ADDQ $192, DI
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	RET
