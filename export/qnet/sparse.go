package qnet

// The sparse kernel, the Runner's path for pruned layers (plan.go chooses
// it). It computes exactly what the reference kernels compute (conv2d.go,
// fully_connected.go), skipping the zero weights. Each output channel keeps
// the list of its nonzero weights as (tap k, weight W[c][k]) pairs, in
// compressed sparse rows; the centered inputs are laid out transposed, one
// contiguous row of n columns per tap, xT[k][j] = q_j[k] - InputZero, so
// that each nonzero weight updates all n columns in one contiguous loop:
//
//	acc[c][j] = Bias[c] + sum over nonzero W[c][k] of W[c][k] * xT[k][j]      // int32
//	out[c][j] = Requantize(acc[c][j], Multiplier[c], Shift[c], OutputZero, ActMin, ActMax)
//
// For a Conv2D the columns are the output positions of one image and xT is
// the transposed im2col (im2colT); for a FullyConnected layer they are the
// images of a block in PredictBatch, and with a single image the sum is a
// gather over the input. The sum is the reference sum without its zero
// terms; every partial sum is bounded by the accumulator bound Validate
// enforces, sum_k |W[c][k]| max|q - InputZero| + |Bias[c]| < 2^31, so the
// int32 arithmetic is exact.

// PathAuto runs a layer sparse when that is estimated to be cheaper. The
// dense path's cost per output column is choose's estimate: steps of
// dot4x64 (4 multiplies serving 4*lanes channels), plus the unpacking after
// every run. The sparse path's cost is a constant per nonzero weight and
// output column, in sixteenths of a dense step, measured with
// BenchmarkCrossover (doc.go, "Sparse layers"): a Conv2D nonzero costs about
// a quarter of a step (four nonzeros share one pass over the accumulators);
// a FullyConnected nonzero, whose one-image form is a gather, more.
const (
	sparseCostConv2D         = 4
	sparseCostFullyConnected = 6
)

// sparseCheaper reports whether the sparse kernel is estimated to be faster
// than the dense plan p.cost for p's weights.
func (p *layerPlan) sparseCheaper() bool {
	nz := int64(0)
	for _, v := range p.aff.weights {
		if v != 0 {
			nz++
		}
	}
	per := int64(sparseCostFullyConnected)
	if p.kind == KindConv2D {
		per = sparseCostConv2D
	}
	return nz*per <= 16*p.cost
}

// autoSparse reports whether PathAuto runs the layer l, fed by inputs whose
// largest |q - Z| is maxIn, with the sparse kernel.
func autoSparse(l Layer, maxIn int64) bool {
	p := layerPlan{kind: l.Kind()}
	switch l := l.(type) {
	case *Conv2D:
		p.aff = l.affine()
	case *FullyConnected:
		p.aff = l.affine()
	default:
		return false
	}
	p.k = p.aff.cols
	p.choose(maxIn, 0)
	return p.sparseCheaper()
}

// buildSparse lists the nonzero weights of every output channel, and the
// taps that any channel uses.
func (p *layerPlan) buildSparse() {
	a := &p.aff
	k := p.k
	p.rowStart = make([]int32, a.rows+1)
	p.tapUsed = make([]bool, k)
	for c := 0; c < a.rows; c++ {
		for j, v := range a.weights[c*k : (c+1)*k] {
			if v != 0 {
				p.taps = append(p.taps, int32(j))
				p.vals = append(p.vals, int32(v))
				p.tapUsed[j] = true
			}
		}
		p.rowStart[c+1] = int32(len(p.taps))
	}
}

// convSparse computes one image of a Conv2D layer with the sparse kernel:
// dst (OutC, outH, outW) from src (InC, inH, inW), using xs (at least
// scratchLen(1)) and acc (at least outH*outW) as scratch.
func (p *layerPlan) convSparse(dst, src []uint8, xs []int16, acc []int32) {
	positions := p.outH * p.outW
	xs = xs[:p.k*positions]
	im2colT(xs, src, p.conv, p.inH, p.inW, p.outH, p.outW, p.tapUsed)
	// out[c][pos]: channel stride = positions, position stride = 1.
	p.sparseGEMM(dst, positions, 1, xs, positions, acc)
}

// fcSparse computes a FullyConnected layer for n images with the sparse
// kernel: dst is n rows of Out, src n rows of In; xs (at least
// scratchLen(n)) and acc (at least n) are scratch.
func (p *layerPlan) fcSparse(dst, src []uint8, n int, xs []int16, acc []int32) {
	k := p.k
	xs = xs[:n*k]
	z := int16(p.aff.inZero)
	for j := 0; j < n; j++ {
		for i, q := range src[j*k : (j+1)*k] {
			xs[i*n+j] = int16(q) - z // transposed: xT[i][j]
		}
	}
	// out[j][c]: channel stride = 1, image stride = Out.
	p.sparseGEMM(dst, 1, p.outLen, xs, n, acc)
}

// sparseGEMM computes, for every channel c and column j < n of the
// transposed centered inputs xT (k rows of n columns),
//
//	dst[c*cStride + j*jStride] = Requantize(Bias[c] + sum over nonzero W[c][k] of W[c][k] * xT[k][j], ...)
//
// using acc[:n] as scratch. It takes the nonzeros of a channel four at a
// time, so that each accumulator is loaded and stored once per four
// multiply-adds.
func (p *layerPlan) sparseGEMM(dst []uint8, cStride, jStride int, xT []int16, n int, acc []int32) {
	a := &p.aff
	acc = acc[:n]
	for c := 0; c < a.rows; c++ {
		lo, hi := p.rowStart[c], p.rowStart[c+1]
		taps, vals := p.taps[lo:hi], p.vals[lo:hi]
		if n == 1 { // a gather: the column is the input itself
			s := a.bias[c] + sparseDot(taps, vals, xT)
			dst[c*cStride] = Requantize(a.rounding, s, a.multiplier[c], a.shift[c], a.outZero, a.actMin, a.actMax)
			continue
		}
		for j := range acc {
			acc[j] = a.bias[c]
		}
		i := 0
		for ; i+4 <= len(taps); i += 4 {
			w0, w1, w2, w3 := vals[i], vals[i+1], vals[i+2], vals[i+3]
			x0 := xT[int(taps[i])*n:][:len(acc)]
			x1 := xT[int(taps[i+1])*n:][:len(acc)]
			x2 := xT[int(taps[i+2])*n:][:len(acc)]
			x3 := xT[int(taps[i+3])*n:][:len(acc)]
			for j := range acc {
				acc[j] += w0*int32(x0[j]) + w1*int32(x1[j]) + w2*int32(x2[j]) + w3*int32(x3[j])
			}
		}
		for ; i < len(taps); i++ {
			w, x := vals[i], xT[int(taps[i])*n:][:len(acc)]
			for j := range acc {
				acc[j] += w * int32(x[j])
			}
		}
		for j, s := range acc {
			dst[c*cStride+j*jStride] = Requantize(a.rounding, s, a.multiplier[c], a.shift[c], a.outZero, a.actMin, a.actMax)
		}
	}
}

// sparseDot returns sum_i vals[i] * x[taps[i]], in four independent sums.
func sparseDot(taps, vals []int32, x []int16) int32 {
	vals = vals[:len(taps)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(taps); i += 4 {
		s0 += vals[i] * int32(x[taps[i]])
		s1 += vals[i+1] * int32(x[taps[i+1]])
		s2 += vals[i+2] * int32(x[taps[i+2]])
		s3 += vals[i+3] * int32(x[taps[i+3]])
	}
	for ; i < len(taps); i++ {
		s0 += vals[i] * int32(x[taps[i]])
	}
	return s0 + s1 + s2 + s3
}

// im2colT writes the transpose of im2col (plan.go) for the taps marked in
// used: for every tap k = (inC*KH+ky)*KW+kx and output position
// pos = outY*outW + outX,
//
//	cols[k*outH*outW + pos] = src[inC][outY*Stride-Pad+ky][outX*Stride-Pad+kx] - InputZero
//
// (0 where the tap falls in the padding). Rows of unused taps are left as
// they are: no nonzero weight reads them.
func im2colT(cols []int16, src []uint8, l *Conv2D, inH, inW, outH, outW int, used []bool) {
	z := int16(l.InputZero)
	positions := outH * outW
	for inC := 0; inC < l.InC; inC++ {
		plane := src[inC*inH*inW : (inC+1)*inH*inW]
		for ky := 0; ky < l.KH; ky++ {
			for kx := 0; kx < l.KW; kx++ {
				k := (inC*l.KH+ky)*l.KW + kx
				if !used[k] {
					continue
				}
				row := cols[k*positions : (k+1)*positions]
				for outY := 0; outY < outH; outY++ {
					seg := row[outY*outW : (outY+1)*outW]
					inY := outY*l.Stride - l.Pad + ky
					if inY < 0 || inY >= inH {
						clear(seg) // padding: real 0
						continue
					}
					line := plane[inY*inW : (inY+1)*inW]
					inX := kx - l.Pad
					for outX := range seg {
						if inX >= 0 && inX < inW {
							seg[outX] = int16(line[inX]) - z
						} else {
							seg[outX] = 0
						}
						inX += l.Stride
					}
				}
			}
		}
	}
}
