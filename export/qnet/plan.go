package qnet

import "github.com/qatgo/qatgo/fakequant"

// The fast path. It computes exactly what the reference kernels compute
// (conv2d.go, fully_connected.go), rearranged as integer matrix products:
//
//   - a convolution becomes im2col + GEMM: every output position gets a row
//     of its K = InC*KH*KW input taps, and out[c][pos] is the dot product of
//     that row with filter c;
//   - a fully connected layer over a block of n images is a GEMM whose rows
//     are the images.
//
// Inputs are centered first, d = q - InputZero (padding taps are 0), so the
// dot products are exactly the reference sums sum_k d[k] W[c][k] and no
// zero-point correction is needed.
//
// # Lane packing
//
// Several output channels share one int64 multiply. The weights of lanes
// channels are packed into one int64 word per tap,
//
//	word[k] = sum_i W[c+i][k] * 2^(i*L),   L = 64/lanes (32, 21 or 16 bits)
//
// so that d[k]*word[k] = sum_i d[k] W[c+i][k] 2^(i*L), and summing over k
// accumulates every channel's dot product in its own lane. This is exact as
// long as every lane's running sum a_i stays within |a_i| < 2^(L-1): then
// the int64 sum is the exact integer sum_i a_i 2^(i*L) (its magnitude is
// below 2^63) and unpackLanes recovers each a_i:
//
//   - 2 lanes of 32 bits: any partial sum of a channel is bounded by
//     sum_k |d||W| < 2^31, the accumulator bound Validate enforces, so a
//     dot product runs over all K taps at once;
//   - 3 lanes of 21 bits, 4 lanes of 16 bits: a run of n taps is bounded by
//     n * max|d| * max|W|, so the plan splits K into runs (chunk) of at most
//     (2^(L-1)-1) / (max|d| max|W|) taps and unpacks after each. With 4-bit
//     weights and activations that is 312 taps per run in 16-bit lanes.
//
// newPlan picks the lane count with the least estimated work per layer.
// Channels are processed in groups of 4 words (4*lanes channels); a partial
// last group is padded with zero weights.

// layerPlan is the precomputed form of one layer for a Runner.
type layerPlan struct {
	kind             LayerKind
	inC, inH, inW    int
	outC, outH, outW int
	inLen, outLen    int // elements of one image's input and output

	conv *Conv2D
	fc   *FullyConnected
	pool *MaxPool2D
	avg  *AvgPool2D
	aff  affine

	z, lo, hi int32              // AvgPool2D: its input's zero point and range
	rounding  fakequant.Rounding // AvgPool2D: the model's rule

	k        int     // taps per output (Conv2D: InC*KH*KW, FullyConnected: In)
	lanes    int     // channels per int64 word: 2, 3 or 4
	laneBits uint    // 64/lanes
	chunk    int     // taps per run between unpacks
	groups   int     // groups of 4 words = 4*lanes channels
	cost     int64   // estimated dot4x64 steps per output column
	packed   []int64 // groups x 4 words x k taps; nil on the sparse path

	sparse   bool    // run the sparse kernel (sparse.go) instead of the lanes
	rowStart []int32 // sparse: the nonzeros of channel c are taps/vals[rowStart[c]:rowStart[c+1]]
	taps     []int32 // sparse: tap index of every nonzero weight
	vals     []int32 // sparse: its weight
	tapUsed  []bool  // sparse: taps that some nonzero weight reads
}

// newPlan prepares layer l for an input of shape (c, h, w) whose values lie
// in [lo, hi] with zero point z, on the given path. A nonzero lanes forces
// that lane count of the dense path where it is feasible (tests).
func newPlan(l Layer, c, h, w int, z, lo, hi int32, lanes int, path KernelPath, r fakequant.Rounding) layerPlan {
	oc, oh, ow, err := l.OutShape(c, h, w)
	if err != nil {
		panic("qnet: " + err.Error()) // the model was validated
	}
	p := layerPlan{
		kind: l.Kind(), inC: c, inH: h, inW: w, outC: oc, outH: oh, outW: ow,
		inLen: c * h * w, outLen: oc * oh * ow,
	}
	switch l := l.(type) {
	case *Conv2D:
		p.conv, p.aff = l, l.affine()
	case *FullyConnected:
		p.fc, p.aff = l, l.affine()
	case *MaxPool2D:
		p.pool = l
		return p
	case *AvgPool2D:
		p.avg, p.z, p.lo, p.hi, p.rounding = l, z, lo, hi, r
		return p
	}
	p.aff.rounding = r
	p.k = p.aff.cols
	p.choose(int64(max(z-lo, hi-z)), lanes)
	switch path {
	case PathSparse:
		p.sparse = true
	case PathAuto:
		p.sparse = p.sparseCheaper()
	}
	if p.sparse {
		p.buildSparse()
	} else {
		p.pack()
	}
	return p
}

// choose sets lanes, laneBits, chunk and groups, given the largest |q - Z|
// of the input, minimizing the estimated work: multiplies plus a fixed cost
// per run (call and unpack). 2 lanes are always feasible.
func (p *layerPlan) choose(maxIn int64, force int) {
	var maxW int64
	for _, v := range p.aff.weights {
		maxW = max(maxW, int64(absInt8(v)))
	}
	perTap := maxIn * maxW // largest |d * W| of one tap
	bestCost := int64(-1)
	for lanes := 2; lanes <= 4; lanes++ {
		bits := uint(64 / lanes)
		chunk := p.k // 2 lanes: bounded by the accumulator bound
		if lanes > 2 && perTap > 0 {
			chunk = int(min(int64(p.k), (int64(1)<<(bits-1)-1)/perTap))
		}
		if chunk < 1 {
			continue
		}
		groups := (p.aff.rows + 4*lanes - 1) / (4 * lanes)
		runs := (p.k + chunk - 1) / chunk
		cost := int64(groups) * int64(p.k+runs*(8+2*lanes))
		if lanes == force {
			p.lanes, p.laneBits, p.chunk, p.groups, p.cost = lanes, bits, chunk, groups, cost
			return
		}
		if bestCost < 0 || cost < bestCost {
			bestCost = cost
			p.lanes, p.laneBits, p.chunk, p.groups, p.cost = lanes, bits, chunk, groups, cost
		}
	}
}

// pack builds the lane-packed weights: channel c is lane c%lanes of word
// (c/lanes)%4 of group c/(4*lanes).
func (p *layerPlan) pack() {
	k, per := p.k, 4*p.lanes
	p.packed = make([]int64, p.groups*4*k)
	for c := 0; c < p.aff.rows; c++ {
		g, r := c/per, c%per
		word, lane := r/p.lanes, r%p.lanes
		dst := p.packed[(g*4+word)*k : (g*4+word+1)*k]
		for j, v := range p.aff.weights[c*k : (c+1)*k] {
			dst[j] += int64(v) << (uint(lane) * p.laneBits)
		}
	}
}

// scratchLen returns the centered-input scratch one image of a Conv2D
// needs, or n images of a FullyConnected.
func (p *layerPlan) scratchLen(n int) int {
	switch p.kind {
	case KindConv2D:
		return p.outH * p.outW * p.k
	case KindFullyConnected:
		return n * p.k
	}
	return 0
}

// convFast computes one image of a Conv2D layer: dst (OutC, outH, outW) from
// src (InC, inH, inW), using xs (at least scratchLen(1)) as scratch.
func (p *layerPlan) convFast(dst, src []uint8, xs []int16) {
	positions := p.outH * p.outW
	xs = xs[:positions*p.k]
	im2col(xs, src, p.conv, p.inH, p.inW, p.outH, p.outW)
	// out[c][pos]: channel stride = positions, position stride = 1.
	p.gemm(dst, positions, 1, xs, positions)
}

// fcBatch computes a FullyConnected layer for n images: dst is n rows of
// Out, src n rows of In; xs (at least scratchLen(n)) is scratch.
func (p *layerPlan) fcBatch(dst, src []uint8, n int, xs []int16) {
	xs = xs[:n*p.k]
	z := int16(p.aff.inZero)
	for i, q := range src[:n*p.k] {
		xs[i] = int16(q) - z
	}
	// out[j][c]: channel stride = 1, image stride = Out.
	p.gemm(dst, 1, p.outLen, xs, n)
}

// im2col writes, for every output position pos = outY*outW + outX, the row
//
//	cols[pos*K + (inC*KH+ky)*KW + kx] = src[inC][outY*Stride-Pad+ky][outX*Stride-Pad+kx] - InputZero
//
// (0 where that tap falls in the padding), in the OIHW order of a filter, so
// that a row dotted with a filter is the reference's sum.
func im2col(cols []int16, src []uint8, l *Conv2D, inH, inW, outH, outW int) {
	z := int16(l.InputZero)
	k := l.InC * l.KH * l.KW
	for outY := 0; outY < outH; outY++ {
		for outX := 0; outX < outW; outX++ {
			row := cols[(outY*outW+outX)*k : (outY*outW+outX+1)*k]
			inX0 := outX*l.Stride - l.Pad
			for inC := 0; inC < l.InC; inC++ {
				for ky := 0; ky < l.KH; ky++ {
					seg := row[(inC*l.KH+ky)*l.KW : (inC*l.KH+ky+1)*l.KW]
					inY := outY*l.Stride - l.Pad + ky
					if inY < 0 || inY >= inH {
						clear(seg) // padding: real 0
						continue
					}
					line := src[(inC*inH+inY)*inW : (inC*inH+inY+1)*inW]
					for kx := range seg {
						if inX := inX0 + kx; inX >= 0 && inX < inW {
							seg[kx] = int16(line[inX]) - z
						} else {
							seg[kx] = 0
						}
					}
				}
			}
		}
	}
}

// gemm computes, for every channel c and every row j < n of the centered
// inputs x (n rows of k taps),
//
//	dst[c*cStride + j*jStride] = Requantize(Bias[c] + sum_k x[j][k] W[c][k], Multiplier[c], Shift[c], ...)
//
// one group of 4*lanes channels at a time.
func (p *layerPlan) gemm(dst []uint8, cStride, jStride int, x []int16, n int) {
	a := &p.aff
	k, per := p.k, 4*p.lanes
	var acc [16]int32
	for g := 0; g < p.groups; g++ {
		c0 := g * per
		nc := min(per, a.rows-c0)
		for j := 0; j < n; j++ {
			p.accumulate(acc[:per], x[j*k:(j+1)*k], g)
			for i := 0; i < nc; i++ {
				c := c0 + i
				dst[c*cStride+j*jStride] = Requantize(a.rounding, a.bias[c]+acc[i], a.multiplier[c], a.shift[c], a.outZero, a.actMin, a.actMax)
			}
		}
	}
}

// accumulate sets acc[0:4*lanes] to the dot products of the centered input
// row x (k taps) with the 4*lanes channels of group g, in runs of chunk taps.
func (p *layerPlan) accumulate(acc []int32, x []int16, g int) {
	k, lanes, bits := p.k, p.lanes, p.laneBits
	w := p.packed[g*4*k : (g+1)*4*k]
	w0, w1, w2, w3 := w[:k], w[k:2*k], w[2*k:3*k], w[3*k:]
	clear(acc)
	for k0 := 0; k0 < k; k0 += p.chunk {
		k1 := min(k0+p.chunk, k)
		s0, s1, s2, s3 := dot4x64(x[k0:k1], w0[k0:k1], w1[k0:k1], w2[k0:k1], w3[k0:k1])
		unpackLanes(acc[0*lanes:], s0, lanes, bits)
		unpackLanes(acc[1*lanes:], s1, lanes, bits)
		unpackLanes(acc[2*lanes:], s2, lanes, bits)
		unpackLanes(acc[3*lanes:], s3, lanes, bits)
	}
}
