package qnet

// maxPool2D is the reference max-pool kernel. src is (c, inH, inW), dst is
// (c, outH, outW) with outH = (inH-K)/Stride+1, outW = (inW-K)/Stride+1:
//
//	dst[ch][outY][outX] = max over 0 <= ky, kx < K of src[ch][outY*Stride+ky][outX*Stride+kx]
//
// It works on the codes directly: quantization r = S(q-Z) with S > 0 is
// monotonic, so the max of the codes is the code of the max. No padding.
func maxPool2D(dst, src []uint8, l *MaxPool2D, c, inH, inW int) {
	outH := (inH-l.K)/l.Stride + 1
	outW := (inW-l.K)/l.Stride + 1
	for ch := 0; ch < c; ch++ {
		in := src[ch*inH*inW : (ch+1)*inH*inW]
		out := dst[ch*outH*outW : (ch+1)*outH*outW]
		for outY := 0; outY < outH; outY++ {
			for outX := 0; outX < outW; outX++ {
				inY0, inX0 := outY*l.Stride, outX*l.Stride
				m := in[inY0*inW+inX0]
				for ky := 0; ky < l.K; ky++ {
					row := in[(inY0+ky)*inW+inX0 : (inY0+ky)*inW+inX0+l.K]
					for _, v := range row {
						m = max(m, v)
					}
				}
				out[outY*outW+outX] = m
			}
		}
	}
}
