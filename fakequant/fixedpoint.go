package fakequant

import (
	"fmt"
	"math"
)

// The fixed-point primitives of the integer runtime, bit-exact with gemmlowp's fixedpoint.h
// and TFLite's MultiplyByQuantizedMultiplier (the "double rounding" variant). Go's `/`
// truncates toward zero and `>>` on signed integers is arithmetic, as in C, so the code reads
// like the reference; where C has undefined behaviour (signed overflow) these functions either
// cannot overflow or panic, as documented.

// SaturatingRoundingDoublingHighMul returns the high 32 bits of 2ab, rounded, equation (9):
//
//	a == b == math.MinInt32:  math.MaxInt32 (the only case that overflows)
//	otherwise:                (ab + nudge) / 2^31, truncating, ab = int64(a) int64(b),
//	                          nudge = 2^30 if ab >= 0, 1 - 2^30 if ab < 0
//
// which equals floor(ab/2^31 + 1/2): ab/2^31 rounded to nearest with ties toward +Inf
// (SRDHM(3, 2^30) = 2 but SRDHM(-5, 2^30) = -2). With b = M0 in Q31 it computes round(a M0/2^31).
// Any int32 arguments are valid.
func SaturatingRoundingDoublingHighMul(a, b int32) int32 {
	if a == math.MinInt32 && b == math.MinInt32 {
		return math.MaxInt32
	}
	ab := int64(a) * int64(b)
	nudge := int64(1 << 30)
	if ab < 0 {
		nudge = 1 - 1<<30
	}
	return int32((ab + nudge) / (1 << 31))
}

// RoundingDivideByPOT returns x / 2^exponent rounded to nearest, ties away from zero,
// equation (10):
//
//	mask = 2^exponent - 1; rem = x & mask; thr = mask>>1 + (1 if x < 0)
//	result = x>>exponent + (1 if rem > thr)
//
// (RoundingDivideByPOT(12, 3) = 2, RoundingDivideByPOT(-12, 3) = -2.) The result cannot
// overflow. It panics unless 0 <= exponent <= 31.
func RoundingDivideByPOT(x int32, exponent int) int32 {
	if exponent < 0 || exponent > 31 {
		panic(fmt.Sprintf("fakequant: RoundingDivideByPOT: exponent %d outside 0..31", exponent))
	}
	mask := int32(int64(1)<<exponent - 1)
	remainder := x & mask
	threshold := mask >> 1
	if x < 0 {
		threshold++
	}
	result := x >> exponent
	if remainder > threshold {
		result++
	}
	return result
}

// QuantizeMultiplier splits a real multiplier m >= 0 into a Q31 value and a shift,
// equation (8): m ~= quantized * 2^(shift-31) with quantized in [2^30, 2^31). As in TFLite:
//
//	frac, shift = math.Frexp(m)              // m = frac 2^shift, frac in [0.5, 1)
//	quantized   = math.Round(frac * 2^31)    // ties away from zero
//	if quantized == 2^31 { quantized = 2^30; shift++ }
//	if shift < -31 { quantized, shift = 0, 0 } // m below about 2^-32 flushes to 0
//
// so |quantized 2^(shift-31) - m| <= 2^(shift-32). m == 0 gives (0, 0).
// QuantizeMultiplier(0.75) = (1610612736, 0); QuantizeMultiplier(1.0) = (1073741824, 1).
// It panics if m is negative, NaN or +Inf.
func QuantizeMultiplier(m float64) (quantized int32, shift int) {
	if !(m >= 0) || math.IsInf(m, 1) {
		panic(fmt.Sprintf("fakequant: QuantizeMultiplier: multiplier %g is not finite and >= 0", m))
	}
	if m == 0 {
		return 0, 0
	}
	frac, shift := math.Frexp(m)
	q := int64(math.Round(frac * (1 << 31)))
	if q == 1<<31 {
		q /= 2
		shift++
	}
	if shift < -31 {
		return 0, 0
	}
	return int32(q), shift
}

// MultiplyByQuantizedMultiplier returns x M with M = quantized 2^(shift-31), equation (11),
// in two rounding steps exactly as TFLite:
//
//	RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x 2^max(shift,0), quantized), max(-shift,0))
//
// The first step rounds ties toward +Inf, the second ties away from zero. For quantized >= 0
// the result is within 1 of x M rounded once (ties away from zero), and on a small fraction of
// inputs differs from it by exactly 1; the simulation must model the two steps, not x M.
//
// Preconditions: -31 <= shift <= 31 and, for shift > 0, x 2^shift fits in an int32 (where C
// overflows silently). quantized normally comes from QuantizeMultiplier. It panics if a
// precondition does not hold.
func MultiplyByQuantizedMultiplier(x int32, quantized int32, shift int) int32 {
	if shift < -31 || shift > 31 {
		panic(fmt.Sprintf("fakequant: MultiplyByQuantizedMultiplier: shift %d outside -31..31", shift))
	}
	if shift <= 0 {
		return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, quantized), -shift)
	}
	wide := int64(x) << shift
	if wide < math.MinInt32 || wide > math.MaxInt32 {
		panic(fmt.Sprintf("fakequant: MultiplyByQuantizedMultiplier: x %d << shift %d overflows int32", x, shift))
	}
	return SaturatingRoundingDoublingHighMul(int32(wide), quantized)
}
