// Package qgemm holds the integer engine's kernels: u8 x s8 matrix products
// with int32 accumulators, the requantization of those accumulators to
// output codes, and the max of int32 vectors (max pooling before
// requantization). Each kernel has a pure-Go form (kernels_generic.go) and,
// on amd64 without the purego tag, assembly for AVX2 and for AVX-512 VNNI
// (kernels_amd64.s); the level is chosen at run time from the CPU's
// features (golang.org/x/sys/cpu) and can be forced lower for tests
// (SetLevel). Every level computes exactly the same integers.
//
// Gather builds im2col rows from runs of contiguous codes (HWC inputs: a
// filter row is one run of KW*InC codes), 16 codes per step.
//
// Like the rest of the integer runtime it has no floating point (qnet's
// TestNoFloatingPoint parses this package too).
//
// # Products
//
// Gemm computes, for rows r of u8 inputs x (ldx bytes apart) and output
// channels j of a packed weight matrix W (Pack),
//
//	c[r*ldc + j] = bias[j] + sum_{k < Kp} x[r*ldx + k] * W[j][k]        (int32, wrapping)
//
// The weights are packed once, in blocks of 8 output channels:
//
//	B[b][k/4][l][k%4] = W[8b+l][k]      (l < 8, k < Kp = K rounded up to 4; 0 beyond K or Rows)
//
// so one 32-byte load holds 4 consecutive taps of 8 channels, the operand
// of one VPDPBUSD: for each of the 8 int32 lanes l it adds
// sum_{i<4} u8(x[k+i]) * s8(B[l][i]) to the accumulator, with x's 4 bytes
// broadcast to all lanes (VPBROADCASTD). That instruction does not saturate
// (VPDPBUSDS does); the products and sums wrap modulo 2^32 like Go's int32.
//
// AVX2 has no u8 x s8 dot product that cannot saturate (VPMADDUBSW adds two
// u8*s8 products into a saturating int16: 2*255*127 = 64770 > 32767), so at
// LevelAVX2 the weights are laid out in blocks of 8 channels by 2 taps,
//
//	BW[b][k/2][l][k%2] = W[8b+l][k]
//
// and widened to int16 as they are loaded (VPMOVSXBW: 16 bytes, 8 channels
// by 2 taps, per step), the inputs as they are gathered (Gather16,
// VPMOVZXBW);
// VPMADDWD multiplies int16 pairs and adds each pair into an int32 lane (at
// most 2*255*128 in magnitude, exact), with x's 2 codes broadcast, and
// VPADDD accumulates: two instructions per 16 multiply-adds. Where Pack
// proves that the u8 x s8 pair sums cannot saturate (small weights and
// inputs: every W4A4 layer), VPMADDUBSW on the byte layout does 32
// multiply-adds per instruction, summed in int16 lanes (Packed.Steps).
//
// Wrapping arithmetic is exact here: the caller's true sum (bias plus
// products) lies in int32 (the model's accumulator bound), and sums modulo
// 2^32 of terms whose true total is in int32 give that total. The engine
// feeds raw input codes q and folds the input zero point Z into the bias,
// bias - Z*sum_k W[j][k], since sum_k (q_k - Z) W[j][k] = sum_k q_k W[j][k] -
// Z sum_k W[j][k]; a partial sum may wrap, the total does not.
//
// # Requantization
//
// Requant.Rows maps accumulators to codes, channel by channel,
//
//	out = clamp(zero + MBQM(acc, M[j], shift[j]), lo, hi)
//
// bit-exact with fakequant.RequantizeWith under both rounding rules, 8
// channels per step (requant.go gives the formulas and the proof of each
// step).
package qgemm
