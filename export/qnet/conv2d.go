package qnet

import "github.com/qatgo/qatgo/fakequant"

// conv2D is the reference convolution kernel, the specification the fast
// path (plan.go) must match bit for bit. src is (InC, inH, inW), dst is
// (OutC, outH, outW) as given by OutShape. For every outC, outY, outX:
//
//	acc = Bias[outC] + sum over inC, ky, kx of (src[inC][inY][inX] - InputZero) * W[outC][inC][ky][kx]
//	      with inY = outY*Stride - Pad + ky, inX = outX*Stride - Pad + kx
//	dst[outC][outY][outX] = Requantize(r, acc, Multiplier[outC], Shift[outC], OutputZero, ActMin, ActMax)
//
// Taps outside the input read the padding value InputZero, i.e. real 0, and
// contribute nothing. Accumulator bound (checked by Validate):
// |acc| <= sum |W[outC]| * max|src - InputZero| + |Bias[outC]| < 2^31.
func conv2D(dst, src []uint8, l *Conv2D, inH, inW int, r fakequant.Rounding) {
	_, outH, outW, err := l.OutShape(l.InC, inH, inW)
	if err != nil {
		panic("qnet: conv2D: " + err.Error())
	}
	for outC := 0; outC < l.OutC; outC++ {
		filter := l.Weights[outC*l.InC*l.KH*l.KW : (outC+1)*l.InC*l.KH*l.KW]
		for outY := 0; outY < outH; outY++ {
			for outX := 0; outX < outW; outX++ {
				acc := l.Bias[outC]
				for inC := 0; inC < l.InC; inC++ {
					for ky := 0; ky < l.KH; ky++ {
						inY := outY*l.Stride - l.Pad + ky
						if inY < 0 || inY >= inH {
							continue // padding: (InputZero - InputZero) * w = 0
						}
						for kx := 0; kx < l.KW; kx++ {
							inX := outX*l.Stride - l.Pad + kx
							if inX < 0 || inX >= inW {
								continue
							}
							in := int32(src[(inC*inH+inY)*inW+inX]) - l.InputZero // r = S_in (q - Z_in)
							w := int32(filter[(inC*l.KH+ky)*l.KW+kx])             // r = S_w[outC] w
							acc += in * w
						}
					}
				}
				dst[(outC*outH+outY)*outW+outX] = Requantize(r, acc, l.Multiplier[outC], l.Shift[outC], l.OutputZero, l.ActMin, l.ActMax)
			}
		}
	}
}
