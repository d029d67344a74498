//go:build amd64 && !purego

#include "textflag.h"

// poolRamp<> is 0, 2, ..., 14: the offsets of eight consecutive windows' first elements.
DATA poolRamp<>+0(SB)/4, $0
DATA poolRamp<>+4(SB)/4, $2
DATA poolRamp<>+8(SB)/4, $4
DATA poolRamp<>+12(SB)/4, $6
DATA poolRamp<>+16(SB)/4, $8
DATA poolRamp<>+20(SB)/4, $10
DATA poolRamp<>+24(SB)/4, $12
DATA poolRamp<>+28(SB)/4, $14
GLOBL poolRamp<>(SB), RODATA|NOPTR, $32

// POOLCONSTS sets the registers both kernels share: Y11 = 1, Y12 = w, Y13 = w + 1 (the
// offsets of a window's elements 1, 2 and 3 from its element 0), Y14 = 16 (the step of the
// window indices from eight windows to the next eight), Y15 = poolRamp<>. w is in R12.
#define POOLCONSTS \
	MOVQ $1, AX \
	VMOVQ AX, X0 \
	VPBROADCASTD X0, Y11 \
	VMOVQ R12, X0 \
	VPBROADCASTD X0, Y12 \
	VPADDD Y11, Y12, Y13 \
	MOVQ $16, AX \
	VMOVQ AX, X0 \
	VPBROADCASTD X0, Y14 \
	VMOVDQU poolRamp<>(SB), Y15

// func maxPool2x2Asm(y *float32, am *int32, x *float32, top, w, n, ow, rows int)
//
// Each 2x2 window v0 v1 / v2 v3 (row-major; v0 at flat index i) is scanned as
// poolGeom.window does, with strict greater-than:
//
//	best, at = v0, i
//	for p = 1, 2, 3: if v_p > best { best, at = v_p, i + off_p }    off = 1, w, w+1
//	y, am = best, at
//
// VCMPPS $0x1E (GT_OQ) is Go's float32 >, false when either side is NaN, and VBLENDVPS moves
// bits, so the output is exactly the scan's: the first maximum, a tie of -0 and +0 keeps the
// first zero with its sign, a NaN v0 stays (nothing is > NaN), a later NaN is never taken,
// and y = x[at] bit for bit. forwardRef's 2x2 branch gives the same as the scan (its NaN
// windows go to the scan), so this is forwardRef too.
//
// Eight windows: two loads per row of sixteen floats, VSHUFPS splits even (v0, v2) from odd
// (v1, v3) columns, which leaves the windows in the order 0 1 4 5 | 2 3 6 7; VPERMQ $0xD8 puts
// best and the offsets back in order before the stores. Then four windows with 128-bit
// registers (already in order) when n is not a multiple of 8.
TEXT ·maxPool2x2Asm(SB), NOSPLIT, $0-64
	MOVQ y+0(FP), DI
	MOVQ am+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ top+24(FP), R9
	MOVQ w+32(FP), R12
	MOVQ n+40(FP), R11
	MOVQ ow+48(FP), R13
	MOVQ rows+56(FP), R10
	TESTQ R10, R10
	JLE done
	POOLCONSTS
	SHLQ $2, R13            // ow in bytes
	LEAQ (R12*4), BX        // w in bytes

row:
	MOVQ SI, AX             // row 0 of the windows
	LEAQ (SI)(BX*1), DX     // row 1
	XORQ R14, R14           // byte offset of the output in y and am
	VMOVQ R9, X0
	VPBROADCASTD X0, Y10
	VPADDD Y15, Y10, Y10    // flat indices of the next eight windows' v0
	MOVQ R11, CX            // outputs left in the row

loop8:
	CMPQ CX, $8
	JLT four
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS (DX), Y2
	VMOVUPS 32(DX), Y3
	VSHUFPS $0x88, Y1, Y0, Y4 // v0 = best
	VSHUFPS $0xDD, Y1, Y0, Y5 // v1
	VSHUFPS $0x88, Y3, Y2, Y6 // v2
	VSHUFPS $0xDD, Y3, Y2, Y7 // v3
	VCMPPS $0x1E, Y4, Y5, Y8  // v1 > best
	VBLENDVPS Y8, Y5, Y4, Y4
	VANDPS Y11, Y8, Y9        // off = 1 or 0
	VCMPPS $0x1E, Y4, Y6, Y8  // v2 > best
	VBLENDVPS Y8, Y6, Y4, Y4
	VBLENDVPS Y8, Y12, Y9, Y9 // off = w
	VCMPPS $0x1E, Y4, Y7, Y8  // v3 > best
	VBLENDVPS Y8, Y7, Y4, Y4
	VBLENDVPS Y8, Y13, Y9, Y9 // off = w + 1
	VPERMQ $0xD8, Y4, Y4
	VPERMQ $0xD8, Y9, Y9
	VPADDD Y10, Y9, Y9
	VMOVUPS Y4, (DI)(R14*1)
	VMOVDQU Y9, (R8)(R14*1)
	VPADDD Y14, Y10, Y10
	ADDQ $64, AX
	ADDQ $64, DX
	ADDQ $32, R14
	SUBQ $8, CX
	JMP loop8

four:
	TESTQ CX, CX
	JZ next
	VMOVUPS (AX), X0
	VMOVUPS 16(AX), X1
	VMOVUPS (DX), X2
	VMOVUPS 16(DX), X3
	VSHUFPS $0x88, X1, X0, X4
	VSHUFPS $0xDD, X1, X0, X5
	VSHUFPS $0x88, X3, X2, X6
	VSHUFPS $0xDD, X3, X2, X7
	VCMPPS $0x1E, X4, X5, X8
	VBLENDVPS X8, X5, X4, X4
	VANDPS X11, X8, X9
	VCMPPS $0x1E, X4, X6, X8
	VBLENDVPS X8, X6, X4, X4
	VBLENDVPS X8, X12, X9, X9
	VCMPPS $0x1E, X4, X7, X8
	VBLENDVPS X8, X7, X4, X4
	VBLENDVPS X8, X13, X9, X9
	VPADDD X10, X9, X9
	VMOVUPS X4, (DI)(R14*1)
	VMOVDQU X9, (R8)(R14*1)

next:
	ADDQ R13, DI
	ADDQ R13, R8
	LEAQ (SI)(BX*2), SI
	LEAQ (R9)(R12*2), R9
	DECQ R10
	JNZ row

done:
	VZEROUPPER
	RET

// poolSixteen<> is eight 16s: the step of the window indices from eight windows to the next.
DATA poolSixteen<>+0(SB)/4, $16
DATA poolSixteen<>+4(SB)/4, $16
DATA poolSixteen<>+8(SB)/4, $16
DATA poolSixteen<>+12(SB)/4, $16
DATA poolSixteen<>+16(SB)/4, $16
DATA poolSixteen<>+20(SB)/4, $16
DATA poolSixteen<>+24(SB)/4, $16
DATA poolSixteen<>+28(SB)/4, $16
GLOBL poolSixteen<>(SB), RODATA|NOPTR, $32

// GRADSEL8 and GRADSEL4 compute, for the next eight (four) windows, Y2..Y5 (X2..X5) = each
// window's elements e0..e3 (see maxPool2x2GradAsm); GRADROW0 and GRADROW1 (and the X forms)
// interleave them into the sixteen (eight) columns of dx's top and bottom rows, Y6 and Y8.
#define GRADSEL8 \
	VMOVUPS (DI)(R14*1), Y0 \
	VADDPS Y0, Y7, Y0 \
	VMOVDQU (R8)(R14*1), Y1 \
	VPSUBD Y10, Y1, Y1 \
	VPERMQ $0xD8, Y0, Y0 \
	VPERMQ $0xD8, Y1, Y1 \
	VPCMPEQD Y7, Y1, Y2 \
	VPCMPEQD Y11, Y1, Y3 \
	VPCMPEQD Y12, Y1, Y4 \
	VPCMPEQD Y13, Y1, Y5 \
	VANDPS Y0, Y2, Y2 \
	VANDPS Y0, Y3, Y3 \
	VANDPS Y0, Y4, Y4 \
	VANDPS Y0, Y5, Y5

#define GRADROW0 \
	VUNPCKLPS Y3, Y2, Y6 \
	VUNPCKHPS Y3, Y2, Y8

#define GRADROW1 \
	VUNPCKLPS Y5, Y4, Y6 \
	VUNPCKHPS Y5, Y4, Y8

#define GRADSEL4 \
	VMOVUPS (DI)(R14*1), X0 \
	VADDPS X0, X7, X0 \
	VMOVDQU (R8)(R14*1), X1 \
	VPSUBD X10, X1, X1 \
	VPCMPEQD X7, X1, X2 \
	VPCMPEQD X11, X1, X3 \
	VPCMPEQD X12, X1, X4 \
	VPCMPEQD X13, X1, X5 \
	VANDPS X0, X2, X2 \
	VANDPS X0, X3, X3 \
	VANDPS X0, X4, X4 \
	VANDPS X0, X5, X5

#define GRADROW0X \
	VUNPCKLPS X3, X2, X6 \
	VUNPCKHPS X3, X2, X8

#define GRADROW1X \
	VUNPCKLPS X5, X4, X6 \
	VUNPCKHPS X5, X4, X8

// func maxPool2x2GradAsm(dx, dy *float32, am *int32, top, w, n, ow, rows int)
//
// For each window (elements e0 e1 / e2 e3 at offsets 0, 1, w, w+1 from its first, flat index
// i) with output gradient d and argmax a:
//
//	e_p = (0 + d) if a - i == off(p) else +0
//
// which is what backwardRef's clear(dx) then dx[a] += d leaves there, as windows at stride 2
// do not overlap. 0 + d is VADDPS (+0 for d = -0, a NaN d quieted, as Go's +=); the select is
// VPCMPEQD on a - i and VANDPS. dy and a - i are loaded in window order and put in the order
// 0 1 4 5 | 2 3 6 7 by VPERMQ $0xD8, so that VUNPCKLPS and VUNPCKHPS interleave e0 with e1 (and
// e2 with e3) into dx's sixteen columns in order.
TEXT ·maxPool2x2GradAsm(SB), NOSPLIT, $0-64
	MOVQ dx+0(FP), SI
	MOVQ dy+8(FP), DI
	MOVQ am+16(FP), R8
	MOVQ top+24(FP), R9
	MOVQ w+32(FP), R12
	MOVQ ow+48(FP), R13
	MOVQ rows+56(FP), R10
	TESTQ R10, R10
	JLE sdone
	POOLCONSTS
	VXORPS Y7, Y7, Y7       // +0
	SHLQ $2, R13
	LEAQ (R12*4), BX

srow:
	MOVQ SI, AX
	LEAQ (SI)(BX*1), DX
	XORQ R14, R14
	VMOVQ R9, X0
	VPBROADCASTD X0, Y10
	VPADDD Y15, Y10, Y10
	MOVQ n+40(FP), CX

sloop8:
	CMPQ CX, $8
	JLT sfour
	GRADSEL8
	GRADROW0
	VMOVUPS Y6, (AX)
	VMOVUPS Y8, 32(AX)
	GRADROW1
	VMOVUPS Y6, (DX)
	VMOVUPS Y8, 32(DX)
	VPADDD poolSixteen<>(SB), Y10, Y10
	ADDQ $64, AX
	ADDQ $64, DX
	ADDQ $32, R14
	SUBQ $8, CX
	JMP sloop8

sfour:
	TESTQ CX, CX
	JZ snext
	GRADSEL4
	GRADROW0X
	VMOVUPS X6, (AX)
	VMOVUPS X8, 16(AX)
	GRADROW1X
	VMOVUPS X6, (DX)
	VMOVUPS X8, 16(DX)

snext:
	ADDQ R13, DI
	ADDQ R13, R8
	LEAQ (SI)(BX*2), SI
	LEAQ (R9)(R12*2), R9
	DECQ R10
	JNZ srow

sdone:
	VZEROUPPER
	RET
