package autograd

import (
	"fmt"
	"github.com/qatgo/qatgo/internal/f32"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// FakeQuant adds y = FQ(x) to x's graph, with the range chosen by q. Its gradient is q's
// straight-through estimator (see Quantizer.Backward).
//
// Extra inputs (deps) are not differentiated and not read: they only order the node after
// theirs, for quantizers that read the state of others (BiasQuantizer).
func FakeQuant(x *gorgonia.Node, q Quantizer, deps ...*gorgonia.Node) (*gorgonia.Node, error) {
	op := &fakeQuantOp{opBase: newOpBase("FakeQuant"), q: q, arity: 1 + len(deps)}
	if r, ok := x.Op().(*reluOp); ok {
		op.src = r
	}
	return gorgonia.ApplyOp(op, append([]*gorgonia.Node{x}, deps...)...)
}

// FakeQuantPooled adds y = FQ(pool) for pool = MaxPool2D(pre) (either pool op): the same
// values as MaxPool2D(FakeQuant(pre, q)), because q's fake-quantization (and its
// requantization) is monotone non-decreasing, so the max of the quantized window is the
// quantization of its max, computed on a quarter of the values for 2x2 windows. q observes
// the range of pre, as FakeQuant(pre, q) does, not the pooled one (a pool can drop the last
// row and column): found by pre's op when that is a ReLU or BiasReLU, else by a pass over pre.
// The gradient is q's STE at the pooled values, that is at each window's float max; where
// several elements of a window share the maximum code, the other order routes the gradient to
// the first of them instead (the gradients differ there, the forward values nowhere).
func FakeQuantPooled(pool, pre *gorgonia.Node, q *ActQuantizer) (*gorgonia.Node, error) {
	ps, xs := pool.Shape(), pre.Shape()
	if ps.Dims() != 4 || xs.Dims() != 4 || ps[0] != xs[0] || ps[1] != xs[1] || ps[2] > xs[2] || ps[3] > xs[3] {
		return nil, fmt.Errorf("autograd: FakeQuantPooled: pool %v is not a pooling of %v", ps, xs)
	}
	op := &fakeQuantOp{opBase: newOpBase("FakeQuantPooled"), q: q, arity: 2, srcIn: 1}
	op.src, _ = pre.Op().(*reluOp)
	return gorgonia.ApplyOp(op, pool, pre)
}

type fakeQuantOp struct {
	opBase
	q     Quantizer
	arity int
	// src is the op that wrote input srcIn when that is a ReLU or BiasReLU: it finds the range
	// of its output while writing it, which spares an activation quantizer its own pass over
	// the data. srcIn is 0 (x itself) or 1 (FakeQuantPooled's pre, whose range is observed).
	src   *reluOp
	srcIn int
	y     outBuf
}

func (op *fakeQuantOp) Arity() int { return op.arity }

func (op *fakeQuantOp) Type() hm.Type {
	ts := make([]hm.Type, 0, op.arity+1)
	ts = append(ts, hm.TypeVariable('a'))
	for i := 1; i < op.arity; i++ {
		ts = append(ts, hm.TypeVariable(rune('b'+i)))
	}
	ts = append(ts, hm.TypeVariable('a'))
	return hm.NewFnType(ts...)
}

func (op *fakeQuantOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("autograd: FakeQuant: input has no shape")
	}
	return s.Clone(), nil
}

func (op *fakeQuantOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	out, y := op.y.data(shape)
	if aq, ok := op.q.(*ActQuantizer); ok && op.srcIn != 0 {
		var pre []float32
		if pre, _, err = floats(vs[op.srcIn]); err != nil {
			return nil, err
		}
		var r batchRange
		if m := aq.Ctx.Mode; (m == ModeTrain || m == ModeCalibrate) && !aq.Fixed {
			ok := false
			if op.src != nil {
				r, ok = op.src.outputRange(pre)
			}
			if !ok {
				r.lo, r.hi, r.nan = f32.RangeOf(pre)
			}
		}
		err = aq.forward(y, x, shape, &r)
	} else if ok && op.src != nil {
		if r, ok := op.src.outputRange(x); ok {
			err = aq.forward(y, x, shape, &r)
		} else {
			err = aq.Forward(y, x, shape)
		}
	} else {
		err = op.q.Forward(y, x, shape)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (op *fakeQuantOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	d[0] = true
	return d
}

func (op *fakeQuantOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	g := &fakeQuantGradOp{opBase: newOpBase("FakeQuantGrad"), q: op.q}
	dx, err := gorgonia.ApplyOp(g, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	ret := make(gorgonia.Nodes, len(inputs))
	ret[0] = dx
	return ret, nil
}

// fakeQuantGradOp computes dx = STE(x, dy) with the range of the forward pass.
type fakeQuantGradOp struct {
	opBase
	q  Quantizer
	dx outBuf
}

func (op *fakeQuantGradOp) Arity() int { return 2 }
func (op *fakeQuantGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (op *fakeQuantGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *fakeQuantGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	dy, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	out, dx := op.dx.data(shape)
	op.q.Backward(dx, x, dy)
	return out, nil
}
