package fakequant

import (
	"fmt"
	"math/bits"
)

// MaxPoolWindow is the largest window n = K*K an average pool may have: n * 255 fits in an
// int32 accumulator with room to spare, and MeanMultiplier is exact for every n up to it.
const MaxPoolWindow = 1 << 16

// MeanMultiplier is the Q31 multiplier and shift of 1/n (equation (8) for M = 1/n), computed in
// integers so that the integer engine needs no floating point:
//
//	a = bits.Len(n)  (2^(a-1) <= n < 2^a);  M0 = floor((2^(a+31) + n) / 2n) = round(2^(a+30)/n)
//	shift = 1 - a;   if M0 == 2^31 (n a power of 2): M0, shift = 2^30, shift+1
//
// It equals QuantizeMultiplier(1/float64(n)) for every n in 1..MaxPoolWindow (tested): 2^(a+30)/n
// is never within 2^-22 of a half-integer there, so float64's rounding of 1/n cannot move it.
// MeanMultiplier(1) = (2^30, 1), MeanMultiplier(4) = (2^30, -1), MeanMultiplier(9) =
// (1908874354, -3). It panics unless 1 <= n <= MaxPoolWindow.
func MeanMultiplier(n int) (quantized int32, shift int) {
	if n < 1 || n > MaxPoolWindow {
		panic(fmt.Sprintf("fakequant: MeanMultiplier: window %d outside 1..%d", n, MaxPoolWindow))
	}
	a := bits.Len(uint(n))
	q := (uint64(1)<<(a+31) + uint64(n)) / (2 * uint64(n))
	shift = 1 - a
	if q == 1<<31 {
		q, shift = 1<<30, shift+1
	}
	return int32(q), shift
}

// AveragePool is the integer average pool of one window, equation (17): the sum of the window's
// codes relative to the zero point is requantized with the multiplier 1/n (MeanMultiplier) under
// the rule r, keeping the input's scale and zero point:
//
//	(17) q = clamp(Z + MBQM_r(sum_{i<n} (q_i - Z), M0, shift), lo, hi),  (M0, shift) = MeanMultiplier(n)
//
// that is RequantizeWith(r, sum, M0, shift, Z, lo, hi): the mean of the window's real values
// S (q_i - Z), rounded to the grid by the repo's one requantization (ties toward +Inf under
// RoundSingle; under RoundDouble occasionally one code away from zero, as in (11)). sum is
// sum_{i<n} (q_i - Z), n = K*K. With every q_i in [lo, hi] the clamp never binds: the result lies
// between floor and ceil of the exact mean, within [min_i q_i, max_i q_i]. Preconditions as
// RequantizeWith's and MeanMultiplier's (|sum| <= n*255 fits easily).
func AveragePool(r Rounding, sum int32, n int, zero, lo, hi int32) int32 {
	m, shift := MeanMultiplier(n)
	return RequantizeWith(r, sum, m, shift, zero, lo, hi)
}
