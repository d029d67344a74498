package onnx_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/onnx"
	"github.com/qatgo/qatgo/export/onnx/onnxpb"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/interop/ort"
	"github.com/qatgo/qatgo/train"
)

// randLayer fills a random affine layer with rows filters of k taps: weights within wbits,
// real scales sIn, sW[c], sOut and the multipliers QuantizeMultiplier(sIn sW[c] / sOut), a
// clamp that is ReLU, a sub-range or none.
func randLayer(rng *rand.Rand, rows, k, wbits, obits int, sIn, sOut float64, inZero int32) (w []int8, b, mult, shift []int32, outZero, lo, hi int32) {
	wmax := 1<<(wbits-1) - 1
	w = make([]int8, rows*k)
	for i := range w {
		w[i] = int8(rng.IntN(2*wmax+1) - wmax)
	}
	qmax := int32(1)<<obits - 1
	outZero = rng.Int32N(qmax/2 + 1)
	lo, hi = 0, qmax
	switch rng.IntN(3) {
	case 0:
		lo = outZero
	case 1:
		lo = outZero + rng.Int32N(3)
		hi = qmax - rng.Int32N(qmax/4+1)
	}
	for c := 0; c < rows; c++ {
		// Spread the typical accumulator (sqrt(k) * 64 * wmax/2 codes) over a quarter range.
		sW := float64(qmax+1) / 4 / (math.Sqrt(float64(k)) * 64 * float64(wmax) / 2) * sOut / sIn * math.Exp2(rng.Float64()-0.5)
		m, s := fakequant.QuantizeMultiplier(sIn * sW / sOut)
		mult, shift = append(mult, m), append(shift, int32(s))
		b = append(b, int32((rng.Float64()*2-1)*1000))
	}
	return
}

// smallModel is a random conv(pad) -> pool -> fc model on 1x28x28 with scales in Meta.
func smallModel(seed uint64, wbits, abits int) *qnet.Model {
	rng := rand.New(rand.NewPCG(seed, 1))
	sIn := 1.0 / 255
	s1, s2 := 0.05, 0.2
	m := &qnet.Model{Name: "small", InC: 1, InH: 28, InW: 28}
	m.Meta.InputScaleBits = math.Float32bits(float32(sIn))
	w, b, mu, sh, z, lo, hi := randLayer(rng, 4, 25, wbits, abits, sIn, s1, 0)
	conv := &qnet.Conv2D{InC: 1, OutC: 4, KH: 5, KW: 5, Stride: 1, Pad: 2, WeightBits: wbits, Weights: w, Bias: b,
		Multiplier: mu, Shift: sh, OutputZero: z, ActMin: lo, ActMax: hi, OutBits: abits}
	w, b, mu, sh, z2, lo, hi := randLayer(rng, 10, 4*14*14, wbits, abits, s1, s2, z)
	fc := &qnet.FullyConnected{In: 4 * 14 * 14, Out: 10, WeightBits: wbits, Weights: w, Bias: b,
		Multiplier: mu, Shift: sh, InputZero: z, OutputZero: z2, ActMin: lo, ActMax: hi, OutBits: abits}
	m.Layers = []qnet.Layer{conv, &qnet.MaxPool2D{K: 2, Stride: 2}, fc}
	m.Meta.OutputScaleBits = []uint32{math.Float32bits(float32(s1)), 0, math.Float32bits(float32(s2))}
	return m
}

func opTypes(g *onnxpb.GraphProto) []string {
	var ops []string
	for _, n := range g.GetNode() {
		ops = append(ops, n.GetOpType())
	}
	return ops
}

func initializers(g *onnxpb.GraphProto) map[string]*onnxpb.TensorProto {
	m := map[string]*onnxpb.TensorProto{}
	for _, t := range g.GetInitializer() {
		m[t.GetName()] = t
	}
	return m
}

func f32s(raw []byte) []float32 {
	v := make([]float32, len(raw)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}

// The serialized model parses back with the expected version, opset, nodes, initializers
// and scales; the weight scales give back the model's multipliers.
func TestMarshalRoundTrip(t *testing.T) {
	for _, c := range []struct {
		form onnx.Form
		int4 bool
		ops  []string
	}{
		{onnx.QOperator, false, []string{"QLinearConv", "Clip", "MaxPool", "Reshape", "QLinearConv", "Clip", "Reshape", "DequantizeLinear"}},
		{onnx.QDQ, false, []string{"QuantizeLinear", "DequantizeLinear", "DequantizeLinear", "DequantizeLinear", "Conv", "QuantizeLinear", "Clip", "MaxPool",
			"Reshape", "DequantizeLinear", "DequantizeLinear", "DequantizeLinear", "Gemm", "QuantizeLinear", "Clip", "Reshape", "DequantizeLinear"}},
		{onnx.QDQ, true, nil},
	} {
		wbits := 8
		if c.int4 {
			wbits = 4
		}
		m := smallModel(1, wbits, 4) // A4: every layer needs its clamp
		b, err := onnx.Marshal(m, onnx.Options{Form: c.form, Int4: c.int4, Logits: true, LayerOutputs: true, Version: "test", Accuracy: 0.5, AccuracyImages: 10})
		if err != nil {
			t.Fatal(err)
		}
		var mp onnxpb.ModelProto
		if err := proto.Unmarshal(b, &mp); err != nil {
			t.Fatal(err)
		}
		if mp.GetIrVersion() != 10 || len(mp.GetOpsetImport()) != 1 || mp.GetOpsetImport()[0].GetVersion() != 21 || mp.GetOpsetImport()[0].GetDomain() != "" {
			t.Fatalf("%v: ir %d opsets %v", c.form, mp.GetIrVersion(), mp.GetOpsetImport())
		}
		g := mp.GetGraph()
		if c.ops != nil && !slices.Equal(opTypes(g), c.ops) {
			t.Errorf("%v: ops %v, want %v", c.form, opTypes(g), c.ops)
		}
		var outs []string
		for _, o := range g.GetOutput() {
			outs = append(outs, o.GetName())
		}
		if want := []string{"codes", "logits", "conv1", "pool1", "fc1"}; !slices.Equal(outs, want) {
			t.Errorf("%v: outputs %v, want %v", c.form, outs, want)
		}
		meta := map[string]string{}
		for _, p := range mp.GetMetadataProps() {
			meta[p.GetKey()] = p.GetValue()
		}
		if meta["qatgo.version"] != "test" || meta["qatgo.weight_bits"] != "conv1:"+string(rune('0'+wbits))+",fc1:"+string(rune('0'+wbits)) ||
			meta["qatgo.activation_bits"] != "conv1:4,fc1:4" || meta["qatgo.accuracy"] == "" || meta["qatgo.form"] != c.form.String() {
			t.Errorf("%v: metadata %v", c.form, meta)
		}
		init := initializers(g)
		conv := m.Layers[0].(*qnet.Conv2D)
		w := init["conv1_w"]
		if !slices.Equal(w.GetDims(), []int64{4, 1, 5, 5}) {
			t.Errorf("%v: conv1_w dims %v", c.form, w.GetDims())
		}
		got := make([]int8, len(conv.Weights))
		switch onnxpb.TensorProto_DataType(w.GetDataType()) {
		case onnxpb.TensorProto_INT8:
			for i, v := range w.GetRawData() {
				got[i] = int8(v)
			}
		case onnxpb.TensorProto_UINT8: // w+128, zero point 128
			for i, v := range w.GetRawData() {
				got[i] = int8(int(v) - 128)
			}
			if z := init["conv1_w_zero_point"].GetRawData(); len(z) != 4 || z[0] != 128 || z[3] != 128 {
				t.Errorf("%v: uint8 weight zero points %v", c.form, z)
			}
		case onnxpb.TensorProto_INT4:
			if !c.int4 || len(w.GetRawData()) != (len(got)+1)/2 {
				t.Fatalf("%v: int4 weights with %d bytes", c.form, len(w.GetRawData()))
			}
			for i := range got {
				got[i] = int8(w.GetRawData()[i/2]>>(4*(i%2))<<4) >> 4 // sign-extend the nibble
			}
		default:
			t.Fatalf("%v: conv1_w type %d", c.form, w.GetDataType())
		}
		if !slices.Equal(got, conv.Weights) {
			t.Errorf("%v: conv1 weights differ", c.form)
		}
		// S_in S_w[c] / S_out, quantized again, is the model's multiplier (to within one
		// unit of the Q31 mantissa: S_w is float32).
		sIn := float64(f32s(init["conv1_x_scale"].GetRawData())[0])
		sOut := float64(f32s(init["conv1_y_scale"].GetRawData())[0])
		for ch, sw := range f32s(init["conv1_w_scale"].GetRawData()) {
			q, s := fakequant.QuantizeMultiplier(sIn * float64(sw) / sOut)
			if int32(s) != conv.Shift[ch] || math.Abs(float64(q-conv.Multiplier[ch])) > 1<<8 {
				t.Errorf("%v: channel %d: scale %g gives multiplier %d shift %d, model has %d %d", c.form, ch, sw, q, s, conv.Multiplier[ch], conv.Shift[ch])
			}
		}
		if c.form == onnx.QDQ {
			zp := init["conv1_w_zero_point"]
			if zp == nil || !slices.Equal(zp.GetDims(), []int64{4}) {
				t.Errorf("%v: weight zero points %v", c.form, zp)
			}
		}
	}
	// Refusals, one line each.
	m := smallModel(1, 8, 8)
	if _, err := onnx.Marshal(m, onnx.Options{Form: onnx.QOperator, Int4: true}); err == nil {
		t.Error("int4 in the qoperator form accepted")
	}
	m.Meta.OutputScaleBits = nil
	if _, err := onnx.Marshal(m, onnx.Options{}); err == nil {
		t.Error("model without output scales accepted")
	}
}

func ortDir(t *testing.T) string {
	t.Helper()
	dir := ort.DefaultDir()
	if err := ort.Available(dir); err != nil {
		if os.Getenv("QATGO_REQUIRE_ORT") == "1" {
			t.Fatalf("QATGO_REQUIRE_ORT=1 but %v", err)
		}
		t.Skipf("skipping the ONNX Runtime check: %v", err)
	}
	return dir
}

// checkORT runs m in ONNX Runtime in form f on n test images and asserts the targets:
// argmax agreement >= minAgree, first-layer codes within one step.
func checkORT(t *testing.T, name string, m *qnet.Model, test *data.Set, o onnx.Options, n int, minAgree float64, allWithinOne bool) {
	t.Helper()
	f := o.Form
	c, r, err := ort.Check(m, test, ort.CheckOptions{Limit: n, ONNX: o})
	if err != nil {
		t.Fatalf("%s %v: %v", name, f, err)
	}
	t.Logf("%s %v int4=%v int8=%v (ORT %s): %d images, agreement %.4f, engine %.4f, ORT %.4f, layers %+v",
		name, f, o.Int4, o.WeightsInt8, r.Version, c.Images, c.Agreement, c.EngineAccuracy, c.ORTAccuracy, c.Layers)
	if c.Images != n {
		t.Errorf("%s %v: ORT ran %d images, want %d", name, f, c.Images, n)
	}
	if c.Agreement < minAgree {
		t.Errorf("%s %v: argmax agreement %.4f < %.4f", name, f, c.Agreement, minAgree)
	}
	if len(c.Layers) < 2 || c.Layers[0].Name != "conv1" {
		t.Fatalf("%s %v: no first-layer comparison: %+v", name, f, c.Layers)
	}
	if d := c.Layers[0].MaxDiff; d > 1 {
		t.Errorf("%s %v: first-layer codes differ by up to %d", name, f, d)
	}
	for _, l := range c.Layers {
		if allWithinOne && l.MaxDiff > 1 {
			t.Errorf("%s %v: %s codes differ by up to %d", name, f, l.Name, l.MaxDiff)
		}
	}
}

// A random model whose clamps are ReLU, sub-ranges and none, through ORT: the uint8 Clip,
// the padding and the flattening must give the engine's codes to within rounding.
func TestORTRandomModel(t *testing.T) {
	ortDir(t)
	_, test, err := data.Load("")
	if err != nil {
		t.Fatal(err)
	}
	// The default uint8 weights for 8 and 4 bits; int8 weights only at 4 bits (uniform
	// random 8-bit int8 weights saturate ONNX Runtime's x86 u8s8 kernels without VNNI, see
	// Options.WeightsInt8).
	for _, c := range []struct {
		bits int
		o    onnx.Options
	}{
		{8, onnx.Options{Form: onnx.QOperator}},
		{8, onnx.Options{Form: onnx.QDQ}},
		{4, onnx.Options{Form: onnx.QOperator}},
		{4, onnx.Options{Form: onnx.QOperator, WeightsInt8: true}},
		{4, onnx.Options{Form: onnx.QDQ}},
		{4, onnx.Options{Form: onnx.QDQ, Int4: true}},
		{4, onnx.Options{Form: onnx.QDQ, Int4: true, WeightsInt8: true}},
	} {
		checkORT(t, "random", smallModel(uint64(c.bits), c.bits, c.bits), test, c.o, 100, 0.98, true)
	}
}

// Small trained W8A8 and W4A4 LeNet-5 models agree with ONNX Runtime in both forms: the
// first layer's codes within one step (ORT rounds acc * M in float32 half-even, the engine
// in Q31 fixed point), at W8A8 every layer's. These one-epoch models (about 64% accurate)
// have many near-tied logits, so one step in the last layer flips some argmaxes: the argmax
// bounds here are for them; the 99.9% target is measured on fully trained models (README,
// docs/RESULTS.md). At W4A4 one step of a 4-bit fc1 code is several steps of fc2's 8-bit
// output, so later layers inherit larger differences.
func TestORTTrained(t *testing.T) {
	ortDir(t)
	_, test, err := data.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, bits := range []int{8, 4} {
		cfg := train.DefaultConfig()
		cfg.Quant.WBits, cfg.Quant.ABits = bits, bits
		cfg.Epochs, cfg.TrainLimit, cfg.TestLimit = 1, 1280, 200
		cfg.Quant.Delay = 5
		cfg.Out = t.TempDir()
		if _, err := train.Run(cfg, train.Options{}); err != nil {
			t.Fatal(err)
		}
		m, err := export.LoadInteger(cfg.Out)
		if err != nil {
			t.Fatal(err)
		}
		name := map[int]string{8: "W8A8", 4: "W4A4"}[bits]
		minAgree := map[int]float64{8: 0.98, 4: 0.85}[bits]
		checkORT(t, name, m, test, onnx.Options{Form: onnx.QOperator}, 300, minAgree, bits == 8)
		checkORT(t, name, m, test, onnx.Options{Form: onnx.QDQ}, 300, minAgree, bits == 8)
		if bits == 4 {
			checkORT(t, name, m, test, onnx.Options{Form: onnx.QDQ, Int4: true}, 300, minAgree, false)
		}
	}
}

// The ONNX writer takes the integer model and stays off the training stack: its
// dependencies hold no gorgonia (nor gonum, nor the training packages).
func TestNoGorgoniaDependency(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go tool not in PATH: cannot check the dependency list")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "gorgonia") || strings.Contains(dep, "gonum") ||
			dep == "github.com/qatgo/qatgo/train" || dep == "github.com/qatgo/qatgo/nn" {
			t.Errorf("export/onnx depends on %s", dep)
		}
	}
	if !strings.Contains(string(out), "google.golang.org/protobuf/proto") {
		t.Errorf("go list output lacks protobuf:\n%s", out)
	}
}
