//go:build amd64 && !purego

#include "textflag.h"

// REQUANT4Y computes y = float64(x) / s for the four float32 at SI into Y0 and sets DX to the
// mask of the lanes with |y| < 2^32 (ordered: not for NaN); s is in Y12.
#define REQUANT4Y \
	VCVTPS2PD (SI), Y0 \
	VDIVPD Y12, Y0, Y0 \
	VANDPD 32(R9), Y0, Y1 \
	VCMPPD $0x11, 64(R9), Y1, Y1 \
	VMOVMSKPD Y1, DX

// REQUANT4AB rounds y (Y0) half away from zero to acc, clamps it to +-MaxInt32 and leaves the
// four int64 products ab = acc * mult in Y1; it uses Y1 and Y2.
#define REQUANT4AB \
	VROUNDPD $3, Y0, Y1 \
	VSUBPD Y1, Y0, Y2 \
	VADDPD Y2, Y2, Y2 \
	VROUNDPD $3, Y2, Y2 \
	VADDPD Y2, Y1, Y1 \
	VMINPD 96(R9), Y1, Y1 \
	VMAXPD 128(R9), Y1, Y1 \
	VCVTTPD2DQY Y1, X1 \
	VPMOVSXDQ X1, Y1 \
	VPMULDQ 160(R9), Y1, Y1

// REQUANT4OUT clamps the four int32 results in X1 to [vlo, vhi], turns them into the output
// values and stores them at DI.
#define REQUANT4OUT \
	VPMAXSD 288(R9), X1, X1 \
	VPMINSD 304(R9), X1, X1 \
	VCVTDQ2PD X1, Y1 \
	VMULPD 320(R9), Y1, Y1 \
	VCVTPD2PSY Y1, X1 \
	VMOVUPS X1, (DI)

// func requantAsm(d, x *float32, groups, stride int, k *requantConsts) int
//
// For each group of four float32 x (requantRow under RoundDouble, lane by lane, each lane with
// its own s, mult and exponent; k's offsets are requantConsts'), groups stride values apart:
//
//	y    = float64(x) / s                    VCVTPS2PD, VDIVPD
//	       stop unless |y| < 2^32 in all four lanes (NaN fails the compare)
//	t    = trunc(y) + trunc(2 (y - trunc(y)))  round half away from zero, exact for |y| < 2^32:
//	                                         the fraction f is exact and trunc(2f) is 1 for
//	                                         f >= 1/2, -1 for f <= -1/2, else 0
//	acc  = int32(clamp(t, -MaxInt32, MaxInt32))
//	ab   = int64(acc) * int64(mult)           VPMULDQ
//	x1   = int32((ab + nudge) / 2^31)          nudge = 2^30, or 1 - 2^30 for ab < 0; the division
//	                                         truncates: add 2^31 - 1 to a negative sum, then
//	                                         shift; the low 32 bits of a logical shift right by
//	                                         31 are those of the arithmetic one
//	r    = x1 >> e + (x1 & mask > mask>>1 + (x1 < 0))    RoundingDivideByPOT (VPSRAVD: per lane)
//	out  = float32(float64(clamp(r, vlo, vhi)) * scale)
TEXT ·requantAsm(SB), NOSPLIT, $0-48
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ groups+16(FP), CX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8             // bytes between groups
	MOVQ k+32(FP), R9
	XORQ AX, AX
	TESTQ CX, CX
	JLE done
	VMOVDQU 352(R9), X15    // shift counts
	VPXOR Y14, Y14, Y14     // zero
	VMOVDQU 224(R9), Y13    // 2^31 - 1
	VMOVUPD 0(R9), Y12      // s

loop:
	REQUANT4Y
	CMPQ DX, $15
	JNE done
	REQUANT4AB
	VPCMPGTQ Y1, Y14, Y2    // ab < 0
	VPAND Y13, Y2, Y2
	VMOVDQU 192(R9), Y3
	VPSUBQ Y2, Y3, Y3       // nudge
	VPADDQ Y3, Y1, Y1       // ab + nudge
	VPCMPGTQ Y1, Y14, Y2    // sum < 0
	VPAND Y13, Y2, Y2
	VPADDQ Y2, Y1, Y1
	VPSRLQ $31, Y1, Y1
	VPSHUFD $0x08, Y1, Y1   // low dwords of each lane to the bottom of each half
	VPERMQ $0x08, Y1, Y1    // ... and both halves to X1
	VPAND 256(R9), X1, X2   // x1 & mask
	VPSRLD $31, X1, X3      // x1 < 0
	VPADDD 272(R9), X3, X3  // threshold
	VPCMPGTD X3, X2, X2     // -1 where x1 & mask > threshold
	VPSRAVD X15, X1, X1
	VPSUBD X2, X1, X1
	REQUANT4OUT
	ADDQ R8, SI
	ADDQ R8, DI
	ADDQ $4, AX
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	MOVQ AX, ret+40(FP)
	RET

// func requantSAsm(d, x *float32, groups, stride int, k *requantConsts) int
//
// requantAsm under RoundSingle (fakequant equation (11s)): the same accumulator, then per lane,
// with t = 31 + exponent (31..62),
//
//	r    = (ab + 2^(t-1)) >> t                arithmetic shift, which AVX2 lacks for 64 bits
//	                                         (VPSRAQ is AVX-512), so:
//	u    = ab + 2^(t-1) + 2^62                VPADDQ sBias: |ab| < 2^62 (|acc| <= MaxInt32,
//	                                         0 <= mult < 2^31), so 0 < u < 2^62 + 2^61 + 2^62
//	                                         < 2^64: u is exact as an unsigned 64-bit value
//	u >> t (logical)                          VPSRLVQ sShift (per lane) = floor(u / 2^t)
//	                                         = floor((ab + 2^(t-1)) / 2^t) + 2^(62-t), as 2^t
//	                                         divides 2^62 (t <= 62)
//	r    = low32(u >> t) - 2^(62-t)  (mod 2^32) VPSUBD sSub: r fits in an int32, so its low 32
//	                                         bits, computed mod 2^32, are r
//	out  = float32(float64(clamp(r, vlo, vhi)) * scale)
TEXT ·requantSAsm(SB), NOSPLIT, $0-48
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ groups+16(FP), CX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8             // bytes between groups
	MOVQ k+32(FP), R9
	XORQ AX, AX
	TESTQ CX, CX
	JLE sdone
	VMOVUPD 0(R9), Y12      // s
	VMOVDQU 760(R9), Y11    // 2^(t-1) + 2^62
	VMOVDQU 792(R9), Y10    // t
	VMOVDQU 824(R9), X9     // 2^(62-t)

sloop:
	REQUANT4Y
	CMPQ DX, $15
	JNE sdone
	REQUANT4AB
	VPADDQ Y11, Y1, Y1      // u
	VPSRLVQ Y10, Y1, Y1     // u >> t
	VPSHUFD $0x08, Y1, Y1   // low dwords of each lane to the bottom of each half
	VPERMQ $0x08, Y1, Y1    // ... and both halves to X1
	VPSUBD X9, X1, X1       // r
	REQUANT4OUT
	ADDQ R8, SI
	ADDQ R8, DI
	ADDQ $4, AX
	DECQ CX
	JNZ sloop

sdone:
	VZEROUPPER
	MOVQ AX, ret+40(FP)
	RET
