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
//     the slack and are dropped). Each int32 holds a code and its right
//     neighbour as int16 halves, and two adjacent nonzero taps (kx, kx+1)
//     of a filter are one entry with both weights (convPairs), so one
//     VPMADDWD lane computes both products.
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
// channel-major; a fused 2x2 pool takes them straight to the dense path's
// position-major rows (qgemm.Pool2x2T), otherwise they are transposed there,
// so requantization (and other pools) are shared.

// sparsePolicy is how the SIMD engine chooses sparse layers.
type sparsePolicy uint8

const (
	sparseAuto   sparsePolicy = iota // by the cost model (simdSparse)
	sparseNever                      // every layer dense (PathDense)
	sparseAlways                     // every layer that can (tests), FullyConnected at any batch
)

func (s sparsePolicy) use(l Layer, h, w, xmax int) bool {
	switch s {
	case sparseAuto:
		return simdSparse(l, h, w, xmax)
	case sparseAlways:
		return simdSparseable(l, h, w)
	}
	return false
}

// The SIMD engine's choice (PathAuto), calibrated with BenchmarkSIMDCrossover
// on this Zen 3 (docs/DEVELOPING.md, "Sparse path"):
//
//   - A Conv2D runs sparse when simdSparseConvCost times its sparse
//     multiply-add slots, entries x outH x ceil(outW/8)*8 (entries:
//     nonzeros, two horizontal neighbours counted once), is at most
//     simdSparseConvDense times the dense kernel's, outH*outW x Kp x
//     Blocks*8 (K rounded up to 4, channels to 8; both as qgemm.Pack). With
//     tap pairs, the crossover measured for conv2 (20x12x12 -> 50, 5x5)
//     was about 80% kept, where its entries' slots are about half the
//     dense ones (2/1 is used); conv1 (1x28x28 -> 20, 5x5) ran faster on
//     the sparse path at every density up to 100% (the dense path's im2col
//     of 5-code runs, K = 25 padded to 28, 20 channels padded to 24), and
//     2/1 chooses it there too. Where the dense kernel is VPMADDUBSW
//     (Narrow: twice the multiply-adds per instruction) a sparse slot is
//     counted twice as dear (4/1; not measured: no pruned 4-bit model).
//   - A FullyConnected layer runs sparse when at most simdSparseFC in 256 of
//     its weights are nonzero (the crossover measured: about 20% kept at
//     blocks of 8 images, 25-30% at 32), and only for blocks of at least
//     sparseFCMinBatch images.
const (
	simdSparseConvCost  = 2
	simdSparseConvDense = 1
	simdSparseFC        = 48
	sparseFCMinBatch    = 8
	minNarrowSteps      = 4 // qgemm.Pack's: the fewest int16 steps for VPMADDUBSW
)

// sparseMaxBytes bounds the buffers of one layer's sparse path
// (sparseBufBytes); larger layers run dense, so the sparse path adds at
// most this much to a Runner (RunnerBytes).
const sparseMaxBytes = 4 << 20

// sparseBufBytes returns the bytes of the sparse path's buffers for l on
// h x w inputs: a Conv2D's int32 input planes and channel-major
// accumulators, or a FullyConnected layer's block of simdBlock transposed
// int32 inputs and its accumulators.
func sparseBufBytes(l Layer, h, w int) int64 {
	switch l := l.(type) {
	case *Conv2D:
		ph, pw := int64(h)+2*int64(l.Pad), int64(w)+2*int64(l.Pad)
		oh, ow := ph-int64(l.KH)+1, pw-int64(l.KW)+1 // stride 1
		return 4*(int64(l.InC)*ph*pw+bufSlack) + 4*int64(l.OutC)*max(oh, 0)*((max(ow, 0)+7)&^7)
	case *FullyConnected:
		return 4*(simdBlock*int64(l.In)+bufSlack) + 4*int64(l.Out)*simdBlock
	}
	return 0
}

// simdSparseable reports whether the sparse path can run l on h x w
// inputs: a Conv2D of stride 1 or a FullyConnected layer, with buffers of
// at most sparseMaxBytes.
func simdSparseable(l Layer, h, w int) bool {
	switch l := l.(type) {
	case *Conv2D:
		return l.Stride == 1 && sparseBufBytes(l, h, w) <= sparseMaxBytes
	case *FullyConnected:
		return sparseBufBytes(l, h, w) <= sparseMaxBytes
	}
	return false
}

// simdSparse reports whether the SIMD engine runs l, on inputs of h x w
// pixels with codes up to xmax, sparse (PathAuto).
func simdSparse(l Layer, h, w, xmax int) bool {
	if !simdSparseable(l, h, w) {
		return false
	}
	nonzero := func(ws []int8) (nz, wmax int) {
		for _, v := range ws {
			if v != 0 {
				nz++
			}
			wmax = max(wmax, int(v), -int(v))
		}
		return nz, wmax
	}
	switch l := l.(type) {
	case *Conv2D:
		_, wmax := nonzero(l.Weights)
		nz := 0 // entries: nonzeros, a horizontal pair counted once
		convPairs(l, func(int, int, int, int, int8, int8) { nz++ })
		_, oh, ow, err := l.OutShape(l.InC, h, w)
		if err != nil {
			return false
		}
		k := l.InC * l.KH * l.KW
		sparse := int64(nz) * int64(oh) * int64((ow+7)&^7)
		dense := int64(oh) * int64(ow) * int64((k+3)&^3) * int64((l.OutC+7)&^7)
		cost := int64(simdSparseConvCost)
		if 32767/(2*max(xmax, 1)*max(wmax, 1)) >= minNarrowSteps { // Pack's Narrow rule
			cost *= 2
		}
		return sparse*cost <= dense*simdSparseConvDense
	case *FullyConnected:
		nz, _ := nonzero(l.Weights)
		return nz*256 <= simdSparseFC*len(l.Weights)
	}
	return false
}

// convPairs calls f for every entry of l's sparse form, filter o, tap
// (c, ky, kx): the nonzero weight a there, paired with the weight b at kx+1
// when both are nonzero (greedily, left to right; b = 0 and the next tap
// left alone otherwise).
func convPairs(l *Conv2D, f func(o, c, ky, kx int, a, b int8)) {
	for o := 0; o < l.OutC; o++ {
		for c := 0; c < l.InC; c++ {
			for ky := 0; ky < l.KH; ky++ {
				row := l.Weights[((o*l.InC+c)*l.KH+ky)*l.KW:][:l.KW]
				for kx := 0; kx < l.KW; kx++ {
					a, b := row[kx], int8(0)
					if a == 0 {
						continue
					}
					if kx+1 < l.KW && row[kx+1] != 0 {
						b = row[kx+1]
					}
					f(o, c, ky, kx, a, b)
					if b != 0 {
						kx++
					}
				}
			}
		}
	}
}

// sparseConv prepares the sparse form of a Conv2D plan (stride 1): its
// entries (convPairs) at their plane offsets, each weight pair packed as
// int16 halves (a low, b high) for inputs holding (x[p], x[p+1]).
func (p *vplan) sparseConv() {
	l := p.conv
	p.ph, p.pw = p.inH+2*l.Pad, p.inW+2*l.Pad
	p.ow8 = (p.outW + 7) &^ 7
	lists := make([][]int32, l.OutC)
	convPairs(l, func(o, c, ky, kx int, a, b int8) {
		w := int32(uint16(int16(a))) | int32(b)<<16
		lists[o] = append(lists[o], int32(c*p.ph*p.pw+ky*p.pw+kx), w)
	})
	p.sp = qgemm.SparseFromLists(lists)
}

// convSparse computes the accumulators of one HWC image at src into
// e.sacc, channel-major: channel j's row oy at sacc[(j*outH + oy)*ow8:].
func (e *engine) convSparse(p *vplan, src []uint8) {
	// Every int32 of the planes holds a code and its right neighbour,
	// (x[y][x], x[y][x+1]) as int16 halves, for the pair entries. A pair
	// entry (kx, kx+1) read by a kept lane ox < outW takes columns up to
	// outW-1 + KW-1 = pw-1, so the high half of a row's last column is
	// never multiplied by a nonzero weight (single entries have 0 there)
	// except in dropped lanes: it is left as z.
	l := p.conv
	c, pw, ph, pad := l.InC, p.pw, p.ph, l.Pad
	plane := ph * pw
	x := e.xi[:c*plane+bufSlack]
	z := int32(p.zero)
	zz := z | z<<16
	if pad > 0 { // the padding: every plane's first and last pad rows, and the pad columns between
		for ch := 0; ch < c; ch++ {
			pl := x[ch*plane : (ch+1)*plane]
			for y := 0; y < ph; y++ {
				row := pl[y*pw : (y+1)*pw]
				if y < pad || y >= pad+p.inH {
					for i := range row {
						row[i] = zz
					}
					continue
				}
				for i := 0; i < pad; i++ {
					row[i], row[pw-1-i] = zz, zz
				}
			}
		}
	}
	for ch := 0; ch < c; ch++ {
		pl := x[ch*plane : (ch+1)*plane]
		for iy := 0; iy < p.inH; iy++ {
			row := pl[(iy+pad)*pw+pad : (iy+pad)*pw+pad+p.inW]
			s := src[iy*p.inW*c+ch:]
			prev := int32(s[0])
			if pad > 0 { // the left padding's last column pairs z with the first code
				pl[(iy+pad)*pw+pad-1] = z | prev<<16
			}
			for ix := 1; ix < len(row); ix++ {
				q := int32(s[ix*c])
				row[ix-1] = prev | q<<16
				prev = q
			}
			row[len(row)-1] = prev | z<<16 // the right padding's z (or, without padding, never used)
		}
	}
	ow8, rows := p.ow8, p.outH*p.ow8
	sacc := e.sacc[:p.outC*rows]
	for cv := 0; cv < ow8; cv += 8 {
		p.sp.Mul(e.lv, sacc[cv:], rows, ow8, x[cv:], pw, p.outH, p.bias)
	}
}

// sparseRows transposes convSparse's accumulators to acc: outH*outW rows
// of w.Cols() (channels past OutC left alone).
func (e *engine) sparseRows(p *vplan, acc []int32) {
	ow8, rows, cols := p.ow8, p.outH*p.ow8, p.w.Cols()
	for j := 0; j < p.outC; j++ {
		s := e.sacc[j*rows:]
		for oy := 0; oy < p.outH; oy++ {
			a := acc[oy*p.outW*cols+j:]
			for ox, v := range s[oy*ow8 : oy*ow8+p.outW] {
				a[ox*cols] = v
			}
		}
	}
}

// sparsePool max-pools convSparse's accumulators (the fused MaxPool2D) into
// pacc: poolH*poolW rows of w.Cols() (channels past OutC left alone).
func (e *engine) sparsePool(p *vplan, pacc []int32) {
	ow8, rows, cols := p.ow8, p.outH*p.ow8, p.w.Cols()
	k, st := p.poolK, p.poolS
	if k == 2 && st == 2 { // LeNet's pool: qgemm's kernel
		qgemm.Pool2x2T(e.lv, pacc, cols, e.sacc[:p.outC*rows], ow8, rows, p.outC, p.poolH, p.poolW)
		return
	}
	for j := 0; j < p.outC; j++ {
		s := e.sacc[j*rows : (j+1)*rows]
		for py := 0; py < p.poolH; py++ {
			for px := 0; px < p.poolW; px++ {
				base := py*st*ow8 + px*st
				m := s[base]
				for ky := 0; ky < k; ky++ {
					for _, v := range s[base+ky*ow8 : base+ky*ow8+k] {
						m = max(m, v)
					}
				}
				pacc[(py*p.poolW+px)*cols+j] = m
			}
		}
	}
}

// fcSparse sets acc (n rows of w.Cols() accumulators, channels past Out
// left alone) for n images of p.inLen codes at src.
func (e *engine) fcSparse(p *vplan, acc []int32, src []uint8, n int) {
	if n > simdBlock {
		panic("qnet: fcSparse: block larger than simdBlock") // Runner blocks are at most simdBlock
	}
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
