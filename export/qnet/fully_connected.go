package qnet

import "github.com/qatgo/qatgo/fakequant"

// fullyConnected is the reference dense kernel, the specification the
// batched path (plan.go) must match bit for bit. src has In elements (the
// flattened CHW input), dst has Out. For every outC:
//
//	acc = Bias[outC] + sum over i of (src[i] - InputZero) * W[outC][i]
//	dst[outC] = Requantize(r, acc, Multiplier[outC], Shift[outC], OutputZero, ActMin, ActMax)
//
// Accumulator bound (checked by Validate):
// |acc| <= sum |W[outC]| * max|src - InputZero| + |Bias[outC]| < 2^31.
func fullyConnected(dst, src []uint8, l *FullyConnected, r fakequant.Rounding) {
	src = src[:l.In]
	for outC := 0; outC < l.Out; outC++ {
		row := l.Weights[outC*l.In : (outC+1)*l.In]
		acc := l.Bias[outC]
		for i, q := range src {
			acc += (int32(q) - l.InputZero) * int32(row[i])
		}
		dst[outC] = Requantize(r, acc, l.Multiplier[outC], l.Shift[outC], l.OutputZero, l.ActMin, l.ActMax)
	}
}
