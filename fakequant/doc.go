// Package fakequant is the quantization math of qatgo: integer grids, the choice of scale and
// zero point, fake quantization for training, range observers, and the bit-exact fixed-point
// primitives of the integer runtime. It uses only the standard library; the training ops
// (autograd), the exporter and the integer engine all call it, so that the simulated and the
// deployed model compute the same numbers. The equations are numbered here, once, and the rest
// of qatgo refers to them by number.
//
// # Affine quantization
//
// A Scheme is an integer grid [qmin, qmax] (uint8 [0, 255], int8 [-128, 127], narrow int8n
// [-127, 127], and so on down to 2 bits). Params map its codes q to reals (Jacob et al. 2018,
// arXiv 1712.05877, §2):
//
//	(1) r = S (q - Z)                          Dequantize; S = Scale > 0, Z = ZeroPoint in [qmin, qmax]
//	(2) q = clamp(Z + round(r/S), qmin, qmax)  Quantize; round = math.Round, ties away from zero
//	(3) FQ(x) = S (clamp(Z + round(x/S), qmin, qmax) - Z)
//	                                           FakeQuantize = (1) after (2): x snapped to the grid
//
// Z is the exact code of real 0.0, so zero padding and ReLU lose nothing. The real values of
// qmin and qmax, lo = S (qmin - Z) and hi = S (qmax - Z), are the nudged range (NudgedRange):
// FQ clamps to [lo, hi] and inside it errs by at most S/2.
//
// # Choosing the parameters
//
// Asymmetric (activations, ChooseParams): the observed range [min, max] is extended to include
// 0 and then nudged so that 0.0 is exactly representable (TF fake_quant_with_min_max_vars):
//
//	(4) S = (max - min) / (qmax - qmin);  Z = clamp(round(qmin - min/S), qmin, qmax)
//
// Symmetric (weights, SymmetricParams, PerChannelSymmetric for one set per output channel):
//
//	(5) Z = 0;  S = absMax / qmax            signed schemes; narrow ones make the grid symmetric
//
// # Training
//
// The gradient of FQ is the straight-through estimator, clipped to the nudged range (InRange):
//
//	(6) dx = dy if lo <= x <= hi, else 0     (the interval is closed: the edges pass)
//
// Activation ranges come from batch ranges (BatchRange: min and max extended to include 0);
// MinMax keeps the running extremes (calibration), EMA smooths them (QAT):
//
//	(7) m <- m - (1 - d) (m - batch)         d = Decay in [0, 1), usually 0.99..0.999
//
// # Integer arithmetic
//
// A layer computes q3 = Z3 + M sum (q1 - Z1)(q2 - Z2) with M = S1 S2 / S3. The runtime stores
// M as a Q31 integer and a shift (QuantizeMultiplier) and multiplies by one of two rules
// (Rounding), each bit-exact with a TFLite build: gemmlowp's primitives, TFLite's default (11),
// or one rounding, TFLite's TFLITE_SINGLE_ROUNDING (11s):
//
//	(8)   M = M0 2^(shift - 31),  M0 in [2^30, 2^31)             QuantizeMultiplier
//	(9)   SRDHM(a, b) = floor(a b / 2^31 + 1/2), saturated        SaturatingRoundingDoublingHighMul
//	(10)  RDBPOT(x, e) = x / 2^e rounded, ties away from zero     RoundingDivideByPOT
//	(11)  MBQM(x, M0, shift) = RDBPOT(SRDHM(x 2^max(shift,0), M0), max(-shift,0))
//	                                                              MultiplyByQuantizedMultiplier
//	(11s) MBQMs(x, M0, shift) = (x M0 + 2^(t-1)) >> t,  t = 31 - shift  (64-bit, arithmetic >>)
//	                          = floor(x M + 1/2)                  MultiplyByQuantizedMultiplierSingle
//	(12)  q = clamp(Z_out + MBQM(acc, M0, shift), lo, hi)         Requantize (RoundDouble);
//	                                                              RequantizeWith(r, ...) uses (11)
//	                                                              or (11s) by the rule r
//
// A model records its rule (RoundDouble, the zero value, is (11); RoundSingle is (11s), the
// default for new models), and the simulation, the exporter and the engine apply that rule.
//
// An average pool over a window of n = K*K codes is the same requantization, with the window's
// sum as the accumulator and 1/n as the multiplier (integer-computed, MeanMultiplier); its
// output keeps the input's scale S and zero point Z, as a max pool's does:
//
//	(17)  q = clamp(Z + MBQM_r(sum_i (q_i - Z), M0, shift), lo, hi),  (M0, shift) = Q31 of 1/n
//	                                                              AveragePool
//
// that is the real mean S/n sum_i (q_i - Z) rounded to the grid by the model's rule (exactly
// round-to-nearest, ties toward +Inf, under (11s)); the clamp never binds.
//
// # Rounding
//
// Quantize (2) and RDBPOT (10) both round ties away from zero (math.Round); keep them in step,
// so that quantizing r/S in floating point and requantizing an accumulator agree on ties.
// SRDHM (9) rounds ties toward +Inf, and the two roundings of (11) together can differ by 1
// from rounding x M once: SRDHM's rounding can land the intermediate exactly on a tie of
// RDBPOT, which then rounds it away from zero, so (11) gives one code too many (always away
// from zero) on about a 2^(shift-1) share of outputs (0.04% at shift -9, 12.5% at -2);
// 1000 (2^31-1) 2^-35 = 62.49997 gives 63 under (11). (11s) rounds once: it is within 1/2 of
// x M, ties toward +Inf (62 above). Tests model both rules exactly.
// ONNX's QuantizeLinear rounds ties to even instead, so an ONNX runtime may differ by 1 LSB.
//
// # Learned steps and range choice
//
// LSQ (Esser et al. 2020) trains S with the loss: with v = x/S, Qn = qmin - Z, Qp = qmax - Z,
//
//	(13) dFQ/dS = round(v) - v if Qn < v < Qp; Qn if v <= Qn; Qp if v >= Qp   LSQStepGrad
//	(14) g = 1 / sqrt(N Qp)     the step's gradient scale, N values per step    LSQGradScale
//
// Ranges that clip on purpose, for calibration and for LSQ's initial steps:
//
//	(15) the clip alpha * range, alpha in (0, 1], minimizing sum (x - FQ(x))^2
//	                                                   SymmetricMSE, AsymmetricMSE
//	(16) the range of the central pct% of the values   PercentileRange, PercentileAbs
//
// # Example
//
//	p := fakequant.ChooseParams(-1, 3, fakequant.Scheme{Bits: 8}) // S = 4/255, Z = 64
//	q := p.Quantize(0.5)                                           // 96
//	r := p.Dequantize(q)                                           // 0.50196
//	fq := p.FakeQuantize(0.5)                                      // the same r
//
// Misuse by the caller (an invalid Scheme, mismatched slice lengths, a shift out of range)
// panics with a message prefixed "fakequant: "; Scheme.Validate, Params.Validate and
// ParseScheme return errors for values read from flags or files.
package fakequant
