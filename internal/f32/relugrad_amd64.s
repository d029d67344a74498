//go:build amd64 && !purego

#include "textflag.h"
#include "transpose_amd64.h"

// func reluBiasGrad8Asm(dx, dy *float32, mask *uint8, part *float32, inner int)
//
// reluBiasGradRows for eight channels of one image (channel j's values at j*inner), inner a
// positive multiple of 8:
//
//	dx[j*inner + k] = g = dy[j*inner + k] * float32(mask[j*inner + k])
//	s_j = (((0 + g[j,0]) + g[j,1]) + ...) + g[j,inner-1]    in k order, as reluGradSum
//	part[j] = part[j] + s_j
//
// Eight values of each channel are scaled and stored, then the 8 x 8 block is transposed
// (unpack, shuffle, 128-bit permute) so that each of its rows holds one k for the eight
// channels, and the rows are added to the eight running sums (lanes = channels) in k order.
// The sums live at 0(SP) between blocks.
TEXT ·reluBiasGrad8Asm(SB), NOSPLIT, $32-40
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ mask+16(FP), DX
	MOVQ part+24(FP), R8
	MOVQ inner+32(FP), CX
	MOVQ CX, R9
	SHLQ $2, R9             // bytes between channels of dx, dy
	SHRQ $3, CX             // blocks
	JZ done
	VXORPS Y0, Y0, Y0
	VMOVUPS Y0, 0(SP)
	LEAQ (R9)(R9*2), R10    // 3 channels
	MOVQ CX, BX
	SHLQ $3, BX             // inner: mask bytes between channels
	LEAQ (BX)(BX*2), R11    // 3 channels of mask

block:
	LEAQ (SI)(R9*4), AX     // dy, channel 4
	LEAQ (DX)(BX*4), R12    // mask, channel 4
	VPMOVZXBD (DX), Y0
	VCVTDQ2PS Y0, Y0
	VMULPS (SI), Y0, Y0
	VPMOVZXBD (DX)(BX*1), Y1
	VCVTDQ2PS Y1, Y1
	VMULPS (SI)(R9*1), Y1, Y1
	VPMOVZXBD (DX)(BX*2), Y2
	VCVTDQ2PS Y2, Y2
	VMULPS (SI)(R9*2), Y2, Y2
	VPMOVZXBD (DX)(R11*1), Y3
	VCVTDQ2PS Y3, Y3
	VMULPS (SI)(R10*1), Y3, Y3
	VPMOVZXBD (R12), Y4
	VCVTDQ2PS Y4, Y4
	VMULPS (AX), Y4, Y4
	VPMOVZXBD (R12)(BX*1), Y5
	VCVTDQ2PS Y5, Y5
	VMULPS (AX)(R9*1), Y5, Y5
	VPMOVZXBD (R12)(BX*2), Y6
	VCVTDQ2PS Y6, Y6
	VMULPS (AX)(R9*2), Y6, Y6
	VPMOVZXBD (R12)(R11*1), Y7
	VCVTDQ2PS Y7, Y7
	VMULPS (AX)(R10*1), Y7, Y7
	LEAQ (DI)(R9*4), AX     // dx, channel 4
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, (DI)(R9*1)
	VMOVUPS Y2, (DI)(R9*2)
	VMOVUPS Y3, (DI)(R10*1)
	VMOVUPS Y4, (AX)
	VMOVUPS Y5, (AX)(R9*1)
	VMOVUPS Y6, (AX)(R9*2)
	VMOVUPS Y7, (AX)(R10*1)
	TRANSPOSE8X8
	VMOVUPS 0(SP), Y0
	VADDPS Y8, Y0, Y0     // s + g[., k+0]
	VADDPS Y9, Y0, Y0     // s + g[., k+1]
	VADDPS Y10, Y0, Y0     // s + g[., k+2]
	VADDPS Y11, Y0, Y0     // s + g[., k+3]
	VADDPS Y12, Y0, Y0     // s + g[., k+4]
	VADDPS Y13, Y0, Y0     // s + g[., k+5]
	VADDPS Y14, Y0, Y0     // s + g[., k+6]
	VADDPS Y15, Y0, Y0     // s + g[., k+7]
	VMOVUPS Y0, 0(SP)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $8, DX
	DECQ CX
	JNZ block

	VMOVUPS (R8), Y1
	VADDPS Y0, Y1, Y1       // part + s
	VMOVUPS Y1, (R8)

done:
	VZEROUPPER
	RET
