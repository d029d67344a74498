package qnet

import "github.com/qatgo/qatgo/fakequant"

// avgPool2D is the reference average-pool kernel. src is (c, inH, inW) with
// zero point z and codes in [lo, hi], dst is (c, outH, outW) with outH =
// (inH-K)/Stride+1, outW = (inW-K)/Stride+1:
//
//	sum = sum over 0 <= ky, kx < K of (src[ch][outY*Stride+ky][outX*Stride+kx] - z)
//	dst[ch][outY][outX] = fakequant.AveragePool(r, sum, K*K, z, lo, hi)
//	                    = clamp(z + MBQM_r(sum, M0, shift), lo, hi),  (M0, shift) = Q31 of 1/(K*K)
//
// (fakequant equation (17)): the mean of the window's real values rounded to
// the input's grid by the model's requantization rule r. No padding.
func avgPool2D(dst, src []uint8, l *AvgPool2D, c, inH, inW int, z, lo, hi int32, r fakequant.Rounding) {
	outH := (inH-l.K)/l.Stride + 1
	outW := (inW-l.K)/l.Stride + 1
	n := l.K * l.K
	for ch := 0; ch < c; ch++ {
		in := src[ch*inH*inW : (ch+1)*inH*inW]
		out := dst[ch*outH*outW : (ch+1)*outH*outW]
		for outY := 0; outY < outH; outY++ {
			for outX := 0; outX < outW; outX++ {
				inY0, inX0 := outY*l.Stride, outX*l.Stride
				var sum int32
				for ky := 0; ky < l.K; ky++ {
					for _, v := range in[(inY0+ky)*inW+inX0 : (inY0+ky)*inW+inX0+l.K] {
						sum += int32(v) - z
					}
				}
				out[outY*outW+outX] = uint8(fakequant.AveragePool(r, sum, n, z, lo, hi))
			}
		}
	}
}
