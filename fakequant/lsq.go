package fakequant

import (
	"fmt"
	"math"
)

// # Learned step size (LSQ)
//
// LSQ (Esser et al. 2020, arXiv 1902.08153) trains the scale S of (3) with the loss. With
// v = x/S and the code offsets Qn = qmin - Z <= 0 <= Qp = qmax - Z, the straight-through
// derivative of FQ(x) = S clamp(round(v), Qn, Qp) with respect to S is
//
//	(13) dFQ/dS = round(v) - v   if Qn < v < Qp
//	            = Qn             if v <= Qn
//	            = Qp             if v >= Qp
//
// and the step's gradient is scaled by
//
//	(14) g = 1 / sqrt(N Qp)
//
// with N the number of values that share the step (weights of a channel or a tensor; features of
// one example for activations), so that the step learns at the pace of the weights. The
// gradient of x stays the clipped STE (6).

// LSQStepGrad returns sum_i dy[i] dFQ(x[i])/dS under p, equation (13) (without the scale g
// of (14)), accumulated in float64 in index order. NaN inputs contribute NaN. It panics if
// len(dy) < len(x).
func LSQStepGrad(x, dy []float32, p Params) float64 {
	if len(dy) < len(x) {
		panic(fmt.Sprintf("fakequant: LSQStepGrad: %d gradients for %d values", len(dy), len(x)))
	}
	qn, qp := float64(p.QMin-p.ZeroPoint), float64(p.QMax-p.ZeroPoint)
	inv := 1 / p.Scale
	var sum float64
	for i, xv := range x {
		v := float64(xv) * inv
		var d float64
		switch {
		case v <= qn:
			d = qn
		case v >= qp:
			d = qp
		default:
			d = math.Round(v) - v
		}
		sum += float64(dy[i]) * d
	}
	return sum
}

// LSQGradScale is equation (14), g = 1/sqrt(n qp), for n values sharing a step and qp positive
// codes (qmax - Z; at least 1).
func LSQGradScale(n int, qp int32) float64 {
	return 1 / math.Sqrt(float64(max(n, 1))*float64(max(qp, 1)))
}

// StepParams returns the symmetric parameters of a learned weight step: Z = 0 and Scale =
// step, on the signed grid s (the narrow int grids of qatgo's weights). It panics if step is
// not finite and positive or if s is not signed.
func StepParams(step float64, s Scheme) Params {
	qmin, qmax := s.Range()
	if !(step > 0) || math.IsInf(step, 0) {
		panic(fmt.Sprintf("fakequant: StepParams: step %g must be finite and positive", step))
	}
	if !s.Signed {
		panic(fmt.Sprintf("fakequant: StepParams: scheme %s is not signed", s))
	}
	return Params{Scale: step, ZeroPoint: 0, QMin: qmin, QMax: qmax}
}

// StepRange returns the real range [min, max] = [step (qmin - zero), step (qmax - zero)] whose
// ChooseParams (4) is the grid of step size step with zero point zero: an activation's learned
// step enters the model as an ordinary range, so the nudging of (4), the multipliers of (8) and
// the requantization (12) treat it exactly like an observed one. zero is clamped to
// [qmin, qmax]. It panics if step is not finite and positive.
func StepRange(step float64, zero int32, s Scheme) (min, max float64) {
	qmin, qmax := s.Range()
	if !(step > 0) || math.IsInf(step, 0) {
		panic(fmt.Sprintf("fakequant: StepRange: step %g must be finite and positive", step))
	}
	zero = clamp32(zero, qmin, qmax)
	return step * float64(qmin-zero), step * float64(qmax-zero)
}
