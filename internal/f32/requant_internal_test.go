package f32

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"github.com/qatgo/qatgo/fakequant"
)

// roundings are the requantization rules the kernel tests run under.
var roundings = []fakequant.Rounding{fakequant.RoundDouble, fakequant.RoundSingle}

// TestRequantMul: requantMul gives fakequant.MultiplyByQuantizedMultiplierWith's result for
// both rules on edge accumulators (0, +-1, the int32 ends, 2^30) and multipliers (0, 1, 2^30,
// MaxInt32), every exponent, and seeded random values, ties of every rounding step included.
func TestRequantMul(t *testing.T) {
	accs := []int32{0, 1, -1, 2, -2, 3, -3, math.MaxInt32, math.MinInt32, math.MaxInt32 - 1, math.MinInt32 + 1, 1 << 30, -1 << 30}
	mults := []int32{0, 1, 1 << 30, 1<<30 + 1, math.MaxInt32, 1610612736}
	rng := rand.New(rand.NewPCG(61, 62))
	check := func(acc, mult int32, e int) {
		for _, r := range roundings {
			want := fakequant.MultiplyByQuantizedMultiplierWith(r, acc, mult, -e)
			if got := requantMul(r == fakequant.RoundSingle, acc, mult, uint(e), int32(int64(1)<<e-1)); got != want {
				t.Fatalf("%v: acc %d mult %d shift %d: %d, want %d", r, acc, mult, -e, got, want)
			}
		}
	}
	for e := 0; e <= 31; e++ {
		for _, acc := range accs {
			for _, m := range mults {
				check(acc, m, e)
			}
		}
		for range 5000 {
			m := int32(1<<30 + rng.Int64N(1<<30))
			check(int32(rng.Uint32()), m, e)
			check(int32(rng.Int64N(1<<16)-1<<15), m, e)
			// acc * 2^30: the high mul is exact, so only the second step rounds (ties too).
			check(int32(rng.Int64N(1<<20)-1<<19), 1<<30, e)
		}
	}
}

func TestRequantRow(t *testing.T) {
	// Edge values (ties of the rounding, the saturation bounds, huge values, NaN, Inf, zeros)
	// and seeded random ones: requantRow gives the codes of fakequant's composition.
	ys := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994,
		math.Nextafter(0.5, 1), math.Nextafter(1.5, 0), math.Nextafter(-1.5, 0), 2147483646.5, 2147483647, 2147483647.4999998,
		2147483647.5, -2147483647.5, -2147483648, -2147483648.5, 1<<32 - 0.5, -(1<<32 - 0.5), 1 << 32, -(1 << 32), 1 << 52,
		1<<52 - 0.5, 1e300, -1e300, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN()}
	rng := rand.New(rand.NewPCG(63, 64))
	for range 100000 {
		ys = append(ys, rng.NormFloat64()*math.Pow(2, float64(rng.IntN(70)-20)), float64(rng.Int64N(1<<34)-1<<33)/2)
	}
	for _, s := range []float64{1, 0.75, 3e-5} {
		for _, r := range roundings {
			requantRowCase(t, r, s, ys)
		}
	}
}

// requantRowCase checks requantRow under rule r with accumulator scale s on the accumulators
// ys against fakequant's composition.
func requantRowCase(t *testing.T, r fakequant.Rounding, s float64, ys []float64) {
	t.Helper()
	x := make([]float32, 0, len(ys))
	for _, y := range ys {
		x = append(x, float32(y*s))
	}
	for _, c := range []struct {
		mult         int32
		shift        int
		zero, lo, hi int32
	}{{1 << 30, 0, 0, 0, 255}, {1610612736, -9, 10, 0, 255}, {1<<30 + 12345, -31, -3, -128, 127}, {2147483647, -4, 0, 0, 6}} {
		value := make([]float32, c.hi-c.lo+1)
		for i := range value {
			value[i] = float32(i)
		}
		zero := value[fakequant.RequantizeWith(r, 0, c.mult, c.shift, c.zero, c.lo, c.hi)-c.lo]
		d := make([]float32, len(x))
		requantRow(r, d, x, s, c.mult, uint(-c.shift), c.lo-c.zero, c.hi-c.zero, c.zero-c.lo, value, zero)
		for i, v := range x {
			acc := fakequant.SaturateAccumulator(math.Round(float64(v)/s), c.shift)
			want := value[fakequant.RequantizeWith(r, acc, c.mult, c.shift, c.zero, c.lo, c.hi)-c.lo]
			if d[i] != want {
				t.Fatalf("%v: s %g %+v: x %v: code %v, want %v", r, s, c, v, d[i], want)
			}
		}
	}
}

func TestFakeQuantizeRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	for _, p := range []fakequant.Params{
		fakequant.SymmetricParams(0.37, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}),
		fakequant.SymmetricParams(3, fakequant.Scheme{Bits: 4, Signed: true}),
		fakequant.ChooseParams(-0.3, 2.1, fakequant.Scheme{Bits: 8}),
		fakequant.SymmetricParams(1e-30, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}),
	} {
		x := []float32{0, float32(math.Copysign(0, -1)), math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), float32(math.NaN())}
		for k := -300; k <= 300; k++ {
			// Ties and their neighbours.
			v := float32((float64(k) + 0.5) * p.Scale)
			x = append(x, v, math.Nextafter32(v, 0), math.Nextafter32(v, 1e30), -v)
		}
		for range 50000 {
			x = append(x, float32(rng.NormFloat64()*p.Scale*float64(rng.IntN(300))))
		}
		got, want := make([]float32, len(x)), make([]float32, len(x))
		fakeQuantizeRow(got, x, p)
		fakequant.FakeQuantizeSlice(want, x, p)
		for i := range x {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
				t.Fatalf("%v: FQ(%v) = %v, want %v", p, x[i], got[i], want[i])
			}
		}
	}
}

// TestFakeQuantizeRowVec: the vector kernel (where the CPU has it) writes fakeQuantizeRow's
// bits (signs of zero included) for ties, small negatives that round to zero, values that take
// the slow path in any lane of a group, and lengths that leave a tail.
func TestFakeQuantizeRowVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(69, 70))
	for _, p := range []fakequant.Params{
		fakequant.SymmetricParams(0.37, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}),
		fakequant.SymmetricParams(3, fakequant.Scheme{Bits: 4, Signed: true}),
		fakequant.SymmetricParams(1.2, fakequant.Scheme{Bits: 2, Signed: true, Narrow: true}),
		fakequant.ChooseParams(-0.3, 2.1, fakequant.Scheme{Bits: 8}),
		fakequant.ChooseParams(0, 6, fakequant.Scheme{Bits: 4}),
		fakequant.SymmetricParams(1e-30, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}),
	} {
		x := []float32{0, float32(math.Copysign(0, -1)), math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), float32(math.NaN()),
			float32(-0.3 * p.Scale), float32(0.3 * p.Scale), float32(-0.5 * p.Scale), float32(-1e-3 * p.Scale)}
		for k := -300; k <= 300; k++ {
			v := float32((float64(k) + 0.5) * p.Scale)
			x = append(x, v, math.Nextafter32(v, 0), math.Nextafter32(v, 1e30), -v)
		}
		for range 50000 {
			x = append(x, float32(rng.NormFloat64()*p.Scale*float64(rng.IntN(300))))
		}
		x = x[:len(x)-rng.IntN(4)]
		got, want := make([]float32, len(x)), make([]float32, len(x))
		FakeQuantize(got, x, p)
		fakeQuantizeRow(want, x, p)
		for i := range x {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v: x[%d] = %v: %v, want %v", p, i, x[i], got[i], want[i])
			}
		}
	}
}

// TestFakeQuant8sAsm: the float32 kernel takes every group whose x/S are all below 2^11 and
// away from half-integers, and writes fakeQuantizeRow's bits for every group it takes: values
// at and a few float32 steps around ties, around the clamp limits and elsewhere, for fixed
// scales (1/S not a normal float32 among them) and for random ones, whose float32(1/S) is off
// by up to half a float32 step. With a bound of 1/2 in place of 1/2 - 2^-10 on the distance to
// an integer, the kernel takes groups it gets wrong (checked: the margin is needed).
func TestFakeQuant8sAsm(t *testing.T) {
	if !useAVX2 {
		t.Skip("no vector kernel in this build or on this CPU")
	}
	rng := rand.New(rand.NewPCG(75, 76))
	params := []fakequant.Params{
		fakequant.SymmetricParams(0.37, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}),
		fakequant.SymmetricParams(3, fakequant.Scheme{Bits: 4, Signed: true}),
		fakequant.ChooseParams(-0.3, 2.1, fakequant.Scheme{Bits: 8}),
		fakequant.ChooseParams(0, 6, fakequant.Scheme{Bits: 2}),
		fakequant.SymmetricParams(1e-30, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}),
		fakequant.SymmetricParams(1e30, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}),
		fakequant.SymmetricParams(1e-41, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}), // 1/S overflows float32
	}
	for range 60 {
		params = append(params, fakequant.SymmetricParams(math.Exp(rng.Float64()*8-6), fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}))
	}
	accepted, total, wrongLoose := 0, 0, 0
	for _, p := range params {
		var k, loose fqConsts
		k.Set(p)
		loose.Set(p)
		for i := range loose.guard32 {
			loose.guard32[i] = 0.5
		}
		x := make([]float32, 8*600)
		for g := 0; g < len(x); g += 8 {
			ties := g%32 == 0
			for i := g; i < g+8; i++ {
				y := float64(rng.IntN(1<<(1+rng.IntN(11)))) * float64(rng.IntN(2)*2-1)
				switch {
				case ties || rng.IntN(16) == 0:
					y += 0.5
				case rng.IntN(8) == 0:
					y = float64(p.QMax-p.ZeroPoint) + float64(rng.IntN(3)) - 1
				case rng.IntN(2) == 0:
					y += rng.Float64() - 0.5
				}
				x[i] = float32(y * p.Scale)
				for range rng.IntN(4) {
					x[i] = math.Nextafter32(x[i], float32(math.Inf(1)))
				}
				for range rng.IntN(4) {
					x[i] = math.Nextafter32(x[i], float32(math.Inf(-1)))
				}
			}
		}
		want, got := make([]float32, len(x)), make([]float32, len(x))
		fakeQuantizeRow(want, x, p)
		for g := 0; g < len(x); g += 8 {
			total++
			if fakeQuant8sAsm(&got[g], &x[g], 1, &loose) == 8 {
				for i := g; i < g+8; i++ {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						wrongLoose++
						break
					}
				}
			}
			if checkFQGroup(t, p, x, got, want, g, fakeQuant8sAsm(&got[g], &x[g], 1, &k), 1<<11, k.lim32[0] != 0) {
				accepted++
			}
		}
	}
	t.Logf("%d of %d groups of eight accepted; with the bound 1/2, %d groups taken and wrong", accepted, total, wrongLoose)
	if accepted < total/4 {
		t.Fatalf("only %d of %d groups accepted: the kernel is barely exercised", accepted, total)
	}
	if wrongLoose == 0 {
		t.Fatalf("no group goes wrong with the bound 1/2: the inputs do not probe the margin")
	}
}

// checkFQGroup checks the eight values of group g that a fake-quant kernel wrote into got (n of
// them: 8, or 0 when it declined the group) against fakeQuantizeRow's want: a group it took must
// match bit for bit, and it may decline only a group holding some |x/S| >= limit or an x/S
// within 0.01 of a half-integer (any group when it must decline all, !canTake). It reports
// whether the kernel took the group.
func checkFQGroup(t *testing.T, p fakequant.Params, x, got, want []float32, g, n int, limit float64, canTake bool) bool {
	t.Helper()
	if n == 0 {
		away := canTake
		for _, v := range x[g : g+8] {
			y := float64(v) / p.Scale
			away = away && math.Abs(y) < limit && math.Abs(y-math.Round(y)) < 0.49
		}
		if away {
			t.Fatalf("%v: declined the group %v, whose x/S are all below %g and away from half-integers", p, x[g:g+8], limit)
		}
		return false
	}
	for i := g; i < g+8; i++ {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%v: x[%d] = %v (x/S %v): %#08x, want %#08x", p, i, x[i], float64(x[i])/p.Scale, math.Float32bits(got[i]), math.Float32bits(want[i]))
		}
	}
	return true
}

// TestFakeQuant8Asm: the eight-lane kernel takes every group whose x/S are all away from
// half-integers (and below 2^31), and writes fakeQuantizeRow's bits for every group it takes.
func TestFakeQuant8Asm(t *testing.T) {
	if !useAVX2 {
		t.Skip("no vector kernel in this build or on this CPU")
	}
	rng := rand.New(rand.NewPCG(73, 74))
	accepted, total := 0, 0
	for _, p := range []fakequant.Params{
		fakequant.SymmetricParams(0.37, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}),
		fakequant.SymmetricParams(3, fakequant.Scheme{Bits: 4, Signed: true}),
		fakequant.ChooseParams(-0.3, 2.1, fakequant.Scheme{Bits: 8}),
		fakequant.ChooseParams(0, 6, fakequant.Scheme{Bits: 2}),
		fakequant.SymmetricParams(1e-30, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}),
		fakequant.SymmetricParams(1e30, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}),
	} {
		var k fqConsts
		k.Set(p)
		x := make([]float32, 8*2000)
		for i := range x {
			y := float64(rng.Int64N(1<<(2+rng.IntN(30)))) - float64(int64(1)<<(1+rng.IntN(30)))
			switch rng.IntN(8) {
			case 0:
				y += 0.5 // a tie, or its float32 neighbours
			case 1:
				y += rng.Float64() - 0.5
			}
			x[i] = float32(y * p.Scale)
			if rng.IntN(3) == 0 {
				x[i] = math.Nextafter32(x[i], float32(math.Inf(rng.IntN(2)*2-1)))
			}
		}
		want, got := make([]float32, len(x)), make([]float32, len(x))
		fakeQuantizeRow(want, x, p)
		for g := 0; g < len(x); g += 8 {
			total++
			if checkFQGroup(t, p, x, got, want, g, fakeQuant8Asm(&got[g], &x[g], 1, &k), 1<<31, true) {
				accepted++
			}
		}
	}
	t.Logf("%d of %d groups of eight accepted", accepted, total)
	if accepted < total/10 {
		t.Fatalf("only %d of %d groups accepted: the kernel is barely exercised", accepted, total)
	}
}

// TestFQConstsLayout: the fields of fqConsts are where fqrow_amd64.s reads them.
func TestFQConstsLayout(t *testing.T) {
	var k fqConsts
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{{"scale", unsafe.Offsetof(k.scale), 0}, {"absMask", unsafe.Offsetof(k.absMask), 32}, {"lim", unsafe.Offsetof(k.lim), 64},
		{"lo", unsafe.Offsetof(k.lo), 96}, {"hi", unsafe.Offsetof(k.hi), 128}, {"recip", unsafe.Offsetof(k.recip), 160},
		{"guard", unsafe.Offsetof(k.guard), 192}, {"recip32", unsafe.Offsetof(k.recip32), 224}, {"lim32", unsafe.Offsetof(k.lim32), 256},
		{"guard32", unsafe.Offsetof(k.guard32), 288}, {"abs32", unsafe.Offsetof(k.abs32), 320}, {"lo32", unsafe.Offsetof(k.lo32), 352},
		{"hi32", unsafe.Offsetof(k.hi32), 384}} {
		if f.got != f.want {
			t.Errorf("fqConsts.%s at offset %d, the assembly reads it at %d", f.name, f.got, f.want)
		}
	}
}

// TestSTEBackwardVec: STEBackward's float32 bounds and vector kernel pass exactly the
// gradients steBackward passes, at the range edges and their float32 neighbours, for NaN and
// Inf inputs, and with lengths that leave a tail.
func TestSTEBackwardVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for _, p := range []fakequant.Params{
		fakequant.ChooseParams(-0.3, 2.1, fakequant.Scheme{Bits: 8}),
		fakequant.ChooseParams(0, 6, fakequant.Scheme{Bits: 4}),
		fakequant.ChooseParams(-1e-3, 7.77, fakequant.Scheme{Bits: 2}),
		fakequant.SymmetricParams(0.37, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}),
		fakequant.SymmetricParams(1e-30, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}),
		fakequant.SymmetricParams(1e38, fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}),
	} {
		lo, hi := p.NudgedRange()
		x := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
			math.MaxFloat32, -math.MaxFloat32}
		for _, e := range []float64{lo, hi} {
			v := float32(e)
			x = append(x, v, math.Nextafter32(v, 1e38), math.Nextafter32(v, -1e38))
		}
		for range 5000 {
			x = append(x, float32(lo+(hi-lo)*(rng.Float64()*1.2-0.1)))
		}
		x = x[:len(x)-rng.IntN(8)]
		dy := make([]float32, len(x))
		for i := range dy {
			dy[i] = float32(rng.NormFloat64())
		}
		got, want := make([]float32, len(x)), make([]float32, len(x))
		STEBackward(got, x, dy, p)
		steBackward(want, x, dy, p)
		for i := range x {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v: x[%d] = %v (range %v..%v): %v, want %v", p, i, x[i], lo, hi, got[i], want[i])
			}
		}
	}
}

// TestAbsMaxVec: AbsMax gives absMaxOf's maximum and NaN flag, with NaNs and infinities at
// every lane position and lengths that leave a tail.
func TestAbsMaxVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 74))
	for n := 0; n < 70; n++ {
		for _, special := range []float32{0, float32(math.NaN()), float32(math.Inf(-1)), -3e38} {
			w := make([]float32, n)
			for i := range w {
				w[i] = float32(rng.NormFloat64())
			}
			if n > 0 && special != 0 {
				w[rng.IntN(n)] = special
			}
			gm, gn := AbsMax(w)
			wm, wn := absMaxOf(w)
			if math.Float32bits(gm) != math.Float32bits(wm) || gn != wn {
				t.Fatalf("n %d special %v: (%v, %v), want (%v, %v)", n, special, gm, gn, wm, wn)
			}
		}
	}
}

// TestRequantConstsLayout: the offsets requant_amd64.s uses as memory operands are
// RequantConsts' field offsets.
func TestRequantConstsLayout(t *testing.T) {
	var k RequantConsts
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{{"s", unsafe.Offsetof(k.s), 0}, {"absMask", unsafe.Offsetof(k.absMask), 64}, {"lim", unsafe.Offsetof(k.lim), 96},
		{"maxAcc", unsafe.Offsetof(k.maxAcc), 128}, {"minAcc", unsafe.Offsetof(k.minAcc), 160}, {"recip", unsafe.Offsetof(k.recip), 192},
		{"lim8", unsafe.Offsetof(k.lim8), 224}, {"guard", unsafe.Offsetof(k.guard), 256}, {"abs8", unsafe.Offsetof(k.abs8), 288},
		{"mult", unsafe.Offsetof(k.mult), 320}, {"nudge", unsafe.Offsetof(k.nudge), 352}, {"mask", unsafe.Offsetof(k.mask), 384},
		{"half", unsafe.Offsetof(k.half), 416}, {"exp", unsafe.Offsetof(k.exp), 448}, {"vlo", unsafe.Offsetof(k.vlo), 480},
		{"vhi", unsafe.Offsetof(k.vhi), 512}, {"scale", unsafe.Offsetof(k.scale), 544}, {"sBias", unsafe.Offsetof(k.sBias), 576},
		{"sShift", unsafe.Offsetof(k.sShift), 640}, {"sSub", unsafe.Offsetof(k.sSub), 704}, {"size", unsafe.Sizeof(k), 736}} {
		if f.got != f.want {
			t.Errorf("RequantConsts.%s at offset %d, the assembly reads it at %d", f.name, f.got, f.want)
		}
	}
}

// BenchmarkRequant times the fast forms on accumulator-like values: RequantChannel on one
// channel of 4096 values under each rule, with accumulators below 2^17 (the float32
// recovery) and between 2^21 and 2^24 (the float64 one), and RequantColumns8 on a (64, 504)
// fully connected output under single rounding, eight channels at a time with their own
// constants. It reports ns per value of each.
func BenchmarkRequant(b *testing.B) {
	rng := rand.New(rand.NewPCG(95, 96))
	p := fakequant.Params{Scale: 1e-3, ZeroPoint: -3, QMin: -128, QMax: 127}
	var tabD, tabS RequantTable
	tabD.Set(fakequant.RoundDouble, p, p.QMax)
	tabS.Set(fakequant.RoundSingle, p, p.QMax)
	const s = 3e-5
	var k RequantConsts
	k.Set(s, 1<<30+12345, 9, tabD.VLo, tabD.VHi, p.Scale)
	small, large, d := make([]float32, 4096), make([]float32, 4096), make([]float32, 4096)
	for i := range small {
		small[i] = float32(float64(rng.Int64N(200000)-100000) * s)
		large[i] = float32(float64(rng.Int64N(1<<24)-1<<23) * s)
		if math.Abs(float64(large[i])/s) < 1<<21 {
			large[i] = float32(float64(1<<22) * s)
		}
	}
	const rows, stride = 64, 504
	fc, fd := make([]float32, rows*stride), make([]float32, rows*stride)
	ks := make([]RequantConsts, stride/8)
	for c := range stride {
		sc := 1e-5 * (1 + rng.Float64())
		ks[c/8].SetLane(c%8, sc, int32(1<<30+rng.Int64N(1<<30)), uint(rng.IntN(12)), tabS.VLo, tabS.VHi, p.Scale)
		for r := range rows {
			fc[r*stride+c] = float32(float64(rng.Int64N(200000)-100000) * sc)
		}
	}
	var tD, tS, tL, tC time.Duration
	for b.Loop() {
		t0 := time.Now()
		RequantChannel(&tabD, d, small, &k)
		t1 := time.Now()
		RequantChannel(&tabS, d, small, &k)
		t2 := time.Now()
		RequantChannel(&tabS, d, large, &k)
		t3 := time.Now()
		for g := range ks {
			RequantColumns8(&tabS, fd[8*g:], fc[8*g:], rows, stride, &ks[g])
		}
		tD, tS, tL, tC = tD+t1.Sub(t0), tS+t2.Sub(t1), tL+t3.Sub(t2), tC+time.Since(t3)
	}
	n := float64(b.N * len(small))
	b.ReportMetric(float64(tD.Nanoseconds())/n, "ns/value-channel-double")
	b.ReportMetric(float64(tS.Nanoseconds())/n, "ns/value-channel-single")
	b.ReportMetric(float64(tL.Nanoseconds())/n, "ns/value-channel-large")
	b.ReportMetric(float64(tC.Nanoseconds())/float64(b.N*len(fc)), "ns/value-columns")
}
