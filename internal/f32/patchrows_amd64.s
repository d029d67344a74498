//go:build amd64 && !purego

#include "textflag.h"

// func patchRows16Asm(dst, x *float32, off *int, rows, s0, s1 int)
//
// Packs rows rows of a 16-column strip of a convolution's patch matrix (convPatches.packB,
// forward, when the strip's outputs are one run of 16 along an output row, or two runs of 8):
//
//	dst[16r : 16r+8]    = x[off[r]+s0 : off[r]+s0+8]
//	dst[16r+8 : 16r+16] = x[off[r]+s1 : off[r]+s1+8]    for r < rows
//
// The caller checks that every read is inside x.
TEXT ·patchRows16Asm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ off+16(FP), DX
	MOVQ rows+24(FP), CX
	MOVQ s0+32(FP), R8
	MOVQ s1+40(FP), R9
	LEAQ (SI)(R8*4), R8     // x + s0
	LEAQ (SI)(R9*4), R9     // x + s1
	TESTQ CX, CX
	JLE done

loop:
	MOVQ (DX), AX
	VMOVUPS (R8)(AX*4), Y0
	VMOVUPS (R9)(AX*4), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $8, DX
	ADDQ $64, DI
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	RET
