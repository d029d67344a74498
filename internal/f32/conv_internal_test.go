package f32

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestIm2colCol2imAdjoint(t *testing.T) {
	// col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)> for random x and c,
	// over strides, paddings and kernels larger than the input.
	rng := rand.New(rand.NewPCG(41, 1))
	for _, s := range []struct{ c, h, w, k, stride, pad int }{
		{2, 5, 5, 3, 1, 1}, {3, 7, 6, 3, 2, 1}, {1, 3, 3, 5, 1, 1}, {2, 6, 7, 2, 3, 0}, {1, 1, 1, 3, 2, 2},
	} {
		g, err := testConv([]int{1, s.c, s.h, s.w}, []int{1, s.c, s.k, s.k}, s.stride, s.pad)
		if err != nil {
			t.Fatal(err)
		}
		x, c := randMat(rng, 1, s.c*s.h*s.w), randMat(rng, 1, g.CKK*g.OHW)
		col, dx := make([]float32, len(c)), make([]float32, len(x))
		g.Im2col(col, x)
		g.Col2im(dx, c)
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
		g, err := testConv([]int{1, c, h, w}, []int{4, c, k, k}, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !g.PatchesDirect() {
			t.Fatalf("%v: stride 1, no padding, not direct", sh)
		}
		g.PatchTables()
		x := randMat(rng, 1, c*h*w)
		col := make([]float32, g.CKK*g.OHW)
		g.Im2col(col, x)
		for _, tr := range []bool{false, true} {
			rows, cols := g.CKK, g.OHW // op(B) is rows x cols
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
				packB(want, tr, col, g.OHW, pc, kc, jc, nc)
				p := ConvPatches{G: g, X: x, T: tr}
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
		g, err := testConv([]int{1, c, h, w}, []int{3, c, k, k}, stride, pad)
		if err != nil {
			t.Fatal(err)
		}
		col := randMat(rng, 1, g.CKK*g.OHW)
		for i := range col {
			if rng.IntN(200) == 0 {
				col[i] = math.Float32frombits(0x7fc00000 | uint32(rng.IntN(1<<20)))
			}
		}
		got, want := make([]float32, c*h*w), make([]float32, c*h*w)
		g.Col2im(got, col)
		direct := make([]float32, c*h*w) // with ConvPatches' tables (col2imdirect_amd64.s)
		if g.PatchesDirect() {
			g.PatchTables()
			g.Col2im(direct, col)
		}
		for cc := 0; cc < c; cc++ {
			for kh := 0; kh < k; kh++ {
				for kw := 0; kw < k; kw++ {
					r := (cc*k+kh)*k + kw
					for oy := 0; oy < g.OH; oy++ {
						for ox := 0; ox < g.OW; ox++ {
							iy, ix := oy*stride-pad+kh, ox*stride-pad+kw
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								want[cc*h*w+iy*w+ix] += col[r*g.OHW+oy*g.OW+ox]
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
			if g.PatchesDirect() && math.Float32bits(direct[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v with tables: dx[%d] = %v (%#x), want %v (%#x)", sh, i, direct[i], math.Float32bits(direct[i]), want[i], math.Float32bits(want[i]))
			}
		}
	}
}

// testConv is the Conv of input shape xs (N,C,H,W) and weight shape ws (O,C,K,K).
func testConv(xs, ws []int, stride, pad int) (*Conv, error) {
	g := &Conv{N: xs[0], C: xs[1], H: xs[2], W: xs[3], O: ws[0], K: ws[2], Stride: stride, Pad: pad}
	if ws[1] != xs[1] || g.H+2*pad < g.K || g.W+2*pad < g.K {
		return nil, fmt.Errorf("weights %v do not fit input %v", ws, xs)
	}
	g.Init()
	return g, nil
}
