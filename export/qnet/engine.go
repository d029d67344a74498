package qnet

import (
	"github.com/qatgo/qatgo/export/qnet/internal/qgemm"
	"github.com/qatgo/qatgo/fakequant"
)

// The SIMD engine: the Runner's default on CPUs with AVX2 (and AVX-512
// VNNI), with the kernels of package qgemm. It computes exactly what the
// reference kernels compute (conv2d.go, fully_connected.go, maxpool.go,
// avgpool.go; an AvgPool2D sums its windows on HWC codes in Go and
// requantizes the sums with qgemm's kernels, engine_avgpool.go):
//
//   - Activations are kept HWC (channels innermost) between layers, so an
//     im2col row is KH runs of KW*InC contiguous codes. The weights are
//     permuted once to match: Conv2D filters from OIHW to O,KH,KW,I, and a
//     FullyConnected layer's columns from the CHW flattening to HWC. The
//     model's input is transposed to HWC when it has several channels, and
//     the last output back to CHW, so nothing outside sees the layout.
//   - Conv2D is im2col (raw codes; padding taps hold InputZero, real 0) and
//     qgemm.Gemm with one row per output position; FullyConnected is
//     qgemm.Gemm with one row per image of a block (PredictBatch), a real
//     matrix product that reads every weight once per block.
//   - The kernels multiply raw codes q by weights; the input zero point Z
//     is folded into the bias: Bias[c] - Z sum_k W[c][k] (exact in int32
//     arithmetic, see package qgemm).
//   - A Conv2D followed by a MaxPool2D pools the int32 accumulators before
//     requantizing them (Forward, Predict, PredictBatch; Trace keeps the
//     layers apart). This is exact: requantization is non-decreasing in
//     the accumulator (SRDHM, RoundingDivideByPOT, the single rounding's
//     floor((acc M + 2^(t-1)) / 2^t) with M >= 0, and the clamp all are), so
//     max_i Requantize(acc_i) = Requantize(max_i acc_i), and it
//     requantizes a quarter of the values for 2x2 pooling.

// vplan is one layer on the SIMD engine.
type vplan struct {
	kind             LayerKind
	inC, inH, inW    int
	outC, outH, outW int
	inLen, outLen    int

	conv *Conv2D
	pool *MaxPool2D
	avg  *avgPlan // AvgPool2D (engine_avgpool.go)
	w    *qgemm.Packed
	rq   *qgemm.Requant
	bias []int32 // Bias[c] - InputZero*sum_k W[c][k], w.Cols() entries
	zero uint8   // input zero point: the code of padding taps

	im2col *qgemm.Runs // Conv2D: im2col runs, outH*outW x KH source offsets (qgemm.Gather)
	mixed  []int32     // Conv2D: the runs (pos*KH + ky) that straddle the padding, offset -2

	sp       *qgemm.Sparse // the nonzero weights, if the layer runs sparse (simdSparse); nil: dense only
	pw, ph   int           // sparse Conv2D: the input planes with their padding, width and height
	ow8      int           // sparse Conv2D: outW rounded up to 8 (accumulator row length)
	sparseFC int           // sparse FullyConnected: the fewest images of a block that run sparse

	fuse         bool // Conv2D whose next layer, a MaxPool2D, pools its accumulators (forward only)
	poolK, poolS int  // the fused pool
	poolH, poolW int  // its output
}

// engine is the SIMD engine's state: plans and buffers of one Runner.
type engine struct {
	lv     qgemm.Level
	plans  []vplan
	inHWC  bool // the input has channels and pixels: transpose it to HWC
	copyIn bool // the input is copied (or transposed) into in
	outCHW bool // the output has channels and pixels: transpose it to CHW
	inLen  int
	outLen int
	maxAct int // largest activation forward writes, per image

	cap     int // images the block buffers hold
	convAcc int // accumulators of the largest Conv2D (one image)
	convX   int // im2col inputs of the largest Conv2D
	bufs    [2][]uint8
	in      []uint8 // HWC input
	out     []uint8 // CHW output
	x8      []uint8 // im2col rows or FullyConnected inputs (byte levels)
	x16     []int16 // the same, widened (LevelAVX2)
	acc     []int32 // accumulators: one image of a Conv2D, or a block of a FullyConnected
	xi      []int32 // sparse layers' inputs: padded CHW planes, or a block in vectors of 8 images
	sacc    []int32 // sparse layers' accumulators, channel-major
	pacc    []int32 // pooled accumulators
	prow    []int32 // one row of vertically pooled accumulators
	asum    []int32 // an AvgPool2D's window sums: one row of channels (rounded up to 8) per output position
}

// bufSlack covers what the kernels touch past an activation: requantization
// writes whole blocks of 8 channels, Gemm reads inputs up to K rounded up to 4.
const bufSlack = 16

func newEngine(m *Model, lv qgemm.Level, sparse sparsePolicy) *engine {
	e := &engine{lv: lv, inLen: m.InC * m.InH * m.InW}
	e.inHWC = m.InC > 1 && m.InH*m.InW > 1
	// Gather reads up to 15 bytes past a run: a Conv2D reads its input from
	// the engine's buffers, which have slack.
	_, first := m.Layers[0].(*Conv2D)
	e.copyIn = e.inHWC || first
	c, h, w := m.InC, m.InH, m.InW
	z, lo, hi := m.InputZero, int32(0), int32(255) // the input's zero point and range
	single := m.Rounding == fakequant.RoundSingle
	for _, l := range m.Layers {
		xmax := int(max(hi, z)) // largest input code, padding included
		oc, oh, ow, err := l.OutShape(c, h, w)
		if err != nil {
			panic("qnet: " + err.Error()) // the model was validated
		}
		p := vplan{kind: l.Kind(), inC: c, inH: h, inW: w, outC: oc, outH: oh, outW: ow,
			inLen: c * h * w, outLen: oc * oh * ow}
		switch l := l.(type) {
		case *Conv2D:
			p.conv = l
			p.prepare(lv, l.affine(), convHWC(l), xmax, single)
			p.runs()
			if sparse.use(l, h, w, xmax) {
				p.sparseConv()
			}
		case *FullyConnected:
			hwc := fcHWC(l, c, h, w)
			p.prepare(lv, l.affine(), hwc, xmax, single)
			if sparse.use(l, h, w, xmax) {
				p.sp = qgemm.NewSparse(hwc, l.Out, l.In, func(t int) int32 { return int32(simdBlock * t) })
				p.sparseFC = sparseFCMinBatch
				if sparse == sparseAlways {
					p.sparseFC = 1
				}
			}
		case *MaxPool2D:
			p.pool = l
		case *AvgPool2D:
			p.avg = newAvgPlan(l, c, oh*ow, z, lo, hi, single)
			e.asum = make([]int32, max(len(e.asum), p.avg.accLen()))
		}
		e.plans = append(e.plans, p)
		c, h, w = oc, oh, ow
		z, lo, hi = l.quantized(z, lo, hi)
	}
	for i := range e.plans {
		p := &e.plans[i]
		if p.kind == KindConv2D && i+1 < len(e.plans) && e.plans[i+1].kind == KindMaxPool2D {
			q := &e.plans[i+1]
			p.fuse, p.poolK, p.poolS, p.poolH, p.poolW = true, q.pool.K, q.pool.Stride, q.outH, q.outW
		}
	}
	maxAcc, maxX := 0, 0
	for i := 0; i < len(e.plans); i++ {
		p := &e.plans[i]
		switch p.kind {
		case KindConv2D:
			rows := p.outH * p.outW
			maxAcc = max(maxAcc, rows*p.w.Cols())
			maxX = max(maxX, rows*p.w.Kp)
			if p.fuse {
				e.maxAct = max(e.maxAct, e.plans[i+1].outLen)
				i++
				continue
			}
		}
		e.maxAct = max(e.maxAct, p.outLen)
	}
	e.outLen = c * h * w
	e.outCHW = c > 1 && h*w > 1
	e.convAcc, e.convX = maxAcc, maxX
	e.grow(1)
	return e
}

// prepare packs the weights (already permuted to the engine's layout) and
// the requantization of an affine layer.
func (p *vplan) prepare(lv qgemm.Level, a affine, w []int8, xmax int, single bool) {
	p.w = qgemm.Pack(lv, w, a.rows, a.cols, xmax)
	p.bias = make([]int32, p.w.Cols())
	for c := 0; c < a.rows; c++ {
		p.bias[c] = a.bias[c] - a.inZero*p.w.Sum[c] // exact modulo 2^32 (qgemm)
	}
	p.rq = qgemm.NewRequant(a.multiplier, a.shift, a.outZero, a.actMin, a.actMax, single, p.w.Blocks)
	p.zero = uint8(a.inZero)
}

// convHWC returns the filters of l in O,KH,KW,I order.
func convHWC(l *Conv2D) []int8 {
	w := make([]int8, len(l.Weights))
	k := l.InC * l.KH * l.KW
	for o := 0; o < l.OutC; o++ {
		for c := 0; c < l.InC; c++ {
			for ky := 0; ky < l.KH; ky++ {
				for kx := 0; kx < l.KW; kx++ {
					w[o*k+(ky*l.KW+kx)*l.InC+c] = l.Weights[o*k+(c*l.KH+ky)*l.KW+kx]
				}
			}
		}
	}
	return w
}

// fcHWC returns the weights of l with the columns in the HWC order of its
// (c, h, w) input.
func fcHWC(l *FullyConnected, c, h, w int) []int8 {
	if c == 1 || h*w == 1 {
		return l.Weights
	}
	out := make([]int8, len(l.Weights))
	for o := 0; o < l.Out; o++ {
		row, dst := l.Weights[o*l.In:(o+1)*l.In], out[o*l.In:(o+1)*l.In]
		for ch := 0; ch < c; ch++ {
			for px := 0; px < h*w; px++ {
				dst[px*c+ch] = row[ch*h*w+px]
			}
		}
	}
	return out
}

// grow makes the block buffers hold n images.
func (e *engine) grow(n int) {
	if n <= e.cap {
		return
	}
	e.cap = n
	maxAcc, maxX := e.convAcc, e.convX
	for i := range e.bufs {
		e.bufs[i] = make([]uint8, n*e.maxAct+bufSlack)
	}
	if e.copyIn {
		e.in = make([]uint8, n*e.inLen+bufSlack)
	}
	if e.outCHW {
		e.out = make([]uint8, n*e.outLen)
	}
	maxPool := 0
	maxRow := 0
	for _, p := range e.plans {
		switch p.kind {
		case KindFullyConnected:
			maxAcc = max(maxAcc, n*p.w.Cols())
			maxX = max(maxX, n*p.w.Kp)
		case KindConv2D:
			if p.fuse {
				maxPool = max(maxPool, p.poolH*p.poolW*p.w.Cols())
				maxRow = max(maxRow, p.outW*p.w.Cols())
			}
		}
	}
	e.acc = make([]int32, maxAcc)
	maxXi, maxSacc := 0, 0
	for _, p := range e.plans {
		switch {
		case p.sp == nil:
		case p.kind == KindConv2D:
			maxXi = max(maxXi, p.conv.InC*p.ph*p.pw)
			maxSacc = max(maxSacc, p.outC*p.outH*p.ow8)
		case n >= p.sparseFC:
			maxXi = max(maxXi, simdBlock*p.inLen) // n <= simdBlock
			maxSacc = max(maxSacc, p.outC*((n+7)&^7))
		}
	}
	if maxXi > 0 {
		e.xi = make([]int32, maxXi+bufSlack)
		e.sacc = make([]int32, maxSacc)
	}
	wide, narrow := false, false
	for _, p := range e.plans {
		if p.w != nil {
			wide, narrow = wide || p.w.Wide(), narrow || !p.w.Wide()
		}
	}
	if wide {
		e.x16 = make([]int16, maxX+bufSlack)
	}
	if narrow {
		e.x8 = make([]uint8, maxX+bufSlack)
	}
	e.pacc = make([]int32, maxPool)
	e.prow = make([]int32, maxRow)
}

// bytes returns the bytes of the engine's own buffers and packed weights.
func (e *engine) bytes() int {
	n := len(e.bufs[0]) + len(e.bufs[1]) + len(e.in) + len(e.out) + len(e.x8) + 2*len(e.x16) +
		4*(len(e.acc)+len(e.pacc)+len(e.prow)+len(e.xi)+len(e.sacc)+len(e.asum))
	for _, p := range e.plans {
		if p.w != nil {
			n += len(p.w.B) + len(p.w.BW) + 4*len(p.w.Sum) + 4*len(p.bias) + 4*len(p.rq.P)
		}
		if p.sp != nil {
			n += 4 * (len(p.sp.E) + len(p.sp.Start))
		}
	}
	return n
}

// forward runs n images (CHW, back to back in src; n <= e.cap) and returns
// the outputs, n*outLen bytes, CHW.
func (e *engine) forward(src []uint8, n int) []uint8 {
	cur := src
	if e.copyIn {
		cur = e.input(src, n)
	}
	side := 0
	for i := 0; i < len(e.plans); i++ {
		p := &e.plans[i]
		dst := e.bufs[side]
		side ^= 1
		switch p.kind {
		case KindConv2D:
			outLen := p.outLen
			if p.fuse {
				outLen = e.plans[i+1].outLen
			}
			for j := 0; j < n; j++ {
				e.conv(p, dst[j*outLen:], cur[j*p.inLen:], p.fuse)
			}
			if p.fuse {
				i++
			}
			cur = dst[:n*outLen]
		case KindFullyConnected:
			e.fc(p, dst, cur, n)
			cur = dst[:n*p.outLen]
		case KindMaxPool2D:
			for j := 0; j < n; j++ {
				poolHWC(dst[j*p.outLen:(j+1)*p.outLen], cur[j*p.inLen:(j+1)*p.inLen], p.pool, p.inC, p.inH, p.inW)
			}
			cur = dst[:n*p.outLen]
		case KindAvgPool2D:
			for j := 0; j < n; j++ {
				avgPoolHWC(e.lv, dst[j*p.outLen:], cur[j*p.inLen:(j+1)*p.inLen], p.avg, p.inC, p.inH, p.inW, e.asum)
			}
			cur = dst[:n*p.outLen]
		}
	}
	if e.outCHW {
		last := &e.plans[len(e.plans)-1]
		for j := 0; j < n; j++ {
			toCHW(e.out[j*e.outLen:(j+1)*e.outLen], cur[j*e.outLen:(j+1)*e.outLen], last.outC, last.outH*last.outW)
		}
		cur = e.out[:n*e.outLen]
	}
	return cur
}

// input copies n images (CHW) into e.in, transposed to HWC if the input
// has channels and pixels, and returns them, with bufSlack bytes of
// capacity after.
func (e *engine) input(src []uint8, n int) []uint8 {
	if !e.inHWC {
		copy(e.in, src[:n*e.inLen])
		return e.in[:n*e.inLen]
	}
	for j := 0; j < n; j++ {
		toHWC(e.in[j*e.inLen:(j+1)*e.inLen], src[j*e.inLen:(j+1)*e.inLen], e.plans[0].inC, e.plans[0].inH*e.plans[0].inW)
	}
	return e.in[:n*e.inLen]
}

// trace runs one image layer by layer, without fusing, and returns a copy
// of every layer's output, CHW.
func (e *engine) trace(img []uint8) [][]uint8 {
	cur := img
	if e.copyIn {
		cur = e.input(img, 1)
	}
	var outs [][]uint8
	for i := range e.plans {
		p := &e.plans[i]
		dst := make([]uint8, p.outLen+bufSlack) // read by the next layer's Gather, written by whole blocks
		switch p.kind {
		case KindConv2D:
			e.conv(p, dst, cur, false)
		case KindFullyConnected:
			e.fc(p, dst, cur, 1)
		case KindMaxPool2D:
			poolHWC(dst, cur, p.pool, p.inC, p.inH, p.inW)
		case KindAvgPool2D:
			avgPoolHWC(e.lv, dst, cur, p.avg, p.inC, p.inH, p.inW, e.asum)
		}
		cur = dst[:p.outLen]
		out := make([]uint8, p.outLen)
		if p.outC > 1 && p.outH*p.outW > 1 {
			toCHW(out, cur, p.outC, p.outH*p.outW)
		} else {
			copy(out, cur)
		}
		outs = append(outs, out)
	}
	return outs
}

// conv computes one image of a Conv2D: HWC in at src, which needs bufSlack
// bytes past the input, HWC out at dst, which needs bufSlack bytes past the
// output; pooled on the accumulators if fuse.
func (e *engine) conv(p *vplan, dst, src []uint8, fuse bool) {
	l := p.conv
	rows := p.outH * p.outW
	cols, kp := p.w.Cols(), p.w.Kp
	acc := e.acc[:rows*cols]
	run := l.KW * l.InC
	if p.sp != nil {
		e.convSparse(p, src)
		if fuse { // pool the channel-major accumulators straight into pacc
			pacc := e.pacc[:p.poolH*p.poolW*cols]
			e.sparsePool(p, pacc)
			p.rq.Rows(e.lv, dst, p.outC, pacc, cols, p.poolH*p.poolW)
			return
		}
		e.sparseRows(p, acc)
	} else if p.w.Wide() {
		x := e.x16[:rows*kp+bufSlack]
		qgemm.Gather16(e.lv, x, kp, src[:p.inLen+bufSlack], p.im2col, rows, p.zero)
		for _, i := range p.mixed {
			mixedRun(x[int(i)/l.KH*kp+int(i)%l.KH*run:][:run], src, l, p.inH, p.inW, p.outW, int(i), int16(p.zero))
		}
		p.w.Gemm16(acc, cols, x, kp, rows, p.bias)
	} else {
		x := e.x8[:rows*kp+bufSlack]
		qgemm.Gather(e.lv, x, kp, src[:p.inLen+bufSlack], p.im2col, rows, p.zero)
		for _, i := range p.mixed {
			mixedRun(x[int(i)/l.KH*kp+int(i)%l.KH*run:][:run], src, l, p.inH, p.inW, p.outW, int(i), p.zero)
		}
		p.w.Gemm(acc, cols, x, kp, rows, p.bias)
	}
	if !fuse {
		p.rq.Rows(e.lv, dst, p.outC, acc, cols, rows)
		return
	}
	// Max pool the accumulators: vertically into prow, then horizontally.
	k, s := p.poolK, p.poolS
	rowLen := p.outW * cols
	prow := e.prow[:rowLen]
	pacc := e.pacc[:p.poolH*p.poolW*cols]
	for oy := 0; oy < p.poolH; oy++ {
		copy(prow, acc[oy*s*rowLen:])
		for ky := 1; ky < k; ky++ {
			qgemm.MaxInto(e.lv, prow, acc[(oy*s+ky)*rowLen:])
		}
		for ox := 0; ox < p.poolW; ox++ {
			d := pacc[(oy*p.poolW+ox)*cols : (oy*p.poolW+ox+1)*cols]
			copy(d, prow[ox*s*cols:])
			for kx := 1; kx < k; kx++ {
				qgemm.MaxInto(e.lv, d, prow[(ox*s+kx)*cols:])
			}
		}
	}
	p.rq.Rows(e.lv, dst, p.outC, pacc, cols, p.poolH*p.poolW)
}

// fc computes a FullyConnected layer for n images: src n rows of In (HWC
// flattening), dst n rows of Out (with bufSlack bytes after).
func (e *engine) fc(p *vplan, dst, src []uint8, n int) {
	k, kp, cols := p.inLen, p.w.Kp, p.w.Cols()
	acc := e.acc[:n*cols]
	if p.sp != nil && n >= p.sparseFC {
		e.fcSparse(p, acc, src, n)
	} else if p.w.Wide() {
		x := e.x16[:n*kp]
		for j := 0; j < n; j++ {
			row := x[j*kp : (j+1)*kp]
			for i, q := range src[j*k : (j+1)*k] {
				row[i] = int16(q)
			}
			clear(row[k:])
		}
		p.w.Gemm16(acc, cols, x, kp, n, p.bias)
	} else {
		x := e.x8[:n*kp]
		for j := 0; j < n; j++ {
			row := x[j*kp : (j+1)*kp]
			copy(row, src[j*k:(j+1)*k])
			clear(row[k:])
		}
		p.w.Gemm(acc, cols, x, kp, n, p.bias)
	}
	p.rq.Rows(e.lv, dst, p.outC, acc, cols, n)
}

// runs sets p.im2col and p.mixed: the im2col row of output position pos is
// KH runs of KW*InC codes, run ky read from input row inY = outY*Stride -
// Pad + ky at pixel inX0 = outX*Stride - Pad (HWC: offset (inY*inW +
// inX0)*InC), or padding (-1) if inY is outside the input, or partly
// padding (-2, mixedRun) if the run crosses the left or right edge.
func (p *vplan) runs() {
	l := p.conv
	offs := make([]int32, p.outH*p.outW*l.KH)
	for outY := 0; outY < p.outH; outY++ {
		for outX := 0; outX < p.outW; outX++ {
			inX0 := outX*l.Stride - l.Pad
			for ky := 0; ky < l.KH; ky++ {
				i := (outY*p.outW+outX)*l.KH + ky
				inY := outY*l.Stride - l.Pad + ky
				switch {
				case inY < 0 || inY >= p.inH:
					offs[i] = -1
				case inX0 < 0 || inX0+l.KW > p.inW:
					offs[i] = -2
					p.mixed = append(p.mixed, int32(i))
				default:
					offs[i] = int32((inY*p.inW + inX0) * l.InC)
				}
			}
		}
	}
	p.im2col = qgemm.NewRuns(offs, l.KH, l.KW*l.InC)
}

// mixedRun writes run i = pos*KH + ky of an im2col row that crosses the
// left or right edge of the input: the codes of the taps inside, zero for
// the others.
func mixedRun[T uint8 | int16](seg []T, src []uint8, l *Conv2D, inH, inW, outW, i int, zero T) {
	c := l.InC
	pos, ky := i/l.KH, i%l.KH
	inY := pos/outW*l.Stride - l.Pad + ky
	inX0 := pos%outW*l.Stride - l.Pad
	line := src[inY*inW*c : (inY+1)*inW*c]
	for kx := 0; kx < l.KW; kx++ {
		d := seg[kx*c : (kx+1)*c]
		if inX := inX0 + kx; inX >= 0 && inX < inW {
			for j, q := range line[inX*c : (inX+1)*c] {
				d[j] = T(q)
			}
		} else {
			for j := range d {
				d[j] = zero
			}
		}
	}
}

// im2colHWC writes, for every output position pos = outY*outW + outX, the
// row x[pos*kp : (pos+1)*kp] of taps (ky, kx, inC) in that order,
//
//	x[pos*kp + (ky*KW+kx)*InC + c] = src[inY][inX][c],  inY = outY*Stride-Pad+ky, inX = outX*Stride-Pad+kx
//
// with zero (the input zero point) where the tap falls in the padding and 0
// in the kp-K taps past the filter.
func im2colHWC[T uint8 | int16](x []T, src []uint8, l *Conv2D, inH, inW, outH, outW, kp int, zero T) {
	c := l.InC
	run := l.KW * c
	k := l.KH * run
	for outY := 0; outY < outH; outY++ {
		for outX := 0; outX < outW; outX++ {
			row := x[(outY*outW+outX)*kp : (outY*outW+outX+1)*kp]
			inX0 := outX*l.Stride - l.Pad
			for ky := 0; ky < l.KH; ky++ {
				seg := row[ky*run : (ky+1)*run]
				inY := outY*l.Stride - l.Pad + ky
				if inY < 0 || inY >= inH {
					for i := range seg {
						seg[i] = zero
					}
					continue
				}
				line := src[inY*inW*c : (inY+1)*inW*c]
				if inX0 >= 0 && inX0+l.KW <= inW {
					for i, q := range line[inX0*c : inX0*c+run] {
						seg[i] = T(q)
					}
					continue
				}
				for kx := 0; kx < l.KW; kx++ {
					d := seg[kx*c : (kx+1)*c]
					if inX := inX0 + kx; inX >= 0 && inX < inW {
						for i, q := range line[inX*c : (inX+1)*c] {
							d[i] = T(q)
						}
					} else {
						for i := range d {
							d[i] = zero
						}
					}
				}
			}
			clear(row[k:])
		}
	}
}

// poolHWC is maxPool2D on HWC activations.
func poolHWC(dst, src []uint8, l *MaxPool2D, c, inH, inW int) {
	outH := (inH-l.K)/l.Stride + 1
	outW := (inW-l.K)/l.Stride + 1
	for outY := 0; outY < outH; outY++ {
		for outX := 0; outX < outW; outX++ {
			d := dst[(outY*outW+outX)*c : (outY*outW+outX+1)*c]
			copy(d, src[(outY*l.Stride*inW+outX*l.Stride)*c:])
			for ky := 0; ky < l.K; ky++ {
				for kx := 0; kx < l.K; kx++ {
					s := src[((outY*l.Stride+ky)*inW+outX*l.Stride+kx)*c:][:c]
					for i, v := range s {
						d[i] = max(d[i], v)
					}
				}
			}
		}
	}
}

// toHWC transposes one image of c channels of n pixels from CHW to HWC.
func toHWC(dst, src []uint8, c, n int) {
	for ch := 0; ch < c; ch++ {
		for px, v := range src[ch*n : (ch+1)*n] {
			dst[px*c+ch] = v
		}
	}
}

// toCHW is the inverse of toHWC.
func toCHW(dst, src []uint8, c, n int) {
	for ch := 0; ch < c; ch++ {
		d := dst[ch*n : (ch+1)*n]
		for px := range d {
			d[px] = src[px*c+ch]
		}
	}
}
