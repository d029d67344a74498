package f32

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkBiasReLURow times the forward of BiasReLU on rows of conv1's output (24x24), with
// the range pass reluTop and, for comparison, without it and with rangeOf's separate pass.
func BenchmarkBiasReLURow(b *testing.B) {
	rng := rand.New(rand.NewPCG(71, 72))
	x := make([]float32, 576)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y, m := make([]float32, len(x)), make([]uint8, len(x))
	b.Run("fused-range", func(b *testing.B) {
		for b.Loop() {
			BiasReLURow(y, m, x, 0.1)
		}
	})
	b.Run("no-range", func(b *testing.B) {
		for b.Loop() {
			biasReLURowNoRange(y, m, x, 0.1)
		}
	})
	b.Run("rangeOf", func(b *testing.B) {
		for b.Loop() {
			RangeOf(y)
		}
	})
}

// biasReLURowNoRange is BiasReLURow without reluTop, for BenchmarkBiasReLURow.
func biasReLURowNoRange(y []float32, mask []uint8, x []float32, b float32) {
	y, mask = y[:len(x)], mask[:len(x)]
	for k, v := range x {
		pre := v + b
		m := b2i(pre >= 0)
		y[k] = pre * float32(m)
		mask[k] = uint8(m)
	}
}

// TestBiasReLURowVec: BiasReLURow (vector kernel where the CPU has one) writes the bits and
// mask of biasReLURowRef and finds the same range, for NaN, infinities, signed zeros, values
// that cancel the bias, and every length up to a few groups.
func TestBiasReLURowVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(77, 78))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), math.MaxFloat32}
	for n := 0; n < 40; n++ {
		for _, b := range []float32{0, float32(math.Copysign(0, -1)), 0.25, -0.25, float32(math.Inf(1))} {
			for trial := range 4 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
					switch rng.IntN(6) {
					case 0:
						x[i] = -b // pre = +0 (or NaN for an infinite b)
					case 1:
						if trial > 0 {
							x[i] = specials[rng.IntN(len(specials))]
						}
					}
				}
				gy, wy := make([]float32, n), make([]float32, n)
				gm, wm := make([]uint8, n), make([]uint8, n)
				gh, gn := BiasReLURow(gy, gm, x, b)
				wh, wn := biasReLURowRef(wy, wm, x, b)
				if math.Float32bits(gh) != math.Float32bits(wh) || gn != wn {
					t.Fatalf("n %d b %v: range (%v, %v), want (%v, %v)", n, b, gh, gn, wh, wn)
				}
				for i := range x {
					if math.Float32bits(gy[i]) != math.Float32bits(wy[i]) || gm[i] != wm[i] {
						t.Fatalf("n %d b %v: x[%d] = %v: y %v mask %d, want %v %d", n, b, i, x[i], gy[i], gm[i], wy[i], wm[i])
					}
				}
			}
		}
	}
}

// TestReluBiasGradRows: four channels side by side give the reference's dpre and channel sums
// bit for bit (each sum keeps its order), for channel counts with and without a remainder.
func TestReluBiasGradRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(79, 80))
	for _, sh := range [][3]int{{3, 20, 576}, {2, 50, 64}, {5, 7, 3}, {4, 500, 1}, {1, 3, 9}, {2, 17, 8}, {3, 26, 24}} {
		n, c, inner := sh[0], sh[1], sh[2]
		dy := make([]float32, n*c*inner)
		mask := make([]uint8, len(dy))
		for i := range dy {
			dy[i] = float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(20)-10)))
			mask[i] = uint8(rng.IntN(2))
			if inner%8 == 0 && inner <= 24 {
				// Signed zeros, infinities (Inf * 0 is NaN) and NaN payloads.
				switch rng.IntN(300) {
				case 0:
					dy[i] = float32(math.Copysign(0, -1))
				case 1:
					dy[i] = float32(math.Inf(1 - 2*rng.IntN(2)))
				case 2:
					dy[i] = math.Float32frombits(0x7fc00000 | uint32(rng.IntN(1<<20)))
				}
			}
		}
		got, want := make([]float32, len(dy)), make([]float32, len(dy))
		gp, wp := make([]float32, c), make([]float32, c)
		for i := range gp {
			gp[i] = float32(i) * 0.1
			wp[i] = gp[i]
		}
		ReLUBiasGradRows(got, dy, mask, gp, 0, n, c, inner)
		reluBiasGradRowsRef(want, dy, mask, wp, 0, n, c, inner)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v: dpre[%d] = %v, want %v", sh, i, got[i], want[i])
			}
		}
		for i := range gp {
			// A sum of two NaNs keeps either payload: Go may commute a float add.
			bothNaN := gp[i] != gp[i] && wp[i] != wp[i]
			if math.Float32bits(gp[i]) != math.Float32bits(wp[i]) && !bothNaN {
				t.Fatalf("%v: sum[%d] = %v, want %v", sh, i, gp[i], wp[i])
			}
		}
	}
}
