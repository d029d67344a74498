//go:build amd64 && !purego

#include "textflag.h"

// The kernels of doc.go. Tiles: func(c *int32, ldc int, x *uint8, ldx int,
// w *int8, kp4 int, bias *int32), ldc and ldx in bytes. Registers common to
// all tiles:
//	DI  c, row 0        R8  ldc
//	SI  x, row 0        R9  ldx        R11, R12, R13  x rows 1, 2, 3
//	DX  w, block 0      R10 block stride (kp4*32 bytes)
//	CX  k4 steps left   BX  bias

#define TILE_ARGS \
	MOVQ c+0(FP), DI; \
	MOVQ ldc+8(FP), R8; \
	MOVQ x+16(FP), SI; \
	MOVQ ldx+24(FP), R9; \
	MOVQ w+32(FP), DX; \
	MOVQ kp4+40(FP), CX; \
	MOVQ bias+48(FP), BX; \
	MOVQ CX, R10; \
	SHLQ $5, R10; \
	LEAQ (SI)(R9*1), R11; \
	LEAQ (SI)(R9*2), R12; \
	LEAQ (R11)(R9*2), R13

#define GATHER_ARGS \
	MOVQ dst+0(FP), DI; \
	MOVQ ldd+8(FP), R8; \
	MOVQ src+16(FP), SI; \
	MOVQ offs+24(FP), DX; \
	MOVQ rows+32(FP), CX; \
	MOVQ run+48(FP), R10

#define RQ_ARGS \
	MOVQ dst+0(FP), DI; \
	MOVQ ldd+8(FP), R8; \
	MOVQ acc+16(FP), SI; \
	MOVQ lda+24(FP), R9; \
	MOVQ rows+32(FP), CX; \
	VMOVDQU packShuf<>(SB), Y14; \
	VMOVDQU packPerm<>(SB), Y13

// Arguments of the sparse tiles (spmm8, spmm4, spmm1).
#define SP_ARGS \
	MOVQ c+0(FP), DI; \
	MOVQ ldc+8(FP), R8; \
	MOVQ ldv+16(FP), R9; \
	MOVQ x+24(FP), SI; \
	MOVQ ldx+32(FP), R10; \
	MOVQ start+40(FP), DX; \
	MOVQ e+48(FP), BX; \
	MOVQ rows+56(FP), CX; \
	MOVQ bias+64(FP), R11; \
	MOVL (DX), AX; \
	ADDQ $4, DX

// Macros of the AVX2 kernels (defined here, before any TEXT, for go vet).

#define AVX_ARGS \
	TILE_ARGS; \
	SHLQ $1, CX

#define AVX_ROW2(p, a0, a1) \
	VPBROADCASTD (p), Y12; \
	VPMADDWD     Y8, Y12, Y13; \
	VPMADDWD     Y9, Y12, Y14; \
	VPADDD       Y13, a0, a0; \
	VPADDD       Y14, a1, a1

#define AVX_ROW1(p, a0) \
	VPBROADCASTD (p), Y12; \
	VPMADDWD     Y8, Y12, Y13; \
	VPADDD       Y13, a0, a0

#define UBS_ROW2(p, a0, a1) \
	VPBROADCASTD (p), Y12; \
	VPMADDUBSW   Y8, Y12, Y13; \
	VPADDW       Y13, a0, a0; \
	VPMADDUBSW   Y9, Y12, Y14; \
	VPADDW       Y14, a1, a1

#define UBS_FLUSH(a, m) \
	VPMADDWD Y15, a, a; \
	VPADDD   m, a, a; \
	VMOVDQU  a, m

#define UBS_SETUP \
	TILE_ARGS; \
	MOVQ         steps+56(FP), R14; \
	MOVL         $0x00010001, AX; \
	VMOVD        AX, X15; \
	VPBROADCASTD X15, Y15; \
	VMOVDQU      (BX), Y10; \
	VMOVDQU      32(BX), Y11

#define UBS_RUN \
	MOVQ    R14, AX; \
	CMPQ    AX, CX; \
	CMOVQGT CX, AX; \
	SUBQ    AX, CX

#define RQ_STORE \
	VPMINSD      352(R10), Y2, Y2; \
	VPMAXSD      384(R10), Y2, Y2; \
	VPADDD       416(R10), Y2, Y2; \
	VPSHUFB      Y14, Y2, Y2; \
	VPERMD       Y2, Y13, Y2; \
	VMOVQ        X2, (R11)

// ---- AVX-512 VNNI: VPDPBUSD acc += u8(broadcast x) . s8(w), per dword.

// One row of a 3-block tile: Y0..Y2 hold the weights of the k4 step.
#define VNNI_ROW3(p, a0, a1, a2) \
	VPBROADCASTD (p), Y3; \
	VPDPBUSD Y0, Y3, a0; \
	VPDPBUSD Y1, Y3, a1; \
	VPDPBUSD Y2, Y3, a2

// func vnni4x3(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32)
TEXT ·vnni4x3(SB), NOSPLIT, $0-56
	TILE_ARGS
	VMOVDQU (BX), Y4
	VMOVDQU 32(BX), Y5
	VMOVDQU 64(BX), Y6
	VMOVDQA Y4, Y7
	VMOVDQA Y5, Y8
	VMOVDQA Y6, Y9
	VMOVDQA Y4, Y10
	VMOVDQA Y5, Y11
	VMOVDQA Y6, Y12
	VMOVDQA Y4, Y13
	VMOVDQA Y5, Y14
	VMOVDQA Y6, Y15

vnni4x3loop:
	VMOVDQU (DX), Y0
	VMOVDQU (DX)(R10*1), Y1
	VMOVDQU (DX)(R10*2), Y2
	VNNI_ROW3(SI, Y4, Y5, Y6)
	VNNI_ROW3(R11, Y7, Y8, Y9)
	VNNI_ROW3(R12, Y10, Y11, Y12)
	VNNI_ROW3(R13, Y13, Y14, Y15)
	ADDQ $4, SI
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $4, R13
	ADDQ $32, DX
	DECQ CX
	JNZ  vnni4x3loop

	VMOVDQU Y4, (DI)
	VMOVDQU Y5, 32(DI)
	VMOVDQU Y6, 64(DI)
	ADDQ    R8, DI
	VMOVDQU Y7, (DI)
	VMOVDQU Y8, 32(DI)
	VMOVDQU Y9, 64(DI)
	ADDQ    R8, DI
	VMOVDQU Y10, (DI)
	VMOVDQU Y11, 32(DI)
	VMOVDQU Y12, 64(DI)
	ADDQ    R8, DI
	VMOVDQU Y13, (DI)
	VMOVDQU Y14, 32(DI)
	VMOVDQU Y15, 64(DI)
	VZEROUPPER
	RET

// func vnni4x1(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32)
TEXT ·vnni4x1(SB), NOSPLIT, $0-56
	TILE_ARGS
	VMOVDQU (BX), Y4
	VMOVDQA Y4, Y5
	VMOVDQA Y4, Y6
	VMOVDQA Y4, Y7

vnni4x1loop:
	VMOVDQU       (DX), Y0
	VPBROADCASTD  (SI), Y1
	VPBROADCASTD  (R11), Y2
	VPDPBUSD      Y0, Y1, Y4
	VPDPBUSD      Y0, Y2, Y5
	VPBROADCASTD  (R12), Y1
	VPBROADCASTD  (R13), Y2
	VPDPBUSD      Y0, Y1, Y6
	VPDPBUSD      Y0, Y2, Y7
	ADDQ $4, SI
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $4, R13
	ADDQ $32, DX
	DECQ CX
	JNZ  vnni4x1loop

	VMOVDQU Y4, (DI)
	ADDQ    R8, DI
	VMOVDQU Y5, (DI)
	ADDQ    R8, DI
	VMOVDQU Y6, (DI)
	ADDQ    R8, DI
	VMOVDQU Y7, (DI)
	VZEROUPPER
	RET

// func vnni1x3(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32)
TEXT ·vnni1x3(SB), NOSPLIT, $0-56
	TILE_ARGS
	VMOVDQU (BX), Y4
	VMOVDQU 32(BX), Y5
	VMOVDQU 64(BX), Y6

vnni1x3loop:
	VPBROADCASTD (SI), Y3
	VPDPBUSD     (DX), Y3, Y4
	VPDPBUSD     (DX)(R10*1), Y3, Y5
	VPDPBUSD     (DX)(R10*2), Y3, Y6
	ADDQ $4, SI
	ADDQ $32, DX
	DECQ CX
	JNZ  vnni1x3loop

	VMOVDQU Y4, (DI)
	VMOVDQU Y5, 32(DI)
	VMOVDQU Y6, 64(DI)
	VZEROUPPER
	RET

// func vnni1x1(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32)
TEXT ·vnni1x1(SB), NOSPLIT, $0-56
	TILE_ARGS
	VMOVDQU (BX), Y4

vnni1x1loop:
	VPBROADCASTD (SI), Y3
	VPDPBUSD     (DX), Y3, Y4
	ADDQ $4, SI
	ADDQ $32, DX
	DECQ CX
	JNZ  vnni1x1loop

	VMOVDQU Y4, (DI)
	VZEROUPPER
	RET

// ---- AVX2: VPMADDWD on int16 inputs and weights, the weights widened as
// they are loaded (Packed.BW: 8 channels x 2 taps per 16 bytes, VPMOVSXBW to
// int16; x rows of int16).
// VPMADDWD multiplies the int16 pairs and adds each pair into an int32
// lane: acc += x[k] w[l][k] + x[k+1] w[l][k+1], at most 2*255*128 in
// magnitude, exact. The tiles take the same arguments as VNNI's with ldx in
// bytes and kp4 = Kp/4; each step covers 2 taps: R10 = block stride =
// kp4*64 bytes.


// One row of a 2-block tile: x pair at p broadcast into Y12.


// func avx4x2(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32)
TEXT ·avx4x2(SB), NOSPLIT, $0-56
	AVX_ARGS
	VMOVDQU (BX), Y0
	VMOVDQU 32(BX), Y1
	VMOVDQA Y0, Y2
	VMOVDQA Y1, Y3
	VMOVDQA Y0, Y4
	VMOVDQA Y1, Y5
	VMOVDQA Y0, Y6
	VMOVDQA Y1, Y7

avx4x2loop:
	VPMOVSXBW (DX), Y8
	VPMOVSXBW (DX)(R10*1), Y9
	AVX_ROW2(SI, Y0, Y1)
	AVX_ROW2(R11, Y2, Y3)
	AVX_ROW2(R12, Y4, Y5)
	AVX_ROW2(R13, Y6, Y7)
	ADDQ $4, SI
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $4, R13
	ADDQ $16, DX
	DECQ CX
	JNZ  avx4x2loop

	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	ADDQ    R8, DI
	VMOVDQU Y2, (DI)
	VMOVDQU Y3, 32(DI)
	ADDQ    R8, DI
	VMOVDQU Y4, (DI)
	VMOVDQU Y5, 32(DI)
	ADDQ    R8, DI
	VMOVDQU Y6, (DI)
	VMOVDQU Y7, 32(DI)
	VZEROUPPER
	RET

// func avx4x1(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32)
TEXT ·avx4x1(SB), NOSPLIT, $0-56
	AVX_ARGS
	VMOVDQU (BX), Y0
	VMOVDQA Y0, Y1
	VMOVDQA Y0, Y2
	VMOVDQA Y0, Y3

avx4x1loop:
	VPMOVSXBW (DX), Y8
	AVX_ROW1(SI, Y0)
	AVX_ROW1(R11, Y1)
	AVX_ROW1(R12, Y2)
	AVX_ROW1(R13, Y3)
	ADDQ $4, SI
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $4, R13
	ADDQ $16, DX
	DECQ CX
	JNZ  avx4x1loop

	VMOVDQU Y0, (DI)
	ADDQ    R8, DI
	VMOVDQU Y1, (DI)
	ADDQ    R8, DI
	VMOVDQU Y2, (DI)
	ADDQ    R8, DI
	VMOVDQU Y3, (DI)
	VZEROUPPER
	RET

// func avx1x2(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32)
TEXT ·avx1x2(SB), NOSPLIT, $0-56
	AVX_ARGS
	VMOVDQU (BX), Y0
	VMOVDQU 32(BX), Y1

avx1x2loop:
	VPMOVSXBW (DX), Y8
	VPMOVSXBW (DX)(R10*1), Y9
	AVX_ROW2(SI, Y0, Y1)
	ADDQ $4, SI
	ADDQ $16, DX
	DECQ CX
	JNZ  avx1x2loop

	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	VZEROUPPER
	RET

// func avx1x1(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32)
TEXT ·avx1x1(SB), NOSPLIT, $0-56
	AVX_ARGS
	VMOVDQU (BX), Y0

avx1x1loop:
	VPMOVSXBW (DX), Y8
	AVX_ROW1(SI, Y0)
	ADDQ $4, SI
	ADDQ $16, DX
	DECQ CX
	JNZ  avx1x1loop

	VMOVDQU Y0, (DI)
	VZEROUPPER
	RET

// ---- AVX2, Narrow packs: VPMADDUBSW on the byte layout of VNNI.
// VPMADDUBSW multiplies the u8 x bytes by the s8 weight bytes and adds
// adjacent pairs into int16 lanes (taps k, k+1 and k+2, k+3 of a dword);
// VPADDW accumulates them for up to steps 4-tap steps (Pack's bound keeps
// every int16 sum exact), then VPMADDWD by 1 adds each dword's two int16
// into an int32 that is added to c, which starts as the bias.
// func ubs4x2(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32, steps int)
//	R14 steps   AX steps left in the run   Y15 int16 ones




// Run length: AX = min(steps, CX); CX -= AX.

TEXT ·ubs4x2(SB), NOSPLIT, $0-64
	UBS_SETUP
	MOVQ    DI, BX
	VMOVDQU Y10, (BX)
	VMOVDQU Y11, 32(BX)
	ADDQ    R8, BX
	VMOVDQU Y10, (BX)
	VMOVDQU Y11, 32(BX)
	ADDQ    R8, BX
	VMOVDQU Y10, (BX)
	VMOVDQU Y11, 32(BX)
	ADDQ    R8, BX
	VMOVDQU Y10, (BX)
	VMOVDQU Y11, 32(BX)

ubs4x2run:
	UBS_RUN
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7

ubs4x2loop:
	VMOVDQU (DX), Y8
	VMOVDQU (DX)(R10*1), Y9
	UBS_ROW2(SI, Y0, Y1)
	UBS_ROW2(R11, Y2, Y3)
	UBS_ROW2(R12, Y4, Y5)
	UBS_ROW2(R13, Y6, Y7)
	ADDQ $4, SI
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $4, R13
	ADDQ $32, DX
	DECQ AX
	JNZ  ubs4x2loop

	MOVQ DI, BX
	UBS_FLUSH(Y0, (BX))
	UBS_FLUSH(Y1, 32(BX))
	ADDQ R8, BX
	UBS_FLUSH(Y2, (BX))
	UBS_FLUSH(Y3, 32(BX))
	ADDQ R8, BX
	UBS_FLUSH(Y4, (BX))
	UBS_FLUSH(Y5, 32(BX))
	ADDQ R8, BX
	UBS_FLUSH(Y6, (BX))
	UBS_FLUSH(Y7, 32(BX))
	TESTQ CX, CX
	JNZ   ubs4x2run
	VZEROUPPER
	RET

// func ubs1x2(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32, steps int)
TEXT ·ubs1x2(SB), NOSPLIT, $0-64
	UBS_SETUP
	VMOVDQU Y10, (DI)
	VMOVDQU Y11, 32(DI)

ubs1x2run:
	UBS_RUN
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1

ubs1x2loop:
	VMOVDQU (DX), Y8
	VMOVDQU (DX)(R10*1), Y9
	UBS_ROW2(SI, Y0, Y1)
	ADDQ $4, SI
	ADDQ $32, DX
	DECQ AX
	JNZ  ubs1x2loop

	UBS_FLUSH(Y0, (DI))
	UBS_FLUSH(Y1, 32(DI))
	TESTQ CX, CX
	JNZ   ubs1x2run
	VZEROUPPER
	RET

// ---- Requantization (requant.go), AVX2, 8 channels per step.
// func requantXxxAVX2(dst *uint8, ldd int, acc *int32, lda int, rows int, p *int32, blocks int)
//	DI dst row   R8 ldd   SI acc row   R9 lda (bytes)   CX rows left
//	R10 p (per block)   BX blocks left   R11, R12 dst and acc in the row
// Constants: Y15 2^30 per qword (double), Y14 VPSHUFB mask (byte 0 of every
// dword to the low dword of its 128-bit half), Y13 VPERMD index (0, 4, ...).

DATA packShuf<>+0(SB)/8, $0x808080800c080400
DATA packShuf<>+8(SB)/8, $0x8080808080808080
DATA packShuf<>+16(SB)/8, $0x808080800c080400
DATA packShuf<>+24(SB)/8, $0x8080808080808080
GLOBL packShuf<>(SB), RODATA|NOPTR, $32

DATA packPerm<>+0(SB)/4, $0
DATA packPerm<>+4(SB)/4, $4
DATA packPerm<>+8(SB)/4, $1
DATA packPerm<>+12(SB)/4, $2
DATA packPerm<>+16(SB)/4, $3
DATA packPerm<>+20(SB)/4, $5
DATA packPerm<>+24(SB)/4, $6
DATA packPerm<>+28(SB)/4, $7
GLOBL packPerm<>(SB), RODATA|NOPTR, $32

// Clamp Y2 to [lo-zero, hi-zero], add zero, store the 8 codes at (R11).

// func requantDoubleAVX2(dst *uint8, ldd int, acc *int32, lda int, rows int, p *int32, blocks int)
TEXT ·requantDoubleAVX2(SB), NOSPLIT, $0-56
	RQ_ARGS
	MOVQ         $0x40000000, AX
	VMOVQ        AX, X15
	VPBROADCASTQ X15, Y15

rqdrow:
	MOVQ p+40(FP), R10
	MOVQ blocks+48(FP), BX
	MOVQ DI, R11
	MOVQ SI, R12

rqdblock:
	VMOVDQU  (R12), Y0
	VPADDD   (R10), Y0, Y0          // + bias
	VPSLLVD  64(R10), Y0, Y0        // << max(shift, 0)
	VMOVDQU  32(R10), Y1            // M
	VPMULDQ  Y1, Y0, Y2             // even lanes: x*M
	VPSHUFD  $0xf5, Y0, Y3
	VPSHUFD  $0xf5, Y1, Y4
	VPMULDQ  Y4, Y3, Y3             // odd lanes
	VPADDQ   Y15, Y2, Y2            // + 2^30
	VPADDQ   Y15, Y3, Y3
	VPSRLQ   $31, Y2, Y2            // low dwords: SRDHM of the even lanes
	VPSLLQ   $1, Y3, Y3             // high dwords: SRDHM of the odd lanes
	VPBLENDD $0xaa, Y3, Y2, Y2
	// RoundingDivideByPOT(Y2, e)
	VPAND    128(R10), Y2, Y4       // rem = x & mask
	VPSRAD   $31, Y2, Y5            // -1 where x < 0
	VMOVDQU  160(R10), Y6
	VPSUBD   Y5, Y6, Y6             // thr = mask>>1 + (x < 0)
	VPSRAVD  96(R10), Y2, Y2        // x >> e
	VPCMPGTD Y6, Y4, Y4             // -1 where rem > thr
	VPSUBD   Y4, Y2, Y2
	RQ_STORE
	ADDQ $32, R12
	ADDQ $512, R10
	ADDQ $8, R11
	DECQ BX
	JNZ  rqdblock

	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JNZ  rqdrow
	VZEROUPPER
	RET

// func requantSingleAVX2(dst *uint8, ldd int, acc *int32, lda int, rows int, p *int32, blocks int)
TEXT ·requantSingleAVX2(SB), NOSPLIT, $0-56
	RQ_ARGS

rqsrow:
	MOVQ p+40(FP), R10
	MOVQ blocks+48(FP), BX
	MOVQ DI, R11
	MOVQ SI, R12

rqsblock:
	VMOVDQU  (R12), Y0
	VPADDD   (R10), Y0, Y0          // + bias
	VMOVDQU  32(R10), Y1            // M
	VPMULDQ  Y1, Y0, Y2             // even lanes: x*M
	VPSHUFD  $0xf5, Y0, Y3
	VPSHUFD  $0xf5, Y1, Y4
	VPMULDQ  Y4, Y3, Y3             // odd lanes
	VPADDQ   192(R10), Y2, Y2       // + 2^(t-1) + 2^63
	VPADDQ   224(R10), Y3, Y3
	VPSRLVQ  256(R10), Y2, Y2       // >>> t
	VPSRLVQ  288(R10), Y3, Y3
	VPSLLQ   $32, Y3, Y3
	VPBLENDD $0xaa, Y3, Y2, Y2
	VPSUBD   320(R10), Y2, Y2       // - 2^(63-t)
	RQ_STORE
	ADDQ $32, R12
	ADDQ $512, R10
	ADDQ $8, R11
	DECQ BX
	JNZ  rqsblock

	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JNZ  rqsrow
	VZEROUPPER
	RET

// func maxInt32AVX2(dst, src *int32, n int), n a positive multiple of 8.
TEXT ·maxInt32AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX

maxloop:
	VMOVDQU (SI), Y0
	VPMAXSD (DI), Y0, Y0
	VMOVDQU Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     maxloop
	VZEROUPPER
	RET

// ---- Gather (gather.go): runs of codes into im2col rows, 16 per step.
// func gatherAVX2(dst *uint8, ldd int, src *uint8, offs *int32, rows, per, run int, fill uint8)
//	DI dst row   R8 ldd (bytes)   SI src   DX offs   CX rows left
//	R9 runs left in the row   R10 run   R11 dst of the run   R12 codes left
//	R13 source of the run   Y1 fill in every byte (word: gather16)

TEXT ·gatherAVX2(SB), NOSPLIT, $0-57
	GATHER_ARGS
	MOVBLZX      fill+56(FP), AX
	VMOVD        AX, X1
	VPBROADCASTB X1, X1

g8row:
	MOVQ per+40(FP), R9
	MOVQ DI, R11

g8run:
	MOVLQSX (DX), AX
	ADDQ    $4, DX
	MOVQ    R10, R12
	CMPQ    AX, $-1
	JEQ     g8fill
	JLT     g8next
	LEAQ    (SI)(AX*1), R13
	MOVQ    R11, BX

g8copy:
	VMOVDQU (R13), X0
	VMOVDQU X0, (BX)
	ADDQ    $16, R13
	ADDQ    $16, BX
	SUBQ    $16, R12
	JGT     g8copy
	JMP     g8next

g8fill:
	MOVQ R11, BX

g8fillloop:
	VMOVDQU X1, (BX)
	ADDQ    $16, BX
	SUBQ    $16, R12
	JGT     g8fillloop

g8next:
	ADDQ R10, R11
	DECQ R9
	JNZ  g8run
	ADDQ R8, DI
	DECQ CX
	JNZ  g8row
	VZEROUPPER
	RET

// func gather16AVX2(dst *int16, ldd int, src *uint8, offs *int32, rows, per, run int, fill uint8)
TEXT ·gather16AVX2(SB), NOSPLIT, $0-57
	GATHER_ARGS
	MOVBLZX      fill+56(FP), AX
	VMOVD        AX, X1
	VPBROADCASTW X1, Y1

g16row:
	MOVQ per+40(FP), R9
	MOVQ DI, R11

g16run:
	MOVLQSX (DX), AX
	ADDQ    $4, DX
	MOVQ    R10, R12
	CMPQ    AX, $-1
	JEQ     g16fill
	JLT     g16next
	LEAQ    (SI)(AX*1), R13
	MOVQ    R11, BX

g16copy:
	VPMOVZXBW (R13), Y0
	VMOVDQU   Y0, (BX)
	ADDQ      $16, R13
	ADDQ      $32, BX
	SUBQ      $16, R12
	JGT       g16copy
	JMP       g16next

g16fill:
	MOVQ R11, BX

g16fillloop:
	VMOVDQU Y1, (BX)
	ADDQ    $32, BX
	SUBQ    $16, R12
	JGT     g16fillloop

g16next:
	LEAQ (R11)(R10*2), R11
	DECQ R9
	JNZ  g16run
	ADDQ R8, DI
	DECQ CX
	JNZ  g16row
	VZEROUPPER
	RET

// ---- Sparse products (sparse.go): per channel, the (offset, weight) pairs
// e[2*start[j] : 2*start[j+1]]; acc_v += w * x[v*ldx + offset], 8 int32 lanes.
//	DI c, channel j, vector 0   R8 ldc   R9 ldv   SI x   R10 ldx (bytes)
//	DX &start[j+1]   BX e   CX channels left   R11 &bias[j]
//	AX pair index   R12 end of the channel's pairs   R13 address
//	Y0..Y7 accumulators   Y8 the weight, broadcast   Y9.. products (VPMADDWD: x*w + 0*0 per lane, x < 2^15)


// func spmm8(c *int32, ldc, ldv int, x *int32, ldx int, start, e *int32, rows int, bias *int32)
TEXT ·spmm8(SB), NOSPLIT, $0-72
	SP_ARGS
sp8chan:
	MOVL         (DX), R12
	VPBROADCASTD (R11), Y0
	VMOVDQA      Y0, Y1
	VMOVDQA      Y0, Y2
	VMOVDQA      Y0, Y3
	VMOVDQA      Y0, Y4
	VMOVDQA      Y0, Y5
	VMOVDQA      Y0, Y6
	VMOVDQA      Y0, Y7
	CMPQ         AX, R12
	JGE          sp8store
sp8ent:
	MOVLQSX      (BX)(AX*8), R13
	LEAQ         (SI)(R13*4), R13
	VPBROADCASTD 4(BX)(AX*8), Y8
	VPMADDWD     (R13), Y8, Y9
	VPADDD       Y9, Y0, Y0
	VPMADDWD     (R13)(R10*1), Y8, Y10
	VPADDD       Y10, Y1, Y1
	VPMADDWD     (R13)(R10*2), Y8, Y11
	VPADDD       Y11, Y2, Y2
	LEAQ         (R13)(R10*2), R13
	VPMADDWD     (R13)(R10*1), Y8, Y12
	VPADDD       Y12, Y3, Y3
	VPMADDWD     (R13)(R10*2), Y8, Y13
	VPADDD       Y13, Y4, Y4
	LEAQ         (R13)(R10*2), R13
	VPMADDWD     (R13)(R10*1), Y8, Y14
	VPADDD       Y14, Y5, Y5
	VPMADDWD     (R13)(R10*2), Y8, Y15
	VPADDD       Y15, Y6, Y6
	LEAQ         (R13)(R10*2), R13
	VPMADDWD     (R13)(R10*1), Y8, Y9
	VPADDD       Y9, Y7, Y7
	INCQ         AX
	CMPQ         AX, R12
	JLT          sp8ent
sp8store:
	MOVQ         DI, R13
	VMOVDQU      Y0, (R13)
	VMOVDQU      Y1, (R13)(R9*1)
	VMOVDQU      Y2, (R13)(R9*2)
	LEAQ         (R13)(R9*2), R13
	VMOVDQU      Y3, (R13)(R9*1)
	VMOVDQU      Y4, (R13)(R9*2)
	LEAQ         (R13)(R9*2), R13
	VMOVDQU      Y5, (R13)(R9*1)
	VMOVDQU      Y6, (R13)(R9*2)
	LEAQ         (R13)(R9*2), R13
	VMOVDQU      Y7, (R13)(R9*1)
	ADDQ         R8, DI
	ADDQ         $4, DX
	ADDQ         $4, R11
	DECQ         CX
	JNZ          sp8chan
	VZEROUPPER
	RET

// func spmm4(c *int32, ldc, ldv int, x *int32, ldx int, start, e *int32, rows int, bias *int32)
TEXT ·spmm4(SB), NOSPLIT, $0-72
	SP_ARGS
sp4chan:
	MOVL         (DX), R12
	VPBROADCASTD (R11), Y0
	VMOVDQA      Y0, Y1
	VMOVDQA      Y0, Y2
	VMOVDQA      Y0, Y3
	CMPQ         AX, R12
	JGE          sp4store
sp4ent:
	MOVLQSX      (BX)(AX*8), R13
	LEAQ         (SI)(R13*4), R13
	VPBROADCASTD 4(BX)(AX*8), Y8
	VPMADDWD     (R13), Y8, Y9
	VPADDD       Y9, Y0, Y0
	VPMADDWD     (R13)(R10*1), Y8, Y10
	VPADDD       Y10, Y1, Y1
	VPMADDWD     (R13)(R10*2), Y8, Y11
	VPADDD       Y11, Y2, Y2
	LEAQ         (R13)(R10*2), R13
	VPMADDWD     (R13)(R10*1), Y8, Y12
	VPADDD       Y12, Y3, Y3
	INCQ         AX
	CMPQ         AX, R12
	JLT          sp4ent
sp4store:
	MOVQ         DI, R13
	VMOVDQU      Y0, (R13)
	VMOVDQU      Y1, (R13)(R9*1)
	VMOVDQU      Y2, (R13)(R9*2)
	LEAQ         (R13)(R9*2), R13
	VMOVDQU      Y3, (R13)(R9*1)
	ADDQ         R8, DI
	ADDQ         $4, DX
	ADDQ         $4, R11
	DECQ         CX
	JNZ          sp4chan
	VZEROUPPER
	RET

// func spmm1(c *int32, ldc, ldv int, x *int32, ldx int, start, e *int32, rows int, bias *int32)
TEXT ·spmm1(SB), NOSPLIT, $0-72
	SP_ARGS
sp1chan:
	MOVL         (DX), R12
	VPBROADCASTD (R11), Y0
	CMPQ         AX, R12
	JGE          sp1store
sp1ent:
	MOVLQSX      (BX)(AX*8), R13
	LEAQ         (SI)(R13*4), R13
	VPBROADCASTD 4(BX)(AX*8), Y8
	VPMADDWD     (R13), Y8, Y9
	VPADDD       Y9, Y0, Y0
	INCQ         AX
	CMPQ         AX, R12
	JLT          sp1ent
sp1store:
	MOVQ         DI, R13
	VMOVDQU      Y0, (R13)
	ADDQ         R8, DI
	ADDQ         $4, DX
	ADDQ         $4, R11
	DECQ         CX
	JNZ          sp1chan
	VZEROUPPER
	RET

// ---- Pool2x2T (pool.go): 2x2 max pool, channel-major in, position-major out.
// func pool2x2TAVX2(dst *int32, ldd int, src *int32, lds, ldc, chans, poolH, groups, drow int)
//	DI dst of channel j   SI src of channel j   R8 ldd   R9 lds   R10 ldc   R13 drow (bytes)
//	CX channels left   DX pooled rows left   AX src row pair   BX dst row
//	R11 src in the row   R12 dst in the row   R14 groups of 4 columns left
TEXT ·pool2x2TAVX2(SB), NOSPLIT, $0-72
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R9
	MOVQ ldc+32(FP), R10
	MOVQ chans+40(FP), CX
	MOVQ drow+64(FP), R13

p2chan:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ poolH+48(FP), DX

p2row:
	MOVQ AX, R11
	MOVQ BX, R12
	MOVQ groups+56(FP), R14

p2group:
	VMOVDQU      (R11), Y0
	VPMAXSD      (R11)(R9*1), Y0, Y0
	VPSHUFD      $0xB1, Y0, Y1
	VPMAXSD      Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VMOVD        X0, (R12)
	VPEXTRD      $2, X0, (R12)(R8*1)
	LEAQ         (R12)(R8*2), R12
	VMOVD        X1, (R12)
	VPEXTRD      $2, X1, (R12)(R8*1)
	LEAQ         (R12)(R8*2), R12
	ADDQ         $32, R11
	DECQ         R14
	JNZ          p2group

	LEAQ (AX)(R9*2), AX
	ADDQ R13, BX
	DECQ DX
	JNZ  p2row

	ADDQ R10, SI
	ADDQ $4, DI
	DECQ CX
	JNZ  p2chan
	VZEROUPPER
	RET
