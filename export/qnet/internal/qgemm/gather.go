package qgemm

import "fmt"

// Runs is a table of im2col runs for Gather and Gather16: Per runs of Run
// codes per row, Offs[r*Per + j] the source offset of row r's run j (-1:
// in the padding, -2: filled by the caller). NewRuns checks it once, so
// Gather checks only the lengths.
type Runs struct {
	Offs     []int32
	Per, Run int
	need     int // source bytes Gather may read: max(off) + Run + 15, or 0
}

// NewRuns returns the table of offs, Per runs of run codes per row. It
// panics if per or run is below 1, len(offs) is not a multiple of per, or
// an offset is below -2.
func NewRuns(offs []int32, per, run int) *Runs {
	if per < 1 || run < 1 || len(offs)%per != 0 {
		panic(fmt.Sprintf("qgemm: NewRuns: %d offsets, %d runs of %d per row", len(offs), per, run))
	}
	r := &Runs{Offs: offs, Per: per, Run: run}
	for _, off := range offs {
		if off < -2 {
			panic(fmt.Sprintf("qgemm: NewRuns: offset %d", off))
		}
		if off >= 0 {
			r.need = max(r.need, int(off)+run+15)
		}
	}
	return r
}

// Gather builds im2col rows from runs of contiguous input codes: for every
// row r < rows and run j < per (per = t.Per, run = t.Run), with off =
// t.Offs[r*per + j],
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
func Gather(lv Level, dst []uint8, ldd int, src []uint8, t *Runs, rows int, fill uint8) {
	if rows <= 0 {
		return
	}
	t.check(len(dst), ldd, len(src), rows)
	offs, per, run := t.Offs, t.Per, t.Run
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
func Gather16(lv Level, dst []int16, ldd int, src []uint8, t *Runs, rows int, fill uint8) {
	if rows <= 0 {
		return
	}
	t.check(len(dst), ldd, len(src), rows)
	offs, per, run := t.Offs, t.Per, t.Run
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

func (t *Runs) check(nd, ldd, ns int, rows int) {
	per, run := t.Per, t.Run
	if ldd < per*run || len(t.Offs) < rows*per || nd < (rows-1)*ldd+per*run+15 || ns < t.need {
		panic(fmt.Sprintf("qgemm: Gather: %d rows of %d runs of %d: dst %d (ldd %d), src %d (need %d), %d offsets",
			rows, per, run, nd, ldd, ns, t.need, len(t.Offs)))
	}
}
