package qgemm

import (
	"fmt"

	"github.com/qatgo/qatgo/fakequant"
)

// Requantization, 8 channels at a time, bit-exact with
// fakequant.RequantizeWith (equation (12)) under both rounding rules.
//
// Double rounding (RoundDouble, equation (11)): for shift > 0 the
// accumulator is first shifted left (the model guarantees acc*2^shift fits
// in int32), then
//
//	SRDHM(a, M) = floor((a*M + 2^30) / 2^31)
//
// which is gemmlowp's rounding for both signs: for a*M >= 0 it adds 2^30
// and shifts; for a*M < 0 it adds 1-2^30 and divides truncating toward 0,
// trunc(v/2^31) = floor((v + 2^31 - 1)/2^31) for v < 0, and
// (1 - 2^30) + (2^31 - 1) = 2^30. (The saturating case a = M = -2^31 cannot
// occur: M >= 0.) The result fits in int32, so only the low 32 bits of the
// 64-bit quotient are needed, and those are bits 31..62 of a*M + 2^30
// whether the 64-bit shift is logical or arithmetic: AVX2's VPSRLQ does.
// VPMULDQ multiplies the even int32 lanes into int64; the odd lanes are
// moved down (VPSHUFD) and multiplied by a second VPMULDQ, and their
// quotients' low halves are brought up by a left shift by 1 (bits 31..62
// of v land in bits 32..63) and merged with VPBLENDD. Then
// RoundingDivideByPOT(x, e), e = max(-shift, 0), exactly as gemmlowp:
//
//	mask = 2^e - 1; rem = x & mask; thr = mask>>1 + (x < 0); out = (x >> e) + (rem > thr)
//
// with per-lane variable shifts (VPSRAVD, e up to 31).
//
// Single rounding (RoundSingle, equation (11s)): out = (a*M + 2^(t-1)) >> t,
// t = 31 - shift in [1, 62], an arithmetic 64-bit shift, which AVX2 lacks
// (VPSRAQ is AVX-512). With v = a*M + 2^(t-1) (|v| < 2^63) and
// u = v + 2^63 in [0, 2^64) as an unsigned number,
//
//	u >> t (logical) = floor((v + 2^63) / 2^t) = floor(v / 2^t) + 2^(63-t)
//
// exactly, since 2^t divides 2^63. So the low 32 bits of the result are
// low32(u >>> t) - low32(2^(63-t)) modulo 2^32; the per-channel constants
// 2^(t-1) + 2^63 (one 64-bit add, modulo 2^64) and low32(2^(63-t)) are
// precomputed, and VPSRLVQ takes per-lane shift counts.
//
// The clamp is clamp(v, lo - zero, hi - zero) + zero, which equals the
// reference's (v >= hi-zero: hi; v <= lo-zero: lo; else v+zero) and cannot
// overflow. The codes (0..255) are packed to 8 bytes (VPSHUFB, VPERMD).

// Parameter slots of one block of 8 channels: 16 vectors of 8 int32.
const (
	slotBias = iota // added to the accumulator (0 in the engine: Gemm adds the bias)
	slotMult        // M
	slotLsh         // double: max(shift, 0)
	slotRsh         // double: e = max(-shift, 0)
	slotMask        // double: 2^e - 1
	slotThr         // double: (2^e - 1) >> 1
	slotRndE        // single: 4 x int64 2^(t-1) + 2^63 of channels 0, 2, 4, 6
	slotRndO        // single: the same for channels 1, 3, 5, 7
	slotTE          // single: 4 x uint64 t of channels 0, 2, 4, 6
	slotTO          // single: of channels 1, 3, 5, 7
	slotCorr        // single: low32(2^(63-t))
	slotHi          // hi - zero
	slotLo          // lo - zero
	slotZero        // zero
	slots    = 16
	blockP   = slots * 8 // int32s per block
)

// Requant holds the requantization parameters of Blocks*8 channels: the
// model's (for the Go form, which is fakequant.RequantizeWith itself) and
// the assembly's slots derived from them.
type Requant struct {
	Blocks int
	Single bool    // RoundSingle; else RoundDouble
	P      []int32 // Blocks x slots x 8

	mult, shift  []int32 // per channel, Blocks*8 (M = 0 beyond the model's channels)
	zero, lo, hi int32
}

// NewRequant prepares the requantization of len(mult) channels (mult,
// shift, as in the model: M in [0, 2^31), shift in [-31, 30]) for blocks of
// 8 (channels beyond len(mult) get M = 0 and are computed but meaningless),
// with output zero point zero and clamp [lo, hi], 0 <= lo <= hi <= 255.
func NewRequant(mult, shift []int32, zero, lo, hi int32, single bool, blocks int) *Requant {
	if len(shift) != len(mult) || blocks*8 < len(mult) || lo > hi {
		panic(fmt.Sprintf("qgemm: NewRequant: %d multipliers, %d shifts, %d blocks, clamp [%d, %d]",
			len(mult), len(shift), blocks, lo, hi))
	}
	q := &Requant{Blocks: blocks, Single: single, P: make([]int32, blocks*blockP),
		mult: make([]int32, blocks*8), shift: make([]int32, blocks*8), zero: zero, lo: lo, hi: hi}
	copy(q.mult, mult)
	copy(q.shift, shift)
	for j := 0; j < blocks*8; j++ {
		m, s := int32(0), int32(0)
		if j < len(mult) {
			m, s = mult[j], shift[j]
		}
		if m < 0 || s < -31 || s > 30 {
			panic(fmt.Sprintf("qgemm: NewRequant: channel %d: multiplier %d, shift %d", j, m, s))
		}
		p := q.P[j/8*blockP:]
		l := j % 8
		set := func(slot int, v int32) { p[slot*8+l] = v }
		set64 := func(slot int, v uint64) { // lane l/2 of the even (l%2 = 0) or odd slot
			i := slot*8 + l/2*2
			if l%2 == 1 {
				i += 8
			}
			p[i], p[i+1] = int32(uint32(v)), int32(uint32(v>>32))
		}
		set(slotMult, m)
		e := max(-s, 0)
		set(slotLsh, max(s, 0))
		set(slotRsh, e)
		mask := int32(uint32(1)<<e - 1)
		set(slotMask, mask)
		set(slotThr, mask>>1)
		t := uint(31 - s)
		set64(slotRndE, uint64(1)<<(t-1)+1<<63)
		set64(slotTE, uint64(t))
		set(slotCorr, int32(uint32(uint64(1)<<(63-t))))
		set(slotHi, hi-zero)
		set(slotLo, lo-zero)
		set(slotZero, zero)
	}
	return q
}

// Rows requantizes rows accumulator rows (acc[r*lda:], Blocks*8 each) to
// codes, writing Blocks*8 bytes at dst[r*ldd:] for r = 0, 1, ... in order:
// with ldd < Blocks*8 a row's tail spills into the next row, which then
// overwrites it, so only the last row needs Blocks*8 - ldd bytes of slack.
// It panics if a slice is too short.
func (q *Requant) Rows(lv Level, dst []uint8, ldd int, acc []int32, lda int, rows int) {
	if rows <= 0 {
		return
	}
	cols := q.Blocks * 8
	if !Supported(lv) || ldd < 1 || lda < cols || len(dst) < (rows-1)*ldd+cols || len(acc) < (rows-1)*lda+cols {
		panic(fmt.Sprintf("qgemm: Requant.Rows: level %v, %d rows: dst %d (ldd %d), acc %d (lda %d), %d channels",
			lv, rows, len(dst), ldd, len(acc), lda, cols))
	}
	if lv == LevelGo {
		requantGo(q, dst, ldd, acc, lda, rows)
		return
	}
	requantAsm(q, dst, ldd, acc, lda, rows)
}

// requantGo is Rows at LevelGo: the specification itself,
// fakequant.RequantizeWith, channel by channel (no second Go rendering of
// the rule; the assembly's slots are checked by its own tests against the
// same function).
func requantGo(q *Requant, dst []uint8, ldd int, acc []int32, lda int, rows int) {
	rule := fakequant.RoundDouble
	if q.Single {
		rule = fakequant.RoundSingle
	}
	cols := q.Blocks * 8
	for r := 0; r < rows; r++ {
		a, d := acc[r*lda:r*lda+cols], dst[r*ldd:r*ldd+cols]
		for j, v := range a {
			d[j] = uint8(fakequant.RequantizeWith(rule, v, q.mult[j], int(q.shift[j]), q.zero, q.lo, q.hi))
		}
	}
}
