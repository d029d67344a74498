package f32

import (
	"math"
	"math/rand/v2"
	"testing"
)

// poolSpecials are values whose comparisons and sums are the edge cases of the kernels: signed
// zeros, infinities, extremes, subnormals, and NaNs of either sign, with payloads, quiet and
// signalling.
var poolSpecials = []uint32{
	0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7f7fffff, 0xff7fffff,
	0x00000001, 0x80000001, 0x7fc00000, 0xffc00000, 0x7fc01234, 0x7f800001, 0xff812345,
}

func TestMaxPoolVecMatchesRef(t *testing.T) {
	// The vector forward and backward give forwardRef's and backwardRef's bits (y, argmax, dx)
	// on random, tied and special data, for LeNet-5's shapes and for widths and heights that
	// leave remainders (odd sizes, rows whose output count is not a multiple of 8 or 4).
	if !useAsmPool {
		t.Skip("no vector max-pool kernel in this build")
	}
	rng := rand.New(rand.NewPCG(71, 72))
	type shape struct{ n, c, h, w int }
	shapes := []shape{{64, 20, 24, 24}, {64, 50, 8, 8}, {2, 3, 8, 8}, {2, 3, 9, 9}, {1, 2, 6, 16}}
	for w := 8; w <= 37; w++ {
		shapes = append(shapes, shape{2, 2, 4 + w%5, w})
	}
	gens := []struct {
		name string
		gen  func() float32
	}{
		{"normal", func() float32 { return float32(rng.NormFloat64()) }},
		{"ties", func() float32 { return float32(rng.IntN(3) - 1) }}, // many ties of 0 and ±1
		{"zeros", func() float32 { return math.Float32frombits(uint32(rng.IntN(2)) << 31) }},
		{"specials", func() float32 { return math.Float32frombits(poolSpecials[rng.IntN(len(poolSpecials))]) }},
	}
	for _, sh := range shapes {
		g := Pool{N: sh.n, C: sh.c, H: sh.h, W: sh.w, K: 2, Stride: 2}
		g.OH, g.OW = (g.H-2)/2+1, (g.W-2)/2+1
		x := make([]float32, g.N*g.C*g.H*g.W)
		for _, gen := range gens {
			for i := range x {
				x[i] = gen.gen()
			}
			checkPoolVec(t, &g, x, rng, gen.name)
		}
		// Each special value at each window position, the other three random or tied.
		for _, sp := range poolSpecials {
			for p := range 4 {
				for i := range x {
					if rng.IntN(2) == 0 {
						x[i] = float32(rng.NormFloat64())
					} else {
						x[i] = math.Float32frombits(uint32(rng.IntN(2)) << 31)
					}
					row, col := i/g.W%g.H, i%g.W
					if row%2 == p/2 && col%2 == p%2 {
						x[i] = math.Float32frombits(sp)
					}
				}
				checkPoolVec(t, &g, x, rng, "special at one position")
			}
		}
	}
}

// checkPoolVec compares the vector paths with the reference ones on x: forward over all planes
// and over a middle part, then backward with dy holding signed zeros and specials, into dx
// buffers holding a NaN pattern that both must overwrite (or leave) alike.
func checkPoolVec(t *testing.T, g *Pool, x []float32, rng *rand.Rand, what string) {
	t.Helper()
	planes, ny := g.N*g.C, g.N*g.C*g.OH*g.OW
	ranges := [][2]int{{0, planes}}
	if planes > 2 {
		ranges = append(ranges, [2]int{1, planes - 1})
	}
	dy := make([]float32, ny)
	for i := range dy {
		switch rng.IntN(4) {
		case 0:
			dy[i] = math.Float32frombits(poolSpecials[rng.IntN(len(poolSpecials))])
		default:
			dy[i] = float32(rng.NormFloat64())
		}
	}
	for _, r := range ranges {
		lo, hi := r[0], r[1]
		y0, y1 := make([]float32, ny), make([]float32, ny)
		a0, a1 := make([]int32, ny), make([]int32, ny)
		g.forwardRef(y0, a0, x, lo, hi)
		g.forward2x2Vec(y1, a1, x, lo, hi)
		for o := range y0 {
			if math.Float32bits(y0[o]) != math.Float32bits(y1[o]) || a0[o] != a1[o] {
				t.Fatalf("%dx%dx%dx%d %s, planes [%d,%d), output %d: vector (%#08x, %d), reference (%#08x, %d)",
					g.N, g.C, g.H, g.W, what, lo, hi, o, math.Float32bits(y1[o]), a1[o], math.Float32bits(y0[o]), a0[o])
			}
		}
		d0, d1 := make([]float32, len(x)), make([]float32, len(x))
		for i := range d0 {
			d0[i] = math.Float32frombits(0x7fc0dead)
			d1[i] = d0[i]
		}
		g.backwardRef(d0, dy, a0, lo, hi)
		g.backward2x2Vec(d1, dy, a0, lo, hi)
		for i := range d0 {
			if math.Float32bits(d0[i]) != math.Float32bits(d1[i]) {
				t.Fatalf("%dx%dx%dx%d %s, planes [%d,%d), dx[%d]: vector %#08x, reference %#08x",
					g.N, g.C, g.H, g.W, what, lo, hi, i, math.Float32bits(d1[i]), math.Float32bits(d0[i]))
			}
		}
	}
}

// BenchmarkMaxPoolKernels times forwardRef, forward2x2Vec, backwardRef and backward2x2Vec on
// one goroutine over a whole batch of LeNet-5's two pooling shapes, in ns per output.
func BenchmarkMaxPoolKernels(b *testing.B) {
	for _, sh := range []struct {
		name       string
		n, c, h, w int
	}{{"pool1", 64, 20, 24, 24}, {"pool2", 64, 50, 8, 8}} {
		g := Pool{N: sh.n, C: sh.c, H: sh.h, W: sh.w, K: 2, Stride: 2, OH: sh.h / 2, OW: sh.w / 2}
		rng := rand.New(rand.NewPCG(73, 74))
		x, dx := make([]float32, g.N*g.C*g.H*g.W), make([]float32, g.N*g.C*g.H*g.W)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		ny := g.N * g.C * g.OH * g.OW
		y, am, dy := make([]float32, ny), make([]int32, ny), make([]float32, ny)
		for i := range dy {
			dy[i] = float32(rng.NormFloat64())
		}
		planes := g.N * g.C
		g.forwardRef(y, am, x, 0, planes)
		for _, c := range []struct {
			name string
			run  func()
			vec  bool
		}{
			{"forward/ref", func() { g.forwardRef(y, am, x, 0, planes) }, false},
			{"forward/vec", func() { g.forward2x2Vec(y, am, x, 0, planes) }, true},
			{"backward/ref", func() { g.backwardRef(dx, dy, am, 0, planes) }, false},
			{"backward/vec", func() { g.backward2x2Vec(dx, dy, am, 0, planes) }, true},
		} {
			b.Run(sh.name+"/"+c.name, func(b *testing.B) {
				if c.vec && !useAsmPool {
					b.Skip("no vector max-pool kernel in this build")
				}
				for b.Loop() {
					c.run()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(ny), "ns/output")
			})
		}
	}
}
