//go:build amd64 && !purego

#include "textflag.h"

// func steAsm(dx, x, dy *float32, groups int, lo, hi float32) int
//
// The clipped straight-through estimator, eight lanes at a time:
//
//	dx = dy AND (lo <= x) AND (x <= hi)      ordered compares: false for a NaN x
TEXT ·steAsm(SB), NOSPLIT, $0-48
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ groups+24(FP), CX
	VBROADCASTSS lo+32(FP), Y14
	VBROADCASTSS hi+36(FP), Y15
	MOVQ CX, AX
	SHLQ $3, AX
	TESTQ CX, CX
	JLE done

loop:
	VMOVUPS (SI), Y0
	VCMPPS $0x1D, Y14, Y0, Y1 // x >= lo (GE_OQ)
	VCMPPS $0x12, Y15, Y0, Y2 // x <= hi (LE_OQ)
	VANDPS Y2, Y1, Y1
	VANDPS (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	MOVQ AX, ret+40(FP)
	RET

// func absMaxAsm(w *float32, groups int) (float32, bool)
//
//	m   = max over lanes of m_lane, m_lane = MAXPS(|w|, m_lane) (MAXPS returns its second
//	      operand when the first is NaN, so NaNs are skipped), starting from 0
//	nan = any lane unordered with itself
TEXT ·absMaxAsm(SB), NOSPLIT, $0-21
	MOVQ w+0(FP), SI
	MOVQ groups+8(FP), CX
	VPCMPEQD Y15, Y15, Y15
	VPSRLD $1, Y15, Y15        // 0x7fffffff
	VXORPS Y0, Y0, Y0          // m
	VXORPS Y1, Y1, Y1          // nan
	TESTQ CX, CX
	JLE reduce

loop:
	VMOVUPS (SI), Y2
	VCMPPS $0x03, Y2, Y2, Y3   // UNORD_Q: NaN lanes
	VORPS Y3, Y1, Y1
	VANDPS Y15, Y2, Y2
	VMAXPS Y0, Y2, Y0          // Intel vmaxps y0, y2, y0: y2 > y0 ? y2 : y0
	ADDQ $32, SI
	DECQ CX
	JNZ loop

reduce:
	VEXTRACTF128 $1, Y0, X2
	VMAXPS X2, X0, X0
	VPERMILPS $0x4E, X0, X2
	VMAXPS X2, X0, X0
	VPERMILPS $0xB1, X0, X2
	VMAXPS X2, X0, X0
	VMOVSS X0, ret+16(FP)
	VMOVMSKPS Y1, AX
	TESTQ AX, AX
	SETNE ret1+20(FP)
	VZEROUPPER
	RET
