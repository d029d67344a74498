//go:build amd64 && !purego

#include "textflag.h"

// REQUANT8CONSTS loads the constants REQUANT8TAIL reads from the requantConsts at R9: Y11
// mult, Y10 the nudge 2^30 (int64 lanes), Y9 mask, Y8 mask >> 1, Y7 vlo, Y6 vhi, X5 the
// exponent, Y4 the output scale (float64).
#define REQUANT8CONSTS \
	VMOVDQU 496(R9), Y11 \
	VMOVDQU 192(R9), Y10 \
	VMOVDQU 528(R9), Y9 \
	VMOVDQU 560(R9), Y8 \
	VMOVDQU 592(R9), Y7 \
	VMOVDQU 624(R9), Y6 \
	VMOVQ 656(R9), X5 \
	VMOVUPD 320(R9), Y4

// REQUANT8TAIL requantizes the eight int32 accumulators in Y1 (the second half of
// requant8Asm's formula, from x1 on) into eight float32 outputs in Y2; it reads the constants
// the kernels load into Y4 and X5..Y11 and uses Y1..Y3.
#define REQUANT8TAIL \
	VPMULDQ Y11, Y1, Y2 \
	VPADDQ Y10, Y2, Y2 \
	VPSRLQ $31, Y2, Y2 \
	VPSRLQ $32, Y1, Y3 \
	VPMULDQ Y11, Y3, Y3 \
	VPADDQ Y10, Y3, Y3 \
	VPSLLQ $1, Y3, Y3 \
	VPBLENDD $0xaa, Y3, Y2, Y1 \
	VPAND Y9, Y1, Y2 \
	VPSRLD $31, Y1, Y3 \
	VPADDD Y8, Y3, Y3 \
	VPCMPGTD Y3, Y2, Y2 \
	VPSRAD X5, Y1, Y1 \
	VPSUBD Y2, Y1, Y1 \
	VPMAXSD Y7, Y1, Y1 \
	VPMINSD Y6, Y1, Y1 \
	VCVTDQ2PD X1, Y2 \
	VEXTRACTI128 $1, Y1, X3 \
	VCVTDQ2PD X3, Y3 \
	VMULPD Y4, Y2, Y2 \
	VMULPD Y4, Y3, Y3 \
	VCVTPD2PSY Y2, X2 \
	VCVTPD2PSY Y3, X3 \
	VINSERTF128 $1, X3, Y2, Y2

// func requant8Asm(d, x *float32, groups int, k *requantConsts) int
//
// requantRow for one channel, eight consecutive values at a time, with the accumulator
// recovered in float32 where that is provably exact (k's offsets are requantConsts'):
//
//	y'   = x * float32(1/s)                   VMULPS
//	n    = nearest integer to y'              VROUNDPS
//	       stop unless |y'| < 2^20 and |y' - n| < 1/8 in all eight lanes (NaN fails)
//
// requantRow's accumulator is round(y), y = float64(x) / s. y' is x/s to within three float32
// roundings, |y' - x/s| <= |x/s| 2^-23 (1 + 2^-20), so |y - y'| < 0.12504 when |y'| < 2^20, and
// |y - n| < 0.25004: n is round(y) whichever way round breaks ties, and |n| < 2^31 needs no
// clamp. set leaves lim8 at 0 (every group declined) when float32(1/s) is not a normal float.
// Accumulators from a quantized layer sit within float32 rounding of an integer, so groups
// are declined only for very large accumulators or inputs that are not quantized.
//
//	acc  = int32(n)                           VCVTPS2DQ (exact)
//	x1   = (acc * mult + 2^30) >> 31          requantRow's SaturatingRoundingDoublingHighMul:
//	                                          its nudge and truncating division come to this
//	                                          floor for both signs of the product (for
//	                                          ab < 0, trunc((ab + 1 - 2^30) / 2^31) =
//	                                          floor((ab + 2^30) / 2^31)); VPMULDQ on the even
//	                                          lanes and on the odd lanes shifted down, the low
//	                                          32 bits of each result taken from bits 31..62
//	r    = x1 >> e + (x1 & mask > mask>>1 + (x1 < 0))    RoundingDivideByPOT
//	out  = float32(float64(clamp(r, vlo, vhi)) * scale)
TEXT ·requant8Asm(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ groups+16(FP), CX
	MOVQ k+24(FP), R9
	XORQ AX, AX
	TESTQ CX, CX
	JLE done
	VMOVUPS 368(R9), Y15    // 1/s
	VMOVUPS 400(R9), Y14    // 2^20
	VMOVUPS 432(R9), Y13    // 1/8
	VMOVDQU 464(R9), Y12    // abs mask
	REQUANT8CONSTS

loop:
	VMULPS (SI), Y15, Y0    // y'
	VROUNDPS $0, Y0, Y1     // n
	VSUBPS Y1, Y0, Y2
	VANDPS Y12, Y2, Y2      // |y' - n|
	VCMPPS $0x11, Y13, Y2, Y2 // < 1/8
	VANDPS Y12, Y0, Y3
	VCMPPS $0x11, Y14, Y3, Y3 // |y'| < 2^20 (ordered: false for NaN)
	VANDPS Y3, Y2, Y2
	VMOVMSKPS Y2, DX
	CMPQ DX, $0xff
	JNE done
	VCVTPS2DQ Y1, Y1        // acc
	REQUANT8TAIL
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $8, AX
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	MOVQ AX, ret+32(FP)
	RET

// func requant8dAsm(d, x *float32, groups int, k *requantConsts) int
//
// requant8Asm with the accumulator recovered in float64, for the groups the float32 shortcut
// declines (accumulators of 2^20 and more, or float error near 1/8 from the GEMM's float32
// sums):
//
//	y'   = float64(x) * fl64(1/s)             VCVTPS2PD, VMULPD
//	n    = nearest integer to y'              VROUNDPD
//	       stop unless |y'| < 2^30 and |y' - n| < 1/2 - 2^-20 in all eight lanes (NaN fails)
//
// requantRow's accumulator is math.Round(y), y = fl64(float64(x) / s). With q = x/s exactly,
// |y' - q| <= |q| (2^-52 + 2^-106) and |y - q| <= |q| 2^-53, so |y' - y| < 2^-21 when
// |y'| < 2^30; then |y - n| < 1/2 and n is math.Round(y) (no tie), |n| < 2^31 needs no clamp.
// set leaves limD at 0 (every group declined) when fl64(1/s) is not a normal float64. The
// rest is requant8Asm's (REQUANT8TAIL). The float64 constants are memory operands, so Y12..Y15
// are free for the two halves.
TEXT ·requant8dAsm(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ groups+16(FP), CX
	MOVQ k+24(FP), R9
	XORQ AX, AX
	TESTQ CX, CX
	JLE ddone
	REQUANT8CONSTS

dloop:
	VCVTPS2PD (SI), Y0      // lanes 0..3
	VCVTPS2PD 16(SI), Y1    // lanes 4..7
	VMULPD 664(R9), Y0, Y0  // y'
	VMULPD 664(R9), Y1, Y1
	VROUNDPD $0, Y0, Y2     // n
	VROUNDPD $0, Y1, Y3
	VSUBPD Y2, Y0, Y12
	VSUBPD Y3, Y1, Y13
	VANDPD 32(R9), Y12, Y12 // |y' - n|
	VANDPD 32(R9), Y13, Y13
	VCMPPD $0x11, 728(R9), Y12, Y12 // < 1/2 - 2^-20
	VCMPPD $0x11, 728(R9), Y13, Y13
	VANDPD 32(R9), Y0, Y14
	VANDPD 32(R9), Y1, Y15
	VCMPPD $0x11, 696(R9), Y14, Y14 // |y'| < 2^30 (ordered: false for NaN)
	VCMPPD $0x11, 696(R9), Y15, Y15
	VANDPD Y12, Y14, Y14
	VANDPD Y13, Y15, Y15
	VANDPD Y14, Y15, Y15    // lane i: both halves' lane i passed
	VMOVMSKPD Y15, DX
	CMPQ DX, $0xf
	JNE ddone
	VCVTPD2DQY Y2, X2       // acc (exact: n is an integer below 2^30)
	VCVTPD2DQY Y3, X3
	VINSERTI128 $1, X3, Y2, Y1
	REQUANT8TAIL
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $8, AX
	DECQ CX
	JNZ dloop

ddone:
	VZEROUPPER
	MOVQ AX, ret+32(FP)
	RET
