package cgen

import (
	"fmt"
	"strings"
)

// The per-stage C: const arrays, then one function per stage, in the manner
// of TFLite's reference kernels (flat loops named out_c, out_y, out_x; the
// formula in the comment above).

// quantParams is the common view of a Conv2D and a FullyConnected layer.
type quantParams struct {
	bias, multiplier, shift []int32
	inZero, outZero         int32
	actMin, actMax          int32
	wbits                   int
}

func (s *stage) quant() quantParams {
	if s.conv != nil {
		l := s.conv
		return quantParams{l.Bias, l.Multiplier, l.Shift, l.InputZero, l.OutputZero, l.ActMin, l.ActMax, l.WeightBits}
	}
	l := s.fc
	return quantParams{l.Bias, l.Multiplier, l.Shift, l.InputZero, l.OutputZero, l.ActMin, l.ActMax, l.WeightBits}
}

// stage writes the arrays and the function of s and sets s.constBytes.
func (g *gen) stage(s *stage) {
	switch s.kind {
	case stageConv:
		g.convStage(s)
	case stagePool:
		g.poolStage(s)
	case stageAvgPool:
		g.avgPoolStage(s)
	case stageFC:
		g.fcStage(s)
	}
}

// array writes `static const T name[n] = {...};` and returns its size in
// bytes. An empty array gets one 0 element (C has no empty arrays).
func (g *gen) array(ctype, name string, size int, vals []int64) int {
	if len(vals) == 0 {
		vals = []int64{0}
	}
	g.p("static const %s %s[%d] = {", ctype, name, len(vals))
	line := 0
	for i, v := range vals {
		s := fmt.Sprint(v)
		if i > 0 {
			g.p(",")
			line++
		}
		if i == 0 || line+len(s) > 92 {
			g.p("\n    ")
			line = 4
		} else {
			g.p(" ")
		}
		g.p("%s", s)
		line += len(s)
	}
	g.p("\n};\n")
	return size * len(vals)
}

func i8s(v []int8) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func u8s(v []uint8) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func i32s(v []int32) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func ints(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// quantArrays writes bias, multiplier and shift of s and returns the C
// expressions of bias[out_c], multiplier[out_c] and shift[out_c]: a single
// literal where every channel has the same value (per-tensor scales).
func (g *gen) quantArrays(s *stage, q quantParams) (bias, mult, shift string, n int) {
	lo, hi := minMax(q.bias)
	if lo >= -32768 && hi <= 32767 {
		n += g.array("int16_t", s.name+"_bias", 2, i32s(q.bias))
	} else {
		n += g.array("int32_t", s.name+"_bias", 4, i32s(q.bias))
	}
	bias = s.name + "_bias[out_c]"
	if lo, hi := minMax(q.multiplier); lo == hi {
		mult = fmt.Sprint(lo)
	} else {
		n += g.array("int32_t", s.name+"_multiplier", 4, i32s(q.multiplier))
		mult = s.name + "_multiplier[out_c]"
	}
	if lo, hi := minMax(q.shift); lo == hi {
		shift = fmt.Sprint(lo)
	} else {
		n += g.array("int8_t", s.name+"_shift", 1, i32s(q.shift))
		shift = s.name + "_shift[out_c]"
	}
	return bias, mult, shift, n
}

func minMax(v []int32) (lo, hi int32) {
	lo, hi = v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// weightArrays writes the weight arrays of s and returns the C expression
// of the weight at index idx (a dense index, or a sparse entry).
func (g *gen) weightArrays(s *stage, idx string) (expr string, n int) {
	w, name := s.w, s.name
	if w.codebook != nil {
		n += g.array("int8_t", name+"_codebook", 1, i8s(w.codebook))
	}
	if w.layout.sparse() {
		rp := "uint16_t"
		if w.rowPtrSize() == 4 {
			rp = "uint32_t"
		}
		n += g.array(rp, name+"_rows", w.rowPtrSize(), ints(w.rowPtr))
		if w.layout == SparseDelta8 {
			n += g.array("uint8_t", name+"_delta", 1, u8s(w.delta))
		} else {
			t := make([]int64, len(w.tap))
			for i, v := range w.tap {
				t[i] = int64(v)
			}
			n += g.array("uint16_t", name+"_tap", 2, t)
		}
	}
	switch {
	case w.codebook != nil:
		n += g.array("uint8_t", name+"_index", 1, u8s(w.nibbles))
		expr = fmt.Sprintf("%s_codebook[nibble_at(%s_index, %s)]", name, name, idx)
	case w.layout == DenseInt4:
		n += g.array("uint8_t", name+"_weights", 1, u8s(w.nibbles))
		expr = fmt.Sprintf("int4_at(%s_weights, %s)", name, idx)
	case w.layout == DenseInt8:
		n += g.array("int8_t", name+"_weights", 1, i8s(w.int8s))
		expr = fmt.Sprintf("%s_weights[%s]", name, idx)
	default: // sparse int8 values
		n += g.array("int8_t", name+"_values", 1, i8s(w.int8s))
		expr = fmt.Sprintf("%s_values[%s]", name, idx)
	}
	return expr, n
}

// layoutDoc describes the weight storage of s in a comment.
func layoutDoc(s *stage) string {
	w := s.w
	var b strings.Builder
	fmt.Fprintf(&b, " * Weights: %d-bit, %d of %d nonzero, layout %s", s.quant().wbits, w.nonzero, w.rows*w.cols, w.layout)
	switch w.layout {
	case DenseInt8:
		b.WriteString(": one int8_t per weight")
	case DenseInt4:
		b.WriteString(": two 4-bit two's complement weights per byte, low nibble first")
	case DenseCodebook4:
		fmt.Fprintf(&b, ": two 4-bit indices per byte (low nibble first)\n *   into a codebook of %d values", len(w.codebook))
	case SparseDelta8, SparseTap16:
		fmt.Fprintf(&b, ":\n *   %d entries; rows[out_c] .. rows[out_c+1]-1 are the entries of filter out_c;", w.entries)
		if w.layout == SparseDelta8 {
			b.WriteString("\n *   entry e is the tap k += delta[e] (k = 0 before a filter's first entry; gaps over 255\n *   take filler entries of weight 0)")
		} else {
			b.WriteString("\n *   entry e is the tap k = tap[e]")
		}
		if w.codebook != nil {
			fmt.Fprintf(&b, ", weight codebook[index[e]] (4-bit indices,\n *   two per byte, low nibble first; %d codebook values)", len(w.codebook))
		} else {
			b.WriteString(", weight values[e]")
		}
	}
	fmt.Fprintf(&b, ".\n")
	return b.String()
}

// axis returns the C expression of an input coordinate: out*stride - pad + k.
func axis(out string, stride, pad int, k string) string {
	e := out
	if stride != 1 {
		e = fmt.Sprintf("%s * %d", out, stride)
	}
	if pad != 0 {
		e = fmt.Sprintf("%s - %d", e, pad)
	}
	return e + " + " + k
}

func (g *gen) convStage(s *stage) {
	l := s.conv
	q := s.quant()
	g.p("/* Layer %d, Conv2D: input %dx%dx%d (zero point %d), %d filters %dx%dx%d, stride %d, padding %d\n",
		s.layers[0], s.inC, s.inH, s.inW, q.inZero, l.OutC, l.InC, l.KH, l.KW, l.Stride, l.Pad)
	g.p(" * -> %dx%dx%d (zero point %d, clamp [%d, %d])", l.OutC, s.convH, s.convW, q.outZero, q.actMin, q.actMax)
	if s.pool != nil {
		g.p(",\n * fused with layer %d, MaxPool2D %dx%d stride %d -> %dx%dx%d: each pooled output is the max of\n"+
			" * its window's convolution outputs, computed in place, so the %dx%dx%d convolution output is\n"+
			" * never stored", s.layers[1], s.pool.K, s.pool.K, s.pool.Stride, s.outC, s.outH, s.outW, l.OutC, s.convH, s.convW)
		if s.pool.Stride < s.pool.K {
			g.p(" (windows overlap: their shared outputs are computed more than once)")
		}
	}
	g.p(".\n")
	g.b.WriteString(layoutDoc(s))
	g.p(" *\n")
	g.p(" *   acc = bias[out_c] + sum over in_c, ky, kx of (in[in_c][in_y][in_x] - %d) * w[out_c][in_c][ky][kx]\n", q.inZero)
	g.p(" *         with in_y = %s, in_x = %s", axis("conv_y", l.Stride, l.Pad, "ky"), axis("conv_x", l.Stride, l.Pad, "kx"))
	if l.Pad > 0 {
		g.p(";\n *         taps outside the input are padding (code %d, real 0) and add nothing", q.inZero)
	}
	g.p("\n *   conv[out_c][conv_y][conv_x] = requantize(acc, multiplier[out_c], shift[out_c], %d, %d, %d)\n", q.outZero, q.actMin, q.actMax)
	if s.pool != nil {
		g.p(" *   out[out_c][out_y][out_x] = max over 0 <= py, px < %d of conv[out_c][out_y*%d + py][out_x*%d + px]\n", s.pool.K, s.pool.Stride, s.pool.Stride)
	}
	g.p(" */\n")
	var idx string
	if s.w.layout.sparse() {
		idx = "e"
	} else {
		idx = "w_index"
	}
	wexpr, n := g.weightArrays(s, idx)
	bias, mult, shift, n2 := g.quantArrays(s, q)
	s.constBytes = n + n2

	// One output of the convolution.
	g.p("\n/* conv[out_c][conv_y][conv_x] of layer %d. */\n", s.layers[0])
	g.p("static uint8_t %s_at(const uint8_t *in, int out_c, int conv_y, int conv_x)\n{\n", s.name)
	g.p("    const int32_t input_zero = %d;\n", q.inZero)
	g.p("    int32_t acc = %s;\n", bias)
	inY, inX := axis("conv_y", l.Stride, l.Pad, "ky"), axis("conv_x", l.Stride, l.Pad, "kx")
	inIndex := fmt.Sprintf("(in_c * %d + in_y) * %d + in_x", s.inH, s.inW)
	if s.w.layout.sparse() {
		g.p("    int k = 0; /* tap (in_c*%d + ky)*%d + kx of filter out_c */\n", l.KH, l.KW)
		g.p("    int e;\n")
		g.p("    for (e = %s_rows[out_c]; e < (int)%s_rows[out_c + 1]; ++e) {\n", s.name, s.name)
		if s.w.layout == SparseDelta8 {
			g.p("        k += %s_delta[e];\n", s.name)
		} else {
			g.p("        k = %s_tap[e];\n", s.name)
		}
		g.p("        {\n")
		g.p("            const int in_c = k / %d, ky = k / %d %% %d, kx = k %% %d;\n", l.KH*l.KW, l.KW, l.KH, l.KW)
		g.p("            const int in_y = %s, in_x = %s;\n", inY, inX)
		if l.Pad > 0 {
			g.p("            if (in_y < 0 || in_y >= %d || in_x < 0 || in_x >= %d) {\n                continue; /* padding */\n            }\n", s.inH, s.inW)
		}
		g.p("            acc += ((int32_t)in[%s] - input_zero) * %s;\n", inIndex, wexpr)
		g.p("        }\n    }\n")
	} else {
		g.p("    int in_c, ky, kx;\n")
		g.p("    for (in_c = 0; in_c < %d; ++in_c) {\n", l.InC)
		g.p("        for (ky = 0; ky < %d; ++ky) {\n", l.KH)
		g.p("            const int in_y = %s;\n", inY)
		if l.Pad > 0 {
			g.p("            if (in_y < 0 || in_y >= %d) {\n                continue; /* padding */\n            }\n", s.inH)
		}
		g.p("            for (kx = 0; kx < %d; ++kx) {\n", l.KW)
		g.p("                const int in_x = %s;\n", inX)
		g.p("                const int w_index = ((out_c * %d + in_c) * %d + ky) * %d + kx;\n", l.InC, l.KH, l.KW)
		if l.Pad > 0 {
			g.p("                if (in_x < 0 || in_x >= %d) {\n                    continue; /* padding */\n                }\n", s.inW)
		}
		g.p("                acc += ((int32_t)in[%s] - input_zero) * %s;\n", inIndex, wexpr)
		g.p("            }\n        }\n    }\n")
	}
	g.p("    return requantize(acc, %s, %s, %d, %d, %d);\n}\n\n", mult, shift, q.outZero, q.actMin, q.actMax)

	// The stage.
	g.p("/* Layer %d", s.layers[0])
	if s.pool != nil {
		g.p(" + %d", s.layers[1])
	}
	g.p(": in %dx%dx%d -> out %dx%dx%d. */\n", s.inC, s.inH, s.inW, s.outC, s.outH, s.outW)
	g.p("static void %s(const uint8_t *in, uint8_t *out)\n{\n", s.name)
	g.p("    int out_c, out_y, out_x;\n")
	if s.pool != nil {
		g.p("    int py, px;\n")
	}
	g.p("    for (out_c = 0; out_c < %d; ++out_c) {\n", s.outC)
	g.p("        for (out_y = 0; out_y < %d; ++out_y) {\n", s.outH)
	g.p("            for (out_x = 0; out_x < %d; ++out_x) {\n", s.outW)
	outIndex := fmt.Sprintf("(out_c * %d + out_y) * %d + out_x", s.outH, s.outW)
	if s.pool != nil {
		g.p("                uint8_t m = 0; /* codes are >= 0: the max of the window */\n")
		g.p("                for (py = 0; py < %d; ++py) {\n", s.pool.K)
		g.p("                    for (px = 0; px < %d; ++px) {\n", s.pool.K)
		g.p("                        const uint8_t v = %s_at(in, out_c, %s, %s);\n", s.name,
			axis("out_y", s.pool.Stride, 0, "py"), axis("out_x", s.pool.Stride, 0, "px"))
		g.p("                        if (v > m) {\n                            m = v;\n                        }\n")
		g.p("                    }\n                }\n")
		g.p("                out[%s] = m;\n", outIndex)
	} else {
		g.p("                out[%s] = %s_at(in, out_c, out_y, out_x);\n", outIndex, s.name)
	}
	g.p("            }\n        }\n    }\n}\n\n")
}

func (g *gen) poolStage(s *stage) {
	l := s.pool
	g.p("/* Layer %d, MaxPool2D %dx%d stride %d: in %dx%dx%d -> out %dx%dx%d, on the codes\n", s.layers[0], l.K, l.K, l.Stride, s.inC, s.inH, s.inW, s.outC, s.outH, s.outW)
	g.p(" * (r = S (q - Z) is increasing in q, so the max code is the code of the max):\n")
	g.p(" *\n *   out[c][out_y][out_x] = max over 0 <= ky, kx < %d of in[c][out_y*%d + ky][out_x*%d + kx]\n */\n", l.K, l.Stride, l.Stride)
	g.p("static void %s(const uint8_t *in, uint8_t *out)\n{\n", s.name)
	g.p("    int c, out_y, out_x, ky, kx;\n")
	g.p("    for (c = 0; c < %d; ++c) {\n", s.outC)
	g.p("        for (out_y = 0; out_y < %d; ++out_y) {\n", s.outH)
	g.p("            for (out_x = 0; out_x < %d; ++out_x) {\n", s.outW)
	g.p("                uint8_t m = 0;\n")
	g.p("                for (ky = 0; ky < %d; ++ky) {\n", l.K)
	g.p("                    for (kx = 0; kx < %d; ++kx) {\n", l.K)
	g.p("                        const uint8_t v = in[(c * %d + %s) * %d + %s];\n", s.inH, axis("out_y", l.Stride, 0, "ky"), s.inW, axis("out_x", l.Stride, 0, "kx"))
	g.p("                        if (v > m) {\n                            m = v;\n                        }\n")
	g.p("                    }\n                }\n")
	g.p("                out[(c * %d + out_y) * %d + out_x] = m;\n", s.outH, s.outW)
	g.p("            }\n        }\n    }\n}\n\n")
}

func (g *gen) fcStage(s *stage) {
	l := s.fc
	q := s.quant()
	g.p("/* Layer %d, FullyConnected: %d inputs (the CHW input flattened, zero point %d) -> %d outputs\n", s.layers[0], l.In, q.inZero, l.Out)
	g.p(" * (zero point %d, clamp [%d, %d]).\n", q.outZero, q.actMin, q.actMax)
	g.b.WriteString(layoutDoc(s))
	g.p(" *\n")
	g.p(" *   acc = bias[out_c] + sum over i of (in[i] - %d) * w[out_c][i]\n", q.inZero)
	g.p(" *   out[out_c] = requantize(acc, multiplier[out_c], shift[out_c], %d, %d, %d)\n */\n", q.outZero, q.actMin, q.actMax)
	idx := "e"
	if !s.w.layout.sparse() {
		idx = "row + i"
	}
	wexpr, n := g.weightArrays(s, idx)
	bias, mult, shift, n2 := g.quantArrays(s, q)
	s.constBytes = n + n2
	g.p("\nstatic void %s(const uint8_t *in, uint8_t *out)\n{\n", s.name)
	g.p("    const int32_t input_zero = %d;\n", q.inZero)
	g.p("    int out_c;\n")
	g.p("    for (out_c = 0; out_c < %d; ++out_c) {\n", l.Out)
	g.p("        int32_t acc = %s;\n", bias)
	if s.w.layout.sparse() {
		g.p("        int k = 0; /* input index */\n        int e;\n")
		g.p("        for (e = %s_rows[out_c]; e < (int)%s_rows[out_c + 1]; ++e) {\n", s.name, s.name)
		if s.w.layout == SparseDelta8 {
			g.p("            k += %s_delta[e];\n", s.name)
		} else {
			g.p("            k = %s_tap[e];\n", s.name)
		}
		g.p("            acc += ((int32_t)in[k] - input_zero) * %s;\n        }\n", wexpr)
	} else {
		g.p("        const int row = out_c * %d;\n        int i;\n", l.In)
		g.p("        for (i = 0; i < %d; ++i) {\n", l.In)
		g.p("            acc += ((int32_t)in[i] - input_zero) * %s;\n        }\n", wexpr)
	}
	g.p("        out[out_c] = requantize(acc, %s, %s, %d, %d, %d);\n", mult, shift, q.outZero, q.actMin, q.actMax)
	g.p("    }\n}\n\n")
}

// predict writes the entry point: the stages in order through the arena,
// then the argmax.
func (g *gen) predict() {
	g.p("/* Runs the model on pixels (%s_INPUT_SIZE bytes, CHW), writes the %s_OUTPUT_SIZE output\n", g.upper, g.upper)
	g.p(" * codes to codes and returns the index of the largest (the lowest among equal ones).\n")
	g.p(" * Arena layout (%d bytes): stage outputs alternate between its start and its end:\n", g.arena)
	for _, s := range g.stages {
		out := "codes"
		if s.outOffset >= 0 {
			out = fmt.Sprintf("arena[%d..%d)", s.outOffset, s.outOffset+s.outLen)
		}
		g.p(" *   %-16s -> %s\n", s.name, out)
	}
	g.p(" */\n")
	g.p("int %s_predict(const uint8_t *pixels, uint8_t *codes, void *arena)\n{\n", g.name)
	if g.arena > 0 {
		g.p("    uint8_t *const a = (uint8_t *)arena;\n")
	} else {
		g.p("    (void)arena; /* one stage: nothing to keep between stages */\n")
	}
	g.p("    int i, best = 0;\n")
	for _, s := range g.stages {
		in, out := "pixels", "codes"
		if s.inOffset >= 0 {
			in = fmt.Sprintf("a + %d", s.inOffset)
		}
		if s.outOffset >= 0 {
			out = fmt.Sprintf("a + %d", s.outOffset)
		}
		g.p("    %s(%s, %s);\n", s.name, in, out)
		g.p("    TRACE(%d, %s, %d);\n", s.layers[len(s.layers)-1], out, s.outLen)
	}
	last := g.stages[len(g.stages)-1]
	g.p("    for (i = 1; i < %d; ++i) {\n        if (codes[i] > codes[best]) {\n            best = i;\n        }\n    }\n", last.outLen)
	g.p("    return best;\n}\n")
}

func (g *gen) avgPoolStage(s *stage) {
	l := s.avg
	g.p("/* Layer %d, AvgPool2D %dx%d stride %d: in %dx%dx%d -> out %dx%dx%d, on the codes (zero point %d,\n", s.layers[0], l.K, l.K, l.Stride, s.inC, s.inH, s.inW, s.outC, s.outH, s.outW, s.avgZero)
	g.p(" * range [%d, %d], kept): the window's sum requantized by M = 1/%d (fakequant equation (17)):\n", s.avgLo, s.avgHi, l.K*l.K)
	g.p(" *\n *   acc = sum over 0 <= ky, kx < %d of (in[c][out_y*%d + ky][out_x*%d + kx] - %d)\n", l.K, l.Stride, l.Stride, s.avgZero)
	g.p(" *   out[c][out_y][out_x] = requantize(acc, %d, %d, %d, %d, %d)   (%d * 2^(%d - 31) = 1/%d)\n */\n",
		s.avgMult, s.avgShift, s.avgZero, s.avgLo, s.avgHi, s.avgMult, s.avgShift, l.K*l.K)
	g.p("static void %s(const uint8_t *in, uint8_t *out)\n{\n", s.name)
	g.p("    int c, out_y, out_x, ky, kx;\n")
	g.p("    for (c = 0; c < %d; ++c) {\n", s.outC)
	g.p("        for (out_y = 0; out_y < %d; ++out_y) {\n", s.outH)
	g.p("            for (out_x = 0; out_x < %d; ++out_x) {\n", s.outW)
	g.p("                int32_t acc = 0;\n")
	g.p("                for (ky = 0; ky < %d; ++ky) {\n", l.K)
	g.p("                    for (kx = 0; kx < %d; ++kx) {\n", l.K)
	g.p("                        acc += (int32_t)in[(c * %d + %s) * %d + %s] - %d;\n", s.inH, axis("out_y", l.Stride, 0, "ky"), s.inW, axis("out_x", l.Stride, 0, "kx"), s.avgZero)
	g.p("                    }\n                }\n")
	g.p("                out[(c * %d + out_y) * %d + out_x] = requantize(acc, %d, %d, %d, %d, %d);\n", s.outH, s.outW, s.avgMult, s.avgShift, s.avgZero, s.avgLo, s.avgHi)
	g.p("            }\n        }\n    }\n}\n\n")
}
