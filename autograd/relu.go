package autograd

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ReLU adds y = x * [x >= 0] to x's graph, with dx = dy * [x >= 0]: gorgonia.Rectify's
// arithmetic exactly (Rectify is HadamardProd(x, x >= 0), its gradient cmp * dy), so it gives
// the same bits, including -0 for negative x, NaN for -Inf and NaN, and the sign of dy on
// zeroed gradients. It is one pass that keeps its output and mask across runs, where Rectify
// is three tensor ops that allocate on every run.
func ReLU(x *gorgonia.Node) (*gorgonia.Node, error) {
	if x.Dims() < 1 {
		return nil, fmt.Errorf("autograd: ReLU: want a tensor, got shape %v", x.Shape())
	}
	return gorgonia.ApplyOp(&reluOp{opBase: newOpBase("ReLU"), dims: x.Dims()}, x)
}

// BiasReLU adds ReLU(BiasAdd(x, b)) as one op: pre = x[n,c,...] + b[c], y = pre * [pre >= 0],
// the same float32 operations as BiasAdd followed by ReLU (or gorgonia.Rectify), in one pass
// over memory. Gradients: dpre = dy * [pre >= 0], dx = dpre, db[c] = the sum of dpre over n
// and the spatial axes in BiasAdd's order (two fixed halves of the batch, each summed in
// order, then added), computed in the same pass as dpre.
func BiasReLU(x, b *gorgonia.Node) (*gorgonia.Node, error) {
	xs, bs := x.Shape(), b.Shape()
	if xs.Dims() < 2 || bs.Dims() != 1 || bs[0] != xs[1] {
		return nil, fmt.Errorf("autograd: BiasReLU: x %v and bias %v do not match on axis 1", xs, bs)
	}
	return gorgonia.ApplyOp(&reluOp{opBase: newOpBase("BiasReLU"), dims: xs.Dims(), bias: true}, x, b)
}

// reluOp: x (, b) -> y, recording mask[i] = [pre_i >= 0] for the backward.
type reluOp struct {
	opBase
	dims int
	bias bool
	mask []uint8 // of the last forward run
	y    outBuf
	// rng is rangeOf of the last output, whose data starts at rngOf.
	rng   batchRange
	rngOf *float32
}

// rangeOf returns rangeOf(y) for y the op's last output, if y is that output.
func (op *reluOp) rangeOf(y []float32) (batchRange, bool) {
	if len(y) == 0 || op.rngOf != &y[0] {
		return batchRange{}, false
	}
	return op.rng, true
}

func (op *reluOp) Arity() int {
	if op.bias {
		return 2
	}
	return 1
}
func (op *reluOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	x := gorgonia.TensorType{Dims: op.dims, Of: a}
	if op.bias {
		return hm.NewFnType(x, gorgonia.TensorType{Dims: 1, Of: a}, x)
	}
	return hm.NewFnType(x, x)
}
func (op *reluOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *reluOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, shape, err := f32(vs[0])
	if err != nil {
		return nil, err
	}
	out, y := op.y.data(shape)
	if cap(op.mask) < len(x) {
		op.mask = make([]uint8, len(x))
	}
	op.mask = op.mask[:len(x)]
	mask := op.mask
	op.rngOf = nil
	// Per-worker max and NaN flag of y, for rangeOf.
	var his [2]float32
	var nans [2]bool
	if !op.bias {
		splitRowsW(len(x), 1, func(w, lo, hi int) { his[w], nans[w] = reluRow(y[lo:hi], mask[lo:hi], x[lo:hi]) })
	} else {
		b, _, err := f32(vs[1])
		if err != nil {
			return nil, err
		}
		n, c, inner := channelGeometry(shape)
		splitRowsW(n, c*inner, func(w, lo, hi int) {
			var h float32
			nan := false
			for i := lo; i < hi; i++ {
				for ch := 0; ch < c; ch++ {
					off := (i*c + ch) * inner
					rh, rn := biasReLURow(y[off:off+inner], mask[off:off+inner], x[off:off+inner], b[ch])
					h, nan = max(h, rh), nan || rn
				}
			}
			his[w], nans[w] = h, nan
		})
	}
	// rangeOf(y): y holds no value below +0 (a negative pre gives -0, which rangeOf's v < lo
	// does not take, or NaN for -Inf), so lo = +0; hi is the largest y, +0 if none is
	// larger (max(+0, -0) = +0, as rangeOf's v > hi keeps +0). With a NaN, hi is not
	// rangeOf's but the quantizer only reports divergence.
	if len(y) > 0 {
		op.rng = batchRange{lo: 0, hi: max(his[0], his[1]), nan: nans[0] || nans[1]}
		op.rngOf = &y[0]
	}
	return out, nil
}

// reluRow writes y[k] = x[k] * [x[k] >= 0] and mask[k] = [x[k] >= 0], and returns max(+0,
// max y) and whether y holds a NaN.
func reluRow(y []float32, mask []uint8, x []float32) (hi float32, nan bool) {
	y, mask = y[:len(x)], mask[:len(x)]
	for k, v := range x {
		m := b2i(v >= 0)
		y[k] = v * float32(m)
		mask[k] = uint8(m)
	}
	return reluTop(y)
}

// reluTop returns rangeOf(y)'s hi and NaN flag for a ReLU output y. y holds no value below
// zero but -0 and NaNs of either sign, and for non-negative floats the order of the bit
// patterns is the order of the values: the largest pattern without the sign is the largest
// value (+0 when every value is a zero, as rangeOf's hi starts at +0), or a NaN if it is above
// +Inf's. The integer max is a conditional move, where the float max handles NaNs and signed
// zeros. It is a second loop over the row, still in cache: folded into the row's own loop, the
// max made that loop six times slower on an AMD EPYC (BenchmarkBiasReLURow), apparently one
// dependency chain through the whole loop body.
func reluTop(y []float32) (hi float32, nan bool) {
	return reluRange(reluTopBits(y))
}

// reluTopBits is reluTop's integer maximum: max over y of bits(v) &^ sign.
func reluTopBits(y []float32) uint32 {
	var top uint32
	for _, r := range y {
		top = max(top, math.Float32bits(r)&^(1<<31))
	}
	return top
}

// reluRange turns reluTopBits' maximum into reluTop's result.
func reluRange(top uint32) (hi float32, nan bool) {
	if top > 0x7f800000 {
		return 0, true
	}
	return math.Float32frombits(top), false
}

// biasReLURow is reluRow of pre = x[k] + b. (It is not reluRow with b = 0: -0 + 0 is +0.) Groups
// of eight go through the vector kernel where the CPU has one (TestBiasReLURowVec checks it
// against biasReLURowRef, the loop below).
func biasReLURow(y []float32, mask []uint8, x []float32, b float32) (hi float32, nan bool) {
	y, mask = y[:len(x)], mask[:len(x)]
	if !useAVX2 || len(x) < 8 {
		return biasReLURowRef(y, mask, x, b)
	}
	n := len(x) / 8 * 8
	top := biasReLUAsm(&y[0], &mask[0], &x[0], n/8, b)
	biasReLURowRef(y[n:], mask[n:], x[n:], b)
	return reluRange(max(top, reluTopBits(y[n:])))
}

// biasReLURowRef is biasReLURow's reference loop.
func biasReLURowRef(y []float32, mask []uint8, x []float32, b float32) (hi float32, nan bool) {
	y, mask = y[:len(x)], mask[:len(x)]
	for k, v := range x {
		pre := v + b
		m := b2i(pre >= 0)
		y[k] = pre * float32(m)
		mask[k] = uint8(m)
	}
	return reluTop(y)
}

func (op *reluOp) DiffWRT(int) []bool {
	if op.bias {
		return []bool{true, true}
	}
	return []bool{true}
}

func (op *reluOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	// output is an operand only to order the gradient after the forward run that fills mask.
	g := &reluGradOp{opBase: newOpBase(op.name + "Grad"), fwd: op}
	dx, err := gorgonia.ApplyOp(g, output, grad)
	if err != nil {
		return nil, err
	}
	if !op.bias {
		return gorgonia.Nodes{dx}, nil
	}
	db, err := gorgonia.ApplyOp(&reluBiasGradOp{opBase: newOpBase(op.name + "BiasGrad"), dims: op.dims, src: g}, dx)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, db}, nil
}

// reluGradOp: (y, dy) -> dpre = dy * mask; y is not read. For BiasReLU it also sums dpre per
// channel into two per-half partials for reluBiasGradOp.
type reluGradOp struct {
	opBase
	fwd      *reluOp
	partials [2][]float32
	dx       outBuf
}

func (op *reluGradOp) Arity() int { return 2 }
func (op *reluGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (op *reluGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[1].(tensor.Shape).Clone(), nil
}
func (op *reluGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	dy, shape, err := f32(vs[1])
	if err != nil {
		return nil, err
	}
	mask := op.fwd.mask
	if len(mask) != len(dy) {
		return nil, fmt.Errorf("autograd: %s: run before its forward op", op.name)
	}
	out, dx := op.dx.data(shape)
	if !op.fwd.bias {
		splitRows(len(dy), 1, func(lo, hi int) {
			d, m := dx[lo:hi], mask[lo:hi]
			for k, v := range dy[lo:hi] {
				d[k] = v * float32(m[k])
			}
		})
		return out, nil
	}
	n, c, inner := channelGeometry(shape)
	for w := range op.partials {
		op.partials[w] = grow(op.partials[w], c)
		clear(op.partials[w])
	}
	// The split and the order of the sums are biasGradOp's.
	splitRowsW(n, c*inner, func(w, lo, hi int) {
		reluBiasGradRows(dx, dy, mask, op.partials[w], lo, hi, c, inner)
	})
	return out, nil
}

// reluBiasGradRows writes dpre = dy * mask for the images [lo, hi) of a (N, c, inner) tensor
// and adds each image's channel sums of dpre to part: part[ch] += s, with s summed over the
// channel's inner values in order. Four channels go side by side (four independent sums, each
// in its own order, so the same bits as one channel at a time: reluBiasGradRowsRef), which
// hides the latency of the float adds; where inner is a multiple of 8, eight channels go
// through relugrad_amd64.s first.
func reluBiasGradRows(dx, dy []float32, mask []uint8, part []float32, lo, hi, c, inner int) {
	vec := useAVX2 && inner > 0 && inner%8 == 0
	for i := lo; i < hi; i++ {
		ch := 0
		for ; vec && ch+8 <= c; ch += 8 {
			// Eight channels in the lanes of relugrad_amd64.s, after checking its last reads.
			off := (i*c + ch) * inner
			end := off + 8*inner
			_, _, _, _ = dx[end-1], dy[end-1], mask[end-1], part[ch+7]
			reluBiasGrad8Asm(&dx[off], &dy[off], &mask[off], &part[ch], inner)
		}
		for ; ch+4 <= c; ch += 4 {
			off := (i*c + ch) * inner
			d0, d1, d2, d3 := dx[off:][:inner], dx[off+inner:][:inner], dx[off+2*inner:][:inner], dx[off+3*inner:][:inner]
			y0, y1, y2, y3 := dy[off:][:inner], dy[off+inner:][:inner], dy[off+2*inner:][:inner], dy[off+3*inner:][:inner]
			m0, m1, m2, m3 := mask[off:][:inner], mask[off+inner:][:inner], mask[off+2*inner:][:inner], mask[off+3*inner:][:inner]
			var s0, s1, s2, s3 float32
			for k := range d0 {
				g0, g1, g2, g3 := y0[k]*float32(m0[k]), y1[k]*float32(m1[k]), y2[k]*float32(m2[k]), y3[k]*float32(m3[k])
				d0[k], d1[k], d2[k], d3[k] = g0, g1, g2, g3
				s0, s1, s2, s3 = s0+g0, s1+g1, s2+g2, s3+g3
			}
			part[ch] += s0
			part[ch+1] += s1
			part[ch+2] += s2
			part[ch+3] += s3
		}
		for ; ch < c; ch++ {
			off := (i*c + ch) * inner
			part[ch] += reluGradSum(dx[off:off+inner], dy[off:off+inner], mask[off:off+inner])
		}
	}
}

// reluGradSum writes d = dy * mask and returns the sum of d in order.
func reluGradSum(d, dy []float32, m []uint8) float32 {
	var s float32
	for k, v := range dy {
		g := v * float32(m[k])
		d[k] = g
		s += g
	}
	return s
}

// reluBiasGradRowsRef is reluBiasGradRows one channel at a time, the reference.
func reluBiasGradRowsRef(dx, dy []float32, mask []uint8, part []float32, lo, hi, c, inner int) {
	for i := lo; i < hi; i++ {
		for ch := 0; ch < c; ch++ {
			off := (i*c + ch) * inner
			part[ch] += reluGradSum(dx[off:off+inner], dy[off:off+inner], mask[off:off+inner])
		}
	}
}

// reluBiasGradOp: dpre -> db = partial(first half) + partial(second half), from the sums its
// reluGradOp made of dpre (its operand, which orders it after that op; not read).
type reluBiasGradOp struct {
	opBase
	dims int
	src  *reluGradOp
	db   outBuf
}

func (op *reluBiasGradOp) Arity() int { return 1 }
func (op *reluBiasGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(gorgonia.TensorType{Dims: op.dims, Of: a}, gorgonia.TensorType{Dims: 1, Of: a})
}
func (op *reluBiasGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{in[0].(tensor.Shape)[1]}, nil
}
func (op *reluBiasGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	_, shape, err := f32(vs[0])
	if err != nil {
		return nil, err
	}
	p0, p1 := op.src.partials[0], op.src.partials[1]
	if len(p0) != shape[1] || len(p1) != shape[1] {
		return nil, fmt.Errorf("autograd: %s: run before its gradient op", op.name)
	}
	out, db := op.db.data(tensor.Shape{shape[1]})
	for ch := range db {
		db[ch] = p0[ch] + p1[ch]
	}
	return out, nil
}
