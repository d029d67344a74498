package autograd

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

func denseF32(data []float32, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

func TestConv2DGradWPatchCache(t *testing.T) {
	// The dW op uses the patches the forward kept only when they were made from the x it is
	// given; otherwise it recomputes them. Both paths give the same bits.
	g, err := newConvGeom(tensor.Shape{3, 2, 7, 6}, tensor.Shape{4, 2, 3, 3}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(40, 1))
	x1, x2, w := randMat(rng, 1, 3*2*7*6), randMat(rng, 1, 3*2*7*6), randMat(rng, 1, 4*2*3*3)
	dy := randMat(rng, 1, g.n*g.o*g.ohw)
	fwd := &conv2DOp{opBase: newOpBase("Conv2D"), g: g, inputGrad: true, keepCols: true}
	gw := &conv2DGradWOp{opBase: newOpBase("Conv2DGradW"), fwd: fwd}
	run := func(x []float32) []float32 {
		t.Helper()
		dw, err := gw.Do(denseF32(x, 3, 2, 7, 6), denseF32(dy, g.n, g.o, g.oh, g.ow), nil)
		if err != nil {
			t.Fatal(err)
		}
		return dw.(tensor.Tensor).Data().([]float32)
	}
	if _, err := fwd.Do(denseF32(x1, 3, 2, 7, 6), denseF32(w, 4, 2, 3, 3)); err != nil {
		t.Fatal(err)
	}
	if fwd.colsOf != &x1[0] {
		t.Fatal("forward did not record its patches")
	}
	cached := run(x1)
	fwd.colsOf = nil
	recomputed := run(x1)
	for i := range cached {
		if math.Float32bits(cached[i]) != math.Float32bits(recomputed[i]) {
			t.Fatalf("dw[%d]: cached patches %g, recomputed %g", i, cached[i], recomputed[i])
		}
	}
	// Patches of x1 must not be used for x2.
	fwd.colsOf = &x1[0]
	other := run(x2)
	if _, err := fwd.Do(denseF32(x2, 3, 2, 7, 6), denseF32(w, 4, 2, 3, 3)); err != nil {
		t.Fatal(err)
	}
	want := run(x2)
	for i := range want {
		if math.Float32bits(other[i]) != math.Float32bits(want[i]) {
			t.Fatalf("dw[%d] for another x: %g, want %g", i, other[i], want[i])
		}
	}
}

func TestIm2colCol2imAdjoint(t *testing.T) {
	// col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)> for random x and c,
	// over strides, paddings and kernels larger than the input.
	rng := rand.New(rand.NewPCG(41, 1))
	for _, s := range []struct{ c, h, w, k, stride, pad int }{
		{2, 5, 5, 3, 1, 1}, {3, 7, 6, 3, 2, 1}, {1, 3, 3, 5, 1, 1}, {2, 6, 7, 2, 3, 0}, {1, 1, 1, 3, 2, 2},
	} {
		g, err := newConvGeom(tensor.Shape{1, s.c, s.h, s.w}, tensor.Shape{1, s.c, s.k, s.k}, s.stride, s.pad)
		if err != nil {
			t.Fatal(err)
		}
		x, c := randMat(rng, 1, s.c*s.h*s.w), randMat(rng, 1, g.ckk*g.ohw)
		col, dx := make([]float32, len(c)), make([]float32, len(x))
		g.im2col(col, x)
		g.col2im(dx, c)
		var l, r float64
		for i := range c {
			l += float64(col[i]) * float64(c[i])
		}
		for i := range x {
			r += float64(x[i]) * float64(dx[i])
		}
		if math.Abs(l-r) > 1e-4*(1+math.Abs(l)) {
			t.Errorf("%+v: <im2col x, c> = %g, <x, col2im c> = %g", s, l, r)
		}
	}
}

// TestConvPatchesMatchPackB: for convolutions of stride 1 without padding, the patches packed
// straight from the image are the values packB makes from im2col's matrix, for the forward's
// op(B) = col and the dW op's op(B) = col^T, over the depth and column blocks a GEMM asks for
// (blocks that cross output rows, partial strips, depths past gemmKC). The GEMM reads nothing
// else, so both paths give the same bits.
func TestConvPatchesMatchPackB(t *testing.T) {
	rng := rand.New(rand.NewPCG(83, 84))
	for _, sh := range [][4]int{{1, 28, 28, 5}, {20, 12, 12, 5}, {3, 9, 13, 3}, {2, 5, 5, 5}, {12, 10, 30, 3}, {1, 6, 7, 2}} {
		c, h, w, k := sh[0], sh[1], sh[2], sh[3]
		g, err := newConvGeom(tensor.Shape{1, c, h, w}, tensor.Shape{4, c, k, k}, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !g.patchesDirect() {
			t.Fatalf("%v: stride 1, no padding, not direct", sh)
		}
		g.patchTables()
		x := randMat(rng, 1, c*h*w)
		col := make([]float32, g.ckk*g.ohw)
		g.im2col(col, x)
		for _, tr := range []bool{false, true} {
			rows, cols := g.ckk, g.ohw // op(B) is rows x cols
			if tr {
				rows, cols = cols, rows
			}
			for trial := range 40 {
				pc, jc := rng.IntN(rows), rng.IntN(cols)
				kc, nc := 1+rng.IntN(min(gemmKC, rows-pc)), 1+rng.IntN(cols-jc)
				if trial == 0 {
					pc, jc, kc, nc = 0, 0, min(gemmKC, rows), cols
				}
				if trial == 1 && rows >= 16 { // eight-row blocks away from the start (patchtrans_amd64.s)
					pc = 8 * rng.IntN(rows/8-1)
					kc = 8 * (1 + rng.IntN(min(gemmKC, rows-pc)/8))
				}
				size := roundUp(nc, gemmNR) * kc
				want, got := make([]float32, size), make([]float32, size)
				for i := range got {
					got[i] = float32(math.NaN()) // every position must be written
				}
				packB(want, tr, col, g.ohw, pc, kc, jc, nc)
				p := convPatches{g: &g, x: x, t: tr}
				p.packB(got, pc, kc, jc, nc)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v transposed %v block pc %d kc %d jc %d nc %d: packed[%d] = %v, want %v", sh, tr, pc, kc, jc, nc, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestCol2imBits: col2im (with its vector row adds where the CPU has them) gives the bits of
// the plain scatter-add in the same order (c, kh, kw, oy, ox), for strides, padding, widths
// that leave a remainder past the groups of eight, and NaNs with payloads.
func TestCol2imBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(85, 86))
	for _, sh := range [][6]int{{20, 12, 12, 5, 1, 0}, {1, 28, 28, 5, 1, 0}, {3, 13, 19, 3, 1, 1}, {2, 11, 10, 3, 2, 1}, {4, 30, 33, 5, 1, 2}, {2, 9, 9, 2, 1, 0}} {
		c, h, w, k, stride, pad := sh[0], sh[1], sh[2], sh[3], sh[4], sh[5]
		g, err := newConvGeom(tensor.Shape{1, c, h, w}, tensor.Shape{3, c, k, k}, stride, pad)
		if err != nil {
			t.Fatal(err)
		}
		col := randMat(rng, 1, g.ckk*g.ohw)
		for i := range col {
			if rng.IntN(200) == 0 {
				col[i] = math.Float32frombits(0x7fc00000 | uint32(rng.IntN(1<<20)))
			}
		}
		got, want := make([]float32, c*h*w), make([]float32, c*h*w)
		g.col2im(got, col)
		direct := make([]float32, c*h*w) // with convPatches' tables (col2imdirect_amd64.s)
		if g.patchesDirect() {
			g.patchTables()
			g.col2im(direct, col)
		}
		for cc := 0; cc < c; cc++ {
			for kh := 0; kh < k; kh++ {
				for kw := 0; kw < k; kw++ {
					r := (cc*k+kh)*k + kw
					for oy := 0; oy < g.oh; oy++ {
						for ox := 0; ox < g.ow; ox++ {
							iy, ix := oy*stride-pad+kh, ox*stride-pad+kw
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								want[cc*h*w+iy*w+ix] += col[r*g.ohw+oy*g.ow+ox]
							}
						}
					}
				}
			}
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v: dx[%d] = %v (%#x), want %v (%#x)", sh, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			}
			if g.patchesDirect() && math.Float32bits(direct[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v with tables: dx[%d] = %v (%#x), want %v (%#x)", sh, i, direct[i], math.Float32bits(direct[i]), want[i], math.Float32bits(want[i]))
			}
		}
	}
}
