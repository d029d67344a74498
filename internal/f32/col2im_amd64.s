//go:build amd64 && !purego

#include "textflag.h"

// func addRowsAsm(dst, src *float32, rows, width, dstStride, srcStride int)
//
//	dst[r*dstStride + i] = dst[r*dstStride + i] + src[r*srcStride + i]    r < rows, i < width
//
// eight lanes at a time; width is a positive multiple of 8. The sum is dst + src with dst as
// the first operand, as Go's d += s (so a NaN in both keeps dst's).
TEXT ·addRowsAsm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), CX
	MOVQ width+24(FP), DX
	MOVQ dstStride+32(FP), R8
	MOVQ srcStride+40(FP), R9
	SHLQ $2, R8
	SHLQ $2, R9
	SHRQ $3, DX              // groups of eight per row
	TESTQ CX, CX
	JLE done

row:
	MOVQ DI, R10
	MOVQ SI, R11
	MOVQ DX, BX

group:
	VMOVUPS (R10), Y0
	VADDPS (R11), Y0, Y0
	VMOVUPS Y0, (R10)
	ADDQ $32, R10
	ADDQ $32, R11
	DECQ BX
	JNZ group

	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JNZ row

done:
	VZEROUPPER
	RET
