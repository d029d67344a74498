package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/qatgo/qatgo/export/onnx/onnxpb"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
)

// Versions of the ONNX model written. IR version 10 is ONNX 1.17.0's (the release onnxpb is
// generated from); opset 21 is the first with INT4 in QuantizeLinear/DequantizeLinear. ONNX
// Runtime 1.30 loads both (checked by interop/ort).
const (
	IRVersion = 10
	Opset     = 21
)

// Form selects how the quantized layers are written.
type Form int

// The forms.
const (
	QOperator Form = iota // QLinearConv / MaxPool on uint8, uint8 input
	QDQ                   // QuantizeLinear / DequantizeLinear around float Conv / Gemm, float input
)

func (f Form) String() string {
	switch f {
	case QOperator:
		return "qoperator"
	case QDQ:
		return "qdq"
	}
	return fmt.Sprintf("Form(%d)", int(f))
}

// ParseForm reads a form name: qoperator or qdq.
func ParseForm(s string) (Form, error) {
	switch s {
	case "qoperator", "":
		return QOperator, nil
	case "qdq":
		return QDQ, nil
	}
	return 0, fmt.Errorf("unknown ONNX form %q (have qoperator, qdq)", s)
}

// Options controls what Build writes.
type Options struct {
	Form Form
	// Int4 writes the weights of layers with WeightBits <= 4 as INT4 initializers read by
	// DequantizeLinear (opset 21). QDQ form only: QLinearConv takes no INT4 weights.
	Int4 bool
	// WeightsInt8 stores the weights as int8 with zero point 0 (the symmetric form TensorRT
	// and TFLite-style tools expect) instead of the default uint8 w+128 with zero point 128
	// (exact too). ONNX Runtime's x86 kernels without VNNI (AVX2, AVX-512 without VNNI)
	// multiply uint8 activations by int8 weights with vpmaddubsw, whose int16 sum of two
	// products saturates when 255 * (|w_i| + |w_i+1|) > 32767: a trained 8-bit conv1 on raw
	// pixels then differs by tens of codes. Its uint8 x uint8 path does not saturate.
	// Layers written as INT4 (Int4) are not affected.
	WeightsInt8 bool
	// Logits adds the output "logits": the dequantized float32 values of "codes".
	Logits bool
	// LayerOutputs adds every layer's output codes as graph outputs named after the layer.
	LayerOutputs bool
	// Version is qatgo's version for producer_version and metadata ("" = "dev").
	Version string
	// Accuracy, if AccuracyImages > 0, is the test accuracy (fraction) measured at export,
	// recorded in the metadata with the number of images.
	Accuracy       float64
	AccuracyImages int
}

// Output names of the graph.
const (
	InputName  = "input"
	CodesName  = "codes"
	LogitsName = "logits"
)

// LayerNames returns the names Build gives the layers of m (and their outputs): conv1, conv2,
// ..., fc1, ..., pool1, ..., avgpool1, ... numbered per kind in order.
func LayerNames(m *qnet.Model) []string {
	var nConv, nFC, nPool, nAvg int
	names := make([]string, len(m.Layers))
	for i, l := range m.Layers {
		switch l.(type) {
		case *qnet.Conv2D:
			nConv++
			names[i] = fmt.Sprintf("conv%d", nConv)
		case *qnet.FullyConnected:
			nFC++
			names[i] = fmt.Sprintf("fc%d", nFC)
		case *qnet.MaxPool2D:
			nPool++
			names[i] = fmt.Sprintf("pool%d", nPool)
		case *qnet.AvgPool2D:
			nAvg++
			names[i] = fmt.Sprintf("avgpool%d", nAvg)
		default:
			names[i] = fmt.Sprintf("layer%d", i+1)
		}
	}
	return names
}

// scales returns the model's input scale and every layer's output scale from Meta, checking
// that they are there: the file stores the Q31 multipliers, and ONNX needs the real scales.
func scales(m *qnet.Model) (sIn float64, sOut []float64, err error) {
	sIn = float64(math.Float32frombits(m.Meta.InputScaleBits))
	if !(sIn > 0) || math.IsInf(sIn, 0) {
		return 0, nil, fmt.Errorf("onnx: the model has no valid input scale (Meta.InputScaleBits %#x)", m.Meta.InputScaleBits)
	}
	if len(m.Meta.OutputScaleBits) != len(m.Layers) {
		return 0, nil, fmt.Errorf("onnx: the model has %d output scales for %d layers", len(m.Meta.OutputScaleBits), len(m.Layers))
	}
	sOut = make([]float64, len(m.Layers))
	for i, l := range m.Layers {
		if k := l.Kind(); k == qnet.KindMaxPool2D || k == qnet.KindAvgPool2D {
			continue
		}
		s := float64(math.Float32frombits(m.Meta.OutputScaleBits[i]))
		if !(s > 0) || math.IsInf(s, 0) {
			return 0, nil, fmt.Errorf("onnx: layer %d has no valid output scale (%#x)", i, m.Meta.OutputScaleBits[i])
		}
		sOut[i] = s
	}
	return sIn, sOut, nil
}

// weightScales returns the per-output-channel weight scales S_w[c] of a layer with input
// scale sIn and output scale sOut, derived from its Q31 requantization multipliers:
//
//	M[c] = Multiplier[c] * 2^(Shift[c]-31) = S_in S_w[c] / S_out   =>   S_w[c] = M[c] S_out / S_in
//
// M[c] is the trained S_in S_w[c] / S_out to within 2^-31 relative, so this is the trained
// scale to float32 precision. Where the file stores the trained per-channel weight scales
// (Meta.WeightScaleBits), those are used. A channel with Multiplier 0 (its outputs are the zero point
// whatever the input) gets scale 0.
func weightScales(stored []uint32, mult, shift []int32, sIn, sOut float64) []float32 {
	ws := make([]float32, len(mult))
	for c := range mult {
		if c < len(stored) && stored[c] != 0 && mult[c] != 0 {
			ws[c] = math.Float32frombits(stored[c]) // the trained scale, as the file stores it
			continue
		}
		m := math.Ldexp(float64(mult[c]), int(shift[c])-31)
		ws[c] = float32(m * sOut / sIn)
	}
	return ws
}

// storedScales returns the trained weight scales of layer i that the model file carries
// (Meta.WeightScaleBits), or nil.
func storedScales(m *qnet.Model, i int) []uint32 {
	if i < len(m.Meta.WeightScaleBits) {
		return m.Meta.WeightScaleBits[i]
	}
	return nil
}

// Build returns the ONNX model of m in the form opt.Form. m must pass qnet's Validate and
// carry its scales in Meta (every model the exporter writes does).
func Build(m *qnet.Model, opt Options) (*onnxpb.ModelProto, error) {
	if m == nil {
		return nil, fmt.Errorf("onnx: nil model")
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if opt.Form != QOperator && opt.Form != QDQ {
		return nil, fmt.Errorf("onnx: unknown form %d", int(opt.Form))
	}
	if opt.Int4 && opt.Form != QDQ {
		return nil, fmt.Errorf("onnx: INT4 weights need the qdq form (QLinearConv takes int8 weights only)")
	}
	sIn, sOut, err := scales(m)
	if err != nil {
		return nil, err
	}
	if len(m.Layers) == 0 {
		return nil, fmt.Errorf("onnx: the model has no layers")
	}
	b := &builder{opt: opt, g: &onnxpb.GraphProto{Name: proto.String(graphName(m))}}
	names := LayerNames(m)

	// The input and its quantization.
	batch := dimParam("N")
	inShape := []*onnxpb.TensorShapeProto_Dimension{batch, dimValue(m.InC), dimValue(m.InH), dimValue(m.InW)}
	x := InputName
	if opt.Form == QOperator {
		b.g.Input = append(b.g.Input, valueInfo(InputName, onnxpb.TensorProto_UINT8, inShape,
			fmt.Sprintf("raw uint8 pixels N x %d x %d x %d, exactly what the qatgo engine takes; real value = %g * (q - %d)", m.InC, m.InH, m.InW, sIn, m.InputZero)))
	} else {
		b.g.Input = append(b.g.Input, valueInfo(InputName, onnxpb.TensorProto_FLOAT, inShape,
			fmt.Sprintf("float32 N x %d x %d x %d: %g * (pixel - %d) (for raw MNIST pixels with scale 1/255 and zero point 0: pixel / 255); quantized on entry with that scale and zero point", m.InC, m.InH, m.InW, sIn, m.InputZero)))
		x = "input_q"
		b.node("QuantizeLinear", "input_quant", []string{InputName, b.scalarF("input_scale", sIn), b.scalarU8("input_zero_point", m.InputZero)}, []string{x},
			"quantizes the float input to the uint8 codes the first layer reads", nil)
	}

	// The layers. cur* is the quantization of the tensor x.
	curScale, curZero := sIn, m.InputZero
	c, h, w := m.InC, m.InH, m.InW
	for i, l := range m.Layers {
		name := names[i]
		oc, oh, ow, err := l.OutShape(c, h, w)
		if err != nil {
			return nil, fmt.Errorf("onnx: layer %d: %w", i, err)
		}
		switch t := l.(type) {
		case *qnet.Conv2D:
			a := affine{
				name: name, in: x, inScale: curScale, inZero: t.InputZero, outScale: sOut[i],
				outC: t.OutC, inC: t.InC, kh: t.KH, kw: t.KW, stride: t.Stride, pad: t.Pad,
				wbits: t.WeightBits, obits: t.OutBits, weights: t.Weights, bias: t.Bias,
				mult: t.Multiplier, shift: t.Shift, outZero: t.OutputZero, lo: t.ActMin, hi: t.ActMax,
				stored: storedScales(m, i),
			}
			x = b.affine(a, false)
			curScale, curZero = sOut[i], t.OutputZero
		case *qnet.FullyConnected:
			a := affine{
				name: name, in: x, inScale: curScale, inZero: t.InputZero, outScale: sOut[i],
				outC: t.Out, inC: t.In, kh: 1, kw: 1, stride: 1,
				wbits: t.WeightBits, obits: t.OutBits, weights: t.Weights, bias: t.Bias,
				mult: t.Multiplier, shift: t.Shift, outZero: t.OutputZero, lo: t.ActMin, hi: t.ActMax,
				stored: storedScales(m, i),
			}
			x = b.affine(a, true)
			curScale, curZero = sOut[i], t.OutputZero
		case *qnet.MaxPool2D:
			b.node("MaxPool", name, []string{x}, []string{name},
				fmt.Sprintf("max pool %dx%d stride %d on the uint8 codes (quantization is monotonic); scale %g, zero point %d unchanged", t.K, t.K, t.Stride, curScale, curZero),
				[]*onnxpb.AttributeProto{attrInts("kernel_shape", t.K, t.K), attrInts("strides", t.Stride, t.Stride)})
			x = name
		case *qnet.AvgPool2D:
			if t.K > MaxAvgPoolKernel {
				return nil, fmt.Errorf("onnx: layer %d (%s): a %dx%d average pool is exact in ONNX Runtime's float requantization only up to %dx%d", i, name, t.K, t.K, MaxAvgPoolKernel, MaxAvgPoolKernel)
			}
			x = b.affine(avgPoolAffine(name, x, t, c, curScale, curZero), false)
		default:
			return nil, fmt.Errorf("onnx: layer %d (%T) has no ONNX form", i, l)
		}
		c, h, w = oc, oh, ow
		if opt.LayerOutputs {
			var dims []*onnxpb.TensorShapeProto_Dimension
			switch {
			case l.Kind() == qnet.KindFullyConnected && opt.Form == QOperator:
				dims = []*onnxpb.TensorShapeProto_Dimension{batch, dimValue(c), dimValue(1), dimValue(1)}
			case l.Kind() == qnet.KindFullyConnected:
				dims = []*onnxpb.TensorShapeProto_Dimension{batch, dimValue(c)}
			default:
				dims = []*onnxpb.TensorShapeProto_Dimension{batch, dimValue(c), dimValue(h), dimValue(w)}
			}
			b.layerOut = append(b.layerOut, valueInfo(name, onnxpb.TensorProto_UINT8, dims,
				fmt.Sprintf("output codes of %s; real value = %g * (q - %d)", name, curScale, curZero)))
		}
	}

	// The outputs: the last layer's codes as N x Out, and optionally their real values.
	out := c * h * w
	b.node("Reshape", "codes_reshape", []string{x, b.int64s("codes_shape", []int64{-1, int64(out)})}, []string{CodesName},
		"the last layer's codes as N x classes", nil)
	b.g.Output = append(b.g.Output, valueInfo(CodesName, onnxpb.TensorProto_UINT8, []*onnxpb.TensorShapeProto_Dimension{batch, dimValue(out)},
		fmt.Sprintf("uint8 output codes of the last layer (the engine's output); real value = %g * (q - %d); argmax is the class", curScale, curZero)))
	if opt.Logits {
		b.node("DequantizeLinear", "logits_dequant", []string{CodesName, b.scalarF("logits_scale", curScale), b.scalarU8("logits_zero_point", curZero)}, []string{LogitsName},
			"the real values of the output codes", nil)
		b.g.Output = append(b.g.Output, valueInfo(LogitsName, onnxpb.TensorProto_FLOAT, []*onnxpb.TensorShapeProto_Dimension{batch, dimValue(out)},
			fmt.Sprintf("float32 logits = %g * (codes - %d)", curScale, curZero)))
	}
	b.g.Output = append(b.g.Output, b.layerOut...)
	b.g.DocString = proto.String(docString(m, opt, names))

	version := opt.Version
	if version == "" {
		version = "dev"
	}
	mp := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}},
		ProducerName:    proto.String("qatgo"),
		ProducerVersion: proto.String(version),
		Domain:          proto.String("io.github.qatgo"),
		ModelVersion:    proto.Int64(1),
		DocString:       proto.String(b.g.GetDocString()),
		Graph:           b.g,
		MetadataProps:   metadata(m, opt, names, version, sIn),
	}
	return mp, nil
}

// Marshal returns the serialized ONNX model of m (deterministic: the same model and options
// give the same bytes).
func Marshal(m *qnet.Model, opt Options) ([]byte, error) {
	mp, err := Build(m, opt)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(mp)
}

// Write writes the ONNX model of m to w.
func Write(w io.Writer, m *qnet.Model, opt Options) error {
	b, err := Marshal(m, opt)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// WriteFile writes the ONNX model of m to path atomically (qnet.WriteAtomic): on any error
// the previous file at path is left untouched.
func WriteFile(path string, m *qnet.Model, opt Options) error {
	b, err := Marshal(m, opt)
	if err != nil {
		return err
	}
	return qnet.WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

func graphName(m *qnet.Model) string {
	if m.Name == "" {
		return "qatgo"
	}
	return m.Name
}

func docString(m *qnet.Model, opt Options, names []string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "qatgo integer model %s, %s form: ", graphName(m), opt.Form)
	sb.WriteString(strings.Join(names, " -> "))
	if opt.Form == QOperator {
		sb.WriteString(". Input: raw uint8 pixels (the qatgo engine's input).")
	} else {
		sb.WriteString(". Input: float32, quantized on entry by QuantizeLinear with the model's input scale and zero point.")
	}
	sb.WriteString(" Output \"codes\": the last layer's uint8 codes; argmax is the class.")
	return sb.String()
}

func metadata(m *qnet.Model, opt Options, names []string, version string, sIn float64) []*onnxpb.StringStringEntryProto {
	var wb, ab []string
	for i, l := range m.Layers {
		switch t := l.(type) {
		case *qnet.Conv2D:
			wb = append(wb, fmt.Sprintf("%s:%d", names[i], t.WeightBits))
			ab = append(ab, fmt.Sprintf("%s:%d", names[i], t.OutBits))
		case *qnet.FullyConnected:
			wb = append(wb, fmt.Sprintf("%s:%d", names[i], t.WeightBits))
			ab = append(ab, fmt.Sprintf("%s:%d", names[i], t.OutBits))
		}
	}
	// The engine's rule (ONNX Runtime itself requantizes in float, rounding half to even).
	rounding := "double (TFLite default: SaturatingRoundingDoublingHighMul, RoundingDivideByPOT)"
	if m.Rounding == fakequant.RoundSingle {
		rounding = "single (TFLite TFLITE_SINGLE_ROUNDING: acc*M0 rounded once)"
	}
	kv := [][2]string{
		{"qatgo.version", version},
		{"qatgo.model", graphName(m)},
		{"qatgo.form", opt.Form.String()},
		{"qatgo.weight_bits", strings.Join(wb, ",")},
		{"qatgo.activation_bits", strings.Join(ab, ",")},
		{"qatgo.weights", weightStorage(opt)},
		{"qatgo.input", fmt.Sprintf("scale %g zero_point %d (real = scale * (q - zero_point))", sIn, m.InputZero)},
		{"qatgo.rounding", rounding},
	}
	if opt.AccuracyImages > 0 {
		kv = append(kv, [2]string{"qatgo.accuracy", fmt.Sprintf("%.4f on %d test images (qatgo integer engine, at export)", opt.Accuracy, opt.AccuracyImages)})
	}
	props := make([]*onnxpb.StringStringEntryProto, len(kv))
	for i, e := range kv {
		props[i] = &onnxpb.StringStringEntryProto{Key: proto.String(e[0]), Value: proto.String(e[1])}
	}
	return props
}

func weightStorage(opt Options) string {
	var s string
	if opt.WeightsInt8 {
		s = "int8 per-channel symmetric (zero point 0)"
	} else {
		s = "per-channel symmetric integers stored as uint8 w+128 with zero point 128 (avoids the int16 saturation of ONNX Runtime's x86 u8s8 kernels without VNNI)"
	}
	if opt.Int4 {
		return s + "; layers of <= 4 bits as int4 (zero point 0)"
	}
	return s + "; fewer bits carried exactly in 8"
}

// affine is a convolution or fully connected layer to write.
type affine struct {
	name                      string
	in                        string
	inScale, outScale         float64
	inZero, outZero, lo, hi   int32
	inC, outC, kh, kw         int
	stride, pad, wbits, obits int
	weights                   []int8
	bias, mult, shift         []int32
	stored                    []uint32 // the trained weight scales (float32 bits), or nil
	depthwise                 bool     // one inC-channel group per output channel (group = outC)
	doc                       string   // the node's description, if not the default
}

// MaxAvgPoolKernel is the largest average-pool window the writer exports: the margin
// 1/(4K^2) that avgPoolAffine's exactness rests on stays >= 2^-10 up to K = 16.
const MaxAvgPoolKernel = 16

// avgPoolAffine is an AvgPool2D as a depthwise convolution of its c channels (both forms):
// weights 4 on the K x K window, weight scale 1/(4K^2) (exact in float32 for K^2 a power of 2),
// bias 1 at scale S/(4K^2), output scale and zero point those of the input. ONNX Runtime then
// rounds (4 acc + 1) / (4 K^2) = acc/K^2 + 1/(4K^2), acc = sum (q - Z), half to even. The mean
// acc/K^2 is either a half-integer or at least 1/(2K^2) away from one (2 acc - K^2 (2n+1) is a
// nonzero integer), so the offset 1/(4K^2) breaks exactly its ties upward and moves nothing
// else across a half-integer, with a margin of 1/(4K^2) >= 2^-10 for K <= 16 against ORT's
// float32 error (a few ulps of a value below 256, about 2^-14). The result is the mean
// rounded to nearest, ties toward +Inf: fakequant equation (17) under RoundSingle exactly
// (the engine's RoundDouble rounds a few windows one code further from zero; larger windows
// may differ by one code). A float AveragePool (QDQ) or QLinearAveragePool would round ties to
// even instead.
func avgPoolAffine(name, x string, l *qnet.AvgPool2D, c int, scale float64, zero int32) affine {
	n := l.K * l.K
	ws := math.Float32bits(float32(1 / float64(4*n)))
	a := affine{
		name: name, in: x, inScale: scale, inZero: zero, outScale: scale, outZero: zero, lo: 0, hi: 255,
		inC: 1, outC: c, kh: l.K, kw: l.K, stride: l.Stride, wbits: 8, obits: 8,
		weights: make([]int8, c*n), bias: make([]int32, c), mult: make([]int32, c), shift: make([]int32, c),
		stored: make([]uint32, c), depthwise: true,
		doc: fmt.Sprintf("average pool %dx%d stride %d on the codes (scale %g, zero point %d kept) as a depthwise convolution: weights 4, weight scale 1/%d, bias 1, so that (4 sum(q - Z) + 1) / %d rounded half to even is the mean rounded half up, qatgo's single-rounding average pool",
			l.K, l.K, l.Stride, scale, zero, 4*n, 4*n),
	}
	for i := range a.weights {
		a.weights[i] = 4
	}
	for ch := range c {
		a.bias[ch], a.mult[ch], a.stored[ch] = 1, 1<<30, ws
	}
	return a
}

type builder struct {
	opt      Options
	g        *onnxpb.GraphProto
	layerOut []*onnxpb.ValueInfoProto
}

// affine writes layer a reading x and returns the name of its output codes. fc: a is a fully
// connected layer over the flattened input.
func (b *builder) affine(a affine, fc bool) string {
	n := a.name
	ws := weightScales(a.stored, a.mult, a.shift, a.inScale, a.outScale)
	act := "the A-bit range"
	switch full := int32(1)<<a.obits - 1; {
	case a.lo == a.outZero && a.hi == full:
		act = "ReLU"
	case a.lo == a.outZero:
		act = "ReLU with a ceiling (ReLU6)"
	case a.lo != 0 || a.hi != full:
		act = "clamp"
	}
	geom := fmt.Sprintf("conv %dx%d stride %d pad %d, %d -> %d channels", a.kh, a.kw, a.stride, a.pad, a.inC, a.outC)
	if fc {
		geom = fmt.Sprintf("fully connected %d -> %d", a.inC, a.outC)
	}
	doc := fmt.Sprintf("%s; weights W%d per-channel symmetric, bias int32 at scale S_in*S_w; input scale %g zero point %d; output A%d scale %g zero point %d, clamp [%d, %d] (%s)",
		geom, a.wbits, a.inScale, a.inZero, a.obits, a.outScale, a.outZero, a.lo, a.hi, act)
	if a.doc != "" {
		doc = a.doc
	}
	group := 1
	if a.depthwise {
		group = a.outC
	}
	wdims := []int64{int64(a.outC), int64(a.inC), int64(a.kh), int64(a.kw)}
	convAttrs := []*onnxpb.AttributeProto{
		attrInts("kernel_shape", a.kh, a.kw), attrInts("strides", a.stride, a.stride),
		attrInts("pads", a.pad, a.pad, a.pad, a.pad), attrInts("dilations", 1, 1), attrInt("group", group),
	}
	x := a.in
	q := n
	clamp := a.lo > 0 || a.hi < 255
	if clamp {
		q = n + "_unclamped"
	}
	if b.opt.Form == QOperator {
		if fc {
			x = b.reshape(n, x, []int64{-1, int64(a.inC), 1, 1})
		}
		wq, wz := b.weights(n, wdims, a.weights, a.outC, false)
		b.node("QLinearConv", n, []string{
			x, b.scalarF(n+"_x_scale", a.inScale), b.scalarU8(n+"_x_zero_point", a.inZero),
			wq, b.floats(n+"_w_scale", ws), wz,
			b.scalarF(n+"_y_scale", a.outScale), b.scalarU8(n+"_y_zero_point", a.outZero),
			b.int32s(n+"_b", []int64{int64(a.outC)}, a.bias),
		}, []string{q}, doc, convAttrs)
	} else {
		if fc {
			x = b.reshape(n, x, []int64{-1, int64(a.inC)})
			wdims = []int64{int64(a.outC), int64(a.inC)}
		}
		xf := b.dq(n+"_x_dequant", x, b.scalarF(n+"_x_scale", a.inScale), b.scalarU8(n+"_x_zero_point", a.inZero), -1)
		wq, wz := b.weights(n, wdims, a.weights, a.outC, b.opt.Int4 && a.wbits <= 4)
		wf := b.dq(n+"_w_dequant", wq, b.floats(n+"_w_scale", ws), wz, 0)
		bs := make([]float32, a.outC)
		for c := range bs {
			bs[c] = float32(a.inScale * float64(ws[c]))
		}
		bf := b.dq(n+"_b_dequant", b.int32s(n+"_b", []int64{int64(a.outC)}, a.bias), b.floats(n+"_b_scale", bs), "", 0)
		op, attrs := "Conv", convAttrs
		if fc {
			op, attrs = "Gemm", []*onnxpb.AttributeProto{attrInt("transB", 1)}
		}
		b.node(op, n, []string{xf, wf, bf}, []string{n + "_float"}, doc, attrs)
		b.node("QuantizeLinear", n+"_quant", []string{n + "_float", b.scalarF(n+"_y_scale", a.outScale), b.scalarU8(n+"_y_zero_point", a.outZero)}, []string{q},
			fmt.Sprintf("output codes of %s: scale %g zero point %d", n, a.outScale, a.outZero), nil)
	}
	if clamp {
		b.node("Clip", n+"_clamp", []string{q, b.scalarU8(n+"_clamp_min", a.lo), b.scalarU8(n+"_clamp_max", a.hi)}, []string{n},
			fmt.Sprintf("the clamp [%d, %d] on the uint8 codes (%s, A%d)", a.lo, a.hi, act, a.obits), nil)
	}
	return n
}

// weights writes a layer's weights and their per-channel zero points: int4 (int4), int8
// with zero point 0 (Options.WeightsInt8), or uint8 w+128 with zero point 128.
func (b *builder) weights(n string, dims []int64, w []int8, outC int, int4 bool) (wq, wz string) {
	zdims := []int64{int64(outC)}
	switch {
	case int4:
		return b.int4s(n+"_w", dims, w), b.int4s(n+"_w_zero_point", zdims, make([]int8, outC))
	case !b.opt.WeightsInt8:
		u := make([]byte, len(w))
		for i, v := range w {
			u[i] = uint8(int(v) + 128)
		}
		z := make([]byte, outC)
		for i := range z {
			z[i] = 128
		}
		return b.init(n+"_w", onnxpb.TensorProto_UINT8, dims, u), b.init(n+"_w_zero_point", onnxpb.TensorProto_UINT8, zdims, z)
	}
	return b.int8s(n+"_w", dims, w), b.int8s(n+"_w_zero_point", zdims, make([]int8, outC))
}

func (b *builder) reshape(layer, x string, shape []int64) string {
	out := layer + "_flat"
	b.node("Reshape", layer+"_flatten", []string{x, b.int64s(layer+"_flat_shape", shape)}, []string{out},
		"flattens the CHW input of the fully connected layer", nil)
	return out
}

func (b *builder) dq(name, x, scale, zero string, axis int) string {
	in := []string{x, scale}
	if zero != "" {
		in = append(in, zero)
	}
	var attrs []*onnxpb.AttributeProto
	if axis >= 0 {
		attrs = []*onnxpb.AttributeProto{attrInt("axis", axis)}
	}
	b.node("DequantizeLinear", name, in, []string{name}, "", attrs)
	return name
}

func (b *builder) node(op, name string, in, out []string, doc string, attrs []*onnxpb.AttributeProto) {
	n := &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: in, Output: out, Attribute: attrs}
	if doc != "" {
		n.DocString = proto.String(doc)
	}
	b.g.Node = append(b.g.Node, n)
}

func (b *builder) init(name string, dt onnxpb.TensorProto_DataType, dims []int64, raw []byte) string {
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{
		Name: proto.String(name), DataType: proto.Int32(int32(dt)), Dims: dims, RawData: raw,
	})
	return name
}

func (b *builder) scalarF(name string, v float64) string {
	return b.floats1(name, nil, []float32{float32(v)})
}

func (b *builder) floats(name string, v []float32) string {
	return b.floats1(name, []int64{int64(len(v))}, v)
}

func (b *builder) floats1(name string, dims []int64, v []float32) string {
	raw := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	return b.init(name, onnxpb.TensorProto_FLOAT, dims, raw)
}

func (b *builder) scalarU8(name string, v int32) string {
	return b.init(name, onnxpb.TensorProto_UINT8, nil, []byte{uint8(v)})
}

func (b *builder) int8s(name string, dims []int64, v []int8) string {
	raw := make([]byte, len(v))
	for i, x := range v {
		raw[i] = uint8(x)
	}
	return b.init(name, onnxpb.TensorProto_INT8, dims, raw)
}

// int4s packs v (each in [-8, 7]) two per byte, the first element in the low nibble (the
// ONNX INT4 layout).
func (b *builder) int4s(name string, dims []int64, v []int8) string {
	raw := make([]byte, (len(v)+1)/2)
	for i, x := range v {
		raw[i/2] |= (uint8(x) & 0xF) << (4 * (i % 2))
	}
	return b.init(name, onnxpb.TensorProto_INT4, dims, raw)
}

func (b *builder) int32s(name string, dims []int64, v []int32) string {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], uint32(x))
	}
	return b.init(name, onnxpb.TensorProto_INT32, dims, raw)
}

func (b *builder) int64s(name string, v []int64) string {
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
	}
	return b.init(name, onnxpb.TensorProto_INT64, []int64{int64(len(v))}, raw)
}

func attrInts(name string, v ...int) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum()}
	for _, x := range v {
		a.Ints = append(a.Ints, int64(x))
	}
	return a
}

func attrInt(name string, v int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(v))}
}

func dimParam(s string) *onnxpb.TensorShapeProto_Dimension {
	return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: s}}
}

func dimValue(v int) *onnxpb.TensorShapeProto_Dimension {
	return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(v)}}
}

func valueInfo(name string, dt onnxpb.TensorProto_DataType, dims []*onnxpb.TensorShapeProto_Dimension, doc string) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(dt)),
			Shape:    &onnxpb.TensorShapeProto{Dim: dims},
		}}},
		DocString: proto.String(doc),
	}
}

// BuildVersion returns qatgo's version as the Go build records it: the main module's version,
// else its VCS revision (12 digits, "+dirty" if modified), else "dev".
func BuildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "dev"
	}
	return rev + dirty
}

// OpTypes reads the ONNX model at path and returns the op types of its graph's nodes in
// order, with their domain ("com.microsoft.QGemm") where it is not the default one; for
// seeing what ONNX Runtime made of a model (its optimized graph).
func OpTypes(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(b, &mp); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var ops []string
	for _, n := range mp.GetGraph().GetNode() {
		op := n.GetOpType()
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			op = d + "." + op
		}
		ops = append(ops, op)
	}
	return ops, nil
}
