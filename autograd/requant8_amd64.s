//go:build amd64 && !purego

#include "textflag.h"

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
	VMOVDQU 496(R9), Y11    // mult
	VMOVDQU 192(R9), Y10    // 2^30 (int64 lanes: nudge)
	VMOVDQU 528(R9), Y9     // mask
	VMOVDQU 560(R9), Y8     // mask >> 1
	VMOVDQU 592(R9), Y7     // vlo
	VMOVDQU 624(R9), Y6     // vhi
	VMOVQ 656(R9), X5       // e
	VMOVUPD 320(R9), Y4     // scale

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
	VPMULDQ Y11, Y1, Y2     // even lanes: acc * mult
	VPADDQ Y10, Y2, Y2
	VPSRLQ $31, Y2, Y2      // x1 in the low dwords
	VPSRLQ $32, Y1, Y3      // odd lanes
	VPMULDQ Y11, Y3, Y3
	VPADDQ Y10, Y3, Y3
	VPSLLQ $1, Y3, Y3       // x1 in the high dwords
	VPBLENDD $0xaa, Y3, Y2, Y1
	VPAND Y9, Y1, Y2        // x1 & mask
	VPSRLD $31, Y1, Y3      // x1 < 0
	VPADDD Y8, Y3, Y3       // threshold
	VPCMPGTD Y3, Y2, Y2     // -1 where x1 & mask > threshold
	VPSRAD X5, Y1, Y1
	VPSUBD Y2, Y1, Y1
	VPMAXSD Y7, Y1, Y1
	VPMINSD Y6, Y1, Y1
	VCVTDQ2PD X1, Y2
	VEXTRACTI128 $1, Y1, X3
	VCVTDQ2PD X3, Y3
	VMULPD Y4, Y2, Y2
	VMULPD Y4, Y3, Y3
	VCVTPD2PSY Y2, X2
	VCVTPD2PSY Y3, X3
	VINSERTF128 $1, X3, Y2, Y2
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
