package fakequant

import (
	"math"
	"math/rand/v2"
	"testing"
)

var (
	uint8s = Scheme{Bits: 8}
	int8s  = Scheme{Bits: 8, Signed: true}
	int8n  = Scheme{Bits: 8, Signed: true, Narrow: true}
	uint4s = Scheme{Bits: 4}
	int4s  = Scheme{Bits: 4, Signed: true}
	int4n  = Scheme{Bits: 4, Signed: true, Narrow: true}
)

func TestChooseParamsTable(t *testing.T) {
	cases := []struct {
		min, max float64
		s        Scheme
		scale    float64
		z        int32
	}{
		{-1, 3, uint8s, 4.0 / 255, 64},         // zf = 63.75
		{2, 10, uint8s, 10.0 / 255, 0},         // extended to [0, 10]
		{-10, -2, uint8s, 10.0 / 255, 255},     // extended to [-10, 0]
		{-10, -2, int8s, 10.0 / 255, 127},      // Z = qmax
		{0, 6, uint8s, 6.0 / 255, 0},           // ReLU6
		{-1, 2, uint4s, 3.0 / 15, 5},           // zf = 5
		{-8, 7, int4s, 1, 0},                   // the grid itself
		{-7, 7, int4n, 1, 0},                   // the narrow grid itself
		{-2, 1, Scheme{Bits: 2}, 1, 2},         // uint2 [0, 3]
		{0, 0, uint8s, 1, 0},                   // degenerate
		{0, 0, int8s, 1, 0},                    // degenerate: Z = clamp(0)
		{math.Copysign(0, -1), 0, int4n, 1, 0}, // -0 is 0
	}
	for _, c := range cases {
		p := ChooseParams(c.min, c.max, c.s)
		qmin, qmax := c.s.Range()
		if math.Abs(p.Scale-c.scale) > 1e-15*c.scale || p.ZeroPoint != c.z || p.QMin != qmin || p.QMax != qmax {
			t.Errorf("ChooseParams(%g, %g, %v) = %v, want scale=%g zp=%d [%d,%d]", c.min, c.max, c.s, p, c.scale, c.z, qmin, qmax)
		}
		if err := p.Validate(); err != nil {
			t.Error(err)
		}
	}
	// Degenerate: everything observed (zeros) maps to real 0 exactly.
	p := ChooseParams(0, 0, uint8s)
	if p.Quantize(0) != p.ZeroPoint || p.FakeQuantize(0) != 0 {
		t.Errorf("degenerate %v does not keep 0", p)
	}
	// A range whose scale underflows is degenerate too.
	if p := ChooseParams(-math.SmallestNonzeroFloat64, 0, uint8s); p.Scale != 1 || p.ZeroPoint != 0 {
		t.Errorf("underflowing range: %v, want scale=1 zp=0", p)
	}
}

func TestChooseParamsPanics(t *testing.T) {
	for _, c := range []struct {
		min, max float64
		s        Scheme
	}{
		{math.NaN(), 1, uint8s},
		{0, math.NaN(), uint8s},
		{math.Inf(-1), 1, uint8s},
		{0, math.Inf(1), uint8s},
		{2, 1, uint8s},
		{-1, 1, Scheme{Bits: 9}},
		{-math.MaxFloat64, math.MaxFloat64, uint8s},
	} {
		mustPanic(t, "ChooseParams", func() { ChooseParams(c.min, c.max, c.s) })
	}
	mustPanic(t, "SymmetricParams NaN", func() { SymmetricParams(math.NaN(), int8n) })
	mustPanic(t, "SymmetricParams Inf", func() { SymmetricParams(math.Inf(1), int8n) })
	mustPanic(t, "SymmetricParams scheme", func() { SymmetricParams(1, Scheme{Bits: 4, Narrow: true}) })
}

// randomRange draws ranges of many shapes and magnitudes: straddling 0, all positive, all
// negative, one-sided at 0, tiny and huge.
func randomRange(rng *rand.Rand) (min, max float64) {
	mag := func() float64 { return math.Exp(rng.Float64()*80 - 40) } // about 4e-18 .. 2e17
	a, b := mag(), mag()
	switch rng.IntN(6) {
	case 0:
		return -a, b
	case 1:
		return math.Min(a, b), math.Max(a, b)
	case 2:
		return -math.Max(a, b), -math.Min(a, b)
	case 3:
		return 0, a
	case 4:
		return -a, 0
	default: // grid-aligned ranges, where round(zf) meets exact ties
		return -float64(rng.IntN(300)) / 4, float64(rng.IntN(300)) / 4
	}
}

func TestNudging(t *testing.T) {
	rng := newRNG()
	for _, s := range allSchemes() {
		for range 3000 {
			min, max := randomRange(rng)
			p := ChooseParams(min, max, s)
			checkParams(t, p, s, min, max)
			lo, hi := p.NudgedRange()
			// The nudged range has the width of the extended range and lies within half a
			// step of it.
			emin, emax := math.Min(min, 0), math.Max(max, 0)
			if emax > emin {
				if w := hi - lo; math.Abs(w-(emax-emin)) > 1e-12*(emax-emin) {
					t.Fatalf("%v [%g, %g]: nudged width %g, want %g", s, min, max, w, emax-emin)
				}
				tol := p.Scale * (0.5 + 1e-9)
				if math.Abs(lo-emin) > tol || math.Abs(hi-emax) > tol {
					t.Fatalf("%v [%g, %g]: nudged [%g, %g] moved by more than half a step %g", s, min, max, lo, hi, p.Scale)
				}
				// And the observed range itself fake-quantizes within half a step.
				for _, x := range []float64{emin, emax, min, max} {
					if e := math.Abs(p.FakeQuantize(x) - x); e > tol {
						t.Fatalf("%v %v: |FQ(%g) - x| = %g > scale/2", s, p, x, e)
					}
				}
			}
		}
	}
}

// checkParams asserts what every Params must satisfy: the scheme's grid, a finite positive
// scale, Z in the grid, 0 exactly representable and inside the nudged range.
func checkParams(t *testing.T, p Params, s Scheme, min, max float64) {
	t.Helper()
	qmin, qmax := s.Range()
	if p.QMin != qmin || p.QMax != qmax {
		t.Fatalf("%v [%g, %g]: grid [%d, %d], want [%d, %d]", s, min, max, p.QMin, p.QMax, qmin, qmax)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("%v [%g, %g]: %v", s, min, max, err)
	}
	if q := p.Quantize(0); q != p.ZeroPoint {
		t.Fatalf("%v [%g, %g] %v: Quantize(0) = %d", s, min, max, p, q)
	}
	if r := p.Dequantize(p.ZeroPoint); r != 0 {
		t.Fatalf("%v [%g, %g] %v: Dequantize(Z) = %g", s, min, max, p, r)
	}
	if r := p.FakeQuantize(0); r != 0 {
		t.Fatalf("%v [%g, %g] %v: FakeQuantize(0) = %g", s, min, max, p, r)
	}
	if lo, hi := p.NudgedRange(); !(lo <= 0 && 0 <= hi && lo < hi) {
		t.Fatalf("%v [%g, %g] %v: nudged range [%g, %g] misses 0", s, min, max, p, lo, hi)
	}
}

func TestSymmetricParams(t *testing.T) {
	cases := []struct {
		absMax float64
		s      Scheme
		scale  float64
		z      int32
	}{
		{1, int8n, 1.0 / 127, 0},
		{2.54, int8n, 0.02, 0},
		{1, int8s, 1.0 / 127, 0},
		{3.5, int4n, 0.5, 0},
		{3.5, int4s, 0.5, 0},
		{1, uint8s, 1.0 / 255, 0},
		{0, int8n, 1, 0},
		{-2, int8n, 1, 0},
		{0, uint8s, 1, 0},
		{-2, uint4s, 1, 0},
	}
	for _, c := range cases {
		p := SymmetricParams(c.absMax, c.s)
		if math.Abs(p.Scale-c.scale) > 1e-15 || p.ZeroPoint != c.z {
			t.Errorf("SymmetricParams(%g, %v) = %v, want scale=%g zp=%d", c.absMax, c.s, p, c.scale, c.z)
		}
		checkParams(t, p, c.s, -c.absMax, c.absMax)
	}
	rng := newRNG()
	for _, s := range allSchemes() {
		_, qmax := s.Range()
		for range 500 {
			a := math.Exp(rng.Float64()*40 - 20)
			p := SymmetricParams(a, s)
			checkParams(t, p, s, -a, a)
			if !s.Signed {
				if p != ChooseParams(0, a, s) {
					t.Fatalf("SymmetricParams(%g, %v) = %v, want ChooseParams(0, a) = %v", a, s, p, ChooseParams(0, a, s))
				}
				continue
			}
			if p.ZeroPoint != 0 || p.Quantize(a) != qmax || p.Quantize(-a) != -qmax {
				t.Fatalf("SymmetricParams(%g, %v) = %v: ±absMax -> %d, %d", a, s, p, p.Quantize(-a), p.Quantize(a))
			}
		}
	}
}

func TestFakeQuantize(t *testing.T) {
	rng := newRNG()
	for _, s := range allSchemes() {
		for range 200 {
			min, max := randomRange(rng)
			p := ChooseParams(min, max, s)
			lo, hi := p.NudgedRange()
			w := hi - lo
			for range 50 {
				x := lo - w/2 + 2*w*rng.Float64()
				q := p.Quantize(x)
				fq := p.FakeQuantize(x)
				if q < p.QMin || q > p.QMax {
					t.Fatalf("%v: Quantize(%g) = %d off the grid", p, x, q)
				}
				if fq != p.Dequantize(q) {
					t.Fatalf("%v: FakeQuantize(%g) = %g, want Dequantize(%d) = %g", p, x, fq, q, p.Dequantize(q))
				}
				// On the grid (FQ(x) is the value of a code, and quantizes back to it) and idempotent.
				if p.Quantize(fq) != q || p.FakeQuantize(fq) != fq {
					t.Fatalf("%v: FQ(FQ(%g)) = %g != FQ = %g", p, x, p.FakeQuantize(fq), fq)
				}
				switch {
				case x < lo:
					if q != p.QMin || fq != lo {
						t.Fatalf("%v: x %g below the range: FQ = %g, want %g", p, x, fq, lo)
					}
				case x > hi:
					if q != p.QMax || fq != hi {
						t.Fatalf("%v: x %g above the range: FQ = %g, want %g", p, x, fq, hi)
					}
				default:
					// Half a step, with room for the float64 rounding of x/S and S (q - Z).
					if e := math.Abs(fq - x); e > p.Scale*(0.5+1e-9) {
						t.Fatalf("%v: |FQ(%g) - x| = %g > scale/2", p, x, e)
					}
				}
				if got, want := p.InRange(x), lo <= x && x <= hi; got != want {
					t.Fatalf("%v: InRange(%g) = %v", p, x, got)
				}
			}
			if !p.InRange(lo) || !p.InRange(hi) || !p.InRange(0) ||
				p.InRange(math.Nextafter(lo, math.Inf(-1))) || p.InRange(math.Nextafter(hi, math.Inf(1))) {
				t.Fatalf("%v: InRange is not the closed interval [%g, %g]", p, lo, hi)
			}
		}
	}
}

func TestFakeQuantizeSpecialValues(t *testing.T) {
	p := ChooseParams(-1, 3, uint8s)
	lo, hi := p.NudgedRange()
	if q := p.Quantize(math.NaN()); q != p.ZeroPoint {
		t.Errorf("Quantize(NaN) = %d, want Z", q)
	}
	if r := p.FakeQuantize(math.NaN()); !math.IsNaN(r) {
		t.Errorf("FakeQuantize(NaN) = %g, want NaN", r)
	}
	if p.InRange(math.NaN()) {
		t.Error("InRange(NaN) = true")
	}
	if p.FakeQuantize(math.Inf(1)) != hi || p.FakeQuantize(math.Inf(-1)) != lo {
		t.Error("±Inf not clamped to the nudged range")
	}
	if p.Quantize(1e300) != p.QMax || p.Quantize(-1e300) != p.QMin {
		t.Error("huge values not clamped")
	}
}

// TestQuantizeTiesMatchRoundingDivideByPOT checks the promise of Quantize's doc: with a
// power-of-two scale, quantizing n is exactly RoundingDivideByPOT(n, e), ties included.
func TestQuantizeTiesMatchRoundingDivideByPOT(t *testing.T) {
	rng := newRNG()
	xs := specialInt32s()
	for range 5000 {
		xs = append(xs, randInt32(rng))
	}
	for e := 0; e <= 31; e++ {
		p := Params{Scale: math.Ldexp(1, e), QMin: math.MinInt32, QMax: math.MaxInt32}
		for _, x := range xs {
			if got, want := p.Quantize(float64(x)), RoundingDivideByPOT(x, e); got != want {
				t.Fatalf("Quantize(%d) with scale 2^%d = %d, RoundingDivideByPOT = %d", x, e, got, want)
			}
		}
	}
	// Ties around a non-zero zero point round away from real 0, not from Z.
	p := Params{Scale: 0.5, ZeroPoint: 10, QMin: 0, QMax: 255}
	if q := p.Quantize(0.25); q != 11 {
		t.Errorf("Quantize(0.25) = %d, want 11", q)
	}
	if q := p.Quantize(-0.25); q != 9 {
		t.Errorf("Quantize(-0.25) = %d, want 9", q)
	}
}

func TestSlices(t *testing.T) {
	rng := newRNG()
	p := ChooseParams(-0.7, 2.3, uint4s)
	src := make([]float32, 1000)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 1.5)
	}
	src[3] = float32(math.NaN())
	dst := make([]float32, len(src))
	q := make([]int32, len(src))
	FakeQuantizeSlice(dst, src, p)
	QuantizeSlice(q, src, p)
	for i, x := range src {
		if want := float32(p.FakeQuantize(float64(x))); !sameFloat32(dst[i], want) {
			t.Fatalf("FakeQuantizeSlice[%d] = %g, want %g", i, dst[i], want)
		}
		if want := p.Quantize(float64(x)); q[i] != want {
			t.Fatalf("QuantizeSlice[%d] = %d, want %d", i, q[i], want)
		}
		// float32 outputs are idempotent too.
		if i != 3 && float32(p.FakeQuantize(float64(dst[i]))) != dst[i] {
			t.Fatalf("float32 FQ not idempotent at %g", dst[i])
		}
	}
	// dst may alias src.
	alias := append([]float32(nil), src...)
	FakeQuantizeSlice(alias, alias, p)
	for i := range alias {
		if !sameFloat32(alias[i], dst[i]) {
			t.Fatalf("aliased FakeQuantizeSlice[%d] = %g, want %g", i, alias[i], dst[i])
		}
	}
	mustPanic(t, "FakeQuantizeSlice lengths", func() { FakeQuantizeSlice(dst[:1], src, p) })
	mustPanic(t, "QuantizeSlice lengths", func() { QuantizeSlice(q[:1], src, p) })
}

func sameFloat32(a, b float32) bool {
	return a == b || (a != a && b != b)
}

func TestBatchRange(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		x        []float32
		min, max float64
	}{
		{nil, 0, 0},
		{[]float32{}, 0, 0},
		{[]float32{2, 5, 3}, 0, 5},
		{[]float32{-2, -5, -3}, -5, 0},
		{[]float32{-2, 5, nan, -3}, -3, 5},
		{[]float32{nan}, 0, 0},
		{[]float32{0.5}, 0, 0.5},
	}
	for _, c := range cases {
		min, max := BatchRange(c.x)
		if min != c.min || max != c.max {
			t.Errorf("BatchRange(%v) = %g, %g; want %g, %g", c.x, min, max, c.min, c.max)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	good := Params{Scale: 0.1, ZeroPoint: 3, QMin: 0, QMax: 15}
	if err := good.Validate(); err != nil {
		t.Errorf("%v: %v", good, err)
	}
	for _, p := range []Params{
		{},
		{Scale: -1, QMin: 0, QMax: 15},
		{Scale: math.NaN(), QMin: 0, QMax: 15},
		{Scale: math.Inf(1), QMin: 0, QMax: 15},
		{Scale: 1, QMin: 3, QMax: 3},
		{Scale: 1, ZeroPoint: 16, QMin: 0, QMax: 15},
		{Scale: 1, ZeroPoint: -1, QMin: 0, QMax: 15},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%v.Validate() = nil", p)
		}
	}
}

func BenchmarkFakeQuantizeSlice(b *testing.B) {
	for _, n := range []int{1 << 10, 1 << 16} {
		b.Run(sizeName(n), func(b *testing.B) {
			src := make([]float32, n)
			rng := newRNG()
			for i := range src {
				src[i] = float32(rng.NormFloat64())
			}
			dst := make([]float32, n)
			p := ChooseParams(-2, 2, uint8s)
			b.SetBytes(int64(4 * n))
			for b.Loop() {
				FakeQuantizeSlice(dst, src, p)
			}
		})
	}
}

func sizeName(n int) string {
	switch n {
	case 1 << 10:
		return "1K"
	case 1 << 16:
		return "64K"
	}
	return "n"
}
