package f32

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
		g := Pool{N: 2, C: 3, H: 9, W: 8, K: 2, Stride: stride}
		g.OH, g.OW = (g.H-2)/stride+1, (g.W-2)/stride+1
		x := make([]float32, g.N*g.C*g.H*g.W)
		for i := range x {
			x[i] = special[rng.IntN(len(special))]
		}
		y, am := make([]float32, g.N*g.C*g.OH*g.OW), make([]int32, g.N*g.C*g.OH*g.OW)
		g.Forward(y, am, x, 0, g.N*g.C)
		for plane := 0; plane < g.N*g.C; plane++ {
			for oy := 0; oy < g.OH; oy++ {
				for ox := 0; ox < g.OW; ox++ {
					o := (plane*g.OH+oy)*g.OW + ox
					wv, wi := g.window(x, plane*g.H*g.W+oy*stride*g.W+ox*stride)
					if math.Float32bits(y[o]) != math.Float32bits(wv) || am[o] != wi {
						t.Fatalf("stride %d, output %d: (%g, %d), scan gives (%g, %d)", stride, o, y[o], am[o], wv, wi)
					}
				}
			}
		}
	}
}
