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

// Rounding names the rule that turns acc*M into an integer in requantization. Both rules use
// the same Q31 multiplier and shift (QuantizeMultiplier); they differ only in rounding. A model
// records its rule, and the simulation, the exporter, the engine and every generated target
// apply that rule, so they agree bit for bit.
type Rounding uint8

const (
	// RoundDouble is TFLite's default and gemmlowp's rule, equation (11): SRDHM (ties toward
	// +Inf) then RoundingDivideByPOT (ties away from zero). It is bit-exact with TFLite's
	// default builds, but not correctly rounded: on about a 2^(shift-1) share of outputs
	// (12.5% at shift -2) it is one code off, always away from zero (one code too high for
	// positive outputs, e.g. ReLU layers'). The zero value, so that models and checkpoints
	// written before the rounding was recorded keep their rule.
	RoundDouble Rounding = 0
	// RoundSingle is TFLite's TFLITE_SINGLE_ROUNDING rule, equation (11s): acc*M0 rounded
	// once by 2^(31-shift), ties toward +Inf. Correctly rounded (within 1/2 of acc*M0*2^(shift-31)
	// up to the tie rule); the default for new models.
	RoundSingle Rounding = 1
)

// String returns "double" or "single".
func (r Rounding) String() string {
	switch r {
	case RoundDouble:
		return "double"
	case RoundSingle:
		return "single"
	}
	return fmt.Sprintf("Rounding(%d)", uint8(r))
}

// Valid reports whether r is one of the defined rules.
func (r Rounding) Valid() bool { return r == RoundDouble || r == RoundSingle }

// ParseRounding returns the Rounding named "single" or "double".
func ParseRounding(s string) (Rounding, error) {
	switch s {
	case "double":
		return RoundDouble, nil
	case "single":
		return RoundSingle, nil
	}
	return 0, fmt.Errorf("fakequant: rounding %q is not \"single\" or \"double\"", s)
}

// Set implements flag.Value.
func (r *Rounding) Set(s string) error {
	v, err := ParseRounding(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalText implements encoding.TextMarshaler ("single" or "double"), so that JSON
// configurations name the rule. It fails on an undefined rule.
func (r Rounding) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("fakequant: undefined rounding %d", uint8(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler: "single" or "double".
func (r *Rounding) UnmarshalText(b []byte) error { return r.Set(string(b)) }

// MultiplyByQuantizedMultiplierSingle returns x M with M = quantized 2^(shift-31) rounded
// once, equation (11s), as TFLite's TFLITE_SINGLE_ROUNDING variant:
//
//	t = 31 - shift;  result = (x quantized + 2^(t-1)) >> t   (64-bit product, arithmetic shift)
//
// which is floor(x M + 1/2): x M rounded to nearest, ties toward +Inf. Nothing overflows: for
// quantized in [0, 2^31) and any int32 x, |x quantized| < 2^62 and t <= 62.
//
// Preconditions, the same as MultiplyByQuantizedMultiplier's so that a model valid under one
// rule is valid under the other: quantized >= 0, -31 <= shift <= 31 and, for shift > 0,
// x 2^shift fits in an int32 (then the result fits too). It panics if one does not hold.
func MultiplyByQuantizedMultiplierSingle(x int32, quantized int32, shift int) int32 {
	if shift < -31 || shift > 31 {
		panic(fmt.Sprintf("fakequant: MultiplyByQuantizedMultiplierSingle: shift %d outside -31..31", shift))
	}
	if quantized < 0 {
		panic(fmt.Sprintf("fakequant: MultiplyByQuantizedMultiplierSingle: multiplier %d is negative", quantized))
	}
	if shift > 0 {
		if wide := int64(x) << shift; wide < math.MinInt32 || wide > math.MaxInt32 {
			panic(fmt.Sprintf("fakequant: MultiplyByQuantizedMultiplierSingle: x %d << shift %d overflows int32", x, shift))
		}
	}
	t := uint(31 - shift)
	round := int64(1) << t >> 1 // 2^(t-1), or 0 for t = 0 (shift 31: nothing to round)
	return int32((int64(x)*int64(quantized) + round) >> t)
}

// MultiplyByQuantizedMultiplierWith is MultiplyByQuantizedMultiplier (RoundDouble) or
// MultiplyByQuantizedMultiplierSingle (RoundSingle). It panics on an undefined rule.
func MultiplyByQuantizedMultiplierWith(r Rounding, x int32, quantized int32, shift int) int32 {
	switch r {
	case RoundDouble:
		return MultiplyByQuantizedMultiplier(x, quantized, shift)
	case RoundSingle:
		return MultiplyByQuantizedMultiplierSingle(x, quantized, shift)
	}
	panic(fmt.Sprintf("fakequant: undefined rounding %d", uint8(r)))
}
