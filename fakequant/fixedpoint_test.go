package fakequant

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// The fixed-point primitives are tested the gemmlowp way: against references in exact
// (math/big) arithmetic, with tolerance 0, over powers of two ±{0,1,2}, the int32 extremes and
// seeded random values. The references are written differently from the code under test
// (floor division of big integers rather than truncation with a nudge, masks and shifts), so a
// shared mistake is unlikely.

// ---- references ----

// floorDiv returns floor(n / d) for d > 0 (big.Int.Div is Euclidean division).
func floorDiv(n, d *big.Int) *big.Int { return new(big.Int).Div(n, d) }

// roundHalfAway returns n/d rounded to nearest, ties away from zero, for d > 0.
func roundHalfAway(n, d *big.Int) *big.Int {
	a := new(big.Int).Abs(n)
	// floor((2|n| + d) / 2d) = floor(|n|/d + 1/2)
	num := new(big.Int).Lsh(a, 1)
	num.Add(num, d)
	r := floorDiv(num, new(big.Int).Lsh(d, 1))
	if n.Sign() < 0 {
		r.Neg(r)
	}
	return r
}

func pow2(e int) *big.Int { return new(big.Int).Lsh(big.NewInt(1), uint(e)) }

func fitsInt32(v *big.Int) bool {
	return v.IsInt64() && v.Int64() >= math.MinInt32 && v.Int64() <= math.MaxInt32
}

// refSRDHM is floor(a b / 2^31 + 1/2) in exact arithmetic, saturated to int32.
func refSRDHM(a, b int32) int32 {
	ab := new(big.Int).Mul(big.NewInt(int64(a)), big.NewInt(int64(b)))
	r := floorDiv(ab.Add(ab, pow2(30)), pow2(31))
	switch {
	case r.Cmp(big.NewInt(math.MaxInt32)) > 0:
		return math.MaxInt32
	case r.Cmp(big.NewInt(math.MinInt32)) < 0:
		return math.MinInt32
	}
	return int32(r.Int64())
}

// refRDBPOT is x / 2^e rounded, ties away from zero, in exact arithmetic.
func refRDBPOT(x int32, e int) int32 {
	return int32(roundHalfAway(big.NewInt(int64(x)), pow2(e)).Int64())
}

// refMBQM models MultiplyByQuantizedMultiplier's two rounding steps in exact arithmetic.
// ok is false when the preconditions fail (the function must panic then).
func refMBQM(x, q int32, shift int) (r int32, ok bool) {
	if shift < -31 || shift > 31 {
		return 0, false
	}
	if shift <= 0 {
		return refRDBPOT(refSRDHM(x, q), -shift), true
	}
	xs := new(big.Int).Mul(big.NewInt(int64(x)), pow2(shift))
	if !fitsInt32(xs) {
		return 0, false
	}
	return refSRDHM(int32(xs.Int64()), q), true
}

// exactMBQM is x q 2^(shift-31) rounded once, ties away from zero.
func exactMBQM(x, q int32, shift int) *big.Int {
	n := new(big.Int).Mul(big.NewInt(int64(x)), big.NewInt(int64(q)))
	if shift >= 0 {
		return roundHalfAway(n.Lsh(n, uint(shift)), pow2(31))
	}
	return roundHalfAway(n, pow2(31-shift))
}

// refQuantizeMultiplier finds the binary exponent with exact rational comparisons (not
// math.Frexp): m = f 2^e with f in [1/2, 1), q = round(f 2^31) ties away, then TFLite's fix-ups.
func refQuantizeMultiplier(m float64) (int32, int) {
	if m == 0 {
		return 0, 0
	}
	r := new(big.Rat).SetFloat64(m)
	num, den := r.Num(), r.Denom()
	e := num.BitLen() - den.BitLen()
	ratPow2 := func(e int) *big.Rat {
		if e >= 0 {
			return new(big.Rat).SetInt(pow2(e))
		}
		return new(big.Rat).SetFrac(big.NewInt(1), pow2(-e))
	}
	for r.Cmp(ratPow2(e)) >= 0 { // want m < 2^e
		e++
	}
	for r.Cmp(ratPow2(e-1)) < 0 { // want m >= 2^(e-1)
		e--
	}
	// q = round(m 2^(31-e))
	var q *big.Int
	if k := 31 - e; k >= 0 {
		q = roundHalfAway(new(big.Int).Lsh(num, uint(k)), den)
	} else {
		q = roundHalfAway(num, new(big.Int).Lsh(den, uint(-k)))
	}
	if q.Cmp(pow2(31)) == 0 {
		q = pow2(30)
		e++
	}
	if e < -31 {
		return 0, 0
	}
	return int32(q.Int64()), e
}

// ---- test values ----

// specialInt32s returns ±2^k + {-2..2} for k = 0..31 that fit in int32, with 0 and the
// extremes, sorted and without duplicates.
func specialInt32s() []int32 {
	var vs []int32
	add := func(v int64) {
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			vs = append(vs, int32(v))
		}
	}
	for k := 0; k <= 31; k++ {
		for d := int64(-2); d <= 2; d++ {
			add(int64(1)<<k + d)
			add(-(int64(1) << k) + d)
		}
	}
	add(0)
	add(math.MinInt32)
	add(math.MinInt32 + 1)
	add(math.MaxInt32)
	add(math.MaxInt32 - 1)
	slices.Sort(vs)
	return slices.Compact(vs)
}

// randInt32 draws uniformly either over all of int32 or over a random bit length, so small
// magnitudes are well represented.
func randInt32(rng *rand.Rand) int32 {
	if rng.IntN(2) == 0 {
		return int32(rng.Uint32())
	}
	bits := rng.IntN(32)
	v := int32(rng.Uint32() >> (31 - bits) >> 1) // bits random low bits
	if rng.IntN(2) == 0 {
		v = -v
	}
	return v
}

func newRNG() *rand.Rand { return rand.New(rand.NewPCG(0x9a7, 0x1d)) }

// forMBQMCases calls check on the multiply's test cases: every special int32 with special and
// seeded random Q31 multipliers at every shift -31..31, then 200,000 seeded random
// accumulators with multipliers from QuantizeMultiplier over 2^-32..2^8.
func forMBQMCases(check func(x, q int32, shift int)) {
	qs := []int32{0, 1, 2, 1 << 30, 1<<30 + 1, 1<<30 + 2, math.MaxInt32, math.MaxInt32 - 1,
		1077952576, 1610612736, 1431655765}
	rng := newRNG()
	for range 12 {
		qs = append(qs, 1<<30+int32(rng.IntN(1<<30)))
	}
	for _, x := range specialInt32s() {
		for _, q := range qs {
			for shift := -31; shift <= 31; shift++ {
				check(x, q, shift)
			}
		}
	}
	for range 200000 {
		q, s := QuantizeMultiplier(math.Ldexp(0.5+rng.Float64()/2, rng.IntN(40)-32))
		check(randInt32(rng), q, s)
	}
}

// ---- tests ----

func TestFixedPointSpotValues(t *testing.T) {
	qm := []struct {
		m     float64
		q     int32
		shift int
	}{
		{1.0 / 255, 1077952576, -7},
		{0.75, 1610612736, 0},
		{1.0 / 3, 1431655765, -1},
		{1.0, 1073741824, 1},
		{0.5, 1 << 30, 0},
		{0, 0, 0},
		{1 - 0x1p-33, 1 << 30, 1}, // rounds up to 2^31: halved, shift bumped
		{0x1p-32, 1 << 30, -31},   // smallest exponent kept
		{0x1p-33, 0, 0},           // flushed to zero
		{math.SmallestNonzeroFloat64, 0, 0},
	}
	for _, c := range qm {
		q, s := QuantizeMultiplier(c.m)
		if q != c.q || s != c.shift {
			t.Errorf("QuantizeMultiplier(%g) = (%d, %d), want (%d, %d)", c.m, q, s, c.q, c.shift)
		}
	}
	srdhm := []struct{ a, b, want int32 }{
		{-5, 1 << 30, -2},
		{3, 1 << 30, 2},
		{math.MinInt32, math.MinInt32, math.MaxInt32},
		{math.MaxInt32, math.MaxInt32, math.MaxInt32 - 1},
		{math.MinInt32, math.MaxInt32, math.MinInt32 + 1},
	}
	for _, c := range srdhm {
		if got := SaturatingRoundingDoublingHighMul(c.a, c.b); got != c.want {
			t.Errorf("SRDHM(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	rdbpot := []struct {
		x    int32
		e    int
		want int32
	}{
		{-12, 3, -2}, {12, 3, 2}, {-3, 3, 0}, {3, 3, 0}, {4, 3, 1}, {-4, 3, -1},
		{5, 0, 5}, {math.MinInt32, 31, -1}, {math.MaxInt32, 31, 1}, {1 << 30, 31, 1}, {-(1 << 30), 31, -1},
	}
	for _, c := range rdbpot {
		if got := RoundingDivideByPOT(c.x, c.e); got != c.want {
			t.Errorf("RoundingDivideByPOT(%d, %d) = %d, want %d", c.x, c.e, got, c.want)
		}
	}
	// M = 0.5
	q, s := QuantizeMultiplier(0.5)
	for _, c := range []struct{ x, want int32 }{{7, 4}, {-7, -3}, {8, 4}, {-8, -4}} {
		if got := MultiplyByQuantizedMultiplier(c.x, q, s); got != c.want {
			t.Errorf("MBQM(%d, M=0.5) = %d, want %d", c.x, got, c.want)
		}
	}
}

func TestSaturatingRoundingDoublingHighMul(t *testing.T) {
	vs := specialInt32s()
	for _, a := range vs {
		for _, b := range vs {
			if got, want := SaturatingRoundingDoublingHighMul(a, b), refSRDHM(a, b); got != want {
				t.Fatalf("SRDHM(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
	}
	rng := newRNG()
	for range 200000 {
		a, b := randInt32(rng), randInt32(rng)
		if got, want := SaturatingRoundingDoublingHighMul(a, b), refSRDHM(a, b); got != want {
			t.Fatalf("SRDHM(%d, %d) = %d, want %d", a, b, got, want)
		}
	}
}

func TestRoundingDivideByPOT(t *testing.T) {
	vs := specialInt32s()
	rng := newRNG()
	for range 20000 {
		vs = append(vs, randInt32(rng))
	}
	for _, x := range vs {
		for e := 0; e <= 31; e++ {
			if got, want := RoundingDivideByPOT(x, e), refRDBPOT(x, e); got != want {
				t.Fatalf("RoundingDivideByPOT(%d, %d) = %d, want %d", x, e, got, want)
			}
		}
	}
	for _, e := range []int{-1, 32, 64} {
		mustPanic(t, "RoundingDivideByPOT exponent", func() { RoundingDivideByPOT(1, e) })
	}
}

func TestQuantizeMultiplier(t *testing.T) {
	var ms []float64
	for k := -40; k <= 40; k++ {
		p := math.Ldexp(1, k)
		ms = append(ms, p, math.Nextafter(p, 0), math.Nextafter(p, math.Inf(1)),
			p*(1-0x1p-32), p*(1-0x1p-33), p*(1+0x1p-32), p*(1+0x1p-33), 3*p, p/3, p/255)
	}
	rng := newRNG()
	for range 50000 {
		ms = append(ms, math.Ldexp(0.5+rng.Float64()/2, rng.IntN(60)-45))
	}
	for _, m := range ms {
		q, s := QuantizeMultiplier(m)
		wq, ws := refQuantizeMultiplier(m)
		if q != wq || s != ws {
			t.Fatalf("QuantizeMultiplier(%v) = (%d, %d), want (%d, %d)", m, q, s, wq, ws)
		}
		checkMultiplier(t, m, q, s)
	}
	for _, m := range []float64{-1, math.Copysign(0x1p-40, -1), math.NaN(), math.Inf(1), math.Inf(-1)} {
		mustPanic(t, "QuantizeMultiplier", func() { QuantizeMultiplier(m) })
	}
}

// checkMultiplier asserts the contract of QuantizeMultiplier independently of any reference:
// q in [2^30, 2^31) and |q 2^(s-31) - m| <= 2^(s-32), or (0, 0) for m below 2^-32.
func checkMultiplier(t *testing.T, m float64, q int32, s int) {
	t.Helper()
	if q == 0 && s == 0 {
		if m >= 0x1p-32 {
			t.Fatalf("QuantizeMultiplier(%v) flushed to 0", m)
		}
		return
	}
	if q < 1<<30 {
		t.Fatalf("QuantizeMultiplier(%v) = (%d, %d): q below 2^30", m, q, s)
	}
	approx := new(big.Rat).SetFloat64(math.Ldexp(float64(q), s-31)) // exact: q has 31 bits
	diff := new(big.Rat).Sub(approx, new(big.Rat).SetFloat64(m))
	half := new(big.Rat).SetFloat64(math.Ldexp(1, s-32))
	if diff.Abs(diff).Cmp(half) > 0 {
		t.Fatalf("QuantizeMultiplier(%v) = (%d, %d): error %v above half a step", m, q, s, diff.FloatString(20))
	}
}

func TestMultiplyByQuantizedMultiplier(t *testing.T) {
	var n, off int
	check := func(x, q int32, shift int) {
		want, ok := refMBQM(x, q, shift)
		if !ok {
			mustPanic(t, "MBQM precondition", func() { MultiplyByQuantizedMultiplier(x, q, shift) })
			return
		}
		got := MultiplyByQuantizedMultiplier(x, q, shift)
		if got != want {
			t.Fatalf("MBQM(%d, %d, %d) = %d, want %d", x, q, shift, got, want)
		}
		exact := exactMBQM(x, q, shift)
		d := new(big.Int).Sub(big.NewInt(int64(got)), exact)
		if d.CmpAbs(big.NewInt(1)) > 0 {
			t.Fatalf("MBQM(%d, %d, %d) = %d, exact rounding %v: differ by more than 1", x, q, shift, got, exact)
		}
		n++
		if d.Sign() != 0 {
			off++
		}
	}
	forMBQMCases(check)
	if off == 0 {
		t.Errorf("two-step rounding never differed from one exact rounding in %d cases: the test cannot see the difference", n)
	}
	t.Logf("%d checked; two-step result = exact rounding ±1 in %d (%.3f%%)", n, off, 100*float64(off)/float64(n))
	for _, shift := range []int{-32, 32, -100, 100} {
		mustPanic(t, "MBQM shift", func() { MultiplyByQuantizedMultiplier(1, 1<<30, shift) })
	}
}

func FuzzQuantizeMultiplier(f *testing.F) {
	for _, m := range []float64{0, 1.0 / 255, 0.75, 1.0 / 3, 1, 1 - 0x1p-33, 0x1p-32, 0x1p-33, 1e10, -1, math.NaN()} {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, m float64) {
		if !(m >= 0) || math.IsInf(m, 1) {
			mustPanic(t, "QuantizeMultiplier", func() { QuantizeMultiplier(m) })
			return
		}
		q, s := QuantizeMultiplier(m)
		wq, ws := refQuantizeMultiplier(m)
		if q != wq || s != ws {
			t.Fatalf("QuantizeMultiplier(%v) = (%d, %d), want (%d, %d)", m, q, s, wq, ws)
		}
		checkMultiplier(t, m, q, s)
	})
}

func FuzzMultiplyByQuantizedMultiplier(f *testing.F) {
	f.Add(int32(7), int32(1<<30), 0)
	f.Add(int32(-7), int32(1<<30), 0)
	f.Add(int32(math.MinInt32), int32(math.MinInt32), 0)
	f.Add(int32(math.MaxInt32), int32(1077952576), -7)
	f.Add(int32(-1), int32(1<<30), 31)
	f.Add(int32(1), int32(1<<30), 31)
	f.Add(int32(12345), int32(1431655765), -31)
	f.Add(int32(1), int32(1), -32)
	f.Fuzz(func(t *testing.T, x, q int32, shift int) {
		want, ok := refMBQM(x, q, shift)
		if !ok {
			mustPanic(t, "MBQM precondition", func() { MultiplyByQuantizedMultiplier(x, q, shift) })
			return
		}
		got := MultiplyByQuantizedMultiplier(x, q, shift)
		if got != want {
			t.Fatalf("MBQM(%d, %d, %d) = %d, want %d", x, q, shift, got, want)
		}
		if q >= 0 {
			d := new(big.Int).Sub(big.NewInt(int64(got)), exactMBQM(x, q, shift))
			if d.CmpAbs(big.NewInt(1)) > 0 {
				t.Fatalf("MBQM(%d, %d, %d) = %d: more than 1 from the exact rounding", x, q, shift, got)
			}
		}
	})
}

// mustPanic fails the test unless f panics with a message prefixed "fakequant: ".
func mustPanic(t testing.TB, what string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("%s: no panic", what)
		}
		var msg string
		switch v := r.(type) {
		case string:
			msg = v
		case error:
			msg = v.Error()
		}
		if len(msg) < 11 || msg[:11] != "fakequant: " {
			t.Fatalf("%s: panic %v without the \"fakequant: \" prefix", what, r)
		}
	}()
	f()
}
