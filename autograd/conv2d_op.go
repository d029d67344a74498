package autograd

import (
	"fmt"

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
// x (convPatches). Otherwise, once the gradient is built, the forward keeps every image's
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
	return gorgonia.ApplyOp(&conv2DOp{opBase: newOpBase("Conv2D"), g: g, inputGrad: inputGrad}, x, w)
}

// convGeom is the geometry of one convolution.
type convGeom struct {
	n, c, h, w   int // input (N, C, H, W)
	o, k         int // weights (O, C, K, K)
	stride, pad  int
	oh, ow       int       // output (N, O, OH, OW)
	ckk, ohw, hw int       // C*K*K, OH*OW, H*W
	off, base    []int     // convPatches' tables (stride 1, no padding), made by patchTables
	zeros        []float32 // ... and a zero plane (H*W) for columns past the last
}

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
	g := convGeom{n: xs[0], c: xs[1], h: xs[2], w: xs[3], o: ws[0], k: ws[2], stride: stride, pad: pad}
	if g.h+2*pad < g.k || g.w+2*pad < g.k {
		return convGeom{}, fmt.Errorf("autograd: Conv2D: input %dx%d with pad %d smaller than kernel %d", g.h, g.w, pad, g.k)
	}
	g.oh, g.ow = (g.h+2*pad-g.k)/stride+1, (g.w+2*pad-g.k)/stride+1
	g.ckk, g.ohw, g.hw = g.c*g.k*g.k, g.oh*g.ow, g.h*g.w
	return g, nil
}

func (g *convGeom) xShape() tensor.Shape { return tensor.Shape{g.n, g.c, g.h, g.w} }
func (g *convGeom) wShape() tensor.Shape { return tensor.Shape{g.o, g.c, g.k, g.k} }
func (g *convGeom) yShape() tensor.Shape { return tensor.Shape{g.n, g.o, g.oh, g.ow} }

// outRange returns the output positions [lo, hi) along an axis of length size (output length
// out) whose input coordinate pos*stride - pad + kOff falls inside [0, size).
func (g *convGeom) outRange(kOff, size, out int) (lo, hi int) {
	if d := g.pad - kOff; d > 0 {
		lo = min(out, (d+g.stride-1)/g.stride)
	}
	if last := size - 1 + g.pad - kOff; last >= 0 {
		hi = min(out, last/g.stride+1)
	}
	return lo, max(lo, hi)
}

// im2col writes the patches of one image x (C,H,W) into col (CKK x OHW):
// col[(c*K+kh)*K+kw][oy*OW+ox] = x[c, oy*stride-pad+kh, ox*stride-pad+kw], 0 outside x.
func (g *convGeom) im2col(col, x []float32) {
	for c := 0; c < g.c; c++ {
		plane := x[c*g.hw:][:g.hw]
		for kh := 0; kh < g.k; kh++ {
			ylo, yhi := g.outRange(kh, g.h, g.oh)
			for kw := 0; kw < g.k; kw++ {
				row := col[((c*g.k+kh)*g.k+kw)*g.ohw:][:g.ohw]
				xlo, xhi := g.outRange(kw, g.w, g.ow)
				clear(row[:ylo*g.ow])
				clear(row[yhi*g.ow:])
				for oy := ylo; oy < yhi; oy++ {
					dst := row[oy*g.ow:][:g.ow]
					src := plane[(oy*g.stride-g.pad+kh)*g.w:][:g.w]
					clear(dst[:xlo])
					clear(dst[xhi:])
					if g.stride == 1 {
						// A loop, not copy: rows are short (8 to 24 values in LeNet-5) and a
						// memmove call per row costs more than the copy itself.
						s := src[xlo-g.pad+kw:][:xhi-xlo]
						for i, v := range s {
							dst[xlo+i] = v
						}
						continue
					}
					for ox := xlo; ox < xhi; ox++ {
						dst[ox] = src[ox*g.stride-g.pad+kw]
					}
				}
			}
		}
	}
}

// col2im adds the patch gradients col (CKK x OHW) back onto one image's gradient dx (C,H,W):
// the adjoint of im2col. dx must be zeroed by the caller. Without stride or padding, for an
// output width that is a multiple of 8 and once patchTables has run, col2imdirect_amd64.s
// makes the same adds in the same order in one call.
func (g *convGeom) col2im(dx, col []float32) {
	if useAVX2 && g.patchesDirect() && g.ow%8 == 0 && len(g.off) == g.ckk && g.ckk > 0 && g.oh > 0 {
		_, _ = dx[g.off[g.ckk-1]+(g.oh-1)*g.w+g.ow-1], col[g.ckk*g.ohw-1] // the last reads
		col2imDirectAsm(&dx[0], &col[0], &g.off[0], g.ckk, g.oh, g.ow/8, g.w)
		return
	}
	for c := 0; c < g.c; c++ {
		plane := dx[c*g.hw:][:g.hw]
		for kh := 0; kh < g.k; kh++ {
			ylo, yhi := g.outRange(kh, g.h, g.oh)
			for kw := 0; kw < g.k; kw++ {
				row := col[((c*g.k+kh)*g.k+kw)*g.ohw:][:g.ohw]
				xlo, xhi := g.outRange(kw, g.w, g.ow)
				if n8 := (xhi - xlo) &^ 7; g.stride == 1 && useAVX2 && n8 > 0 && yhi > ylo {
					// The runs' first n8 values, eight at a time (same adds, same order), then
					// the rest below.
					d0 := (ylo-g.pad+kh)*g.w + xlo - g.pad + kw
					_, _ = plane[d0+(yhi-ylo-1)*g.w+n8-1], row[ylo*g.ow+xlo+(yhi-ylo-1)*g.ow+n8-1]
					addRowsAsm(&plane[d0], &row[ylo*g.ow+xlo], yhi-ylo, n8, g.w, g.ow)
					xlo += n8
				}
				for oy := ylo; oy < yhi; oy++ {
					src := row[oy*g.ow:][:g.ow]
					dst := plane[(oy*g.stride-g.pad+kh)*g.w:][:g.w]
					if g.stride == 1 {
						d := dst[xlo-g.pad+kw:][:xhi-xlo]
						for i, v := range src[xlo:xhi] {
							d[i] += v
						}
						continue
					}
					for ox := xlo; ox < xhi; ox++ {
						dst[ox*g.stride-g.pad+kw] += src[ox]
					}
				}
			}
		}
	}
}

// splitBatch runs f(worker, lo, hi) for the images [0, h) and [h, n), h = (n+1)/2, on two
// goroutines. The partition depends on n only, which keeps reductions deterministic.
func splitBatch(n int, f func(worker, lo, hi int)) {
	h := (n + 1) / 2
	if n < 2 {
		f(0, 0, n)
		f(1, n, n)
		return
	}
	parallel2(func() { f(0, 0, h) }, func() { f(1, h, n) })
}

// conv2DOp: (x, w) -> y.
type conv2DOp struct {
	opBase
	g         convGeom
	inputGrad bool
	wp        packedA      // W packed once per run for the GEMM micro-kernel
	cols      [2][]float32 // per-worker im2col buffers, when the patches are not kept

	// With a gradient (SymDiff was called) the forward keeps every image's patches for the dW
	// op: colAll holds N blocks of CKK x OHW, made from the x whose data starts at colsOf.
	keepCols bool
	colAll   []float32
	colsOf   *float32
	patches  [2]convPatches // per-worker patch packers, when the patches are packed from x
	y        outBuf
}

func (op *conv2DOp) Arity() int { return 2 }
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
		d, s, err := f32(v)
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
	op.wp.pack(false, g.o, g.ckk, 1, w, g.ckk)
	size := g.ckk * g.ohw
	op.colsOf = nil
	direct := g.patchesDirect()
	if direct {
		// The GEMM packs the patches from x (convPatches) and the dW op does the same: no
		// im2col matrix.
		g.patchTables()
		splitBatch(g.n, func(wk, lo, hi int) {
			pk := &op.patches[wk]
			for n := lo; n < hi; n++ {
				*pk = convPatches{g: g, x: x[n*g.c*g.hw:][:g.c*g.hw]}
				sgemmPackedAB(&op.wp, pk, g.ohw, 0, y[n*g.o*g.ohw:], g.ohw)
			}
		})
		return out, nil
	}
	if op.keepCols {
		op.colAll = grow(op.colAll, g.n*size)
	}
	splitBatch(g.n, func(wk, lo, hi int) {
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
			g.im2col(col, x[n*g.c*g.hw:])
			// Y_n (O x OHW) = W (O x CKK) * col_n (CKK x OHW)
			sgemmPackedA(&op.wp, false, g.ohw, col, g.ohw, 0, y[n*g.o*g.ohw:], g.ohw)
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
	dw, err := gorgonia.ApplyOp(&conv2DGradWOp{opBase: newOpBase("Conv2DGradW"), fwd: op}, inputs[0], grad, output)
	if err != nil {
		return nil, err
	}
	if !op.inputGrad {
		return gorgonia.Nodes{nil, dw}, nil
	}
	dx, err := gorgonia.ApplyOp(&conv2DGradXOp{opBase: newOpBase("Conv2DGradX"), g: op.g}, inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dw}, nil
}

// conv2DGradXOp: (w, dy) -> dx, dX_n = col2im(W^T * dY_n).
type conv2DGradXOp struct {
	opBase
	g    convGeom
	wtp  packedA // W^T packed once per run
	cols [2][]float32
	dx   outBuf
}

func (op *conv2DGradXOp) Arity() int { return 2 }
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
	op.wtp.pack(true, g.ckk, g.o, 1, w, g.ckk)
	if g.patchesDirect() {
		g.patchTables() // col2im's offsets
	}
	splitBatch(g.n, func(wk, lo, hi int) {
		if lo == hi {
			return
		}
		col := grow(op.cols[wk], g.ckk*g.ohw)
		op.cols[wk] = col
		for n := lo; n < hi; n++ {
			// dcol (CKK x OHW) = W^T (CKK x O) * dY_n (O x OHW)
			sgemmPackedA(&op.wtp, false, g.ohw, dy[n*g.o*g.ohw:], g.ohw, 0, col, g.ohw)
			g.col2im(dx[n*g.c*g.hw:], col)
		}
	})
	return out, nil
}

// conv2DGradWOp: (x, dy, y) -> dw = sum_n dY_n * col_n^T, with the patches col_n the forward
// kept (recomputed from x if they are not those of this x).
type conv2DGradWOp struct {
	opBase
	fwd      *conv2DOp
	cols     [2][]float32
	patches  [2]convPatches
	partials [2][]float32 // per-worker sums of dY_n * col_n^T
	dw       outBuf
}

func (op *conv2DGradWOp) Arity() int { return 3 }
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
	size, csize := g.o*g.ckk, g.ckk*g.ohw
	cached := op.fwd.colsOf == &x[0] && len(op.fwd.colAll) == g.n*csize
	direct := g.patchesDirect()
	if direct {
		g.patchTables()
	}
	splitBatch(g.n, func(wk, lo, hi int) {
		part := grow(op.partials[wk], size)
		op.partials[wk] = part
		clear(part)
		if lo == hi {
			return
		}
		if direct {
			pk := &op.patches[wk]
			for n := lo; n < hi; n++ {
				*pk = convPatches{g: g, x: x[n*g.c*g.hw:][:g.c*g.hw], t: true}
				// part (O x CKK) += dY_n (O x OHW) * col_n^T (OHW x CKK), col_n^T packed from x
				sgemmSerialB(g.o, g.ckk, g.ohw, dy[n*g.o*g.ohw:], g.ohw, pk, 1, part, g.ckk)
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
				g.im2col(col, x[n*g.c*g.hw:])
			}
			// part (O x CKK) += dY_n (O x OHW) * col_n^T (OHW x CKK)
			sgemmSerial(false, true, g.o, g.ckk, g.ohw, 1, dy[n*g.o*g.ohw:], g.ohw, col, g.ohw, 1, part, g.ckk)
		}
	})
	out, dw := op.dw.data(g.wShape())
	for i := range dw {
		dw[i] = op.partials[0][i] + op.partials[1][i]
	}
	return out, nil
}
