package fakequant

import (
	"fmt"
	"math"
	"slices"
)

// # Range choice beyond min/max
//
// Min/max ranges (MinMax, EMA, PerChannelSymmetric) never clip, so at a few bits one outlier
// stretches the step over values that mostly fall in the zero bin. Two classic alternatives
// clip on purpose:
//
//	(15) MSE:        the clip c minimizing E(c) = sum_i (x_i - FQ_c(x_i))^2 over c = alpha r,
//	                 r the min/max range and alpha in (0, 1] (grid search, then refined)
//	(16) percentile: the range of the central pct% of the values
//
// The MSE search evaluates E on the MSEGrid candidates alpha = k/MSEGrid, k = 1..MSEGrid, then
// on MSEGrid more evenly spaced between the best one's neighbours, and returns the best
// candidate seen (the first, in that order, on ties). alpha = 1 (min/max) is a candidate, so
// the result never has a larger error than min/max on the same values.

// MSEGrid is the number of candidates of each of the two passes of the MSE search (15).
const MSEGrid = 100

// SquaredError returns sum_i (x_i - FQ(x_i))^2 under p, in float64; NaNs are skipped.
func SquaredError(x []float32, p Params) float64 {
	inv := 1 / p.Scale
	z := float64(p.ZeroPoint)
	lo, hi := float64(p.QMin), float64(p.QMax)
	var e float64
	for _, xv := range x {
		v := float64(xv)
		if v != v {
			continue
		}
		q := math.Max(lo, math.Min(hi, z+math.Round(v*inv)))
		d := v - p.Scale*(q-z)
		e += d * d
	}
	return e
}

// mseSearch returns the alpha in (0, 1] minimizing err(alpha) by the two-pass grid of (15).
func mseSearch(err func(alpha float64) float64) float64 {
	best, bestErr := 1.0, math.Inf(1)
	try := func(a float64) {
		if e := err(a); e < bestErr {
			best, bestErr = a, e
		}
	}
	for k := 1; k <= MSEGrid; k++ {
		try(float64(k) / MSEGrid)
	}
	c := best
	lo, hi := math.Max(c-1.0/MSEGrid, 0), math.Min(c+1.0/MSEGrid, 1)
	for k := 1; k < MSEGrid; k++ {
		if a := lo + (hi-lo)*float64(k)/MSEGrid; a > 0 && a != c {
			try(a)
		}
	}
	return best
}

// SymmetricMSE returns the clip a in (0, |w|max] whose SymmetricParams(a, s) minimize the
// squared error of w, equation (15) (NaNs ignored). An all-zero w gives 0. It panics if a value
// is infinite or s is invalid.
func SymmetricMSE(w []float32, s Scheme) float64 {
	absMax := 0.0
	for _, v := range w {
		a := math.Abs(float64(v))
		if math.IsInf(a, 0) {
			panic("fakequant: SymmetricMSE: infinite value")
		}
		if a > absMax {
			absMax = a
		}
	}
	if absMax == 0 {
		return 0
	}
	alpha := mseSearch(func(a float64) float64 { return SquaredError(w, SymmetricParams(a*absMax, s)) })
	return alpha * absMax
}

// AsymmetricMSE returns the range [alpha min, alpha max] whose ChooseParams minimize the squared
// error of x, equation (15), with [min, max] = BatchRange(x) (so it contains 0; a ReLU output
// keeps min = 0). An empty or all-zero x gives 0, 0. It panics if a value is infinite or s is
// invalid.
func AsymmetricMSE(x []float32, s Scheme) (min, max float64) {
	lo, hi := BatchRange(x)
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		panic("fakequant: AsymmetricMSE: infinite value")
	}
	if lo == 0 && hi == 0 {
		return 0, 0
	}
	alpha := mseSearch(func(a float64) float64 { return SquaredError(x, ChooseParams(a*lo, a*hi, s)) })
	return alpha * lo, alpha * hi
}

// PercentileRange returns the range of the central pct% of x, equation (16): max is the
// smallest value with at least pct% of the values <= it (rank ceil(pct n/100)), min the largest
// with at least pct% >= it, the range then extended to include 0. NaNs are ignored; an empty x
// gives 0, 0. pct 100 is BatchRange. It panics unless 50 < pct <= 100.
func PercentileRange(x []float32, pct float64) (min, max float64) {
	v := sortedFinite("PercentileRange", x, pct, false)
	if len(v) == 0 {
		return 0, 0
	}
	k := percentileRank(len(v), pct)
	return math.Min(0, float64(v[len(v)-1-k])), math.Max(0, float64(v[k]))
}

// PercentileAbs returns the pct-th percentile of |w| (rank ceil(pct n/100), as PercentileRange),
// the symmetric clip of equation (16). NaNs are ignored; an empty w gives 0. It panics unless
// 50 < pct <= 100.
func PercentileAbs(w []float32, pct float64) float64 {
	v := sortedFinite("PercentileAbs", w, pct, true)
	if len(v) == 0 {
		return 0
	}
	return float64(v[percentileRank(len(v), pct)])
}

// percentileRank is the 0-based index ceil(pct n/100) - 1 of a sorted slice of n > 0 values.
func percentileRank(n int, pct float64) int {
	k := int(math.Ceil(pct*float64(n)/100)) - 1
	return min(max(k, 0), n-1)
}

func sortedFinite(fn string, x []float32, pct float64, abs bool) []float32 {
	if !(pct > 50 && pct <= 100) {
		panic(fmt.Sprintf("fakequant: %s: percentile %g outside (50, 100]", fn, pct))
	}
	v := make([]float32, 0, len(x))
	for _, e := range x {
		if e != e {
			continue
		}
		if abs && e < 0 {
			e = -e
		}
		v = append(v, e)
	}
	slices.Sort(v)
	return v
}
