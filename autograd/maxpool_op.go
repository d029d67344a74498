package autograd

import (
	"fmt"
	"github.com/qatgo/qatgo/internal/f32"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaxPool2D adds max pooling over k x k windows with the given stride and no padding to x's
// graph: for x (N,C,H,W), y (N,C,OH,OW) with OH = (H-k)/stride+1 (OW alike) and
//
//	y[n,c,oy,ox] = max_{i,j < k} x[n,c,oy*stride+i,ox*stride+j].
//
// The forward stores, per output, the flat index into x of the element it took; the backward
// routes dy there: dx[argmax] += dy (windows overlap when stride < k). Ties go to the first
// maximum in row-major window order, as in gorgonia's maxPoolOp (strict > while scanning). Unlike
// gorgonia, which starts its scan from -MaxFloat32, the scan starts from the window's first
// element, so a window of -Inf gives -Inf and a NaN in a window's first position propagates.
//
// Images are split in two fixed halves on two goroutines. The argmax buffer lives in the op and
// is reused across runs: a graph must not be run by two machines at once.
func MaxPool2D(x *gorgonia.Node, k, stride int) (*gorgonia.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 {
		return nil, fmt.Errorf("autograd: MaxPool2D: want x (N,C,H,W), got %v", s)
	}
	if x.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("autograd: MaxPool2D: want float32 x, got %v", x.Dtype())
	}
	if k < 1 || stride < 1 || s[2] < k || s[3] < k {
		return nil, fmt.Errorf("autograd: MaxPool2D: window %d, stride %d on input %v", k, stride, s)
	}
	p := poolGeom{f32.Pool{N: s[0], C: s[1], H: s[2], W: s[3], K: k, Stride: stride}}
	p.OH, p.OW = (p.H-k)/stride+1, (p.W-k)/stride+1
	return gorgonia.ApplyOp(&maxPoolOp{opBase: newOpBase("MaxPool2D", 1), g: p}, x)
}

// poolGeom is the geometry of one max pool, with its kernels (internal/f32).
type poolGeom struct{ f32.Pool }

func (g *poolGeom) xShape() tensor.Shape { return tensor.Shape{g.N, g.C, g.H, g.W} }
func (g *poolGeom) yShape() tensor.Shape { return tensor.Shape{g.N, g.C, g.OH, g.OW} }

// maxPoolOp: x -> y, recording argmax.
type maxPoolOp struct {
	opBase
	g      poolGeom
	argmax []int32 // flat index into x of each output's maximum, from the last forward run
	y      outBuf
}

func (op *maxPoolOp) Type() hm.Type {
	t := gorgonia.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}
func (op *maxPoolOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.g.yShape(), nil
}

func (op *maxPoolOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	g := &op.g
	x, s, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	if !s.Eq(g.xShape()) {
		return nil, fmt.Errorf("autograd: %s: input has shape %v, want %v", op.name, s, g.xShape())
	}
	if len(x) > 1<<31-1 {
		return nil, fmt.Errorf("autograd: %s: input of %d elements is too large for int32 indices", op.name, len(x))
	}
	out, y := op.y.data(g.yShape())
	op.argmax = make32(op.argmax, len(y))
	am := op.argmax
	f32.SplitItems(g.N, f32.ItemParts(g.N), func(_, lo, hi int) { g.Forward(y, am, x, lo*g.C, hi*g.C) })
	return out, nil
}

func (op *maxPoolOp) DiffWRT(int) []bool { return []bool{true} }

func (op *maxPoolOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	// output is an operand only to order the gradient after the forward run that fills argmax.
	g := &maxPoolGradOp{opBase: newOpBase("MaxPool2DGrad", 2), fwd: op}
	dx, err := gorgonia.ApplyOp(g, output, grad)
	return gorgonia.Nodes{dx}, err
}

// maxPoolGradOp: (y, dy) -> dx, dx[argmax[i]] += dy[i]; y is not read.
type maxPoolGradOp struct {
	opBase
	fwd *maxPoolOp
	dx  outBuf
}

func (op *maxPoolGradOp) Type() hm.Type {
	t := gorgonia.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op *maxPoolGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.fwd.g.xShape(), nil
}
func (op *maxPoolGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	g := &op.fwd.g
	dy, s, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	if !s.Eq(g.yShape()) {
		return nil, fmt.Errorf("autograd: %s: gradient has shape %v, want %v", op.name, s, g.yShape())
	}
	am := op.fwd.argmax
	if len(am) != len(dy) {
		return nil, fmt.Errorf("autograd: %s: run before its forward op", op.name)
	}
	out, dx := op.dx.data(g.xShape())
	f32.SplitItems(g.N, f32.ItemParts(g.N), func(_, lo, hi int) {
		// Each image's argmax points into that image, so the parts write disjoint parts of dx.
		g.Backward(dx, dy, am, lo*g.C, hi*g.C)
	})
	return out, nil
}
