// Row kernels of the quantizers in plain Go: the references of the vector kernels and the code
// of purego builds (fake quantization, STE, requantization) and the range passes.

package f32

import (
	"math"

	"github.com/qatgo/qatgo/fakequant"
)

// fakeQuantizeRow is fakequant.FakeQuantizeSlice(dst, src, p) without math.Round's
// data-dependent branches: for |y| < 2^32, y = x/Scale, the exact trunc+fraction form of
// round-half-away (as in requantRow) gives math.Round(y); the code is clamped with min/max and
// dequantized as Params.Dequantize does. Other values (huge, infinite, NaN) take fakequant's
// path. TestFakeQuantizeRow checks it against fakequant.
func fakeQuantizeRow(dst, src []float32, p fakequant.Params) {
	dst = dst[:len(src)]
	lo, hi := int64(p.QMin)-int64(p.ZeroPoint), int64(p.QMax)-int64(p.ZeroPoint)
	for i, x := range src {
		y := float64(x) / p.Scale
		if !(math.Abs(y) < 0x1p32) {
			dst[i] = float32(p.FakeQuantize(float64(x)))
			continue
		}
		t := int64(y)
		f := y - float64(t)
		t += int64(b2i(f >= 0.5)) - int64(b2i(f <= -0.5))
		dst[i] = float32(p.Scale * float64(min(max(t, lo), hi)))
	}
}

// steBackward is the clipped straight-through estimator: dx = dy inside [lo, hi], else 0
// (fakequant's Params.InRange, with the nudged range computed once).
func steBackward(dx, x, dy []float32, p fakequant.Params) {
	lo, hi := p.NudgedRange()
	dy = dy[:len(x)]
	dx = dx[:len(x)]
	for i, v := range x {
		if f := float64(v); lo <= f && f <= hi {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

// requantRow is the Go form of the requantization of one channel with a shift <= 0
// (exponent = -shift, 0..31) under the rounding rule r: d[k] = value[RequantizeWith(r, acc_k) -
// QMin] with acc_k = SaturateAccumulator(math.Round(x[k]/s)) and the clamp bounds taken
// relative to the zero point (vlo = QMin - Z, vhi = hi - Z, zoff = Z - QMin); zero is
// value[RequantizeWith(r, 0) - QMin]. It is the code of purego builds and of CPUs without AVX2,
// and it takes what the AVX2 kernel leaves (values on its slow path below, tails shorter than a
// group). It is a function of its own so that its loop keeps everything in registers, and
// everything it calls is inlined:
//
//   - zeros (half of a ReLU output) skip the arithmetic;
//   - math.Round and the saturation: for |y| < 2^32 (every y that does not saturate; not NaN),
//     t = trunc(y) and the fraction y - t are exact, t moves one away from zero when
//     |y - t| >= 1/2, and the clamp to +-MaxInt32 is min/max; other y (the slow path) take
//     fakequant's functions;
//   - the multiply is requantMul (both rules), and the clamp is min/max.
//
// TestRequantRow and TestRequantFastFormsMatchFakequant check it against the composition of
// fakequant's functions for both rules.
func requantRow(r fakequant.Rounding, d, x []float32, s float64, mult int32, exponent uint, vlo, vhi, zoff int32, value []float32, zero float32) {
	mask := int32(int64(1)<<exponent - 1)
	shift := -int(exponent)
	single := r == fakequant.RoundSingle
	d = d[:len(x)]
	for k, v := range x {
		if v == 0 {
			d[k] = zero
			continue
		}
		y := float64(v) / s
		var acc int32
		if math.Abs(y) < 0x1p32 {
			t := int64(y)
			f := y - float64(t)
			t += int64(b2i(f >= 0.5)) - int64(b2i(f <= -0.5))
			acc = int32(min(max(t, -math.MaxInt32), math.MaxInt32))
		} else {
			acc = fakequant.SaturateAccumulator(math.Round(y), shift)
		}
		d[k] = value[min(max(requantMul(single, acc, mult, exponent, mask), vlo), vhi)+zoff]
	}
}

// requantMul is fakequant.MultiplyByQuantizedMultiplierWith(r, acc, quantized, -exponent), with
// single = (r == RoundSingle), for quantized >= 0 and 0 <= exponent <= 31 (an output scale
// larger than the accumulator scale, the usual case) and mask = 2^exponent - 1, written out so
// that it inlines into requantRow's loop: the same integer operations as fakequant's, without
// their argument checks (which those preconditions make unreachable). The 64-bit product ab is
// exact and |ab| < 2^62 (quantized >= 0 also rules out SRDHM's MinInt32 * MinInt32 case).
//
//   - RoundSingle (equation (11s)): with t = 31 + exponent (31..62), (ab + 2^(t-1)) >> t, the
//     sum exact and the shift arithmetic.
//   - RoundDouble (equation (11)): SaturatingRoundingDoublingHighMul, x = (ab + nudge) / 2^31
//     truncated with nudge = 2^30, or 1 - 2^30 for ab < 0; then RoundingDivideByPOT(x,
//     exponent) = x >> exponent + (1 if x & mask > mask>>1 + (1 if x < 0)), the conditions
//     as 0/1 values.
//
// TestRequantMul checks it against fakequant for both rules.
func requantMul(single bool, acc, quantized int32, exponent uint, mask int32) int32 {
	ab := int64(acc) * int64(quantized)
	if single {
		t := 31 + exponent&31
		return int32((ab + int64(1)<<(t-1)) >> t)
	}
	x := int32((ab + int64(1<<30) - (ab>>63)&(1<<31-1)) / (1 << 31))
	return x>>exponent + int32(b2i(x&mask > mask>>1+int32(uint32(x)>>31)))
}

// RangeOf returns min(0, min x) and max(0, max x) ignoring NaNs (fakequant.BatchRange, in
// float32), and whether x holds a NaN, in one pass split over two goroutines. min and max are
// exact, so the split does not change the result.
func RangeOf(x []float32) (lo, hi float32, nan bool) {
	var los, his [2]float32
	var nans [2]bool
	SplitRowsW(len(x), 1, func(w, a, b int) {
		var l, h float32
		n := false
		for _, v := range x[a:b] {
			if v < l {
				l = v
			}
			if v > h {
				h = v
			}
			n = n || v != v
		}
		los[w], his[w], nans[w] = l, h, n
	})
	return min(los[0], los[1]), max(his[0], his[1]), nans[0] || nans[1]
}

// absMaxOf returns max |v| over w ignoring NaNs, and whether w holds a NaN.
func absMaxOf(w []float32) (m float32, nan bool) {
	for _, v := range w {
		a := math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
		if a > m {
			m = a
		}
		nan = nan || v != v
	}
	return m, nan
}

// RangeOf keeps one partial range per part of SplitRowsW, in arrays of two: this fails to
// compile unless ReduceParts is 2.
const _ = uint(ReduceParts-2) + uint(2-ReduceParts)
