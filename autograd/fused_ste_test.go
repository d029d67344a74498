package autograd_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/fakequant"
	"gorgonia.org/gorgonia"
)

// TestFusedSTEMatchesUnfused: BiasReLU -> FakeQuant -> MaxPool, with the FakeQuant's STE
// applied by the pool's gradient (the default) and by its own gradient op, gives the same
// bits for the output and for dx and db, in QAT (a fixed range narrower than the data, so
// many pooled maxima are clipped) and in float mode (the STE is the identity).
func TestFusedSTEMatchesUnfused(t *testing.T) {
	const n, c, h, w = 4, 3, 6, 6
	for _, mode := range []autograd.Mode{autograd.ModeTrain, autograd.ModeFloat} {
		rng := rand.New(rand.NewPCG(91, 92))
		x0, b0 := normals(rng, n*c*h*w, 2), normals(rng, c, 0.5)
		x0[5] = float32(math.Copysign(0, -1))
		// Image 0, channel 0: a window whose maximum lands exactly on the range's top (1), and
		// one of negatives, whose ReLU outputs -0, exactly on its bottom (0); both pass.
		x0[0], x0[1], x0[6], x0[7] = 1-b0[0], -3, -3, -3
		if x0[0]+b0[0] != 1 {
			t.Fatalf("1 - b + b = %v", x0[0]+b0[0])
		}
		x0[2], x0[3], x0[8], x0[9] = -3, -3, -3, -3
		type result struct{ y, dx, db []float32 }
		run := func(fuse bool) (result, int, *autograd.ActQuantizer) {
			defer autograd.SetFuseSTE(autograd.SetFuseSTE(fuse))
			q := &autograd.ActQuantizer{Ctx: &autograd.Context{Mode: mode}, Scheme: fakequant.Scheme{Bits: 8}, Fixed: true, Min: 0, Max: 1, Seen: true}
			g := gorgonia.NewGraph()
			x := input(g, "x", append([]float32(nil), x0...), n, c, h, w)
			b := input(g, "b", append([]float32(nil), b0...), c)
			y := must(t)(autograd.MaxPool2D(must(t)(autograd.FakeQuant(must(t)(autograd.BiasReLU(x, b)), q)), 2, 2))
			p := newProbe(t, rand.New(rand.NewPCG(93, 94)), []*gorgonia.Node{y}, x, b)
			p.run()
			p.run() // buffers reused
			return result{append([]float32(nil), values(y)...), p.grad(0), p.grad(1)}, autograd.FusedSTEs(g), q
		}
		fused, nf, q := run(true)
		plain, np, _ := run(false)
		if nf != 1 || np != 0 {
			t.Fatalf("%v: %d fused STEs with fusion on, %d off; want 1 and 0", mode, nf, np)
		}
		for name, pair := range map[string][2][]float32{"y": {fused.y, plain.y}, "dx": {fused.dx, plain.dx}, "db": {fused.db, plain.db}} {
			if i, ok := bitsEqual(pair[0], pair[1]); !ok {
				t.Fatalf("%v: fused %s[%d] = %v, unfused %v", mode, name, i, pair[0][i], pair[1][i])
			}
		}
		if mode == autograd.ModeTrain {
			// Some pooled maxima must be clipped (their gradient zeroed by the STE), some not.
			_, hi := q.Params().NudgedRange()
			clipped, kept := 0, 0
			for i, v := range x0 {
				pre := float64(v + b0[i/(h*w)%c])
				if pre > hi {
					clipped++
				} else if pre > 0 {
					kept++
				}
			}
			if clipped == 0 || kept == 0 {
				t.Fatalf("data clips %d and keeps %d pre-activations: the test does not exercise the STE", clipped, kept)
			}
		}
	}
}
