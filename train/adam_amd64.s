//go:build amd64 && !purego

#include "textflag.h"

// func adamAsm(w, grad, m, v *float32, groups int, k *adamConsts)
//
// adamRow, eight lanes at a time, every operation rounded to float32 in adamRow's order (no
// fused multiply-adds):
//
//	m = b1 m + (1-b1) g
//	v = b2 v + ((1-b2) g) g
//	w = w decay - (step m) / (sqrt(v) + eps)       SQRTPS: float32(math.Sqrt(float64(v))),
//	                                               since a float64 square root rounded to
//	                                               float32 is the correctly rounded float32 one
TEXT ·adamAsm(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), DX
	MOVQ v+24(FP), BX
	MOVQ groups+32(FP), CX
	MOVQ k+40(FP), R9
	VBROADCASTSS 0(R9), Y8   // b1
	VBROADCASTSS 4(R9), Y9   // 1 - b1
	VBROADCASTSS 8(R9), Y10  // b2
	VBROADCASTSS 12(R9), Y11 // 1 - b2
	VBROADCASTSS 16(R9), Y12 // step
	VBROADCASTSS 20(R9), Y13 // eps
	VBROADCASTSS 24(R9), Y14 // decay
	TESTQ CX, CX
	JLE done

loop:
	VMOVUPS (SI), Y0         // g
	VMULPS (DX), Y8, Y1      // b1 m
	VMULPS Y0, Y9, Y2        // (1-b1) g
	VADDPS Y2, Y1, Y1        // m
	VMOVUPS Y1, (DX)
	VMULPS (BX), Y10, Y3     // b2 v
	VMULPS Y0, Y11, Y4       // (1-b2) g
	VMULPS Y0, Y4, Y4        // ((1-b2) g) g
	VADDPS Y4, Y3, Y3        // v
	VMOVUPS Y3, (BX)
	VSQRTPS Y3, Y3
	VADDPS Y13, Y3, Y3       // sqrt(v) + eps
	VMULPS Y1, Y12, Y1       // step m
	VDIVPS Y3, Y1, Y1        // (step m) / (sqrt(v) + eps)
	VMULPS (DI), Y14, Y5     // w decay
	VSUBPS Y1, Y5, Y5
	VMOVUPS Y5, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, BX
	ADDQ $32, DI
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	RET
