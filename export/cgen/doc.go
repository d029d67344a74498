// Package cgen generates C for microcontrollers from an integer model
// (*qnet.Model): <name>.h and <name>.c, C99, integers only (no float or
// double, no libm), no malloc, no recursion, no mutable global state. The
// C computes exactly what the engine computes (export/qnet's reference
// kernels are the specification); the tests compile it with the machine's C
// compiler and compare every layer's codes with the engine.
//
// # The generated API
//
//	#include "lenet5.h"
//	static uint8_t arena[LENET5_ARENA_SIZE];        // every activation; no alignment needed
//	uint8_t codes[LENET5_OUTPUT_SIZE];              // output codes, zero point LENET5_OUTPUT_ZERO
//	int label = lenet5_predict(pixels, codes, arena); // pixels: LENET5_INPUT_SIZE uint8, CHW
//
// Compiled with -D<NAME>_TRACE, <name>_predict also calls a function
// <name>_trace(layer, codes, n) that the caller defines, with every stage's
// output (the tests use it).
//
// # The code
//
// One static function per layer in the manner of TFLite's reference kernels
// (flat loops over out_c, out_y, out_x; the formula in the comment above),
// except that a Conv2D followed by a MaxPool2D is one function computing
// each pooled output from its window's convolution outputs, so the
// convolution output is never stored. Stage outputs alternate between the
// two ends of the caller's arena, whose size is the largest input + output
// of a stage. Every Conv2D and FullyConnected output is
//
//	acc = bias[out_c] + sum_j (in[j] - input_zero) * w[out_c][j]       (int32; qnet.Model.Validate bounds it)
//	out = clamp(output_zero + acc * multiplier * 2^(shift-31), act_min, act_max)
//
// with the product rounded by the model's rule (fakequant.RoundDouble or
// RoundSingle) in int64 arithmetic that never overflows and never shifts a
// negative value (docs/DEVELOPING.md, "C generator").
// An AvgPool2D output is the same requantization of the window's sum,
//
//	out = requantize(sum over the K x K window of (in - zero), M0, shift, zero, lo, hi)
//
// with M0 * 2^(shift-31) = 1/(K*K) (fakequant.MeanMultiplier) and the
// input's zero point and range (fakequant equation (17)).
//
// # Weight layouts
//
// The weights are static const arrays in one of the layouts of Layout,
// chosen per layer by size unless Options.Layout forces one: int8, packed
// int4, 4-bit codebook indices (clustered layers), and for pruned layers the
// nonzeros of each output channel as uint8 tap deltas or uint16 taps with
// int8 values or 4-bit codebook indices. All are read in place from flash.
//
// # Use
//
//	files, rep, err := cgen.Generate(m, cgen.Options{})   // or:
//	paths, rep, err := cgen.WriteFiles("mcu", m, cgen.Options{})
//	fmt.Println(rep.ConstBytes, rep.CodeBytesEstimate, rep.ArenaBytes)
//
// `qat export --format c --from MODEL --out DIR` does the same from a .qat
// file or a trained checkpoint and prints the report.
package cgen
