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
	return RequantizeWith(RoundDouble, acc, quantized, shift, zero, lo, hi)
}

// RequantizeWith is equation (12) under the rounding rule r (equation (11) or (11s)):
//
//	q = clamp(zero + MultiplyByQuantizedMultiplierWith(r, acc, quantized, shift), lo, hi)
//
// Requantize is RequantizeWith(RoundDouble, ...). Preconditions as Requantize's.
func RequantizeWith(r Rounding, acc, quantized int32, shift int, zero, lo, hi int32) int32 {
	v := MultiplyByQuantizedMultiplierWith(r, acc, quantized, shift)
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

// AccumulatorScale is the scale of a layer's int32 accumulator and bias: S_in * S_w.
func AccumulatorScale(in Params, w Params) float64 { return in.Scale * w.Scale }

// QuantizeBias puts a real bias on the accumulator grid: q = round(b / accScale) (ties away
// from zero), zero point 0. ok is false if q does not fit in an int32; q is then saturated.
// The QAT simulation and the exporter both call it, so the simulated bias is the exported one.
func QuantizeBias(b float32, accScale float64) (q int32, ok bool) {
	v := math.Round(float64(b) / accScale)
	switch {
	case v > math.MaxInt32:
		return math.MaxInt32, false
	case v < math.MinInt32:
		return math.MinInt32, false
	case v != v:
		return 0, false
	}
	return int32(v), true
}

// RequantMultiplier is the fixed-point form of M = accScale / outScale (equation (12)'s
// multiplier), shared by the simulation and the exporter.
func RequantMultiplier(accScale, outScale float64) (quantized int32, shift int) {
	return QuantizeMultiplier(accScale / outScale)
}

// ReLU6Ceiling is the code of real 6 on the grid p, capped at QMax: the upper clamp bound of
// a ReLU6 layer, min(QMax, Z + round(6/S)).
func ReLU6Ceiling(p Params) int32 {
	return min(p.QMax, p.ZeroPoint+int32(math.Round(6/p.Scale)))
}
