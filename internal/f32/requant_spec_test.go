package f32

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qatgo/qatgo/fakequant"
)

// TestRequantFastFormsMatchFakequant: the fast forms of the requantization (RequantChannel and
// RequantColumns4: the AVX2 kernels where the CPU has them, the Go twin requantRow in purego
// builds and elsewhere) and requantRow itself write, for both rounding rules, every exponent
// and edge accumulators (rounding ties and their neighbours, the int32 saturation bounds,
// products on the multiplier's rounding boundaries, huge values, NaN, infinities, zeros of
// both signs), the real value of fakequant's code:
//
//	code = fakequant.RequantizeWith(rule, SaturateAccumulator(math.Round(x/s), shift), M, shift, Z, QMin, hi)
//	want = float32(float64(code - Z) * S_out)
//
// computed here from fakequant's scalar functions, not from the kernels' value table.
func TestRequantFastFormsMatchFakequant(t *testing.T) {
	rng := rand.New(rand.NewPCG(101, 102))
	ys := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994,
		math.Nextafter(0.5, 1), math.Nextafter(1.5, 0), math.Nextafter(-1.5, 0), 2147483646.5, 2147483647, 2147483647.5,
		-2147483647.5, -2147483648, -2147483648.5, 1<<32 - 0.5, -(1<<32 - 0.5), 1 << 32, 1 << 52, 1e300, -1e300,
		math.Inf(1), math.Inf(-1), math.NaN()}
	for range 3000 {
		ys = append(ys, math.Round(rng.NormFloat64()*math.Pow(2, float64(rng.IntN(24))))+float64(rng.IntN(3))/2)
	}
	for _, c := range []struct {
		mult       int32
		p          fakequant.Params
		hi         int32 // the clamp's top (ReLU6's ceiling below QMax)
		s          float64
		exps       []uint
		boundaries bool
	}{
		{1 << 30, fakequant.Params{Scale: 0.02, ZeroPoint: 0, QMin: 0, QMax: 255}, 255, 1, nil, true},
		{1610612736, fakequant.Params{Scale: 0.3, ZeroPoint: 10, QMin: 0, QMax: 255}, 200, 0.75, nil, true},
		{1<<30 + 12345, fakequant.Params{Scale: 1e-3, ZeroPoint: -3, QMin: -128, QMax: 127}, 127, 3e-5, nil, false},
		{2147483647, fakequant.Params{Scale: 1, ZeroPoint: 0, QMin: 0, QMax: 15}, 6, 1e-3, nil, false},
	} {
		for e := uint(0); e < 32; e++ {
			x := make([]float32, 0, len(ys)+64)
			for _, y := range ys {
				x = append(x, float32(y*c.s))
			}
			if c.boundaries && e < 20 {
				// Accumulators whose product with the multiplier lands on, just below and just
				// above a rounding boundary of the right shift by 31+e (s = 1, 0.75: exact in
				// float32 for these magnitudes).
				for k := int64(-8); k <= 8; k++ {
					acc := (2*k + 1) << (30 + e) / int64(c.mult)
					for d := int64(-1); d <= 1; d++ {
						x = append(x, float32(float64(acc+d)*c.s))
					}
				}
			}
			for _, rule := range roundings {
				want := make([]float32, len(x))
				for i, v := range x {
					acc := fakequant.SaturateAccumulator(math.Round(float64(v)/c.s), -int(e))
					code := fakequant.RequantizeWith(rule, acc, c.mult, -int(e), c.p.ZeroPoint, c.p.QMin, c.hi)
					want[i] = float32(float64(code-c.p.ZeroPoint) * c.p.Scale)
				}
				var tab RequantTable
				tab.Set(rule, c.p, c.hi)
				var k RequantConsts
				k.Set(c.s, c.mult, e, tab.VLo, tab.VHi, c.p.Scale)
				check := func(form string, got []float32) {
					t.Helper()
					for i := range x {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%v %s, M %d exponent %d: x = %v (x/s = %v): %v, fakequant gives %v", rule, form, c.mult, e, x[i], float64(x[i])/c.s, got[i], want[i])
						}
					}
				}
				got := make([]float32, len(x))
				RequantChannel(&tab, got, x, &k)
				check("RequantChannel", got)
				clear(got)
				requantRow(rule, got, x, c.s, c.mult, e, tab.VLo, tab.VHi, tab.ZOff, tab.Value, tab.Zero)
				check("requantRow", got)
				// Four columns with the same operands: x as a (len/4, 4) matrix.
				n4 := len(x) / 4 * 4
				clear(got)
				RequantColumns4(&tab, got, x, n4/4, 4, &k)
				check("RequantColumns4", append(got[:n4:n4], want[n4:]...))
			}
		}
	}
}
