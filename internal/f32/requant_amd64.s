//go:build amd64 && !purego

#include "textflag.h"

// The one AVX2 requantization kernel, requantAsm (the Go form is requantRow; RequantChannel and
// RequantColumns8 drive it). Offsets of the RequantConsts at R9 (TestRequantConstsLayout):
//
//	  0 s [8]float64     the accumulator scales S_in S_w[c] of the eight lanes
//	 64 absD [4]uint64   0x7fff...: |y|       96 lim [4]float64: 2^32
//	128 maxAcc: MaxInt32                      160 minAcc: -MaxInt32
//	192 recip [8]float32 float32(1/s)         224 lim8 [8]float32: 2^20 (0: lane never fast)
//	256 guard: 1/8                            288 abs8: 0x7fffffff
//	320 mult [8]int32                         352 nudge [4]int64: 2^30
//	384 mask [8]int32: 2^exponent - 1         416 half: mask >> 1
//	448 exp [8]uint32: the exponent           480 vlo [8]int32, 512 vhi [8]int32
//	544 scale [4]float64: the output scale    576 sBias [8]int64, 640 sShift [8]uint64
//	704 sSub [8]int32
//
// sBias and sShift hold the even lanes (0, 2, 4, 6) in their first four entries and the odd
// lanes (1, 3, 5, 7) in the last four, the order of VPMULDQ's products below.

// REQUANTF32 is the float32 recovery of the eight x at SI: y' = x * recip into Y0, its nearest
// integer n into Y1, and DX the mask of the lanes with |y'| < lim8 and |y' - n| < 1/8 (NaN
// fails both). Constants: Y15 recip, Y14 lim8, Y13 guard, Y12 abs8.
#define REQUANTF32 \
	VMULPS (SI), Y15, Y0 \
	VROUNDPS $0, Y0, Y1 \
	VSUBPS Y1, Y0, Y2 \
	VANDPS Y12, Y2, Y2 \
	VCMPPS $0x11, Y13, Y2, Y2 \
	VANDPS Y12, Y0, Y3 \
	VCMPPS $0x11, Y14, Y3, Y3 \
	VANDPS Y3, Y2, Y2 \
	VMOVMSKPS Y2, DX

// REQUANTDIVY is the exact float64 recovery's first half: y = float64(x) / s for the eight x at
// SI, lanes 0..3 in Y0 and 4..7 in Y1, and DX the mask (four bits) of the lane pairs i, i+4
// that both have |y| < 2^32 (NaN fails). Uses Y2, Y3.
#define REQUANTDIVY \
	VCVTPS2PD (SI), Y0 \
	VCVTPS2PD 16(SI), Y1 \
	VDIVPD 0(R9), Y0, Y0 \
	VDIVPD 32(R9), Y1, Y1 \
	VANDPD 64(R9), Y0, Y2 \
	VANDPD 64(R9), Y1, Y3 \
	VCMPPD $0x11, 96(R9), Y2, Y2 \
	VCMPPD $0x11, 96(R9), Y3, Y3 \
	VANDPD Y3, Y2, Y2 \
	VMOVMSKPD Y2, DX

// REQUANTROUND(y) rounds the four float64 in y half away from zero and clamps them to
// +-MaxInt32, in place: trunc(y) + trunc(2 (y - trunc(y))). Uses Y2, Y3.
#define REQUANTROUND(y) \
	VROUNDPD $3, y, Y2 \
	VSUBPD Y2, y, Y3 \
	VADDPD Y3, Y3, Y3 \
	VROUNDPD $3, Y3, Y3 \
	VADDPD Y3, Y2, y \
	VMINPD 128(R9), y, y \
	VMAXPD 160(R9), y, y

// REQUANTDIVACC is its second half: the eight accumulators as int32 in Y1.
#define REQUANTDIVACC \
	REQUANTROUND(Y0) \
	REQUANTROUND(Y1) \
	VCVTTPD2DQY Y0, X0 \
	VCVTTPD2DQY Y1, X1 \
	VINSERTI128 $1, X1, Y0, Y1

// REQUANTDOUBLE turns the eight int32 accumulators in Y1 into r under RoundDouble, in Y1:
// x1 = (acc * mult + 2^30) >> 31 (VPMULDQ on the even lanes and on the odd lanes shifted
// down, the low 32 bits of each result taken from bits 31..62), then RoundingDivideByPOT.
// Constants: Y11 mult, Y10 the odd lanes' mult in the even dwords, Y9 nudge, Y8 mask, Y7 half,
// Y6 exp. Uses Y2, Y3.
#define REQUANTDOUBLE \
	VPMULDQ Y11, Y1, Y2 \
	VPADDQ Y9, Y2, Y2 \
	VPSRLQ $31, Y2, Y2 \
	VPSRLQ $32, Y1, Y3 \
	VPMULDQ Y10, Y3, Y3 \
	VPADDQ Y9, Y3, Y3 \
	VPSLLQ $1, Y3, Y3 \
	VPBLENDD $0xaa, Y3, Y2, Y1 \
	VPAND Y8, Y1, Y2 \
	VPSRLD $31, Y1, Y3 \
	VPADDD Y7, Y3, Y3 \
	VPCMPGTD Y3, Y2, Y2 \
	VPSRAVD Y6, Y1, Y1 \
	VPSUBD Y2, Y1, Y1

// REQUANTSINGLE turns the eight int32 accumulators in Y1 into r under RoundSingle, in Y1:
// u = acc * mult + sBias, r = low32(u >> sShift, logical) - sSub (mod 2^32). Constants: Y11
// mult, Y10 the odd lanes' mult in the even dwords, Y9 and Y8 sBias, Y7 and Y6 sShift (even
// lanes, odd lanes). Uses Y2, Y3.
#define REQUANTSINGLE \
	VPMULDQ Y11, Y1, Y2 \
	VPADDQ Y9, Y2, Y2 \
	VPSRLVQ Y7, Y2, Y2 \
	VPSRLQ $32, Y1, Y3 \
	VPMULDQ Y10, Y3, Y3 \
	VPADDQ Y8, Y3, Y3 \
	VPSRLVQ Y6, Y3, Y3 \
	VPSLLQ $32, Y3, Y3 \
	VPBLENDD $0xaa, Y3, Y2, Y1 \
	VPSUBD 704(R9), Y1, Y1

// REQUANTOUT clamps the eight int32 r in Y1 to [vlo, vhi] (Y5, Y4), turns them into the
// output values float32(float64(v) * scale) and stores them at DI. Uses Y1..Y3.
#define REQUANTOUT \
	VPMAXSD Y5, Y1, Y1 \
	VPMINSD Y4, Y1, Y1 \
	VCVTDQ2PD X1, Y2 \
	VEXTRACTI128 $1, Y1, X3 \
	VCVTDQ2PD X3, Y3 \
	VMULPD 544(R9), Y2, Y2 \
	VMULPD 544(R9), Y3, Y3 \
	VCVTPD2PSY Y2, X2 \
	VCVTPD2PSY Y3, X3 \
	VINSERTF128 $1, X3, Y2, Y2 \
	VMOVUPS Y2, (DI)

// func requantAsm(d, x *float32, groups, stride int, k *RequantConsts, single bool) int
//
// For each group of eight consecutive float32 x (groups stride values apart), lane i with lane
// i's constants of k: requantRow under RoundDouble (single false) or RoundSingle (single true;
// the rule is chosen once, before the loop). The accumulator, requantRow's
// acc = SaturateAccumulator(math.Round(y)), y = float64(x) / s, is recovered by the first of
// two recoveries that takes the group:
//
//  1. float32 (REQUANTF32), which takes the group where it is provably exact:
//
//	y'   = x * float32(1/s)                   VMULPS
//	n    = nearest integer to y'              VROUNDPS
//	       taken if |y'| < 2^20 and |y' - n| < 1/8 in all eight lanes (NaN fails)
//	acc  = int32(n)                           VCVTPS2DQ (exact)
//
//     y' is x/s to within three float32 roundings, |y' - x/s| <= |x/s| 2^-23 (1 + 2^-20), so
//     |y - y'| < 0.12504 when |y'| < 2^20, and |y - n| < 0.25004: n is round(y) whichever way
//     round breaks ties, and |n| < 2^31 needs no clamp. SetLane leaves lim8 at 0 (the group
//     goes to the second recovery) when float32(1/s) is not a normal float32. Accumulators
//     of a quantized layer sit within float32 rounding of an integer, so groups miss it only
//     for accumulators of 2^20 and more or inputs that are not quantized.
//
//  2. float64, exact for |y| < 2^32 (REQUANTDIVY, REQUANTDIVACC):
//
//	y    = float64(x) / s                     VCVTPS2PD, VDIVPD (requantRow's y, bit for bit)
//	       stop unless |y| < 2^32 in all eight lanes (NaN fails the compare): the group is
//	       left to requantRow's slow path
//	t    = trunc(y) + trunc(2 (y - trunc(y)))  round half away from zero, exact for |y| < 2^32:
//	                                          the fraction f is exact and trunc(2f) is 1 for
//	                                          f >= 1/2, -1 for f <= -1/2, else 0
//	acc  = int32(clamp(t, -MaxInt32, MaxInt32))
//
// Then, with ab = int64(acc) * int64(mult) (VPMULDQ on the even lanes and on the odd lanes
// shifted down; |ab| < 2^62 as |acc| <= MaxInt32, 0 <= mult < 2^31):
//
//	RoundDouble (REQUANTDOUBLE):
//	x1   = (ab + 2^30) >> 31                  requantMul's SaturatingRoundingDoublingHighMul:
//	                                          its nudge and truncating division come to this
//	                                          floor for both signs of ab (for ab < 0,
//	                                          trunc((ab + 1 - 2^30) / 2^31) =
//	                                          floor((ab + 2^30) / 2^31)); the low 32 bits of a
//	                                          logical shift right by 31 are those of the
//	                                          arithmetic one
//	r    = x1 >> e + (x1 & mask > mask>>1 + (x1 < 0))    RoundingDivideByPOT (VPSRAVD)
//
//	RoundSingle (REQUANTSINGLE), with t = 31 + exponent (31..62):
//	r    = (ab + 2^(t-1)) >> t                arithmetic shift, which AVX2 lacks for 64 bits
//	                                          (VPSRAQ is AVX-512), so:
//	u    = ab + 2^(t-1) + 2^62                VPADDQ sBias: 0 < u < 2^62 + 2^61 + 2^62 < 2^64,
//	                                          exact as an unsigned 64-bit value
//	u >> t (logical)                          VPSRLVQ sShift = floor(u / 2^t)
//	                                          = floor((ab + 2^(t-1)) / 2^t) + 2^(62-t), as 2^t
//	                                          divides 2^62 (t <= 62)
//	r    = low32(u >> t) - 2^(62-t)  (mod 2^32) VPSUBD sSub: r fits in an int32, so its low 32
//	                                          bits, computed mod 2^32, are r
//
// and for both (REQUANTOUT):
//
//	out  = float32(float64(clamp(r, vlo, vhi)) * scale)
//
// It returns eight times the number of groups written: groups, or fewer if it stopped before a
// group with a value on requantRow's slow path (|x/s| >= 2^32 or NaN).
TEXT ·requantAsm(SB), NOSPLIT, $0-56
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ groups+16(FP), CX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8             // bytes between groups
	MOVQ k+32(FP), R9
	MOVBQZX single+40(FP), BX
	XORQ AX, AX
	TESTQ CX, CX
	JLE done
	VMOVUPS 192(R9), Y15    // recip
	VMOVUPS 224(R9), Y14    // lim8
	VMOVUPS 256(R9), Y13    // guard
	VMOVDQU 288(R9), Y12    // abs8
	VMOVDQU 320(R9), Y11    // mult
	VPSRLQ $32, Y11, Y10    // the odd lanes' mult in the even dwords
	VMOVDQU 480(R9), Y5     // vlo
	VMOVDQU 512(R9), Y4     // vhi
	TESTQ BX, BX
	JNZ single

	VMOVDQU 352(R9), Y9     // nudge
	VMOVDQU 384(R9), Y8     // mask
	VMOVDQU 416(R9), Y7     // half
	VMOVDQU 448(R9), Y6     // exp

dloop:
	REQUANTF32
	CMPQ DX, $0xff
	JNE ddiv
	VCVTPS2DQ Y1, Y1        // acc

dtail:
	REQUANTDOUBLE
	REQUANTOUT
	ADDQ R8, SI
	ADDQ R8, DI
	ADDQ $8, AX
	DECQ CX
	JNZ dloop
	JMP done

ddiv:
	REQUANTDIVY
	CMPQ DX, $0xf
	JNE done
	REQUANTDIVACC
	JMP dtail

single:
	VMOVDQU 576(R9), Y9     // sBias, even lanes
	VMOVDQU 608(R9), Y8     // sBias, odd lanes
	VMOVDQU 640(R9), Y7     // sShift, even lanes
	VMOVDQU 672(R9), Y6     // sShift, odd lanes

sloop:
	REQUANTF32
	CMPQ DX, $0xff
	JNE sdiv
	VCVTPS2DQ Y1, Y1        // acc

stail:
	REQUANTSINGLE
	REQUANTOUT
	ADDQ R8, SI
	ADDQ R8, DI
	ADDQ $8, AX
	DECQ CX
	JNZ sloop
	JMP done

sdiv:
	REQUANTDIVY
	CMPQ DX, $0xf
	JNE done
	REQUANTDIVACC
	JMP stail

done:
	VZEROUPPER
	MOVQ AX, ret+48(FP)
	RET
