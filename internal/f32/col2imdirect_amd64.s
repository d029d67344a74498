//go:build amd64 && !purego

#include "textflag.h"

// func col2imDirectAsm(dx, col *float32, off *int, rows, oh, groups, w int)
//
// col2im for stride 1 without padding and an output width of 8*groups, one image:
//
//	dx[off[r] + oy*w + i] = dx[off[r] + oy*w + i] + col[(r*oh + oy)*8*groups + i]
//	    for r < rows, then oy < oh, then i < 8*groups (convGeom.col2im's order)
//
// off[r] = c*H*W + kh*W + kw is convPatches' table, so col is read front to back. The sum
// is dx + col with dx as the first operand, as Go's d += s. The caller checks the bounds.
TEXT ·col2imDirectAsm(SB), NOSPLIT, $0-56
	MOVQ dx+0(FP), DI
	MOVQ col+8(FP), SI
	MOVQ off+16(FP), DX
	MOVQ rows+24(FP), CX
	MOVQ oh+32(FP), R8
	MOVQ groups+40(FP), R9
	MOVQ w+48(FP), R10
	SHLQ $2, R10            // bytes per input row
	TESTQ CX, CX
	JLE done
	TESTQ R8, R8
	JLE done
	TESTQ R9, R9
	JLE done

row:
	MOVQ (DX), AX
	LEAQ (DI)(AX*4), R11    // dx + off[r]
	MOVQ R8, R12

line:
	MOVQ R11, R13
	MOVQ R9, BX

group:
	VMOVUPS (R13), Y0
	VADDPS (SI), Y0, Y0
	VMOVUPS Y0, (R13)
	ADDQ $32, R13
	ADDQ $32, SI
	DECQ BX
	JNZ group

	ADDQ R10, R11
	DECQ R12
	JNZ line

	ADDQ $8, DX
	DECQ CX
	JNZ row

done:
	VZEROUPPER
	RET
