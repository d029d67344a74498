//go:build amd64 && !purego

#include "textflag.h"

// func fakeQuant8Asm(d, x *float32, groups int, k *fqConsts) int
//
// For each group of eight float32 x, fakeQuantizeRow's result (k's offsets are fqConsts'):
//
//	y'  = float64(x) * fl64(1/S)             VCVTPS2PD, VMULPD (two halves of four lanes)
//	n   = nearest integer to y'              VROUNDPD
//	      stop unless |y'| < 2^32 and |y' - n| < 1/2 - 2^-16 in all eight lanes (NaN fails)
//	out = float32(S * clamp(n + 0, QMin - Z, QMax - Z))   + 0 turns -0 into +0, as int64 does
//
// fakeQuantizeRow rounds y = fl64(float64(x) / S) half away from zero. With q = x/S exactly,
// |y' - q| <= |q| (2^-52 + 2^-106) and |y - q| <= |q| 2^-53, so |y' - y| < 2^-19 when
// |y'| < 2^32; then |y - n| < 1/2 and n is y rounded either way (no tie). A product replaces
// the division of the four-lane kernel this one replaced (VDIVPD bounded it at 0.7 ns/value).
TEXT ·fakeQuant8Asm(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ groups+16(FP), CX
	MOVQ k+24(FP), R9
	XORQ AX, AX
	TESTQ CX, CX
	JLE done
	VMOVUPD 0(R9), Y8       // S
	VMOVUPD 32(R9), Y14     // abs mask
	VMOVUPD 64(R9), Y13     // 2^32
	VMOVUPD 96(R9), Y11     // lo
	VMOVUPD 128(R9), Y10    // hi
	VMOVUPD 160(R9), Y15    // 1/S
	VMOVUPD 192(R9), Y12    // 1/2 - 2^-16
	VXORPD Y9, Y9, Y9       // +0

loop:
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y1
	VMULPD Y15, Y0, Y0      // y'
	VMULPD Y15, Y1, Y1
	VROUNDPD $0, Y0, Y4     // n
	VROUNDPD $0, Y1, Y5
	VANDPD Y14, Y0, Y2
	VCMPPD $0x11, Y13, Y2, Y2 // |y'| < 2^32 (ordered: false for NaN)
	VANDPD Y14, Y1, Y3
	VCMPPD $0x11, Y13, Y3, Y3
	VSUBPD Y4, Y0, Y6
	VANDPD Y14, Y6, Y6
	VCMPPD $0x11, Y12, Y6, Y6 // |y' - n| < 1/2 - 2^-16
	VSUBPD Y5, Y1, Y7
	VANDPD Y14, Y7, Y7
	VCMPPD $0x11, Y12, Y7, Y7
	VANDPD Y2, Y6, Y6
	VANDPD Y3, Y7, Y7
	VANDPD Y6, Y7, Y7       // lane i: both halves' lane i passed
	VMOVMSKPD Y7, DX
	CMPQ DX, $15
	JNE done
	VADDPD Y9, Y4, Y4       // -0 + +0 = +0
	VADDPD Y9, Y5, Y5
	VMAXPD Y11, Y4, Y4
	VMAXPD Y11, Y5, Y5
	VMINPD Y10, Y4, Y4
	VMINPD Y10, Y5, Y5
	VMULPD Y8, Y4, Y4
	VMULPD Y8, Y5, Y5
	VCVTPD2PSY Y4, X4
	VCVTPD2PSY Y5, X5
	VINSERTF128 $1, X5, Y4, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $8, AX
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	MOVQ AX, ret+32(FP)
	RET

// func fakeQuant8sAsm(d, x *float32, groups int, k *fqConsts) int
//
// fakeQuant8Asm's result with the front half in float32 (k's offsets are fqConsts'):
//
//	y'  = x * float32(1/S)                   VMULPS
//	n   = nearest integer to y'              VROUNDPS
//	      stop unless |y'| < 2^12 and |y' - n| < 1/2 - 2^-10 in all eight lanes (NaN fails)
//	out = float32(S * float64(clamp(n + 0, QMin - Z, QMax - Z)))
//
// With q = x/S exactly, float32(1/S) = (1/S)(1 + e1) and the product rounds once more, so
// |y' - q| <= |q| (2^-24 + 2^-53)(2 + 2^-24) < 2^-11 (1 + 2^-20) when |y'| < 2^12, and
// fakeQuantizeRow's y = fl64(q) is within |q| 2^-53 of q: |y - n| < 1/2 - 2^-10 + 2^-11 + 2^-30
// < 1/2, so n is y rounded either way (no tie). n, QMin - Z and QMax - Z are small integers,
// exact in float32, and float64(n) * S rounds as fakeQuantizeRow's product does. set leaves
// lim32 at 0 (every group declined) when float32(1/S) is not a normal float.
TEXT ·fakeQuant8sAsm(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ groups+16(FP), CX
	MOVQ k+24(FP), R9
	XORQ AX, AX
	TESTQ CX, CX
	JLE sdone
	VMOVUPD 0(R9), Y8       // S (float64)
	VMOVUPS 224(R9), Y15    // float32(1/S)
	VMOVUPS 256(R9), Y14    // 2^12
	VMOVUPS 288(R9), Y13    // 1/2 - 2^-10
	VMOVUPS 320(R9), Y12    // abs mask
	VMOVUPS 352(R9), Y11    // lo
	VMOVUPS 384(R9), Y10    // hi
	VXORPS Y9, Y9, Y9       // +0

sloop:
	VMULPS (SI), Y15, Y0    // y'
	VROUNDPS $0, Y0, Y1     // n
	VSUBPS Y1, Y0, Y2
	VANDPS Y12, Y2, Y2
	VCMPPS $0x11, Y13, Y2, Y2 // |y' - n| < 1/2 - 2^-10
	VANDPS Y12, Y0, Y3
	VCMPPS $0x11, Y14, Y3, Y3 // |y'| < 2^12 (ordered: false for NaN)
	VANDPS Y3, Y2, Y2
	VMOVMSKPS Y2, DX
	CMPQ DX, $0xff
	JNE sdone
	VADDPS Y9, Y1, Y1       // -0 + +0 = +0
	VMAXPS Y11, Y1, Y1
	VMINPS Y10, Y1, Y1
	VCVTPS2PD X1, Y4
	VEXTRACTF128 $1, Y1, X5
	VCVTPS2PD X5, Y5
	VMULPD Y8, Y4, Y4
	VMULPD Y8, Y5, Y5
	VCVTPD2PSY Y4, X4
	VCVTPD2PSY Y5, X5
	VINSERTF128 $1, X5, Y4, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $8, AX
	DECQ CX
	JNZ sloop

sdone:
	VZEROUPPER
	MOVQ AX, ret+32(FP)
	RET
