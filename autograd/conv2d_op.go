package autograd

import (
	"fmt"
	"github.com/qatgo/qatgo/internal/f32"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv2D adds a 2-D convolution (cross-correlation, as gorgonia.Conv2d) to x's graph:
//
//	y[n,o,oy,ox] = sum_{c,kh,kw} w[o,c,kh,kw] * x[n,c,oy*stride-pad+kh,ox*stride-pad+kw]
//
// for x (N,C,H,W) and w (O,C,K,K), zero outside x, giving y (N,O,OH,OW) with
// OH = (H+2pad-K)/stride+1 (and OW alike). Per image n, with col_n = im2col(x_n) the
// (C*K*K) x (OH*OW) matrix of input patches:
//
//	forward:  Y_n  = W * col_n                 (O x CKK) (CKK x OHW), written straight into NCHW
//	backward: dW   = sum_n dY_n * col_n^T      (O x OHW) (OHW x CKK)
//	          dX_n = col2im(W^T * dY_n)         col2im adds each patch entry back to its pixel
//
// The batch is split in two fixed halves computed on two goroutines, each with its own col
// buffer and, for dW, its own partial sum; dW = partial(first half) + partial(second half), so
// results are bit-identical run to run and do not depend on GOMAXPROCS (they do depend on the
// GEMM kernel: the AVX2 kernel fuses multiply-adds, the purego one does not). W (and W^T for dX)
// is packed once per run for the GEMM. With stride 1 and no padding (LeNet-5's convolutions)
// the patches never form a matrix: the GEMMs of the forward and of dW pack them straight from
// x (f32.ConvPatches). Otherwise, once the gradient is built, the forward keeps every image's
// im2col matrix (N*C*K*K*OH*OW floats) for the dW op, which recomputes it if it was made from
// another x. All buffers live in the ops and are reused across runs: a graph must not be run
// by two machines at once.
func Conv2D(x, w *gorgonia.Node, stride, pad int) (*gorgonia.Node, error) {
	return conv2D(x, w, stride, pad, true)
}

// Conv2DNoInputGrad is Conv2D for a layer whose input needs no gradient (the first layer,
// reading the images): its backward computes only dW, skipping W^T * dY and col2im. Asking
// gorgonia.Grad for the gradient of x is then an error.
func Conv2DNoInputGrad(x, w *gorgonia.Node, stride, pad int) (*gorgonia.Node, error) {
	return conv2D(x, w, stride, pad, false)
}

func conv2D(x, w *gorgonia.Node, stride, pad int, inputGrad bool) (*gorgonia.Node, error) {
	g, err := newConvGeom(x.Shape(), w.Shape(), stride, pad)
	if err != nil {
		return nil, err
	}
	if x.Dtype() != tensor.Float32 || w.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("autograd: Conv2D: want float32 x and w, got %v and %v", x.Dtype(), w.Dtype())
	}
	return gorgonia.ApplyOp(&conv2DOp{opBase: newOpBase("Conv2D", 2), g: g, inputGrad: inputGrad}, x, w)
}

// convGeom is the geometry of one convolution, with its kernels (internal/f32).
type convGeom struct{ f32.Conv }

func newConvGeom(xs, ws tensor.Shape, stride, pad int) (convGeom, error) {
	if xs.Dims() != 4 || ws.Dims() != 4 {
		return convGeom{}, fmt.Errorf("autograd: Conv2D: want x (N,C,H,W) and w (O,C,K,K), got %v and %v", xs, ws)
	}
	if ws[1] != xs[1] || ws[2] != ws[3] {
		return convGeom{}, fmt.Errorf("autograd: Conv2D: weights %v do not fit input %v (want (O,%d,K,K))", ws, xs, xs[1])
	}
	if stride < 1 || pad < 0 {
		return convGeom{}, fmt.Errorf("autograd: Conv2D: stride %d, pad %d", stride, pad)
	}
	g := convGeom{f32.Conv{N: xs[0], C: xs[1], H: xs[2], W: xs[3], O: ws[0], K: ws[2], Stride: stride, Pad: pad}}
	if g.H+2*pad < g.K || g.W+2*pad < g.K {
		return convGeom{}, fmt.Errorf("autograd: Conv2D: input %dx%d with pad %d smaller than kernel %d", g.H, g.W, pad, g.K)
	}
	g.Init()
	return g, nil
}

func (g *convGeom) xShape() tensor.Shape { return tensor.Shape{g.N, g.C, g.H, g.W} }
func (g *convGeom) wShape() tensor.Shape { return tensor.Shape{g.O, g.C, g.K, g.K} }
func (g *convGeom) yShape() tensor.Shape { return tensor.Shape{g.N, g.O, g.OH, g.OW} }

// conv2DOp: (x, w) -> y.
type conv2DOp struct {
	opBase
	g         convGeom
	inputGrad bool
	wp        f32.PackedA // W packed once per run for the GEMM micro-kernel
	cols      [][]float32 // per-part im2col buffers, when the patches are not kept

	// With a gradient (SymDiff was called) the forward keeps every image's patches for the dW
	// op: colAll holds N blocks of CKK x OHW, made from the x whose data starts at colsOf.
	keepCols bool
	colAll   []float32
	colsOf   *float32
	patches  []f32.ConvPatches // per-part patch packers, when the patches are packed from x
	y        outBuf
}

func (op *conv2DOp) Type() hm.Type {
	t := gorgonia.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op *conv2DOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.g.yShape(), nil
}

// convInputs reads the float32 operands of a conv op and checks their shapes.
func convInputs(name string, vs []gorgonia.Value, shapes ...tensor.Shape) ([][]float32, error) {
	out := make([][]float32, len(vs))
	for i, v := range vs {
		d, s, err := floats(v)
		if err != nil {
			return nil, err
		}
		if !s.Eq(shapes[i]) {
			return nil, fmt.Errorf("autograd: %s: operand %d has shape %v, want %v", name, i, s, shapes[i])
		}
		out[i] = d
	}
	return out, nil
}

func (op *conv2DOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	g := &op.g
	in, err := convInputs(op.name, vs, g.xShape(), g.wShape())
	if err != nil {
		return nil, err
	}
	x, w := in[0], in[1]
	out, y := op.y.data(g.yShape())
	op.wp.Pack(false, g.O, g.CKK, 1, w, g.CKK)
	size := g.CKK * g.OHW
	op.colsOf = nil
	direct := g.PatchesDirect()
	if direct {
		// The GEMM packs the patches from x (f32.ConvPatches) and the dW op does the same: no
		// im2col matrix.
		g.PatchTables()
		parts := f32.ItemParts(g.N)
		op.patches = growTo(op.patches, parts)
		f32.SplitItems(g.N, parts, func(wk, lo, hi int) {
			pk := &op.patches[wk]
			for n := lo; n < hi; n++ {
				*pk = f32.ConvPatches{G: &g.Conv, X: x[n*g.C*g.HW:][:g.C*g.HW]}
				f32.SgemmPackedAB(&op.wp, pk, g.OHW, 0, y[n*g.O*g.OHW:], g.OHW)
			}
		})
		return out, nil
	}
	if op.keepCols {
		op.colAll = grow(op.colAll, g.N*size)
	}
	parts := f32.ItemParts(g.N)
	op.cols = growTo(op.cols, parts)
	f32.SplitItems(g.N, parts, func(wk, lo, hi int) {
		if lo == hi {
			return
		}
		var col []float32
		if !op.keepCols {
			op.cols[wk] = grow(op.cols[wk], size)
			col = op.cols[wk]
		}
		for n := lo; n < hi; n++ {
			if op.keepCols {
				col = op.colAll[n*size:][:size]
			}
			g.Im2col(col, x[n*g.C*g.HW:])
			// Y_n (O x OHW) = W (O x CKK) * col_n (CKK x OHW)
			f32.SgemmPackedA(&op.wp, false, g.OHW, col, g.OHW, 0, y[n*g.O*g.OHW:], g.OHW)
		}
	})
	if op.keepCols {
		op.colsOf = &x[0]
	}
	return out, nil
}

func (op *conv2DOp) DiffWRT(int) []bool { return []bool{op.inputGrad, true} }

func (op *conv2DOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	op.keepCols = true
	// output is an operand of the dW op only to order it after the forward run that fills the
	// patch cache (dy need not depend on y: the gradient of sum(y) is a constant).
	dw, err := gorgonia.ApplyOp(&conv2DGradWOp{opBase: newOpBase("Conv2DGradW", 3), fwd: op}, inputs[0], grad, output)
	if err != nil {
		return nil, err
	}
	if !op.inputGrad {
		return gorgonia.Nodes{nil, dw}, nil
	}
	dx, err := gorgonia.ApplyOp(&conv2DGradXOp{opBase: newOpBase("Conv2DGradX", 2), g: op.g}, inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dw}, nil
}

// conv2DGradXOp: (w, dy) -> dx, dX_n = col2im(W^T * dY_n).
type conv2DGradXOp struct {
	opBase
	g    convGeom
	wtp  f32.PackedA // W^T packed once per run
	cols [][]float32 // per-part buffers
	dx   outBuf
}

func (op *conv2DGradXOp) Type() hm.Type {
	t := gorgonia.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op *conv2DGradXOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.g.xShape(), nil
}
func (op *conv2DGradXOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	g := &op.g
	in, err := convInputs(op.name, vs, g.wShape(), g.yShape())
	if err != nil {
		return nil, err
	}
	w, dy := in[0], in[1]
	out, dx := op.dx.data(g.xShape())
	clear(dx) // col2im accumulates
	op.wtp.Pack(true, g.CKK, g.O, 1, w, g.CKK)
	if g.PatchesDirect() {
		g.PatchTables() // col2im's offsets
	}
	parts := f32.ItemParts(g.N)
	op.cols = growTo(op.cols, parts)
	f32.SplitItems(g.N, parts, func(wk, lo, hi int) {
		if lo == hi {
			return
		}
		col := grow(op.cols[wk], g.CKK*g.OHW)
		op.cols[wk] = col
		for n := lo; n < hi; n++ {
			// dcol (CKK x OHW) = W^T (CKK x O) * dY_n (O x OHW)
			f32.SgemmPackedA(&op.wtp, false, g.OHW, dy[n*g.O*g.OHW:], g.OHW, 0, col, g.OHW)
			g.Col2im(dx[n*g.C*g.HW:], col)
		}
	})
	return out, nil
}

// conv2DGradWOp: (x, dy, y) -> dw = sum_n dY_n * col_n^T, with the patches col_n the forward
// kept (recomputed from x if they are not those of this x).
type conv2DGradWOp struct {
	opBase
	fwd      *conv2DOp
	cols     [f32.ReduceParts][]float32
	patches  [f32.ReduceParts]f32.ConvPatches
	partials [f32.ReduceParts][]float32 // per-part sums of dY_n * col_n^T, added in part order
	dw       outBuf
}

func (op *conv2DGradWOp) Type() hm.Type {
	t := gorgonia.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t, t)
}
func (op *conv2DGradWOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.fwd.g.wShape(), nil
}
func (op *conv2DGradWOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	g := &op.fwd.g
	in, err := convInputs(op.name, vs[:2], g.xShape(), g.yShape())
	if err != nil {
		return nil, err
	}
	x, dy := in[0], in[1]
	size, csize := g.O*g.CKK, g.CKK*g.OHW
	cached := op.fwd.colsOf == &x[0] && len(op.fwd.colAll) == g.N*csize
	direct := g.PatchesDirect()
	if direct {
		g.PatchTables()
	}
	f32.SplitBatch(g.N, func(wk, lo, hi int) {
		part := grow(op.partials[wk], size)
		op.partials[wk] = part
		clear(part)
		if lo == hi {
			return
		}
		if direct {
			pk := &op.patches[wk]
			for n := lo; n < hi; n++ {
				*pk = f32.ConvPatches{G: &g.Conv, X: x[n*g.C*g.HW:][:g.C*g.HW], T: true}
				// part (O x CKK) += dY_n (O x OHW) * col_n^T (OHW x CKK), col_n^T packed from x
				f32.SgemmSerialB(g.O, g.CKK, g.OHW, dy[n*g.O*g.OHW:], g.OHW, pk, 1, part, g.CKK)
			}
			return
		}
		var col []float32
		if !cached {
			op.cols[wk] = grow(op.cols[wk], csize)
			col = op.cols[wk]
		}
		for n := lo; n < hi; n++ {
			if cached {
				col = op.fwd.colAll[n*csize:][:csize]
			} else {
				g.Im2col(col, x[n*g.C*g.HW:])
			}
			// part (O x CKK) += dY_n (O x OHW) * col_n^T (OHW x CKK)
			f32.SgemmSerial(false, true, g.O, g.CKK, g.OHW, 1, dy[n*g.O*g.OHW:], g.OHW, col, g.OHW, 1, part, g.CKK)
		}
	})
	out, dw := op.dw.data(g.wShape())
	copy(dw, op.partials[0])
	for _, part := range op.partials[1:] {
		for i, v := range part {
			dw[i] += v
		}
	}
	return out, nil
}
