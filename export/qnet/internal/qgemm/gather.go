package qgemm

import "fmt"

// Gather builds im2col rows from runs of contiguous input codes: for every
// row r < rows and run j < per, with off = offs[r*per + j],
//
//	dst[r*ldd + j*run + i] = src[off + i]   for i < run, if off >= 0
//	                       = fill           if off == -1 (a run in the padding)
//	                       left alone       if off == -2 (the caller fills it)
//
// The assembly copies 16 codes per step, so it may also write up to 15
// elements past a run (which the next run, written after it, or the
// caller's off == -2 fill overwrites; past the last run of a row they land
// in the row's tail, which Gemm multiplies by zero weights) and read up to
// 15 bytes past a source run. So dst needs (rows-1)*ldd + per*run + 15
// elements and src max(off) + run + 15 bytes; past each row's per*run
// elements dst holds unspecified codes afterwards. It panics if a slice is
// too short.
func Gather(lv Level, dst []uint8, ldd int, src []uint8, offs []int32, rows, per, run int, fill uint8) {
	if rows <= 0 || per <= 0 {
		return
	}
	checkGather(len(dst), ldd, len(src), offs, rows, per, run)
	if lv == LevelGo {
		for r := 0; r < rows; r++ {
			for j, off := range offs[r*per : (r+1)*per] {
				d := dst[r*ldd+j*run : r*ldd+(j+1)*run]
				switch {
				case off >= 0:
					copy(d, src[off:int(off)+run])
				case off == -1:
					for i := range d {
						d[i] = fill
					}
				}
			}
		}
		return
	}
	gatherAsm(dst, ldd, src, offs, rows, per, run, fill)
}

// Gather16 is Gather into int16 inputs (Wide layouts): the codes are
// zero-extended.
func Gather16(lv Level, dst []int16, ldd int, src []uint8, offs []int32, rows, per, run int, fill uint8) {
	if rows <= 0 || per <= 0 {
		return
	}
	checkGather(len(dst), ldd, len(src), offs, rows, per, run)
	if lv == LevelGo {
		for r := 0; r < rows; r++ {
			for j, off := range offs[r*per : (r+1)*per] {
				d := dst[r*ldd+j*run : r*ldd+(j+1)*run]
				switch {
				case off >= 0:
					for i, q := range src[off : int(off)+run] {
						d[i] = int16(q)
					}
				case off == -1:
					for i := range d {
						d[i] = int16(fill)
					}
				}
			}
		}
		return
	}
	gather16Asm(dst, ldd, src, offs, rows, per, run, fill)
}

func checkGather(nd, ldd, ns int, offs []int32, rows, per, run int) {
	ok := run >= 1 && ldd >= per*run && len(offs) >= rows*per && nd >= (rows-1)*ldd+per*run+15
	for _, off := range offs[:min(len(offs), rows*per)] {
		if off < -2 || off >= 0 && int(off)+run+15 > ns {
			ok = false
		}
	}
	if !ok {
		panic(fmt.Sprintf("qgemm: Gather: %d rows of %d runs of %d: dst %d (ldd %d), src %d, %d offsets",
			rows, per, run, nd, ldd, ns, len(offs)))
	}
}
