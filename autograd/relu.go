package autograd

import (
	"fmt"
	"github.com/qatgo/qatgo/internal/f32"

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
	return gorgonia.ApplyOp(&reluOp{opBase: sameShapeOp("ReLU", 1, 0), dims: x.Dims()}, x)
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
	return gorgonia.ApplyOp(&reluOp{opBase: sameShapeOp("BiasReLU", 2, 0), dims: xs.Dims(), bias: true}, x, b)
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

// outputRange returns f32.RangeOf(y) for y the op's last output, if y is that output.
func (op *reluOp) outputRange(y []float32) (batchRange, bool) {
	if len(y) == 0 || op.rngOf != &y[0] {
		return batchRange{}, false
	}
	return op.rng, true
}

func (op *reluOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	x := gorgonia.TensorType{Dims: op.dims, Of: a}
	if op.bias {
		return hm.NewFnType(x, gorgonia.TensorType{Dims: 1, Of: a}, x)
	}
	return hm.NewFnType(x, x)
}

func (op *reluOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, shape, err := floats(vs[0])
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
		f32.SplitRowsW(len(x), 1, func(w, lo, hi int) { his[w], nans[w] = f32.ReLURow(y[lo:hi], mask[lo:hi], x[lo:hi]) })
	} else {
		b, _, err := floats(vs[1])
		if err != nil {
			return nil, err
		}
		n, c, inner := channelGeometry(shape)
		f32.SplitRowsW(n, c*inner, func(w, lo, hi int) {
			var h float32
			nan := false
			for i := lo; i < hi; i++ {
				for ch := 0; ch < c; ch++ {
					off := (i*c + ch) * inner
					rh, rn := f32.BiasReLURow(y[off:off+inner], mask[off:off+inner], x[off:off+inner], b[ch])
					h, nan = max(h, rh), nan || rn
				}
			}
			his[w], nans[w] = h, nan
		})
	}
	// f32.RangeOf(y): y holds no value below +0 (a negative pre gives -0, which rangeOf's v < lo
	// does not take, or NaN for -Inf), so lo = +0; hi is the largest y, +0 if none is
	// larger (max(+0, -0) = +0, as rangeOf's v > hi keeps +0). With a NaN, hi is not
	// rangeOf's but the quantizer only reports divergence.
	if len(y) > 0 {
		op.rng = batchRange{lo: 0, hi: max(his[0], his[1]), nan: nans[0] || nans[1]}
		op.rngOf = &y[0]
	}
	return out, nil
}

func (op *reluOp) DiffWRT(int) []bool {
	if op.bias {
		return []bool{true, true}
	}
	return []bool{true}
}

func (op *reluOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	// output is an operand only to order the gradient after the forward run that fills mask.
	g := &reluGradOp{opBase: sameShapeOp(op.name+"Grad", 2, 1), fwd: op}
	dx, err := gorgonia.ApplyOp(g, output, grad)
	if err != nil {
		return nil, err
	}
	if !op.bias {
		return gorgonia.Nodes{dx}, nil
	}
	db, err := gorgonia.ApplyOp(&reluBiasGradOp{opBase: newOpBase(op.name+"BiasGrad", 1), dims: op.dims, src: g}, dx)
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

func (op *reluGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (op *reluGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	dy, shape, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	mask := op.fwd.mask
	if len(mask) != len(dy) {
		return nil, fmt.Errorf("autograd: %s: run before its forward op", op.name)
	}
	out, dx := op.dx.data(shape)
	if !op.fwd.bias {
		f32.SplitRows(len(dy), 1, func(lo, hi int) {
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
	f32.SplitRowsW(n, c*inner, func(w, lo, hi int) {
		f32.ReLUBiasGradRows(dx, dy, mask, op.partials[w], lo, hi, c, inner)
	})
	return out, nil
}

// reluBiasGradOp: dpre -> db = partial(first half) + partial(second half), from the sums its
// reluGradOp made of dpre (its operand, which orders it after that op; not read).
type reluBiasGradOp struct {
	opBase
	dims int
	src  *reluGradOp
	db   outBuf
}

func (op *reluBiasGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(gorgonia.TensorType{Dims: op.dims, Of: a}, gorgonia.TensorType{Dims: 1, Of: a})
}
func (op *reluBiasGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{in[0].(tensor.Shape)[1]}, nil
}
func (op *reluBiasGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	_, shape, err := floats(vs[0])
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
