package qnet

import "github.com/qatgo/qatgo/export/qnet/internal/qgemm"

// The SIMD engine's sparse path (qgemm.Sparse): a pruned layer keeps the
// list of its nonzero weights per output channel and multiplies each into
// vectors of 8 int32 inputs, so its cost follows the nonzeros.
//
//   - Conv2D (stride 1): the input is widened once per image into padded
//     CHW planes of int32, x[c][y][x] (ph = inH + 2 Pad rows of pw = inW +
//     2 Pad codes; the padding holds InputZero, as in the reference). For
//     stride 1, output positions (oy, ox..ox+7) read, for tap (c, ky, kx),
//     the 8 consecutive codes x[c][oy+ky][ox+kx..], so a nonzero weight at
//     offset c*ph*pw + ky*pw + kx multiplies a vector loaded at oy*pw + ox.
//     Rows are vectors ldx = pw apart; a row of outW positions takes
//     ceil(outW/8) vectors (lanes past outW read codes of the next row or
//     the slack and are dropped).
//   - FullyConnected: a block of n <= 32 images (simdBlock) is laid out
//     transposed, x[k][i] = q_i[k] (0 for images past n rounded up to 8),
//     32 per tap, and tap k's weight sits at offset 32k: vector v holds
//     input k of images 8v..8v+7, and the vectors of one tap share two
//     cache lines.
//     With fewer than sparseFCMinBatch images the dense kernels run (one
//     image fills one lane of 8).
//
// The bias is the dense path's (Bias - InputZero sum W), so the sum is
// the same int32 total without its zero terms. The accumulators come out
// channel-major and are transposed to the dense path's position-major rows,
// so pooling and requantization are shared.

// sparsePolicy is how the SIMD engine chooses sparse layers.
type sparsePolicy uint8

const (
	sparseAuto   sparsePolicy = iota // by density (simdSparse)
	sparseNever                      // every layer dense (PathDense)
	sparseAlways                     // every layer that can (tests), FullyConnected at any batch
)

func (s sparsePolicy) use(l Layer) bool {
	switch s {
	case sparseAuto:
		return simdSparse(l)
	case sparseAlways:
		return simdSparseable(l)
	}
	return false
}

// The crossover of the SIMD engine's sparse path: a layer runs sparse when
// at most this many in 256 of its weights are nonzero (docs/DEVELOPING.md,
// "Sparse path": measured with BenchmarkSIMDCrossover), and a
// FullyConnected layer only for blocks of at least sparseFCMinBatch images.
const (
	simdSparseConv2D = 64
	simdSparseFC     = 48
	sparseFCMinBatch = 8
)

// simdSparseable reports whether the sparse path can run l: a Conv2D of
// stride 1 or a FullyConnected layer.
func simdSparseable(l Layer) bool {
	switch l := l.(type) {
	case *Conv2D:
		return l.Stride == 1
	case *FullyConnected:
		return true
	}
	return false
}

// simdSparse reports whether the SIMD engine runs l sparse (PathAuto).
func simdSparse(l Layer) bool {
	if !simdSparseable(l) {
		return false
	}
	var w []int8
	limit := 0
	switch l := l.(type) {
	case *Conv2D:
		w, limit = l.Weights, simdSparseConv2D
	case *FullyConnected:
		w, limit = l.Weights, simdSparseFC
	}
	nz := 0
	for _, v := range w {
		if v != 0 {
			nz++
		}
	}
	return nz*256 <= limit*len(w)
}

// sparseConv prepares the sparse form of a Conv2D plan (stride 1): the
// nonzero weights at their plane offsets.
func (p *vplan) sparseConv() {
	l := p.conv
	p.ph, p.pw = p.inH+2*l.Pad, p.inW+2*l.Pad
	p.ow8 = (p.outW + 7) &^ 7
	khw := l.KH * l.KW
	p.sp = qgemm.NewSparse(l.Weights, l.OutC, l.InC*khw, func(t int) int32 {
		c, ky, kx := t/khw, t%khw/l.KW, t%l.KW // OIHW: t = (c*KH + ky)*KW + kx
		return int32(c*p.ph*p.pw + ky*p.pw + kx)
	})
}

// convSparse sets acc (outH*outW rows of w.Cols() accumulators, channels
// past OutC left alone) for one HWC image at src.
func (e *engine) convSparse(p *vplan, acc []int32, src []uint8) {
	l := p.conv
	c, pw, ph := l.InC, p.pw, p.ph
	x := e.xi[:c*ph*pw+bufSlack]
	z := int32(p.zero)
	for y := 0; y < ph; y++ {
		iy := y - l.Pad
		for xx := 0; xx < pw; xx++ {
			ix := xx - l.Pad
			d := x[y*pw+xx:]
			if iy < 0 || iy >= p.inH || ix < 0 || ix >= p.inW {
				for ch := 0; ch < c; ch++ {
					d[ch*ph*pw] = z
				}
				continue
			}
			for ch, q := range src[(iy*p.inW+ix)*c : (iy*p.inW+ix+1)*c] {
				d[ch*ph*pw] = int32(q)
			}
		}
	}
	ow8, rows := p.ow8, p.outH*p.ow8
	sacc := e.sacc[:p.outC*rows]
	for cv := 0; cv < ow8; cv += 8 {
		p.sp.Mul(e.lv, sacc[cv:], rows, ow8, x[cv:], pw, p.outH, p.bias)
	}
	cols := p.w.Cols()
	for j := 0; j < p.outC; j++ {
		s := sacc[j*rows:]
		for oy := 0; oy < p.outH; oy++ {
			a := acc[oy*p.outW*cols+j:]
			for ox, v := range s[oy*ow8 : oy*ow8+p.outW] {
				a[ox*cols] = v
			}
		}
	}
}

// fcSparse sets acc (n rows of w.Cols() accumulators, channels past Out
// left alone) for n images of p.inLen codes at src.
func (e *engine) fcSparse(p *vplan, acc []int32, src []uint8, n int) {
	k := p.inLen
	n8 := (n + 7) &^ 7
	x := e.xi[:simdBlock*k+bufSlack]
	for i := 0; i < n8; i++ {
		if i >= n {
			for t := 0; t < k; t++ {
				x[t*simdBlock+i] = 0
			}
			continue
		}
		for t, q := range src[i*k : (i+1)*k] {
			x[t*simdBlock+i] = int32(q)
		}
	}
	sacc := e.sacc[:p.outC*n8]
	p.sp.Mul(e.lv, sacc, n8, 8, x, 8, n8/8, p.bias)
	cols := p.w.Cols()
	for j := 0; j < p.outC; j++ {
		for img, v := range sacc[j*n8 : j*n8+n] {
			acc[img*cols+j] = v
		}
	}
}
