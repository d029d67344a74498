package fakequant

import "math"

// Requantize maps an int32 accumulator acc (scale S_in*S_w, zero point 0) to an output code
// with zero point zero, clamped to [lo, hi] (Jacob et al. §2.2 and §2.4):
//
//	q = clamp(zero + MultiplyByQuantizedMultiplier(acc, quantized, shift), lo, hi)     (12)
//
// with quantized*2^(shift-31) = S_in*S_w/S_out. ReLU and ReLU6 are only the clamp bounds. The
// clamp is applied before the zero point is added, so nothing overflows for any acc. This is
// the one requantization of qatgo: the integer engine's kernels end with it and the QAT
// simulation's output quantizers apply it to the accumulator they recover, so the two agree
// bit for bit.
//
// Preconditions: lo <= hi, and those of MultiplyByQuantizedMultiplier (for shift > 0,
// acc*2^shift fits in an int32; the integer model checks this bound when it loads).
func Requantize(acc, quantized int32, shift int, zero, lo, hi int32) int32 {
	v := MultiplyByQuantizedMultiplier(acc, quantized, shift)
	if v >= hi-zero {
		return hi
	}
	if v <= lo-zero {
		return lo
	}
	return v + zero
}

// SaturateAccumulator clamps a real-valued accumulator to the int32 values that
// MultiplyByQuantizedMultiplier accepts with this shift (x*2^max(shift,0) must fit in an
// int32). The simulation uses it so that a diverging model saturates instead of panicking; a
// model whose accumulators actually reach the bound is refused at export.
func SaturateAccumulator(acc float64, shift int) int32 {
	limit := float64(math.MaxInt32)
	if shift > 0 {
		limit = float64(int64(math.MaxInt32) >> shift)
	}
	switch {
	case acc > limit:
		return int32(limit)
	case acc < -limit:
		return int32(-limit)
	case acc != acc:
		return 0
	}
	return int32(acc)
}
