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

// REQUANT8CONSTSS loads the constants REQUANT8TAILS reads from the requantConsts at R9: Y11
// mult, Y10 sBias = 2^(t-1) + 2^62 and Y9 sShift = t (int64 lanes, t = 31 + exponent), Y8
// sSub = 2^(62-t) (int32 lanes), Y7 vlo, Y6 vhi, Y4 the output scale (float64).
#define REQUANT8CONSTSS \
	VMOVDQU 496(R9), Y11 \
	VMOVDQU 760(R9), Y10 \
	VMOVDQU 792(R9), Y9 \
	VMOVDQU 824(R9), Y8 \
	VMOVDQU 592(R9), Y7 \
	VMOVDQU 624(R9), Y6 \
	VMOVUPD 320(R9), Y4

// REQUANT8TAILS is REQUANT8TAIL under RoundSingle: the eight int32 accumulators in Y1 become
// r = (acc * mult + 2^(t-1)) >> t (requantSAsm's bias trick: u = acc * mult + sBias is in
// [0, 2^64), r = low32(u >> t logical) - sSub mod 2^32; see requant_amd64.s for the proof),
// clamped and turned into eight float32 outputs in Y2. Even lanes by VPMULDQ directly, odd
// lanes shifted down first and their results shifted back up into the high dwords.
#define REQUANT8TAILS \
	VPMULDQ Y11, Y1, Y2 \
	VPADDQ Y10, Y2, Y2 \
	VPSRLVQ Y9, Y2, Y2 \
	VPSRLQ $32, Y1, Y3 \
	VPMULDQ Y11, Y3, Y3 \
	VPADDQ Y10, Y3, Y3 \
	VPSRLVQ Y9, Y3, Y3 \
	VPSLLQ $32, Y3, Y3 \
	VPBLENDD $0xaa, Y3, Y2, Y1 \
	VPSUBD Y8, Y1, Y1 \
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

// REQUANT8F is requant8Asm's float32 recovery of the eight x at SI: y' into Y0, n = nearest
// integer into Y1, DX the mask of the lanes with |y'| < 2^20 and |y' - n| < 1/8 (constants in
// Y12..Y15, see requant8Asm).
#define REQUANT8F \
	VMULPS (SI), Y15, Y0 \
	VROUNDPS $0, Y0, Y1 \
	VSUBPS Y1, Y0, Y2 \
	VANDPS Y12, Y2, Y2 \
	VCMPPS $0x11, Y13, Y2, Y2 \
	VANDPS Y12, Y0, Y3 \
	VCMPPS $0x11, Y14, Y3, Y3 \
	VANDPS Y3, Y2, Y2 \
	VMOVMSKPS Y2, DX

// REQUANT8FCONSTS loads REQUANT8F's constants: Y15 1/s, Y14 2^20, Y13 1/8, Y12 the abs mask.
#define REQUANT8FCONSTS \
	VMOVUPS 368(R9), Y15 \
	VMOVUPS 400(R9), Y14 \
	VMOVUPS 432(R9), Y13 \
	VMOVDQU 464(R9), Y12

// REQUANT8D is requant8dAsm's float64 recovery of the eight x at SI: n for lanes 0..3 in Y2
// and 4..7 in Y3, DX the mask (four bits) of the lane pairs i, i+4 that both passed.
#define REQUANT8D \
	VCVTPS2PD (SI), Y0 \
	VCVTPS2PD 16(SI), Y1 \
	VMULPD 664(R9), Y0, Y0 \
	VMULPD 664(R9), Y1, Y1 \
	VROUNDPD $0, Y0, Y2 \
	VROUNDPD $0, Y1, Y3 \
	VSUBPD Y2, Y0, Y12 \
	VSUBPD Y3, Y1, Y13 \
	VANDPD 32(R9), Y12, Y12 \
	VANDPD 32(R9), Y13, Y13 \
	VCMPPD $0x11, 728(R9), Y12, Y12 \
	VCMPPD $0x11, 728(R9), Y13, Y13 \
	VANDPD 32(R9), Y0, Y14 \
	VANDPD 32(R9), Y1, Y15 \
	VCMPPD $0x11, 696(R9), Y14, Y14 \
	VCMPPD $0x11, 696(R9), Y15, Y15 \
	VANDPD Y12, Y14, Y14 \
	VANDPD Y13, Y15, Y15 \
	VANDPD Y14, Y15, Y15 \
	VMOVMSKPD Y15, DX

// REQUANT8DACC converts REQUANT8D's n (exact integers below 2^30) to the eight int32 in Y1.
#define REQUANT8DACC \
	VCVTPD2DQY Y2, X2 \
	VCVTPD2DQY Y3, X3 \
	VINSERTI128 $1, X3, Y2, Y1

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
	REQUANT8FCONSTS
	REQUANT8CONSTS

loop:
	REQUANT8F
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
	REQUANT8D
	CMPQ DX, $0xf
	JNE ddone
	REQUANT8DACC
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

// func requant8SAsm(d, x *float32, groups int, k *requantConsts) int
//
// requant8Asm under RoundSingle: the same float32 recovery (REQUANT8F, exact where it accepts
// a group, see requant8Asm), then REQUANT8TAILS.
TEXT ·requant8SAsm(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ groups+16(FP), CX
	MOVQ k+24(FP), R9
	XORQ AX, AX
	TESTQ CX, CX
	JLE sdone
	REQUANT8FCONSTS
	REQUANT8CONSTSS

sloop:
	REQUANT8F
	CMPQ DX, $0xff
	JNE sdone
	VCVTPS2DQ Y1, Y1        // acc
	REQUANT8TAILS
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $8, AX
	DECQ CX
	JNZ sloop

sdone:
	VZEROUPPER
	MOVQ AX, ret+32(FP)
	RET

// func requant8dSAsm(d, x *float32, groups int, k *requantConsts) int
//
// requant8dAsm under RoundSingle: the same float64 recovery (REQUANT8D, exact where it
// accepts a group, see requant8dAsm), then REQUANT8TAILS.
TEXT ·requant8dSAsm(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ groups+16(FP), CX
	MOVQ k+24(FP), R9
	XORQ AX, AX
	TESTQ CX, CX
	JLE dsdone
	REQUANT8CONSTSS

dsloop:
	REQUANT8D
	CMPQ DX, $0xf
	JNE dsdone
	REQUANT8DACC
	REQUANT8TAILS
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $8, AX
	DECQ CX
	JNZ dsloop

dsdone:
	VZEROUPPER
	MOVQ AX, ret+32(FP)
	RET
