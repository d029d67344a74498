package autograd

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMaxPool2x2PathMatchesScan(t *testing.T) {
	// The branch-free 2x2 path picks the same value (bits) and index as the general strict >
	// scan, on data full of ties, signed zeros, infinities and NaNs.
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	rng := rand.New(rand.NewPCG(42, 1))
	for _, stride := range []int{1, 2, 3} {
		g := poolGeom{n: 2, c: 3, h: 9, w: 8, k: 2, stride: stride}
		g.oh, g.ow = (g.h-2)/stride+1, (g.w-2)/stride+1
		x := make([]float32, g.n*g.c*g.h*g.w)
		for i := range x {
			x[i] = special[rng.IntN(len(special))]
		}
		y, am := make([]float32, g.n*g.c*g.oh*g.ow), make([]int32, g.n*g.c*g.oh*g.ow)
		g.forward(y, am, x, 0, g.n*g.c)
		for plane := 0; plane < g.n*g.c; plane++ {
			for oy := 0; oy < g.oh; oy++ {
				for ox := 0; ox < g.ow; ox++ {
					o := (plane*g.oh+oy)*g.ow + ox
					wv, wi := g.window(x, plane*g.h*g.w+oy*stride*g.w+ox*stride)
					if math.Float32bits(y[o]) != math.Float32bits(wv) || am[o] != wi {
						t.Fatalf("stride %d, output %d: (%g, %d), scan gives (%g, %d)", stride, o, y[o], am[o], wv, wi)
					}
				}
			}
		}
	}
}
