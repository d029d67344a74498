package qnet

import "github.com/qatgo/qatgo/fakequant"

// avgPlan is an AvgPool2D on the SIMD engine: its input's zero point and
// range, and the Q31 multiplier of 1/(K*K).
type avgPlan struct {
	l         *AvgPool2D
	z, lo, hi int32
	mult      int32
	shift     int
	rounding  fakequant.Rounding
}

func newAvgPlan(l *AvgPool2D, z, lo, hi int32, r fakequant.Rounding) *avgPlan {
	m, s := fakequant.MeanMultiplier(l.K * l.K)
	return &avgPlan{l: l, z: z, lo: lo, hi: hi, mult: m, shift: s, rounding: r}
}

// avgPoolHWC is avgPool2D on HWC activations: every window's K*K pixels are
// summed into sum (c int32s, one per channel; the channels of a pixel are
// contiguous, so the inner loop runs over whole channel runs), then each sum
// is requantized as avgPool2D does (fakequant.RequantizeWith with the
// multiplier of 1/(K*K), the same arithmetic as fakequant.AveragePool). sum
// must hold c values.
func avgPoolHWC(dst, src []uint8, a *avgPlan, c, inH, inW int, sum []int32) {
	l := a.l
	outH := (inH-l.K)/l.Stride + 1
	outW := (inW-l.K)/l.Stride + 1
	sum = sum[:c]
	off := int32(l.K*l.K) * a.z // sum(q - z) = sum(q) - K*K*z
	for outY := 0; outY < outH; outY++ {
		for outX := 0; outX < outW; outX++ {
			for i := range sum {
				sum[i] = -off
			}
			for ky := 0; ky < l.K; ky++ {
				row := src[((outY*l.Stride+ky)*inW+outX*l.Stride)*c:][:l.K*c]
				for kx := 0; kx < l.K; kx++ {
					for i, v := range row[kx*c : (kx+1)*c] {
						sum[i] += int32(v)
					}
				}
			}
			d := dst[(outY*outW+outX)*c:][:c]
			for i, s := range sum {
				d[i] = uint8(fakequant.RequantizeWith(a.rounding, s, a.mult, a.shift, a.z, a.lo, a.hi))
			}
		}
	}
}
