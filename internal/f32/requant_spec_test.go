package f32

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qatgo/qatgo/fakequant"
)

// specRequant is the specification the requantization forms are checked against, computed from
// fakequant's scalar functions (not from the forms' value table): the real value of the code
// of x for a channel with accumulator scale s, multiplier mult and shift -e, output parameters
// p and clamp top hi, under rule:
//
//	code = fakequant.RequantizeWith(rule, SaturateAccumulator(math.Round(x/s), -e), mult, -e, Z, QMin, hi)
//	want = float32(float64(code - Z) * S_out)
func specRequant(rule fakequant.Rounding, x float32, s float64, mult int32, e uint, p fakequant.Params, hi int32) float32 {
	acc := fakequant.SaturateAccumulator(math.Round(float64(x)/s), -int(e))
	code := fakequant.RequantizeWith(rule, acc, mult, -int(e), p.ZeroPoint, p.QMin, hi)
	return float32(float64(code-p.ZeroPoint) * p.Scale)
}

// edgeAccs are accumulators x/s at the edges of the forms' arithmetic: zeros of both signs,
// rounding ties and their neighbours, the bounds of the float32 recovery (2^20), of its
// float64 twin's int32 conversion (2^30, 2^31) and of the exact rounding (2^32), the int32
// saturation bounds, huge values, infinities and NaN.
var edgeAccs = []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994,
	math.Nextafter(0.5, 1), math.Nextafter(1.5, 0), math.Nextafter(-1.5, 0), 0.125, -0.125, 0.12499, 0.37501, 3.5 + 1e-7, 7.5 - 1e-7,
	1<<20 - 1, 1<<20 - 0.5, 1 << 20, -(1 << 20), 1<<20 + 0.5, 1<<29 + 0.5, 1<<30 - 64, 1<<30 - 0.5, 1 << 30, -(1 << 30), 1<<30 + 0.5,
	1 << 31, 2147483646.5, 2147483647, 2147483647.5, -2147483647.5, -2147483648, -2147483648.5, 1<<32 - 0.5, -(1<<32 - 0.5),
	1 << 32, -(1 << 32), 1 << 52, 1e300, -1e300, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN()}

// TestRequantFastFormsMatchFakequant: the fast forms of the requantization (RequantChannel and
// RequantColumns8: the AVX2 kernel where the CPU has it, the Go form requantRow in purego
// builds and elsewhere) and requantRow itself write specRequant's bits, for both rounding
// rules, every exponent 0..31, multipliers 0, 2^30, MaxInt32 and others, and edgeAccs,
// products on the multiplier's rounding boundaries and seeded random accumulators.
func TestRequantFastFormsMatchFakequant(t *testing.T) {
	rng := rand.New(rand.NewPCG(101, 102))
	ys := append([]float64(nil), edgeAccs...)
	for range 3000 {
		ys = append(ys, math.Round(rng.NormFloat64()*math.Pow(2, float64(rng.IntN(24))))+float64(rng.IntN(3))/2)
	}
	for _, c := range []struct {
		mult       int32
		p          fakequant.Params
		hi         int32 // the clamp's top (ReLU6's ceiling below QMax)
		s          float64
		boundaries bool
	}{
		{1 << 30, fakequant.Params{Scale: 0.02, ZeroPoint: 0, QMin: 0, QMax: 255}, 255, 1, true},
		{1610612736, fakequant.Params{Scale: 0.3, ZeroPoint: 10, QMin: 0, QMax: 255}, 200, 0.75, true},
		{1<<30 + 12345, fakequant.Params{Scale: 1e-3, ZeroPoint: -3, QMin: -128, QMax: 127}, 127, 3e-5, false},
		{2147483647, fakequant.Params{Scale: 1, ZeroPoint: 0, QMin: 0, QMax: 15}, 6, 1e-3, false},
		{0, fakequant.Params{Scale: 0.5, ZeroPoint: 5, QMin: 0, QMax: 15}, 15, 2, false},
		// float32(1/s) is not a float32: the float32 recovery takes no group.
		{1 << 30, fakequant.Params{Scale: 0.02, ZeroPoint: 0, QMin: 0, QMax: 255}, 255, 1e-40, false},
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
					want[i] = specRequant(rule, v, c.s, c.mult, e, c.p, c.hi)
				}
				var tab RequantTable
				tab.Set(rule, c.p, c.hi)
				var k RequantConsts
				k.Set(c.s, c.mult, e, tab.VLo, tab.VHi, c.p.Scale)
				check := func(form string, got []float32) {
					t.Helper()
					for i := range x {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%v %s, M %d exponent %d s %g: x = %v (x/s = %v): %v, fakequant gives %v", rule, form, c.mult, e, c.s, x[i], float64(x[i])/c.s, got[i], want[i])
						}
					}
				}
				got := make([]float32, len(x))
				RequantChannel(&tab, got, x, &k)
				check("RequantChannel", got)
				clear(got)
				requantRow(rule, got, x, c.s, c.mult, e, tab.VLo, tab.VHi, tab.ZOff, tab.Value, tab.Zero)
				check("requantRow", got)
				// Eight columns with the same operands: x as a (len/8, 8) matrix.
				n8 := len(x) / 8 * 8
				clear(got)
				RequantColumns8(&tab, got, x, n8/8, 8, &k)
				check("RequantColumns8", append(got[:n8:n8], want[n8:]...))
			}
		}
	}
}

// takesF32 reports whether requant_amd64.s's float32 recovery takes the group of eight x
// (lane i with lane i of k): |x * recip| < lim8 and within 1/8 of its nearest integer in
// every lane. Go's float32 product rounds as VMULPS does.
func takesF32(x []float32, k *RequantConsts) bool {
	for i, v := range x[:8] {
		y := v * k.recip[i]
		n := float32(math.RoundToEven(float64(y)))
		if !(float32(math.Abs(float64(y))) < k.lim8[i] && float32(math.Abs(float64(y-n))) < k.guard[i]) {
			return false
		}
	}
	return true
}

// TestRequantKernel: RequantChannel writes specRequant's bits on runs of accumulators of a
// quantized layer (integers times s rounded to float32, some nudged by a few float32 steps)
// from small to past 2^20 and 2^30, salted with edgeAccs, half-integers (some within float32
// rounding of a tie) and integers between 2^20 and 2^32, for both rules, every exponent, several scales and
// multipliers, lengths that leave every tail 0..7. Where the CPU has the kernel, requantAsm
// called directly also stops exactly before the first group with a value on requantRow's slow
// path (|x/s| >= 2^32, NaN), leaves that group and the rest unwritten, and both of its
// recoveries (float32, float64) take a good share of the groups (takesF32 counts).
func TestRequantKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	// The narrow output (codes 0..255) hides most accumulator errors in the clamp or the
	// multiply; the wide ones (M = MaxInt32 / 2^31 ~ 1, exponents 0..2, 2^22 codes, values
	// exact in float32) show an accumulator that is one off: below 2^21 (across the float32
	// recovery's bound 2^20) and between 2^23 - 2^21 and 2^23 + 2^21.
	narrow := fakequant.Params{Scale: 0.05, ZeroPoint: 128, QMin: 0, QMax: 255}
	wides := [2]fakequant.Params{{Scale: 1, ZeroPoint: 0, QMin: -(1 << 21), QMax: 1 << 21},
		{Scale: 1, ZeroPoint: -(1 << 23), QMin: -(1 << 21), QMax: 1 << 21}}
	var tabs [3][2]RequantTable // narrow, wides; by rule (the wide ones share their values)
	for _, rule := range roundings {
		tabs[0][rule].Set(rule, narrow, narrow.QMax)
	}
	for w, p := range wides {
		tabs[1+w][0].Set(fakequant.RoundDouble, p, p.QMax)
		tabs[1+w][1] = tabs[1+w][0]
		tabs[1+w][1].Rule = fakequant.RoundSingle
	}
	f32Groups, f64Groups := 0, 0
	for e := uint(0); e <= 31; e++ {
		for _, c := range []struct {
			mult int32
			s    float64
			wide int // 0 narrow, 1 + the index in wides
		}{{1 << 30, 1, 0}, {1610612736, 0.75, 0}, {1<<30 + 12345, 3e-5, 0}, {math.MaxInt32, 1e-3, 0}, {0, 2, 0},
			{int32(1<<30 + rng.Int64N(1<<30)), 7e-4, 0}, {int32(1<<30 + rng.Int64N(1<<30)), math.Pow(2, -rng.Float64()*20), 0},
			{1 << 30, 1e-40, 0}, {math.MaxInt32, 3e-5, 1}, {math.MaxInt32, 0.75, 1}, {math.MaxInt32, math.Pow(2, -rng.Float64()*20), 1},
			{math.MaxInt32, 3e-5, 2}, {math.MaxInt32, math.Pow(2, -rng.Float64()*20), 2}} {
			if c.wide > 0 && e > 2 {
				continue
			}
			p, tab := narrow, &tabs[c.wide]
			if c.wide > 0 {
				p = wides[c.wide-1]
			}
			n := 8*150 + int(e%8) // every tail length
			if c.wide > 0 {
				n += 8 * 1000
			}
			x := make([]float32, n)
			for i := range x {
				acc := float64(rng.Int64N(1<<(4+rng.IntN(18))) - 1<<(3+rng.IntN(18)))
				u := rng.IntN(64)
				switch {
				case c.wide == 1 && u >= 8 && rng.IntN(4) == 0:
					// Near a tie up to 2^21: with float32(1/s) inexact, x * float32(1/s) is
					// sometimes on the tie's other side, within 1/8 of it.
					acc, u = float64(rng.Int64N(1<<21))+0.5, 64
				case c.wide == 2 && u >= 8:
					// Around 2^23, where x * float32(1/s) can be within 1/8 of the wrong
					// integer.
					acc, u = float64(1<<23+rng.Int64N(1<<22)-1<<21), 64
				}
				switch {
				case u == 0: // past 2^20, off the integers
					acc = float64(rng.Int64N(1<<25)-1<<24) + rng.Float64() - 0.5
				case u == 1: // near 2^30
					acc = float64(int64(1)<<30 + rng.Int64N(1<<10) - 1<<9)
				case u < 4: // a half-integer, large or small
					acc = float64(rng.Int64N(1<<(1+rng.IntN(21)))) + 0.5
				case u < 6: // an integer between 2^20 and 2^32
					acc = float64(rng.Int64N(1 << (20 + rng.IntN(12))))
				case u < 8:
					acc = edgeAccs[rng.IntN(len(edgeAccs))]
				}
				if rng.IntN(2) == 0 {
					acc = -acc
				}
				v := float32(acc * c.s)
				for range rng.IntN(4) {
					v = math.Nextafter32(v, float32(math.Inf(rng.IntN(2)*2-1)))
				}
				x[i] = v
			}
			for _, rule := range roundings {
				tab := &tab[rule]
				var k RequantConsts
				k.Set(c.s, c.mult, e, tab.VLo, tab.VHi, p.Scale)
				want := make([]float32, n)
				for i, v := range x {
					want[i] = specRequant(rule, v, c.s, c.mult, e, p, p.QMax)
				}
				got := make([]float32, n)
				RequantChannel(tab, got, x, &k)
				for i := range x {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v, RequantChannel, exponent %d %+v: x[%d] = %v (x/s %v): %v, fakequant gives %v", rule, e, c, i, x[i], float64(x[i])/c.s, got[i], want[i])
					}
				}
				if !useAVX2 {
					continue
				}
				// The kernel alone, from every group on: it stops before the first group with a
				// slow-path value and writes nothing from there.
				for g := 0; g+8 <= n; g += 8 {
					stop := n / 8 * 8
					for j := g; j < n/8*8; j++ {
						if y := float64(x[j]) / c.s; !(math.Abs(y) < 0x1p32) {
							stop = j / 8 * 8
							break
						}
					}
					if g == 0 {
						for h := 0; h < stop; h += 8 {
							if takesF32(x[h:], &k) {
								f32Groups++
							} else {
								f64Groups++
							}
						}
					}
					sentinel := float32(-7.25)
					for i := range got {
						got[i] = sentinel
					}
					if m := requantAsm(&got[g], &x[g], (n-g)/8, 8, &k, rule == fakequant.RoundSingle); m != stop-g {
						t.Fatalf("%v, requantAsm, exponent %d %+v: wrote %d values from %d, want %d (the first slow-path group at %d)", rule, e, c, m, g, stop-g, stop)
					}
					for i := range got {
						w := want[i]
						if i < g || i >= stop {
							w = sentinel
						}
						if math.Float32bits(got[i]) != math.Float32bits(w) {
							t.Fatalf("%v, requantAsm from %d, exponent %d %+v: x[%d] = %v (x/s %v): %v, want %v", rule, g, e, c, i, x[i], float64(x[i])/c.s, got[i], w)
						}
					}
					g = max(g, stop-8) // the groups between were covered by this call
				}
			}
		}
	}
	if useAVX2 {
		t.Logf("groups taken by the float32 recovery: %d, by the float64 one: %d", f32Groups, f64Groups)
		if f32Groups < 1000 || f64Groups < 1000 {
			t.Fatalf("float32 recovery %d groups, float64 %d: a recovery is barely exercised", f32Groups, f64Groups)
		}
	}
}

// TestRequantColumns8: eight channels with their own scale, multiplier and exponent (exponents
// 0 and 31, multipliers 0 and MaxInt32, a scale whose float32 reciprocal is not a float32
// among them), strided down a batch, give specRequant's bits per element under both rules,
// with rows holding slow-path values and rows holding edgeAccs; the other columns are left
// as they were.
func TestRequantColumns8(t *testing.T) {
	rng := rand.New(rand.NewPCG(75, 76))
	const rows, stride, col = 45, 13, 3
	p := fakequant.Params{Scale: 0.03, ZeroPoint: 10, QMin: 0, QMax: 255}
	for trial := range 60 {
		var k RequantConsts
		var s [8]float64
		var mult [8]int32
		var exp [8]uint
		for i := range 8 {
			s[i] = math.Pow(2, -float64(rng.IntN(20))) * (0.5 + rng.Float64())
			mult[i] = int32(1<<30 + rng.Int64N(1<<30))
			exp[i] = uint(rng.IntN(32))
		}
		switch trial % 4 {
		case 1:
			exp[rng.IntN(8)], exp[rng.IntN(8)] = 0, 31
			mult[rng.IntN(8)], mult[rng.IntN(8)] = 0, math.MaxInt32
		case 2:
			s[rng.IntN(8)] = 1e-40
		}
		x := make([]float32, rows*stride)
		for i := range x {
			sc := s[(i%stride-col+8)%8]
			x[i] = float32(math.Round(rng.NormFloat64()*math.Pow(2, float64(rng.IntN(24)))) * sc)
			if rng.IntN(20) == 0 {
				x[i] = float32(edgeAccs[rng.IntN(len(edgeAccs))] * sc)
			}
		}
		if trial%2 == 1 {
			x[rng.IntN(len(x))] = float32(math.NaN())
			x[rng.IntN(len(x))] = float32(1e30)
		}
		for _, rule := range roundings {
			var tab RequantTable
			tab.Set(rule, p, p.QMax)
			for i := range 8 {
				k.SetLane(i, s[i], mult[i], exp[i], tab.VLo, tab.VHi, p.Scale)
			}
			got := make([]float32, len(x))
			for i := range got {
				got[i] = -7.25
			}
			RequantColumns8(&tab, got[col:], x[col:], rows, stride, &k)
			for j := range x {
				want := float32(-7.25)
				if i := j%stride - col; i >= 0 && i < 8 {
					want = specRequant(rule, x[j], s[i], mult[i], exp[i], p, p.QMax)
				}
				if math.Float32bits(got[j]) != math.Float32bits(want) {
					t.Fatalf("%v, trial %d: x[%d] = %v: %v, fakequant gives %v", rule, trial, j, x[j], got[j], want)
				}
			}
		}
	}
}
