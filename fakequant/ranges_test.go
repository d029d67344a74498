package fakequant

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// bruteError is the squared error of x under p from Params.FakeQuantize (not SquaredError's
// loop).
func bruteError(x []float32, p Params) float64 {
	var e float64
	for _, v := range x {
		d := float64(v) - p.FakeQuantize(float64(v))
		e += d * d
	}
	return e
}

// heavy returns n normal values with a few large outliers, the case where clipping pays.
func heavy(rng *rand.Rand, n int, relu bool) []float32 {
	x := make([]float32, n)
	for i := range x {
		v := rng.NormFloat64()
		if i%97 == 0 {
			v *= 8
		}
		if relu && v < 0 {
			v = 0
		}
		x[i] = float32(v)
	}
	return x
}

func TestSquaredError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := heavy(rng, 3000, false)
	x[5] = float32(math.NaN())
	for _, p := range []Params{ChooseParams(-2, 3, Scheme{Bits: 3}), SymmetricParams(2.5, Scheme{Bits: 4, Signed: true, Narrow: true})} {
		clean := slices.DeleteFunc(slices.Clone(x), func(v float32) bool { return v != v })
		got, want := SquaredError(x, p), bruteError(clean, p)
		if math.Abs(got-want) > 1e-9*want {
			t.Errorf("%v: SquaredError %v, Params.FakeQuantize gives %v", p, got, want)
		}
	}
}

// The MSE search is never worse than min/max, and within 1% of a brute-force search over 2000
// clips (a finer grid than its own two passes) at every bit width.
func TestMSERangesAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for bits := 2; bits <= 8; bits++ {
		ws := Scheme{Bits: bits, Signed: true, Narrow: true}
		w := heavy(rng, 1000, false)
		absMax := 0.0
		for _, v := range w {
			absMax = math.Max(absMax, math.Abs(float64(v)))
		}
		c := SymmetricMSE(w, ws)
		got := bruteError(w, SymmetricParams(c, ws))
		brute := math.Inf(1)
		for k := 1; k <= 2000; k++ {
			brute = math.Min(brute, bruteError(w, SymmetricParams(absMax*float64(k)/2000, ws)))
		}
		if mm := bruteError(w, SymmetricParams(absMax, ws)); got > mm {
			t.Errorf("%s: MSE clip %g has error %g, more than min/max's %g", ws, c, got, mm)
		}
		if got > brute*1.01 {
			t.Errorf("%s: MSE clip %g has error %g, brute force finds %g", ws, c, got, brute)
		}
		if bits <= 4 && c > 0.9*absMax {
			t.Errorf("%s: MSE clip %g barely below |w|max %g with 1%% outliers at 8 sigma", ws, c, absMax)
		}

		as := Scheme{Bits: bits}
		for _, relu := range []bool{true, false} {
			x := heavy(rng, 1000, relu)
			lo, hi := AsymmetricMSE(x, as)
			blo, bhi := BatchRange(x)
			if relu && lo != 0 {
				t.Errorf("%s: ReLU output got min %g, want 0", as, lo)
			}
			got := bruteError(x, ChooseParams(lo, hi, as))
			brute := math.Inf(1)
			for k := 1; k <= 2000; k++ {
				a := float64(k) / 2000
				brute = math.Min(brute, bruteError(x, ChooseParams(a*blo, a*bhi, as)))
			}
			if mm := bruteError(x, ChooseParams(blo, bhi, as)); got > mm {
				t.Errorf("%s relu=%v: MSE range has error %g, more than min/max's %g", as, relu, got, mm)
			}
			if got > brute*1.01 {
				t.Errorf("%s relu=%v: MSE range [%g, %g] has error %g, brute force finds %g", as, relu, lo, hi, got, brute)
			}
		}
	}
	if c := SymmetricMSE([]float32{0, 0}, Scheme{Bits: 4, Signed: true, Narrow: true}); c != 0 {
		t.Errorf("all-zero weights: clip %g, want 0", c)
	}
	if lo, hi := AsymmetricMSE(nil, Scheme{Bits: 4}); lo != 0 || hi != 0 {
		t.Errorf("empty: [%g, %g], want [0, 0]", lo, hi)
	}
}

func TestPercentile(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := heavy(rng, 10001, false)
	x[17] = float32(math.NaN())
	for _, pct := range []float64{99, 99.9, 99.99, 100} {
		lo, hi := PercentileRange(x, pct)
		a := PercentileAbs(x, pct)
		// Brute force by counting: max is a value of x with at least pct% <= it and fewer
		// than pct% < it (likewise min from above, and a for |x|).
		n := 10000.0
		var le, lt, ge, gt, ale, alt int
		for _, v := range x {
			if v != v {
				continue
			}
			f := float64(v)
			if f <= hi {
				le++
			}
			if f < hi {
				lt++
			}
			if f >= lo {
				ge++
			}
			if f > lo {
				gt++
			}
			if math.Abs(f) <= a {
				ale++
			}
			if math.Abs(f) < a {
				alt++
			}
		}
		need := pct*n/100 - 1e-9 // the rank of PercentileRange's doc, up to float error
		if float64(le) < need || float64(lt) >= need {
			t.Errorf("pct %g: max %g has %d values <= and %d < it, want the first >= %g > the second", pct, hi, le, lt, need)
		}
		if float64(ge) < need || float64(gt) >= need {
			t.Errorf("pct %g: min %g has %d values >= and %d > it", pct, lo, ge, gt)
		}
		if float64(ale) < need || float64(alt) >= need {
			t.Errorf("pct %g: |x| clip %g has %d values <= and %d < it", pct, a, ale, alt)
		}
	}
	if lo, hi := PercentileRange([]float32{1, 2, 3}, 100); lo != 0 || hi != 3 {
		t.Errorf("positive values: [%g, %g], want [0, 3] (extended to 0)", lo, hi)
	}
	defer func() {
		if recover() == nil {
			t.Error("percentile 40 did not panic")
		}
	}()
	PercentileRange(x, 40)
}

// LSQ's step gradient (13) against finite differences: with the code held fixed, FQ(x) =
// S q moves as q with S (a central difference at a point away from a rounding boundary), and
// (13) adds the straight-through term -x/S inside the range; outside, FQ = S Qn or S Qp and
// the difference is exactly (13).
func TestLSQStepGradFiniteDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range []Scheme{{Bits: 2}, {Bits: 3}, {Bits: 8}, {Bits: 2, Signed: true, Narrow: true}, {Bits: 4, Signed: true, Narrow: true}} {
		var p Params
		if s.Signed {
			p = StepParams(0.3, s)
		} else {
			p = ChooseParams(-0.4, 2.9, s)
		}
		lo, hi := p.NudgedRange()
		for range 500 {
			x := float32(lo - 1 + (hi-lo+2)*rng.Float64())
			dy := float32(rng.NormFloat64())
			v := float64(x) / p.Scale
			if f := v - math.Floor(v); math.Abs(f-0.5) < 1e-3 || math.Abs(v-float64(p.QMin-p.ZeroPoint)) < 1e-3 || math.Abs(v-float64(p.QMax-p.ZeroPoint)) < 1e-3 {
				continue // at a rounding or clipping boundary FQ is not differentiable
			}
			const h = 1e-7
			up, down := p, p
			up.Scale += h
			down.Scale -= h
			fd := (up.FakeQuantize(float64(x)) - down.FakeQuantize(float64(x))) / (2 * h)
			want := fd
			if float64(x) > lo && float64(x) < hi {
				want -= v
			}
			got := LSQStepGrad([]float32{x}, []float32{dy}, p)
			if math.Abs(got-float64(dy)*want) > 1e-6*(1+math.Abs(float64(dy)*want)) {
				t.Fatalf("%s %v x=%g: LSQStepGrad %g, finite difference %g, want %g", s, p, x, got, fd, float64(dy)*want)
			}
		}
	}
	if g := LSQGradScale(500, 7); math.Abs(g-1/math.Sqrt(3500)) > 1e-15 {
		t.Errorf("LSQGradScale(500, 7) = %g", g)
	}
}

// A learned step enters as a range that ChooseParams maps back to the same step and zero point.
func TestStepRangeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for bits := 2; bits <= 8; bits++ {
		s := Scheme{Bits: bits}
		qmin, qmax := s.Range()
		for range 200 {
			step := math.Exp(rng.Float64()*12 - 8)
			z := qmin + int32(rng.IntN(int(qmax-qmin+1)))
			mn, mx := StepRange(step, z, s)
			p := ChooseParams(mn, mx, s)
			if p.ZeroPoint != z || math.Abs(p.Scale-step) > 1e-12*step {
				t.Fatalf("%s: StepRange(%g, %d) comes back as %v", s, step, z, p)
			}
		}
	}
	ws := Scheme{Bits: 3, Signed: true, Narrow: true}
	if p := StepParams(0.25, ws); p.Scale != 0.25 || p.ZeroPoint != 0 || p.QMin != -3 || p.QMax != 3 {
		t.Errorf("StepParams(0.25, int3n) = %v", p)
	}
}
