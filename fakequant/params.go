package fakequant

import (
	"fmt"
	"math"
)

// Params are the parameters of the affine map (1) r = Scale (q - ZeroPoint), q in [QMin, QMax].
//
// Params from ChooseParams, SymmetricParams and the observers always have a finite Scale > 0
// and QMin <= ZeroPoint <= QMax; Params built by hand (or read from a file) can be checked with
// Validate. The methods do not check and give meaningless results for invalid Params.
type Params struct {
	Scale      float64
	ZeroPoint  int32
	QMin, QMax int32
}

// ChooseParams returns the asymmetric parameters for the real range [min, max], equation (4).
// The range is first extended to include 0 (min = min(min, 0), max = max(max, 0)), then nudged
// so that real 0.0 is exactly representable:
//
//	Scale = (max - min) / (qmax - qmin)
//	zf    = qmin - min / Scale
//	Z     = clamp(round(zf), qmin, qmax)
//
// with round = math.Round. The nudged range (NudgedRange) is [min, max] shifted by less than
// half a step; its width is exactly (qmax - qmin) Scale.
//
// Degenerate range: if max == min == 0 (nothing but zeros was observed, or nothing at all),
// the result is Scale = 1 (any positive value would do) and Z = clamp(0, qmin, qmax), so every
// value of that range, 0, maps to real 0 exactly. A range so narrow that Scale underflows to 0
// is treated the same way.
//
// It panics if min or max is NaN or infinite, if min > max, or if s is invalid.
func ChooseParams(min, max float64, s Scheme) Params {
	qmin, qmax := s.Range()
	if math.IsNaN(min) || math.IsNaN(max) || math.IsInf(min, 0) || math.IsInf(max, 0) {
		panic(fmt.Sprintf("fakequant: ChooseParams: non-finite range [%g, %g]", min, max))
	}
	if min > max {
		panic(fmt.Sprintf("fakequant: ChooseParams: min %g > max %g", min, max))
	}
	if min > 0 {
		min = 0
	}
	if max < 0 {
		max = 0
	}
	scale := (max - min) / float64(qmax-qmin)
	if math.IsInf(scale, 0) {
		panic(fmt.Sprintf("fakequant: ChooseParams: range [%g, %g] too wide for float64", min, max))
	}
	if scale == 0 {
		return Params{Scale: 1, ZeroPoint: clamp32(0, qmin, qmax), QMin: qmin, QMax: qmax}
	}
	zf := float64(qmin) - min/scale
	z := math.Round(zf)
	// min <= 0 <= max puts zf in [qmin, qmax] up to rounding; the clamp keeps it there.
	z = math.Max(float64(qmin), math.Min(float64(qmax), z))
	return Params{Scale: scale, ZeroPoint: int32(z), QMin: qmin, QMax: qmax}
}

// SymmetricParams returns symmetric parameters for values in [-absMax, absMax], equation (5).
// For a signed scheme Z = 0 and Scale = absMax / qmax, with qmax the scheme's largest code
// (127 for int8 and int8n, 7 for int4 and int4n), so -absMax and absMax map to -qmax and qmax.
// For an unsigned scheme it is ChooseParams(0, absMax, s). If absMax <= 0, Scale is 1.
//
// It panics if absMax is NaN or infinite, or if s is invalid.
func SymmetricParams(absMax float64, s Scheme) Params {
	qmin, qmax := s.Range()
	if math.IsNaN(absMax) || math.IsInf(absMax, 0) {
		panic(fmt.Sprintf("fakequant: SymmetricParams: non-finite absMax %g", absMax))
	}
	if absMax < 0 {
		absMax = 0
	}
	if !s.Signed {
		return ChooseParams(0, absMax, s)
	}
	scale := absMax / float64(qmax)
	if scale == 0 {
		scale = 1
	}
	return Params{Scale: scale, ZeroPoint: 0, QMin: qmin, QMax: qmax}
}

// Validate returns an error unless Scale is finite and positive and
// QMin <= ZeroPoint <= QMax with QMin < QMax.
func (p Params) Validate() error {
	if !(p.Scale > 0) || math.IsInf(p.Scale, 1) {
		return fmt.Errorf("fakequant: params %v: scale must be finite and positive", p)
	}
	if p.QMin >= p.QMax {
		return fmt.Errorf("fakequant: params %v: empty grid, qmin >= qmax", p)
	}
	if p.ZeroPoint < p.QMin || p.ZeroPoint > p.QMax {
		return fmt.Errorf("fakequant: params %v: zero point outside [qmin, qmax]", p)
	}
	return nil
}

// String formats p as "scale=S zp=Z [qmin,qmax]".
func (p Params) String() string {
	return fmt.Sprintf("scale=%g zp=%d [%d,%d]", p.Scale, p.ZeroPoint, p.QMin, p.QMax)
}

// NudgedRange returns the real values of the smallest and largest codes,
// lo = (QMin - Z) Scale and hi = (QMax - Z) Scale. It always contains 0.
func (p Params) NudgedRange() (lo, hi float64) {
	return p.Dequantize(p.QMin), p.Dequantize(p.QMax)
}

// Quantize returns the code of x, equation (2):
//
//	q = clamp(Z + round(x / Scale), QMin, QMax)
//
// computed in float64, with round = math.Round: ties are rounded away from zero. That is the
// tie rule of RoundingDivideByPOT, the last rounding step of the integer runtime's
// requantization (11), and it must stay so: the simulation and the integer engine round the
// same way. Note that the round applies to x/Scale before Z is added, so the grid is symmetric
// about real 0 whatever Z is. A NaN x quantizes to Z; ±Inf clamp to QMin or QMax.
func (p Params) Quantize(x float64) int32 {
	if math.IsNaN(x) {
		return p.ZeroPoint
	}
	v := float64(p.ZeroPoint) + math.Round(x/p.Scale)
	if v <= float64(p.QMin) {
		return p.QMin
	}
	if v >= float64(p.QMax) {
		return p.QMax
	}
	return int32(v)
}

// Dequantize returns the real value of code q, equation (1): Scale (q - Z).
func (p Params) Dequantize(q int32) float64 {
	return p.Scale * float64(int64(q)-int64(p.ZeroPoint))
}

// FakeQuantize returns Dequantize(Quantize(x)), equation (3): x rounded to the nearest grid
// value, clamped to the nudged range. FakeQuantize is idempotent. Unlike Quantize it returns
// NaN for a NaN x, so that a diverging model still shows NaNs.
func (p Params) FakeQuantize(x float64) float64 {
	if math.IsNaN(x) {
		return x
	}
	return p.Dequantize(p.Quantize(x))
}

// InRange reports whether x lies in the nudged range, lo <= x <= hi (inclusive). This is the
// straight-through gradient mask (6): the gradient passes where InRange is true, the clip edges
// included, and is 0 elsewhere (and for NaN).
func (p Params) InRange(x float64) bool {
	lo, hi := p.NudgedRange()
	return lo <= x && x <= hi
}

// FakeQuantizeSlice writes FakeQuantize of each src[i] to dst[i]. The math is done in float64,
// the result rounded to float32. dst may alias src. It panics if len(dst) != len(src).
func FakeQuantizeSlice(dst, src []float32, p Params) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("fakequant: FakeQuantizeSlice: len(dst) %d != len(src) %d", len(dst), len(src)))
	}
	for i, x := range src {
		dst[i] = float32(p.FakeQuantize(float64(x)))
	}
}

// QuantizeSlice writes Quantize of each src[i] to dst[i]. It panics if len(dst) != len(src).
func QuantizeSlice(dst []int32, src []float32, p Params) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("fakequant: QuantizeSlice: len(dst) %d != len(src) %d", len(dst), len(src)))
	}
	for i, x := range src {
		dst[i] = p.Quantize(float64(x))
	}
}

// BatchRange returns the minimum and maximum of x, extended to include 0, so min <= 0 <= max.
// NaNs are ignored. An empty x gives 0, 0.
func BatchRange(x []float32) (min, max float64) {
	var lo, hi float32
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return float64(lo), float64(hi)
}

func clamp32(v, lo, hi int32) int32 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
