//go:build amd64 && !purego

#include "textflag.h"
#include "transpose_amd64.h"

// func patchTrans16Asm(dst *float32, rows *[16]*float32, base *int, blocks int)
//
// Packs blocks blocks of eight rows of a 16-column strip of a convolution's transposed patch
// matrix (convPatches.packTransposed, dW = dY col^T), for runs of eight outputs along an
// output row (base[8k+i] = base[8k] + i):
//
//	dst[16(8k+i) + j] = rows[j][base[8k] + i]    for k < blocks, i < 8, j < 16
//
// that is, the 16 x 8 block of the rows starting at base[8k], transposed: two 8 x 8
// transposes (unpack, shuffle, 128-bit permute). The caller checks the reads.
TEXT ·patchTrans16Asm(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ rows+8(FP), R8
	MOVQ base+16(FP), DX
	MOVQ blocks+24(FP), CX
	TESTQ CX, CX
	JLE done

loop:
	MOVQ (DX), BX
	// rows 0..7
	MOVQ 0(R8), AX
	VMOVUPS (AX)(BX*4), Y0
	MOVQ 8(R8), AX
	VMOVUPS (AX)(BX*4), Y1
	MOVQ 16(R8), AX
	VMOVUPS (AX)(BX*4), Y2
	MOVQ 24(R8), AX
	VMOVUPS (AX)(BX*4), Y3
	MOVQ 32(R8), AX
	VMOVUPS (AX)(BX*4), Y4
	MOVQ 40(R8), AX
	VMOVUPS (AX)(BX*4), Y5
	MOVQ 48(R8), AX
	VMOVUPS (AX)(BX*4), Y6
	MOVQ 56(R8), AX
	VMOVUPS (AX)(BX*4), Y7
	TRANSPOSE8X8
	VMOVUPS Y8, 0(DI)
	VMOVUPS Y9, 64(DI)
	VMOVUPS Y10, 128(DI)
	VMOVUPS Y11, 192(DI)
	VMOVUPS Y12, 256(DI)
	VMOVUPS Y13, 320(DI)
	VMOVUPS Y14, 384(DI)
	VMOVUPS Y15, 448(DI)
	// rows 8..15
	MOVQ 64(R8), AX
	VMOVUPS (AX)(BX*4), Y0
	MOVQ 72(R8), AX
	VMOVUPS (AX)(BX*4), Y1
	MOVQ 80(R8), AX
	VMOVUPS (AX)(BX*4), Y2
	MOVQ 88(R8), AX
	VMOVUPS (AX)(BX*4), Y3
	MOVQ 96(R8), AX
	VMOVUPS (AX)(BX*4), Y4
	MOVQ 104(R8), AX
	VMOVUPS (AX)(BX*4), Y5
	MOVQ 112(R8), AX
	VMOVUPS (AX)(BX*4), Y6
	MOVQ 120(R8), AX
	VMOVUPS (AX)(BX*4), Y7
	TRANSPOSE8X8
	VMOVUPS Y8, 32(DI)
	VMOVUPS Y9, 96(DI)
	VMOVUPS Y10, 160(DI)
	VMOVUPS Y11, 224(DI)
	VMOVUPS Y12, 288(DI)
	VMOVUPS Y13, 352(DI)
	VMOVUPS Y14, 416(DI)
	VMOVUPS Y15, 480(DI)
	ADDQ $64, DX
	ADDQ $512, DI
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	RET
