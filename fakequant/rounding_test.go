package fakequant

import (
	"math"
	"math/big"
	"testing"
)

// refMBQMSingle is x q 2^(shift-31) rounded once, ties toward +Inf, in exact arithmetic:
// floor(x q 2^shift / 2^31 + 1/2). ok is false when the preconditions fail.
func refMBQMSingle(x, q int32, shift int) (r int32, ok bool) {
	if shift < -31 || shift > 31 || q < 0 {
		return 0, false
	}
	n := new(big.Int).Mul(big.NewInt(int64(x)), big.NewInt(int64(q)))
	if shift > 0 {
		if !fitsInt32(new(big.Int).Mul(big.NewInt(int64(x)), pow2(shift))) {
			return 0, false
		}
	}
	// floor(n 2^shift / 2^31 + 1/2) = floor((2 n 2^shift + 2^31) / 2^32)
	num := new(big.Int).Lsh(n, 1)
	den := pow2(32)
	if shift >= 0 {
		num.Lsh(num, uint(shift))
	} else {
		den.Lsh(den, uint(-shift))
	}
	num.Add(num, new(big.Int).Rsh(den, 1))
	v := floorDiv(num, den)
	if !fitsInt32(v) {
		panic("refMBQMSingle: result outside int32 although the preconditions hold")
	}
	return int32(v.Int64()), true
}

// Spot values worked by hand. The double rule's bias: 1 * 0.375 gives 1 (SRDHM rounds 0.75 up
// to 1, then 1/2 rounds away from zero), the single rule 0.
func TestRoundingSpotValues(t *testing.T) {
	for _, c := range []struct {
		x, q           int32
		shift          int
		single, double int32
	}{
		{1, 1610612736, -1, 0, 1},      // 0.375
		{-1, 1610612736, -1, 0, -1},    // -0.375: double rounds away from zero too
		{9, 1 << 30, 0, 5, 5},          // 4.5: both round the tie up
		{-9, 1 << 30, 0, -4, -4},       // -4.5: SRDHM's tie toward +Inf, single alike
		{3, 1 << 30, -1, 1, 1},         // 0.75
		{5, 1610612736, -3, 0, 1},      // 0.46875
		{1000, 1431655765, -3, 83, 83}, // 1000 * (2/3) / 8 = 83.3
		{-5, 1 << 30, 1, -5, -5},       // -5 * 1.0
		{12, 1 << 30, -2, 2, 2},        // 1.5: tie up
		{-12, 1 << 30, -2, -1, -2},     // -1.5: single ties toward +Inf, double away from zero
	} {
		if got := MultiplyByQuantizedMultiplierSingle(c.x, c.q, c.shift); got != c.single {
			t.Errorf("single(%d, %d, %d) = %d, want %d", c.x, c.q, c.shift, got, c.single)
		}
		if got := MultiplyByQuantizedMultiplier(c.x, c.q, c.shift); got != c.double {
			t.Errorf("double(%d, %d, %d) = %d, want %d", c.x, c.q, c.shift, got, c.double)
		}
	}
}

func TestMultiplyByQuantizedMultiplierSingle(t *testing.T) {
	var n, differ int
	check := func(x, q int32, shift int) {
		want, ok := refMBQMSingle(x, q, shift)
		if !ok {
			mustPanic(t, "single precondition", func() { MultiplyByQuantizedMultiplierSingle(x, q, shift) })
			return
		}
		got := MultiplyByQuantizedMultiplierSingle(x, q, shift)
		if got != want {
			t.Fatalf("single(%d, %d, %d) = %d, want %d", x, q, shift, got, want)
		}
		if w := MultiplyByQuantizedMultiplierWith(RoundSingle, x, q, shift); w != got {
			t.Fatalf("With(RoundSingle) = %d, single = %d", w, got)
		}
		if d, ok := refMBQM(x, q, shift); ok {
			n++
			if d != got {
				differ++
			}
			if w := MultiplyByQuantizedMultiplierWith(RoundDouble, x, q, shift); w != d {
				t.Fatalf("With(RoundDouble) = %d, want %d", w, d)
			}
		}
	}
	forMBQMCases(check)
	if differ == 0 {
		t.Errorf("single and double rounding never differed in %d cases: the test cannot tell them apart", n)
	}
	t.Logf("%d checked; single != double in %d (%.3f%%)", n, differ, 100*float64(differ)/float64(n))
	for _, shift := range []int{-32, 32, -100, 100} {
		mustPanic(t, "single shift", func() { MultiplyByQuantizedMultiplierSingle(1, 1<<30, shift) })
	}
	mustPanic(t, "single negative multiplier", func() { MultiplyByQuantizedMultiplierSingle(1, -1, 0) })
	mustPanic(t, "undefined rounding", func() { MultiplyByQuantizedMultiplierWith(Rounding(7), 1, 1<<30, 0) })
}

func TestRoundingNames(t *testing.T) {
	for _, r := range []Rounding{RoundDouble, RoundSingle} {
		var got Rounding = 99
		if err := got.Set(r.String()); err != nil || got != r || !got.Valid() {
			t.Errorf("Set(%q) = %v, %v", r.String(), got, err)
		}
	}
	if _, err := ParseRounding("nearest"); err == nil {
		t.Error("ParseRounding(\"nearest\") accepted")
	}
	if Rounding(2).Valid() {
		t.Error("Rounding(2) is valid")
	}
}

func FuzzMultiplyByQuantizedMultiplierSingle(f *testing.F) {
	f.Add(int32(7), int32(1<<30), 0)
	f.Add(int32(-12), int32(1<<30), -2)
	f.Add(int32(math.MaxInt32), int32(math.MaxInt32), -31)
	f.Add(int32(math.MinInt32), int32(1<<30), 0)
	f.Add(int32(-1), int32(1<<30), 31)
	f.Fuzz(func(t *testing.T, x, q int32, shift int) {
		want, ok := refMBQMSingle(x, q, shift)
		if !ok {
			mustPanic(t, "single precondition", func() { MultiplyByQuantizedMultiplierSingle(x, q, shift) })
			return
		}
		if got := MultiplyByQuantizedMultiplierSingle(x, q, shift); got != want {
			t.Fatalf("single(%d, %d, %d) = %d, want %d", x, q, shift, got, want)
		}
	})
}
