package autograd

import (
	"fmt"
	"math/bits"

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
	p := poolGeom{n: s[0], c: s[1], h: s[2], w: s[3], k: k, stride: stride}
	p.oh, p.ow = (p.h-k)/stride+1, (p.w-k)/stride+1
	return gorgonia.ApplyOp(&maxPoolOp{opBase: newOpBase("MaxPool2D"), g: p}, x)
}

type poolGeom struct {
	n, c, h, w, k, stride, oh, ow int
}

func (g *poolGeom) xShape() tensor.Shape { return tensor.Shape{g.n, g.c, g.h, g.w} }
func (g *poolGeom) yShape() tensor.Shape { return tensor.Shape{g.n, g.c, g.oh, g.ow} }

// maxPoolOp: x -> y, recording argmax.
type maxPoolOp struct {
	opBase
	g      poolGeom
	argmax []int32 // flat index into x of each output's maximum, from the last forward run
	y      outBuf
}

func (op *maxPoolOp) Arity() int { return 1 }
func (op *maxPoolOp) Type() hm.Type {
	t := gorgonia.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}
func (op *maxPoolOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.g.yShape(), nil
}

func (op *maxPoolOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	g := &op.g
	x, s, err := f32(vs[0])
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
	splitBatch(g.n, func(_, lo, hi int) { g.forward(y, am, x, lo*g.c, hi*g.c) })
	return out, nil
}

// forward pools the planes (n*C + c) in [lo, hi) of x into y, recording argmax in am: with
// the vector kernel for 2x2 windows at stride 2 where the CPU has one, else with forwardRef.
func (g *poolGeom) forward(y []float32, am []int32, x []float32, lo, hi int) {
	if g.vec2x2() {
		g.forward2x2Vec(y, am, x, lo, hi)
		return
	}
	g.forwardRef(y, am, x, lo, hi)
}

// forwardRef is forward in plain Go, and the specification of the vector kernel.
func (g *poolGeom) forwardRef(y []float32, am []int32, x []float32, lo, hi int) {
	k, s, w, oh, ow := g.k, g.stride, g.w, g.oh, g.ow
	hw, ohw := g.h*w, oh*ow
	for plane := lo; plane < hi; plane++ {
		base := plane * hw
		yp, ap := y[plane*ohw:][:ohw], am[plane*ohw:][:ohw]
		for oy := 0; oy < oh; oy++ {
			top := base + oy*s*w
			yr, ar := yp[oy*ow:][:ow], ap[oy*ow:][:ow]
			if k == 2 {
				// The common 2x2 window, unrolled and without data-dependent branches (random
				// maxima make branches mispredict half the time): m is the largest value and at
				// the first position holding it, which is what the strict > scan of window picks
				// (-0 == +0, so a tie of zeros keeps the first zero, sign included, as the scan
				// does). A NaN anywhere makes m NaN; such windows go to window.
				r0, r1 := x[top:top+w], x[top+w:top+2*w]
				for ox := range yr {
					j := ox * s
					v0, v1, v2, v3 := r0[j], r0[j+1], r1[j], r1[j+1]
					m := max(v0, v1, v2, v3)
					if m != m {
						yr[ox], ar[ox] = g.window(x, top+j)
						continue
					}
					found := b2i(v0 == m) | b2i(v1 == m)<<1 | b2i(v2 == m)<<2 | 8
					at := bits.TrailingZeros8(uint8(found))
					idx := top + j + at&1 + at>>1*w
					yr[ox], ar[ox] = x[idx], int32(idx) // x[idx], not m: max(-0, +0) is +0
				}
				continue
			}
			for ox := range yr {
				yr[ox], ar[ox] = g.window(x, top+ox*s)
			}
		}
	}
}

// window scans the k x k window whose top-left element is x[first] in row-major order and
// returns its first maximum (strict >) and that element's index.
func (g *poolGeom) window(x []float32, first int) (float32, int32) {
	best, at := x[first], first
	for i := 0; i < g.k; i++ {
		row := first + i*g.w
		for j, v := range x[row : row+g.k] {
			if v > best {
				best, at = v, row+j
			}
		}
	}
	return best, int32(at)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func make32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func (op *maxPoolOp) DiffWRT(int) []bool { return []bool{true} }

func (op *maxPoolOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	// output is an operand only to order the gradient after the forward run that fills argmax.
	g := &maxPoolGradOp{opBase: newOpBase("MaxPool2DGrad"), fwd: op}
	dx, err := gorgonia.ApplyOp(g, output, grad)
	return gorgonia.Nodes{dx}, err
}

// maxPoolGradOp: (y, dy) -> dx, dx[argmax[i]] += dy[i]; y is not read.
type maxPoolGradOp struct {
	opBase
	fwd *maxPoolOp
	dx  outBuf
}

func (op *maxPoolGradOp) Arity() int { return 2 }
func (op *maxPoolGradOp) Type() hm.Type {
	t := gorgonia.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op *maxPoolGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.fwd.g.xShape(), nil
}
func (op *maxPoolGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	g := &op.fwd.g
	dy, s, err := f32(vs[1])
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
	splitBatch(g.n, func(_, lo, hi int) {
		// Each image's argmax points into that image, so the halves write disjoint parts of dx.
		if g.vec2x2() {
			g.backward2x2Vec(dx, dy, am, lo*g.c, hi*g.c)
			return
		}
		g.backwardRef(dx, dy, am, lo*g.c, hi*g.c)
	})
	return out, nil
}

// backwardRef sets the planes [lo, hi) of dx to zero and then adds each dy of those planes'
// outputs at its argmax: dx[am[o]] += dy[o]. It is the specification of backward2x2Vec.
func (g *poolGeom) backwardRef(dx, dy []float32, am []int32, lo, hi int) {
	per := g.oh * g.ow
	clear(dx[lo*g.h*g.w : hi*g.h*g.w])
	for o := lo * per; o < hi*per; o++ {
		dx[am[o]] += dy[o]
	}
}
