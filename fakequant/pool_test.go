package fakequant

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// MeanMultiplier is QuantizeMultiplier(1/n), for every window the pools allow.
func TestMeanMultiplierEqualsQuantizeMultiplier(t *testing.T) {
	for n := 1; n <= MaxPoolWindow; n++ {
		m, s := MeanMultiplier(n)
		wm, ws := QuantizeMultiplier(1 / float64(n))
		if m != wm || s != ws {
			t.Fatalf("n=%d: MeanMultiplier (%d, %d), QuantizeMultiplier(1/n) (%d, %d)", n, m, s, wm, ws)
		}
	}
	for _, n := range []int{0, -1, MaxPoolWindow + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("MeanMultiplier(%d) did not panic", n)
				}
			}()
			MeanMultiplier(n)
		}()
	}
}

// AveragePool against exact rational arithmetic: under RoundSingle it is the mean rounded to
// nearest with ties toward +Inf; under RoundDouble it is within one code of that and always
// between the floor and the ceiling of the exact mean, so within the window's codes (the clamp never binds). Windows 2x2 and 3x3 and a few others, codes
// of 2..8 bits with the all-QMin and all-QMax windows and every tie.
func TestAveragePoolExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 1))
	for _, k := range []int{1, 2, 3, 4, 5, 8} {
		n := k * k
		for bitsN := 2; bitsN <= 8; bitsN++ {
			qmax := int32(1)<<bitsN - 1
			for trial := 0; trial < 400; trial++ {
				z := rng.Int32N(qmax + 1)
				codes := make([]int32, n)
				switch trial {
				case 0: // all QMin
				case 1: // all QMax
					for i := range codes {
						codes[i] = qmax
					}
				default:
					for i := range codes {
						codes[i] = rng.Int32N(qmax + 1)
					}
				}
				var sum int32
				lo, hi := codes[0], codes[0]
				for _, c := range codes {
					sum += c - z
					lo, hi = min(lo, c), max(hi, c)
				}
				// floor(sum/n + 1/2) exactly, and floor/ceil of sum/n.
				near := floorDiv(big.NewInt(int64(2*sum)+int64(n)), big.NewInt(int64(2*n))).Int64()
				fl := floorDiv(big.NewInt(int64(sum)), big.NewInt(int64(n))).Int64()
				ce := -floorDiv(big.NewInt(int64(-sum)), big.NewInt(int64(n))).Int64()
				single := AveragePool(RoundSingle, sum, n, z, 0, qmax)
				if int64(single) != int64(z)+near {
					t.Fatalf("k=%d bits=%d z=%d codes=%v: single %d, want %d", k, bitsN, z, codes, single, int64(z)+near)
				}
				double := AveragePool(RoundDouble, sum, n, z, 0, qmax)
				d := int64(double) - int64(z)
				if d < fl || d > ce || math.Abs(float64(d-near)) > 1 {
					t.Fatalf("k=%d bits=%d z=%d codes=%v: double %d outside [%d, %d]", k, bitsN, z, codes, double, int64(z)+fl, int64(z)+ce)
				}
				if double < lo || double > hi || single < lo || single > hi {
					t.Fatalf("k=%d bits=%d: result %d/%d outside the window's codes [%d, %d]", k, bitsN, single, double, lo, hi)
				}
				// The clamp to the window's own range changes nothing.
				if AveragePool(RoundDouble, sum, n, z, lo, hi) != double || AveragePool(RoundSingle, sum, n, z, lo, hi) != single {
					t.Fatalf("k=%d bits=%d: the clamp bound", k, bitsN)
				}
			}
		}
	}
}

// Ties of a 2x2 window by hand: sum(q - Z) = 2 is the mean 0.5, -2 is -0.5, 6 is 1.5.
func TestAveragePoolTies(t *testing.T) {
	for _, c := range []struct {
		sum            int32
		single, double int32
	}{
		{2, 1, 1},   // 0.5: single ties toward +Inf; double away from zero
		{-2, 0, -1}, // -0.5
		{6, 2, 2},   // 1.5
		{-6, -1, -2},
		{1, 0, 1},  // 0.25: the double rule's known excess (SRDHM 0.5 -> 1, then 1/2 -> 1)
		{3, 1, 1},  // 0.75
		{-1, 0, 0}, // -0.25: SRDHM gives -0.5 -> 0 (ties toward +Inf), then 0
	} {
		if got := AveragePool(RoundSingle, c.sum, 4, 0, -100, 100); got != c.single {
			t.Errorf("single sum %d: %d, want %d", c.sum, got, c.single)
		}
		if got := AveragePool(RoundDouble, c.sum, 4, 0, -100, 100); got != c.double {
			t.Errorf("double sum %d: %d, want %d", c.sum, got, c.double)
		}
	}
}
