package fakequant

import (
	"math"
	"testing"
)

// Reference vectors from TFLite and ruy, for both rounding rules. The inputs and the expected
// outputs are numbers published in those projects' tests; where a published value belongs to
// one rule only, the other rule's value is worked out by hand beside it.
//
// TFLite: tensorflow/lite/kernels/internal/quantization_util_test.cc,
// TEST(QuantizationUtilTest, MultiplyByQuantizedMultiplierInt32): x times a real multiplier
// through QuantizeMultiplier then MultiplyByQuantizedMultiplier. The test is not conditional on
// TFLITE_SINGLE_ROUNDING, so its values are meant to hold under either build: both rules. (The cases with negative multipliers are left out: qatgo's multipliers are
// never negative and QuantizeMultiplier refuses them.)
//
// ruy: ruy/apply_multiplier_test.cc (google/ruy at 58e3051707b3a92dab0a72297183114a1d35f483),
// TEST(ApplyMultiplierTest, ...): x, a Q31 multiplier and an
// exponent. ruy's MultiplyByQuantizedMultiplier is SRDHM followed by a rounding right shift
// that breaks ties upward, which equals TFLite's double rounding except on negative ties of
// the second step (there TFLite's RoundingDivideByPOT rounds away from zero); ruy's test marks
// (-1000, MaxInt32, -4) as the one such case.
func TestReferenceVectors(t *testing.T) {
	const maxQ = math.MaxInt32
	t.Run("tflite", func(t *testing.T) {
		for _, c := range []struct {
			x    int32
			m    float64
			want int32
		}{
			{0, 0.1, 0},
			{1, 0, 0},
			{10000, 0.00097656, 10},
			{-10000, 0.00097656, -10},
			{math.MinInt32, 0.00001, -21475},
			{math.MaxInt32, 0.00001, 21475},
		} {
			q, s := QuantizeMultiplier(c.m)
			for _, r := range []Rounding{RoundDouble, RoundSingle} {
				if got := MultiplyByQuantizedMultiplierWith(r, c.x, q, s); got != c.want {
					t.Errorf("%v: %d * %g (%d, %d) = %d, want %d", r, c.x, c.m, q, s, got, c.want)
				}
			}
		}
		// x = quantized = MaxInt32, shift -3: TFLite expects TfLiteRound(x q / 2^34), x q / 2^34 =
		// 2^28 - 1/4 + 2^-34, so 268435456, and its negation for -x; both rules give it.
		for _, r := range []Rounding{RoundDouble, RoundSingle} {
			if got := MultiplyByQuantizedMultiplierWith(r, maxQ, maxQ, -3); got != 268435456 {
				t.Errorf("%v: MaxInt32 * MaxInt32 >> 34 = %d, want 268435456", r, got)
			}
			if got := MultiplyByQuantizedMultiplierWith(r, -maxQ, maxQ, -3); got != -268435456 {
				t.Errorf("%v: -MaxInt32 * MaxInt32 >> 34 = %d, want -268435456", r, got)
			}
		}
	})
	t.Run("ruy", func(t *testing.T) {
		for _, c := range []struct {
			x, q           int32
			shift          int
			double, single int32 // double: ruy's expected value; single: by hand where it differs
		}{
			// SaturatingRoundingDoublingHighMul (shift 0: both rules round x q / 2^31 once).
			{1000, maxQ, 0, 1000, 1000},
			{1000, 1 << 30, 0, 500, 500},
			{1000, 1 << 29, 0, 250, 250},
			{1000, 1<<30 + 1<<29, 0, 750, 750},
			{1000, 1<<30 + 1<<28, 0, 625, 625},
			{1000, 1<<30 + 1<<27, 0, 563, 563}, // 562.5, tie up
			{1000, 1<<30 + 1<<26, 0, 531, 531},
			{-1000, maxQ, 0, -1000, -1000},
			{-1000, 1 << 30, 0, -500, -500},
			{-1000, 1 << 29, 0, -250, -250},
			{-1000, 1<<30 + 1<<29, 0, -750, -750},
			{-1000, 1<<30 + 1<<28, 0, -625, -625},
			{-1000, 1<<30 + 1<<27, 0, -562, -562}, // -562.5: ties toward +Inf
			{-1000, 1<<30 + 1<<26, 0, -531, -531},
			// Rounding right shift: 1000 (2^31 - 1) / 2^(31+e). The double rule rounds
			// 999.9995 to 1000 first, then divides; single rounds once. At e = 4 the exact
			// value is 62.49997: double gives 63, single 62.
			{1000, maxQ, -1, 500, 500},
			{1000, maxQ, -2, 250, 250},
			{1000, maxQ, -3, 125, 125},
			{1000, maxQ, -4, 63, 62},
			{1000, maxQ, -5, 31, 31},
			{1000, maxQ, -6, 16, 16},
			{-1000, maxQ, -1, -500, -500},
			{-1000, maxQ, -2, -250, -250},
			{-1000, maxQ, -3, -125, -125},
			{-1000, maxQ, -4, -63, -62}, // ruy: -62 (ties up); TFLite's RDBPOT: -63 (away from zero)
			{-1000, maxQ, -5, -31, -31},
			{-1000, maxQ, -6, -16, -16},
			// Left shift.
			{1000, maxQ, 1, 2000, 2000},
			{1000, maxQ, 2, 4000, 4000},
			{1000, maxQ, 3, 8000, 8000},
			{-1000, maxQ, 1, -2000, -2000},
			{-1000, maxQ, 2, -4000, -4000},
			{-1000, maxQ, 3, -8000, -8000},
			// ApplyMultiplierUniform and ...PerChannel.
			{1000, 1 << 30, -1, 250, 250},
			{1000, 1 << 25, 3, 125, 125},
		} {
			if got := MultiplyByQuantizedMultiplier(c.x, c.q, c.shift); got != c.double {
				t.Errorf("double(%d, %d, %d) = %d, want %d", c.x, c.q, c.shift, got, c.double)
			}
			if got := MultiplyByQuantizedMultiplierSingle(c.x, c.q, c.shift); got != c.single {
				t.Errorf("single(%d, %d, %d) = %d, want %d", c.x, c.q, c.shift, got, c.single)
			}
		}
	})
}
