//go:build amd64 && !purego

#include "textflag.h"

// func biasReLUAsm(y *float32, mask *uint8, x *float32, groups int, b float32) uint32
//
// biasReLURow for groups groups of eight values, eight lanes at a time:
//
//	pre  = x + b
//	m    = pre >= 0                (ordered: false for NaN)
//	y    = pre * (m ? 1 : 0)        (a negative pre gives -0, a NaN stays NaN)
//	mask = m as one byte per value
//
// and returns max over the groups of bits(y) &^ sign, reluTop's integer maximum.
TEXT ·biasReLUAsm(SB), NOSPLIT, $0-44
	MOVQ y+0(FP), DI
	MOVQ mask+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ groups+24(FP), CX
	VBROADCASTSS b+32(FP), Y15
	MOVL $0x3f800000, AX
	MOVL AX, X14
	VBROADCASTSS X14, Y14        // 1.0
	VPCMPEQD Y13, Y13, Y13
	VPSRLD $1, Y13, Y13          // 0x7fffffff
	VPXOR Y12, Y12, Y12          // zero; the running maximum is Y11
	VPXOR Y11, Y11, Y11
	TESTQ CX, CX
	JLE done

loop:
	VMOVUPS (SI), Y0
	VADDPS Y15, Y0, Y0           // pre
	VCMPPS $0x1D, Y12, Y0, Y1    // pre >= 0 (GE_OQ)
	VANDPS Y14, Y1, Y2           // 1.0 or 0.0
	VMULPS Y2, Y0, Y0            // y
	VMOVUPS Y0, (DI)
	VPAND Y13, Y0, Y0
	VPMAXUD Y0, Y11, Y11
	VPSRLD $31, Y1, Y1           // 1 or 0 per dword
	VPACKUSDW Y1, Y1, Y1         // words: lanes 0-3 (low half), 4-7 (high half)
	VPACKUSWB Y1, Y1, Y1         // bytes
	VMOVD X1, AX
	MOVL AX, (DX)
	VEXTRACTI128 $1, Y1, X1
	VMOVD X1, AX
	MOVL AX, 4(DX)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $8, DX
	DECQ CX
	JNZ loop

done:
	VEXTRACTI128 $1, Y11, X1
	VPMAXUD X1, X11, X11
	VPSHUFD $0x4E, X11, X1
	VPMAXUD X1, X11, X11
	VPSHUFD $0xB1, X11, X1
	VPMAXUD X1, X11, X11
	VMOVD X11, AX
	MOVL AX, ret+40(FP)
	VZEROUPPER
	RET
