//go:build amd64 && !purego

#include "textflag.h"

// func fakeQuantAsm(d, x *float32, groups int, k *fqConsts) int
//
// For each group of four float32 x (fakeQuantizeRow, lane by lane; k's offsets are fqConsts'):
//
//	y   = float64(x) / S                     VCVTPS2PD, VDIVPD
//	      stop unless |y| < 2^32 in all four lanes (NaN fails the compare)
//	t   = trunc(y) + trunc(2 (y - trunc(y)))   round half away from zero, exact for |y| < 2^32
//	      + 0                                 -0 (from -1/2 < y < 0) becomes +0, as int64(y) does
//	out = float32(S * clamp(t, QMin - Z, QMax - Z))
TEXT ·fakeQuantAsm(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ groups+16(FP), CX
	MOVQ k+24(FP), R9
	XORQ AX, AX
	TESTQ CX, CX
	JLE done
	VMOVUPD 0(R9), Y12      // S
	VMOVUPD 32(R9), Y13     // abs mask
	VMOVUPD 64(R9), Y14     // 2^32
	VMOVUPD 96(R9), Y10     // lo
	VMOVUPD 128(R9), Y11    // hi
	VXORPD Y9, Y9, Y9       // +0

loop:
	VCVTPS2PD (SI), Y0
	VDIVPD Y12, Y0, Y0      // y
	VANDPD Y13, Y0, Y1
	VCMPPD $0x11, Y14, Y1, Y1 // |y| < 2^32 (ordered: false for NaN)
	VMOVMSKPD Y1, DX
	CMPQ DX, $15
	JNE done
	VROUNDPD $3, Y0, Y1     // trunc(y)
	VSUBPD Y1, Y0, Y2       // f = y - trunc(y)
	VADDPD Y2, Y2, Y2
	VROUNDPD $3, Y2, Y2     // trunc(2f)
	VADDPD Y2, Y1, Y1
	VADDPD Y9, Y1, Y1       // -0 + +0 = +0
	VMAXPD Y10, Y1, Y1
	VMINPD Y11, Y1, Y1
	VMULPD Y12, Y1, Y1
	VCVTPD2PSY Y1, X1
	VMOVUPS X1, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	ADDQ $4, AX
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	MOVQ AX, ret+32(FP)
	RET
