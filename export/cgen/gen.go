package cgen

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
)

// Options configures Generate. The zero value generates the default code.
type Options struct {
	// Name is the prefix of the C symbols and the base name of the files
	// ("" = the model's name). It is turned into a C identifier: lower
	// case, every other character '_'.
	Name string
	// Layout is the weight layout of every Conv2D and FullyConnected layer
	// (LayoutAuto: the smallest per layer).
	Layout Layout
	// NoFuse keeps every MaxPool2D a stage of its own, so the output of a
	// Conv2D before it is stored in the arena (a larger arena; for tests).
	NoFuse bool
}

// Files is the generated code: Header is <Name>.h, Source is <Name>.c.
type Files struct {
	Name   string
	Header []byte
	Source []byte
}

// Report says what the generated code holds and needs.
type Report struct {
	Name   string        `json:"name"`
	Stages []StageReport `json:"stages"`
	// ConstBytes is the size of every const array: weights, codebooks,
	// sparse row offsets and taps, biases, multipliers and shifts. It is
	// exact: the arrays are what it counts.
	ConstBytes int `json:"const_bytes"`
	// CodeBytesEstimate estimates the machine code of the kernels for a
	// Cortex-M4 at -Os (codeBytesBase plus codeBytesPerStage per stage, from
	// arm-none-eabi-size; docs/RESULTS.md); the real figure depends on the
	// compiler.
	CodeBytesEstimate int `json:"code_bytes_estimate"`
	// ArenaBytes is <NAME>_ARENA_SIZE: the activations the caller's arena
	// holds (uint8_t codes, no alignment needed).
	ArenaBytes  int `json:"arena_bytes"`
	InputBytes  int `json:"input_bytes"`
	OutputBytes int `json:"output_bytes"`
}

// FlashBytes is ConstBytes + CodeBytesEstimate.
func (r *Report) FlashBytes() int { return r.ConstBytes + r.CodeBytesEstimate }

// StageReport describes one function of the generated code: one layer, or
// a Conv2D fused with the MaxPool2D after it.
type StageReport struct {
	Function   string `json:"function"`
	Layers     []int  `json:"layers"` // model layer indices
	Layout     string `json:"layout"` // weight layout ("" for MaxPool2D)
	Weights    int    `json:"weights"`
	Nonzero    int    `json:"nonzero"`
	ConstBytes int    `json:"const_bytes"`
	OutBytes   int    `json:"out_bytes"` // output codes of the stage
}

// Code-size model of Report.CodeBytesEstimate (bytes of Cortex-M4 Thumb-2
// at -Os): the requantization helpers, predict and argmax, plus each stage's
// function. Calibrated on LeNet-5 (4 stages): the linked Cortex-M4 text
// minus ConstBytes was 1,101 to 1,194 bytes for the three models of
// docs/RESULTS.md (1,286 to 1,729 on the M0+, with libgcc helpers).
const (
	codeBytesBase     = 500
	codeBytesPerStage = 150
)

type stageKind uint8

const (
	stageConv stageKind = iota
	stagePool
	stageFC
	stageAvgPool
)

// stage is one generated function.
type stage struct {
	kind   stageKind
	layers []int
	name   string
	conv   *qnet.Conv2D
	pool   *qnet.MaxPool2D // stagePool, or the pool fused into a stageConv
	fc     *qnet.FullyConnected
	w      *weights

	avg            *qnet.AvgPool2D // stageAvgPool
	avgZero, avgLo int32           // its input's zero point and range [avgLo, avgHi]
	avgHi, avgMult int32           // ... and the Q31 multiplier of 1/(K*K)
	avgShift       int

	inC, inH, inW       int
	convH, convW        int // Conv2D output (before a fused pool)
	outC, outH, outW    int
	inLen, outLen       int
	inOffset, outOffset int // in the arena; -1: the caller's pixels or codes_out
	constBytes          int // the stage's const arrays
}

// Generate writes the C code of m. It returns an error if m is not valid
// (qnet.Model.Validate) or a layer does not admit opt.Layout.
func Generate(m *qnet.Model, opt Options) (*Files, *Report, error) {
	if err := m.Validate(); err != nil {
		return nil, nil, err
	}
	if opt.Layout > SparseTap16 {
		return nil, nil, fmt.Errorf("cgen: unknown %v", opt.Layout)
	}
	name := opt.Name
	if name == "" {
		name = m.Name
	}
	name = identifier(name)
	stages, err := plan(m, opt)
	if err != nil {
		return nil, nil, err
	}
	g := &gen{m: m, name: name, upper: strings.ToUpper(name), stages: stages}
	rep := &Report{Name: name, InputBytes: m.InC * m.InH * m.InW}
	for _, s := range stages {
		rep.ArenaBytes = max(rep.ArenaBytes, s.arenaEnd())
	}
	last := stages[len(stages)-1]
	rep.OutputBytes = last.outLen
	g.arena = rep.ArenaBytes
	src := g.source(rep)
	hdr := g.header(rep)
	rep.CodeBytesEstimate = codeBytesBase + codeBytesPerStage*len(stages)
	return &Files{Name: name, Header: hdr, Source: src}, rep, nil
}

// identifier turns s into a C identifier: [a-z0-9_], not starting with a
// digit, "model" if empty.
func identifier(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	id := b.String()
	if id == "" {
		return "model"
	}
	if id[0] >= '0' && id[0] <= '9' {
		id = "m_" + id
	}
	return id
}

// plan groups the layers into stages, encodes their weights and places
// their outputs in the arena: stage i writes to the start of the arena if i
// is even, to its end if i is odd, so every stage's input and output are
// disjoint, and the arena is the largest input + output of a stage (the
// model's input and the last output are the caller's buffers).
func plan(m *qnet.Model, opt Options) ([]*stage, error) {
	var stages []*stage
	c, h, w := m.InC, m.InH, m.InW
	for i := 0; i < len(m.Layers); i++ {
		s := &stage{layers: []int{i}, inC: c, inH: h, inW: w}
		switch l := m.Layers[i].(type) {
		case *qnet.Conv2D:
			s.kind, s.conv = stageConv, l
			s.outC, s.convH, s.convW, _ = l.OutShape(c, h, w)
			s.outH, s.outW = s.convH, s.convW
			s.name = fmt.Sprintf("conv%d", i)
			if p, ok := next(m, i).(*qnet.MaxPool2D); ok && !opt.NoFuse {
				s.pool = p
				s.layers = append(s.layers, i+1)
				_, s.outH, s.outW, _ = p.OutShape(s.outC, s.convH, s.convW)
				s.name += fmt.Sprintf("_pool%d", i+1)
				i++
			}
			ws, err := encodeWeights(l.Weights, l.OutC, l.InC*l.KH*l.KW, l.WeightBits, opt.Layout)
			if err != nil {
				return nil, fmt.Errorf("cgen: layer %d: %w", s.layers[0], err)
			}
			s.w = ws
		case *qnet.MaxPool2D:
			s.kind, s.pool = stagePool, l
			s.outC, s.outH, s.outW, _ = l.OutShape(c, h, w)
			s.name = fmt.Sprintf("pool%d", i)
		case *qnet.AvgPool2D:
			s.kind, s.avg = stageAvgPool, l
			s.outC, s.outH, s.outW, _ = l.OutShape(c, h, w)
			s.name = fmt.Sprintf("avgpool%d", i)
			s.avgZero, s.avgLo, s.avgHi = m.LayerInput(i)
			mult, shift := fakequant.MeanMultiplier(l.K * l.K)
			s.avgMult, s.avgShift = mult, shift
		case *qnet.FullyConnected:
			s.kind, s.fc = stageFC, l
			s.outC, s.outH, s.outW = l.Out, 1, 1
			s.name = fmt.Sprintf("fc%d", i)
			ws, err := encodeWeights(l.Weights, l.Out, l.In, l.WeightBits, opt.Layout)
			if err != nil {
				return nil, fmt.Errorf("cgen: layer %d: %w", i, err)
			}
			s.w = ws
		}
		s.inLen, s.outLen = c*h*w, s.outC*s.outH*s.outW
		c, h, w = s.outC, s.outH, s.outW
		stages = append(stages, s)
	}
	arena := 0
	for i, s := range stages {
		s.inOffset, s.outOffset = -1, -1
		if i > 0 {
			s.inOffset = 0
		}
		if i < len(stages)-1 {
			s.outOffset = 0
		}
		arena = max(arena, s.arenaEnd())
	}
	for i, s := range stages { // odd stages write at the end; the next stage reads there
		if i%2 == 1 && s.outOffset >= 0 {
			s.outOffset = arena - s.outLen
			stages[i+1].inOffset = s.outOffset
		}
	}
	return stages, nil
}

// arenaEnd is the arena a stage needs with its input at one end and its
// output at the other.
func (s *stage) arenaEnd() int {
	n := 0
	if s.inOffset >= 0 {
		n += s.inLen
	}
	if s.outOffset >= 0 {
		n += s.outLen
	}
	return n
}

func next(m *qnet.Model, i int) qnet.Layer {
	if i+1 < len(m.Layers) {
		return m.Layers[i+1]
	}
	return nil
}

// gen holds the state of one generation.
type gen struct {
	m      *qnet.Model
	name   string
	upper  string
	stages []*stage
	arena  int
	b      bytes.Buffer
}

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.b, format, args...) }

func (g *gen) header(rep *Report) []byte {
	g.b.Reset()
	m := g.m
	oc, oh, ow := m.OutputShape()
	g.p("/* Code generated by qatgo (export/cgen) from the integer model %q. DO NOT EDIT.\n", m.Name)
	g.p(" *\n")
	g.p(" * %s_predict runs the model on one image: C99, integers only, no malloc, no\n", g.name)
	g.p(" * global mutable state; every activation lives in the caller's arena.\n")
	g.p(" *\n")
	g.p(" *   static uint8_t arena[%s_ARENA_SIZE];\n", g.upper)
	g.p(" *   uint8_t codes[%s_OUTPUT_SIZE];\n", g.upper)
	g.p(" *   int label = %s_predict(pixels, codes, arena);\n", g.name)
	g.p(" *\n")
	g.p(" * pixels: %s_INPUT_SIZE raw uint8_t pixels, CHW (%dx%dx%d), zero point %d.\n", g.upper, m.InC, m.InH, m.InW, m.InputZero)
	g.p(" * codes:  %s_OUTPUT_SIZE uint8_t output codes (%dx%dx%d), real = S_out (q - %s_OUTPUT_ZERO).\n", g.upper, oc, oh, ow, g.upper)
	g.p(" * Returns the index of the largest code (the lowest index among equal ones).\n")
	g.p(" * The arena must not overlap pixels or codes; it needs no alignment.\n")
	g.p(" */\n")
	g.p("#ifndef %s_H\n#define %s_H\n\n#include <stdint.h>\n\n", g.upper, g.upper)
	g.p("#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n")
	g.p("#define %s_INPUT_C %d\n#define %s_INPUT_H %d\n#define %s_INPUT_W %d\n", g.upper, m.InC, g.upper, m.InH, g.upper, m.InW)
	g.p("#define %s_INPUT_SIZE %d\n", g.upper, rep.InputBytes)
	g.p("#define %s_OUTPUT_SIZE %d\n", g.upper, rep.OutputBytes)
	g.p("#define %s_OUTPUT_ZERO %d\n", g.upper, outputZero(m))
	g.p("/* Bytes of activations; at least 1 so that an array of this size is valid C. */\n")
	g.p("#define %s_ARENA_SIZE %d\n\n", g.upper, max(rep.ArenaBytes, 1))
	g.p("int %s_predict(const uint8_t *pixels, uint8_t *codes, void *arena);\n\n", g.name)
	g.p("#ifdef %s_TRACE\n", g.upper)
	g.p("/* Compiled with -D%s_TRACE, %s_predict calls this (which the caller defines)\n", g.upper, g.name)
	g.p(" * with the output of every stage: layer is the index of the model layer whose output\n")
	g.p(" * codes holds (for a Conv2D fused with a MaxPool2D, the pool's), n its length. */\n")
	g.p("void %s_trace(int layer, const uint8_t *codes, int n);\n#endif\n\n", g.name)
	g.p("#ifdef __cplusplus\n}\n#endif\n\n#endif /* %s_H */\n", g.upper)
	return bytes.Clone(g.b.Bytes())
}

// outputZero is the zero point of the model's output codes.
func outputZero(m *qnet.Model) int32 {
	z := m.InputZero
	for _, l := range m.Layers {
		switch l := l.(type) {
		case *qnet.Conv2D:
			z = l.OutputZero
		case *qnet.FullyConnected:
			z = l.OutputZero
		}
	}
	return z
}

func (g *gen) source(rep *Report) []byte {
	g.b.Reset()
	m := g.m
	g.p("/* Code generated by qatgo (export/cgen) from the integer model %q. DO NOT EDIT.\n", m.Name)
	g.p(" *\n")
	g.p(" * Every Conv2D and FullyConnected output is (qnet, Jacob et al. 2018):\n")
	g.p(" *\n")
	g.p(" *   acc = bias[out_c] + sum_j (in[j] - input_zero) * w[out_c][j]                  (int32, cannot overflow)\n")
	g.p(" *   out = clamp(output_zero + acc * M[out_c], act_min, act_max),  M = multiplier * 2^(shift - 31)\n")
	g.p(" *\n")
	g.p(" * with acc * M rounded by the model's rule: %s.\n", roundingDoc(m.Rounding))
	g.p(" * Real values: in r = S_in (q - input_zero), w r = S_w[out_c] w, out r = S_out (q - output_zero).\n")
	g.p(" * MaxPool2D takes the max of the codes; AvgPool2D requantizes the sum of a window's codes\n")
	g.p(" * (minus the zero point) by M = 1/(K*K) under the same rule (fakequant equation (17)).\n")
	g.p(" * The bit-exact reference is qatgo's export/qnet.\n")
	g.p(" */\n")
	g.p("#include \"%s.h\"\n\n#include <limits.h>\n\n", g.name)
	maxIndex := g.maxIndex()
	g.p("/* Indices below are int; the largest is %d. */\n", maxIndex)
	g.p("#if INT_MAX < %d\n#error \"%s.c needs an int of at least %d bits\"\n#endif\n\n", maxIndex, g.name, bitLen(maxIndex)+1)
	g.p("#ifdef %s_TRACE\n#define TRACE(layer, codes, n) %s_trace((layer), (codes), (n))\n#else\n#define TRACE(layer, codes, n) ((void)0)\n#endif\n\n", g.upper, g.name)
	g.helpers()
	for _, s := range g.stages {
		g.stage(s)
		rep.ConstBytes += s.constBytes
		sr := StageReport{Function: s.name, Layers: s.layers, ConstBytes: s.constBytes, OutBytes: s.outLen}
		if s.w != nil {
			sr.Layout, sr.Weights, sr.Nonzero = s.w.layout.String(), s.w.rows*s.w.cols, s.w.nonzero
		}
		rep.Stages = append(rep.Stages, sr)
	}
	g.predict()
	return bytes.Clone(g.b.Bytes())
}

func bitLen(n int) int {
	b := 0
	for ; n > 0; n >>= 1 {
		b++
	}
	return b
}

func roundingDoc(r fakequant.Rounding) string {
	if r == fakequant.RoundSingle {
		return "single rounding (TFLITE_SINGLE_ROUNDING; fakequant equation (11s)):\n" +
			" *   floor((acc * multiplier + 2^(t-1)) / 2^t), t = 31 - shift, ties toward +inf"
	}
	return "double rounding (TFLite's default, gemmlowp; fakequant equation (11)):\n" +
		" *   RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc * 2^max(shift,0), multiplier), max(-shift,0))"
}

// maxIndex is the largest index the generated code forms.
func (g *gen) maxIndex() int {
	n := max(g.arena, g.m.InC*g.m.InH*g.m.InW)
	for _, s := range g.stages {
		n = max(n, s.inLen, s.outLen, s.outC*s.convH*s.convW)
		if s.w != nil {
			n = max(n, s.w.rows*s.w.cols, s.w.entries+1)
		}
	}
	return n
}

// helpers writes the requantization and weight-decoding functions the
// stages use (only those, so that -Wunused-function stays quiet).
func (g *gen) helpers() {
	var requant, nibble, int4 bool
	for _, s := range g.stages {
		if s.kind == stageAvgPool {
			requant = true
		}
		if s.w == nil {
			continue
		}
		requant = true
		if s.w.nibbles != nil {
			nibble = true
		}
		if s.w.layout == DenseInt4 {
			int4 = true
		}
	}
	if requant {
		g.b.WriteString(cFloorShift)
		if g.m.Rounding == fakequant.RoundSingle {
			g.b.WriteString(cSingle)
		} else {
			g.b.WriteString(cDouble)
		}
		g.b.WriteString(cRequantize)
	}
	if nibble {
		g.b.WriteString(cNibble)
	}
	if int4 {
		g.b.WriteString(cInt4)
	}
}

const cFloorShift = `/* floor(n / 2^t) for 1 <= t <= 62 and any int64_t n, without shifting a negative value
 * (implementation-defined in C99 6.5.7): n + 2^63 is formed in uint64_t (conversion and
 * addition modulo 2^64, well defined; the value is n + 2^63 >= 0), shifted right, and the
 * bias 2^(63-t) removed. (biased >> t) < 2^(64-t) <= 2^63 fits in an int64_t. */
static int64_t floor_shift(int64_t n, int t)
{
    const uint64_t biased = (uint64_t)n + ((uint64_t)1 << 63);
    return (int64_t)(biased >> t) - ((int64_t)1 << (63 - t));
}

`

const cDouble = `/* SaturatingRoundingDoublingHighMul(a, b), fakequant equation (9), for b in [0, 2^31):
 *   (a*b + nudge) / 2^31,  nudge = 2^30 if a*b >= 0, else 1 - 2^30,
 * the division truncating toward zero (C99 6.5.5). |a*b| < 2^62: nothing overflows, and the
 * saturating case a == b == INT32_MIN cannot occur since b >= 0. */
static int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : 1 - ((int64_t)1 << 30);
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* RoundingDivideByPOT(x, e), fakequant equation (10), for 0 <= e <= 31: x / 2^e rounded to
 * nearest, ties away from zero:
 *   q = floor(x / 2^e);  rem = x - q 2^e in [0, 2^e);  threshold = (2^e - 1) / 2, + 1 if x < 0
 *   result = q + (rem > threshold)
 * (gemmlowp's x & mask and x >> e, without their implementation-defined forms). */
static int32_t rounding_divide_by_pot(int32_t x, int e)
{
    int64_t q, rem, threshold;
    if (e == 0) {
        return x;
    }
    q = floor_shift(x, e);
    rem = (int64_t)x - q * ((int64_t)1 << e);
    threshold = (((int64_t)1 << e) - 1) / 2 + (x < 0 ? 1 : 0);
    return (int32_t)(q + (rem > threshold ? 1 : 0));
}

/* x * multiplier * 2^(shift - 31), double rounding, fakequant equation (11):
 *   shift > 0:  SaturatingRoundingDoublingHighMul(x * 2^shift, multiplier)
 *   shift <= 0: RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, multiplier), -shift)
 * The model was validated so that x * 2^shift fits in an int32_t (no signed overflow). */
static int32_t multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift)
{
    if (shift > 0) {
        return saturating_rounding_doubling_high_mul(x * ((int32_t)1 << shift), multiplier);
    }
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), -shift);
}

`

const cSingle = `/* x * multiplier * 2^(shift - 31), single rounding, fakequant equation (11s):
 *   t = 31 - shift in [1, 62];  floor((x * multiplier + 2^(t-1)) / 2^t)
 * x * multiplier is below 2^62 in magnitude, + 2^61 stays below 2^63: no overflow. */
static int32_t multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift)
{
    const int t = 31 - shift;
    return (int32_t)floor_shift((int64_t)x * (int64_t)multiplier + ((int64_t)1 << (t - 1)), t);
}

`

const cRequantize = `/* fakequant equation (12): clamp(output_zero + acc * M, act_min, act_max), the clamp
 * decided before the zero point is added so that nothing overflows. */
static uint8_t requantize(int32_t acc, int32_t multiplier, int shift, int32_t output_zero,
                          int32_t act_min, int32_t act_max)
{
    const int32_t v = multiply_by_quantized_multiplier(acc, multiplier, shift);
    if (v >= act_max - output_zero) {
        return (uint8_t)act_max;
    }
    if (v <= act_min - output_zero) {
        return (uint8_t)act_min;
    }
    return (uint8_t)(v + output_zero);
}

`

const cNibble = `/* The i-th 4-bit field of packed (two per byte, the first in the low nibble). */
static unsigned nibble_at(const uint8_t *packed, int i)
{
    return (unsigned)(packed[i / 2] >> (4 * (i % 2))) & 15u;
}

`

const cInt4 = `/* The i-th 4-bit two's complement weight of packed, sign-extended: (n ^ 8) - 8. */
static int32_t int4_at(const uint8_t *packed, int i)
{
    return (int32_t)(nibble_at(packed, i) ^ 8u) - 8;
}

`
