package qnet

import "github.com/qatgo/qatgo/fakequant"

// Requantize is the last step of every Conv2D and FullyConnected kernel: it
// maps an int32 accumulator with scale S_in*S_w to an output code with scale
// S_out and zero point outZero (Jacob et al. 2018, §2.2 and §2.4):
//
//	out = clamp(outZero + MultiplyByQuantizedMultiplierWith(r, acc, multiplier, shift), actMin, actMax)
//
// where multiplier*2^(shift-31) = S_in*S_w/S_out and the product is rounded
// by the model's rule r: fakequant equation (11), the gemmlowp/TFLite product
// with its two rounding steps (RoundDouble), or (11s), one rounding
// (RoundSingle). The clamp is decided before the zero point is added, so
// nothing overflows for any acc.
//
// Preconditions (guaranteed by Model.Validate): 0 <= actMin <= actMax <= 255,
// shift in [-31, 30] and acc*2^max(shift,0) within int32.
func Requantize(r fakequant.Rounding, acc, multiplier, shift, outZero, actMin, actMax int32) uint8 {
	// fakequant.Requantize is the single definition, shared with the QAT simulation's output
	// quantizers; the clamp keeps the result in [actMin, actMax] within [0, 255].
	return uint8(fakequant.RequantizeWith(r, acc, multiplier, int(shift), outZero, actMin, actMax))
}
