package autograd

import (
	"fmt"
	"github.com/qatgo/qatgo/internal/f32"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Linear adds a fully connected layer without bias to x's graph, on the package's Sgemm:
//
//	forward:  y  = x W^T     (N x In) (In x Out)      x (N,In), W (Out,In), y (N,Out)
//	backward: dx = dy W      (N x Out) (Out x In)
//	          dW = dy^T x    (Out x N) (N x In)
//
// It computes what gorgonia.Mul(x, gorgonia.Transpose(w)) computes, without materializing W^T
// (Sgemm reads W transposed while packing it) and with both cores on large products. Sgemm's
// split does not change any element's summation order, so results are deterministic. The
// output and gradient tensors live in the ops and are reused across runs (see outBuf).
func Linear(x, w *gorgonia.Node) (*gorgonia.Node, error) {
	return linear(x, w, nil, true)
}

// LinearBias is Linear followed by a bias add, y = x W^T + b for b (Out), in one op: the
// result equals BiasAdd(Linear(x, w), b) bit for bit; db is the column sum of dy.
func LinearBias(x, w, b *gorgonia.Node) (*gorgonia.Node, error) {
	if b == nil {
		return nil, fmt.Errorf("autograd: LinearBias: nil bias")
	}
	return linear(x, w, b, true)
}

// LinearNoInputGrad is Linear for a layer whose input needs no gradient (the first layer,
// reading the images): its backward computes only dW, skipping dy W. Asking gorgonia.Grad for
// the gradient of x is then an error.
func LinearNoInputGrad(x, w *gorgonia.Node) (*gorgonia.Node, error) {
	return linear(x, w, nil, false)
}

func linear(x, w, b *gorgonia.Node, inputGrad bool) (*gorgonia.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 2 || ws.Dims() != 2 || xs[1] != ws[1] {
		return nil, fmt.Errorf("autograd: Linear: want x (N,In) and w (Out,In), got %v and %v", xs, ws)
	}
	if x.Dtype() != tensor.Float32 || w.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("autograd: Linear: want float32 x and w, got %v and %v", x.Dtype(), w.Dtype())
	}
	op := &linearOp{opBase: newOpBase("Linear", 2), n: xs[0], in: xs[1], out: ws[0], inputGrad: inputGrad}
	if b == nil {
		return gorgonia.ApplyOp(op, x, w)
	}
	if bs := b.Shape(); bs.Dims() != 1 || bs[0] != op.out || b.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("autograd: LinearBias: bias %v %v, want (%d) float32", bs, b.Dtype(), op.out)
	}
	op.bias, op.arity = true, 3
	return gorgonia.ApplyOp(op, x, w, b)
}

// linearOp: (x, w[, b]) -> y = x W^T [+ b].
type linearOp struct {
	opBase
	n, in, out int
	bias       bool
	inputGrad  bool
	y          outBuf
}

func (op *linearOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := gorgonia.TensorType{Dims: 2, Of: a}
	if op.bias {
		return hm.NewFnType(m, m, gorgonia.TensorType{Dims: 1, Of: a}, m)
	}
	return hm.NewFnType(m, m, m)
}
func (op *linearOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.out}, nil
}

func (op *linearOp) shapes() []tensor.Shape {
	return []tensor.Shape{{op.n, op.in}, {op.out, op.in}, {op.out}}
}

func (op *linearOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	in, err := convInputs(op.name, vs, op.shapes()[:len(vs)]...)
	if err != nil {
		return nil, err
	}
	x, w := in[0], in[1]
	out, y := op.y.data(tensor.Shape{op.n, op.out})
	// y (N x Out) = x (N x In) * W^T (In x Out)
	f32.Sgemm(false, true, op.n, op.out, op.in, 1, x, op.in, w, op.in, 0, y, op.out)
	if op.bias {
		b := in[2]
		for i := 0; i < op.n; i++ {
			row := y[i*op.out:][:op.out]
			for j := range row {
				row[j] += b[j]
			}
		}
	}
	return out, nil
}

func (op *linearOp) DiffWRT(n int) []bool {
	d := []bool{op.inputGrad, true, true}
	return d[:n]
}

func (op *linearOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	ret := make(gorgonia.Nodes, len(inputs))
	var err error
	if op.inputGrad {
		gx := &linearGradOp{opBase: newOpBase("LinearGradX", 2), fwd: op, wrtX: true}
		if ret[0], err = gorgonia.ApplyOp(gx, inputs[1], grad); err != nil {
			return nil, err
		}
	}
	gw := &linearGradOp{opBase: newOpBase("LinearGradW", 2), fwd: op}
	if ret[1], err = gorgonia.ApplyOp(gw, inputs[0], grad); err != nil {
		return nil, err
	}
	if op.bias {
		if ret[2], err = gorgonia.ApplyOp(&biasGradOp{opBase: newOpBase("LinearGradB", 1), dims: 2}, grad); err != nil {
			return nil, err
		}
	}
	return ret, nil
}

// linearGradOp: (w, dy) -> dx = dy W when wrtX, else (x, dy) -> dW = dy^T x.
type linearGradOp struct {
	opBase
	fwd  *linearOp
	wrtX bool
	d    outBuf
}

func (op *linearGradOp) Type() hm.Type {
	m := gorgonia.TensorType{Dims: 2, Of: hm.TypeVariable('a')}
	return hm.NewFnType(m, m, m)
}
func (op *linearGradOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	f := op.fwd
	if op.wrtX {
		return tensor.Shape{f.n, f.in}, nil
	}
	return tensor.Shape{f.out, f.in}, nil
}
func (op *linearGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	f := op.fwd
	s := f.shapes()
	first := s[0]
	if op.wrtX {
		first = s[1]
	}
	in, err := convInputs(op.name, vs, first, tensor.Shape{f.n, f.out})
	if err != nil {
		return nil, err
	}
	dy := in[1]
	if op.wrtX {
		w := in[0]
		out, dx := op.d.data(tensor.Shape{f.n, f.in})
		// dx (N x In) = dy (N x Out) * W (Out x In)
		f32.Sgemm(false, false, f.n, f.in, f.out, 1, dy, f.out, w, f.in, 0, dx, f.in)
		return out, nil
	}
	x := in[0]
	out, dw := op.d.data(tensor.Shape{f.out, f.in})
	// dW (Out x In) = dy^T (Out x N) * x (N x In)
	f32.Sgemm(true, false, f.out, f.in, f.n, 1, dy, f.out, x, f.in, 0, dw, f.in)
	return out, nil
}
