package autograd

import (
	"fmt"
	"github.com/qatgo/qatgo/internal/f32"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BiasAdd adds a per-channel bias along axis 1: y[n,c,...] = x[n,c,...] + b[c], for x of
// shape (N, C) or (N, C, H, W). Gradients: dx = dy; db[c] = sum of dy over n and the spatial
// axes. Large batches are split in two fixed halves on two goroutines; db sums each half in
// order and then adds the two partials, so results do not depend on scheduling.
func BiasAdd(x, b *gorgonia.Node) (*gorgonia.Node, error) {
	xs, bs := x.Shape(), b.Shape()
	if xs.Dims() < 2 || bs.Dims() != 1 || bs[0] != xs[1] {
		return nil, fmt.Errorf("autograd: BiasAdd: x %v and bias %v do not match on axis 1", xs, bs)
	}
	return gorgonia.ApplyOp(&biasAddOp{opBase: sameShapeOp("BiasAdd", 2, 0), dims: xs.Dims()}, x, b)
}

type biasAddOp struct {
	opBase
	dims int
	y    outBuf
}

func (op *biasAddOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	x := gorgonia.TensorType{Dims: op.dims, Of: a}
	b := gorgonia.TensorType{Dims: 1, Of: a}
	return hm.NewFnType(x, b, x)
}

// channelGeometry splits shape (N, C, rest...) into n, c and inner = prod(rest).
func channelGeometry(s tensor.Shape) (n, c, inner int) {
	n, c, inner = s[0], s[1], 1
	for _, d := range s[2:] {
		inner *= d
	}
	return
}

func (op *biasAddOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	b, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	out, y := op.y.data(shape)
	n, c, inner := channelGeometry(shape)
	f32.SplitRows(n, c*inner, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for ch := 0; ch < c; ch++ {
				off := (i*c + ch) * inner
				bv := b[ch]
				yr := y[off : off+inner]
				for k, v := range x[off : off+inner] {
					yr[k] = v + bv
				}
			}
		}
	})
	return out, nil
}

func (op *biasAddOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op *biasAddOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	db, err := gorgonia.ApplyOp(&biasGradOp{opBase: newOpBase("BiasAddGrad", 1), dims: op.dims}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{grad, db}, nil
}

// biasGradOp reduces dy (N, C, ...) to db (C).
type biasGradOp struct {
	opBase
	dims     int
	db       outBuf
	partials [2][]float32 // per-worker sums over the two halves of the batch
}

func (op *biasGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(gorgonia.TensorType{Dims: op.dims, Of: a}, gorgonia.TensorType{Dims: 1, Of: a})
}
func (op *biasGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	return tensor.Shape{s[1]}, nil
}
func (op *biasGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	dy, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	n, c, inner := channelGeometry(shape)
	out, db := op.db.data(tensor.Shape{c})
	// Two fixed halves of the batch, each summed in order into its own partial, then
	// db = partial(first) + partial(second): deterministic whatever the scheduling.
	for w := range op.partials {
		op.partials[w] = grow(op.partials[w], c)
		clear(op.partials[w])
	}
	f32.SplitRowsW(n, c*inner, func(w, lo, hi int) {
		part := op.partials[w]
		for i := lo; i < hi; i++ {
			for ch := 0; ch < c; ch++ {
				off := (i*c + ch) * inner
				var s float32
				for _, v := range dy[off : off+inner] {
					s += v
				}
				part[ch] += s
			}
		}
	})
	for ch := range db {
		db[ch] = op.partials[0][ch] + op.partials[1][ch]
	}
	return out, nil
}
