package nn

import (
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/data"
)

// The built-in specs describe the networks as the hand-written constructors did (LeNet-5:
// conv1 folds MNIST's normalization; the layer sequence and fused activations below).
func TestBuiltinSpecs(t *testing.T) {
	s, err := BuiltinSpec("lenet5")
	if err != nil {
		t.Fatal(err)
	}
	if s.Normalize == nil || s.Normalize.Mean != data.Mean || s.Normalize.Std != data.Std {
		t.Fatalf("lenet5 normalize %+v, want mean %v std %v", s.Normalize, data.Mean, data.Std)
	}
	want := map[string]string{
		"lenet5":       "conv1:conv 1->20 k5 s1 p0 relu norm|pool1:max k2 s2|conv2:conv 20->50 k5 s1 p0 relu|pool2:max k2 s2|flatten:flatten|fc1:fc 800->500 relu|fc2:fc 500->10 none",
		"lenet5-bn":    "conv1:conv 1->20 k5 s1 p0 relu bn|pool1:max k2 s2|conv2:conv 20->50 k5 s1 p0 relu bn|pool2:max k2 s2|flatten:flatten|fc1:fc 800->500 relu|fc2:fc 500->10 none",
		"lenet300-100": "flatten:flatten|fc1:fc 784->300 relu|fc2:fc 300->100 relu|fc3:fc 100->10 none",
	}
	for _, name := range BuiltinNames() {
		m, err := New(name, DefaultConfig(), 1)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, l := range m.Layers {
			d := l.Name() + ":"
			switch l := l.(type) {
			case *Conv2D:
				d += "conv " + itoa(l.InC) + "->" + itoa(l.OutC) + " k" + itoa(l.K) + " s" + itoa(l.Stride) + " p" + itoa(l.Pad) + " " + l.Q.Act.String()
				if l.FoldNorm {
					d += " norm"
				}
				if l.BN != nil {
					d += " bn"
				}
			case *Linear:
				d += "fc " + itoa(l.In) + "->" + itoa(l.Out) + " " + l.Q.Act.String()
			case *MaxPool2D:
				d += "max k" + itoa(l.K) + " s" + itoa(l.Stride)
			case *Flatten:
				d += "flatten"
			}
			parts = append(parts, d)
		}
		if got := strings.Join(parts, "|"); got != want[name] {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want[name])
		}
		if m.Arch != name || m.Spec == nil || m.InC != 1 || m.InH != 28 || m.Classes != 10 {
			t.Errorf("%s: arch %q, input %dx%dx%d, %d classes", name, m.Arch, m.InC, m.InH, m.InW, m.Classes)
		}
	}
}

func itoa(v int) string { return strconv.Itoa(v) }

// Bad specs are refused with one line naming the layer or the field.
func TestSpecErrors(t *testing.T) {
	cases := []struct{ json, want string }{
		{`{`, "not valid JSON"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "flatten"}, {"type": "linear", "out": 4}]} {}`, "data after the JSON object"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "linear", "outs": 4}]}`, `unknown field "outs"`},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "linear", "out": "4"}]}`, `field "layers.out"`},
		{`{"name": "lenet5", "input": [1, 8, 8], "layers": [{"type": "flatten"}, {"type": "linear", "out": 4}]}`, "built-in network's"},
		{`{"input": [1, 8, 8], "layers": [{"type": "flatten"}]}`, "no name"},
		{`{"name": "x", "input": [0, 8, 8], "layers": [{"type": "flatten"}]}`, "spec input 0x8x8"},
		{`{"name": "x", "input": [1, 8, 8], "layers": []}`, "has no layers"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "linear", "out": 4}]}`, "layer 1 (linear fc1): input is 1x8x8: add a flatten"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "conv2d", "out": 4, "kernel": 9}, {"type": "flatten"}]}`, "layer 1 (conv2d conv1): input 8x8 too small for kernel 9"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "conv2d", "out": 4, "kernel": 3, "pad": 3}]}`, "pad 3 must be smaller than the kernel 3"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "flatten"}, {"type": "conv2d", "out": 4, "kernel": 1}]}`, "layer 2 (conv2d conv1): input is flat"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "relu"}]}`, "layer 1 (relu): must directly follow a conv2d or linear"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "flatten"}, {"type": "linear", "out": 4}, {"type": "relu"}, {"type": "relu6"}]}`, "fc1 already has the activation relu"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "avgpool2d"}]}`, "layer 1 (avgpool2d avgpool1): kernel 0 out of range 1..64"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "avgpool2d", "kernel": 65}]}`, "layer 1 (avgpool2d avgpool1): kernel 65 out of range 1..64"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "avgpool2d", "kernel": 2, "stride": 65}]}`, "layer 1 (avgpool2d avgpool1): stride 65 out of range 1..64"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "avgpool2d", "kernel": 9, "name": "gap"}]}`, "layer 1 (avgpool2d gap): input 8x8 too small for pool 9"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "flatten"}, {"type": "avgpool2d", "kernel": 2}]}`, "layer 2 (avgpool2d avgpool1): input is flat"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "avgpool2d", "kernel": 2, "pad": 1}]}`, `layer 1 (avgpool2d avgpool1): has no field "pad"`},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "dropout"}]}`, "layer 1 (dropout): unknown type"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "maxpool2d", "kernel": 2, "out": 3}]}`, `has no field "out"`},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "flatten"}, {"type": "linear", "out": 4, "quant": {"w_bits": 9}}]}`, "quant w_bits = 9"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "flatten"}, {"type": "linear", "out": 1}]}`, "the output has 1 values"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "conv2d", "out": 4, "kernel": 3}]}`, "end with a flatten or linear"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "flatten"}, {"type": "linear", "out": 4, "name": "a"}, {"type": "linear", "out": 4, "name": "a"}]}`, `name "a" is used twice`},
		{`{"name": "x", "input": [1, 8, 8], "normalize": {"mean": 0.1, "std": 0.3}, "layers": [{"type": "flatten"}, {"type": "linear", "out": 4}]}`, "normalize folds into the first layer"},
		{`{"name": "x", "input": [1, 8, 8], "normalize": {"mean": 0.1, "std": 0}, "layers": [{"type": "flatten"}]}`, "want std > 0"},
		{`{"name": "x", "input": [4096, 4096, 4096], "layers": [{"type": "conv2d", "out": 4096, "kernel": 64}]}`, "more than 16777216 values per image"},
		{`{"name": "x", "input": [1, 4096, 4096], "layers": [{"type": "conv2d", "out": 64, "kernel": 1}]}`, "layer 1 (conv2d conv1): output 64x4096x4096 has more than"},
		{`{"name": "x", "input": [64, 64, 64], "layers": [{"type": "flatten"}, {"type": "linear", "out": 4096}]}`, "more than 134217728 parameters"},
		{`{"name": "x", "input": [1, 8, 8], "layers": [{"type": "flatten"}]}`, "no conv2d or linear layer"},
	}
	for _, c := range cases {
		_, err := ParseSpec(strings.NewReader(c.json))
		if err == nil {
			t.Errorf("%s: accepted", c.json)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s:\n got %v\nwant one line containing %q", c.json, err, c.want)
		}
	}
}

// A spec round-trips through its JSON, and Build checks it too (a Spec literal in a program).
func TestSpecJSONAndBuild(t *testing.T) {
	s := &Spec{Name: "rgb", Input: [3]int{3, 12, 10}, Layers: []LayerSpec{
		ConvBN(6, 3, 2, 1), ReLU6(), MaxPool(2, 0), Flat(), Dense(5).Quantized(6, 7, false).Named("head"),
	}}
	p, err := ParseSpec(strings.NewReader(string(s.JSON())))
	if err != nil {
		t.Fatal(err)
	}
	if string(p.JSON()) != string(s.JSON()) {
		t.Fatalf("round trip:\n%s\n%s", s.JSON(), p.JSON())
	}
	cfg := DefaultConfig()
	cfg.Layers = map[string]LayerQ{"conv1": {WBits: 3, ABits: 5, PerChannel: true}}
	m, err := Build(s, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	conv := m.Layers[0].(*Conv2D)
	// 12x10 -> conv k3 s2 p1 -> 6x5 -> pool 2 (stride = kernel) -> 3x2.
	if m.Classes != 5 || conv.BN == nil || conv.Q.Act != ActReLU6 || conv.Stride != 2 || conv.Pad != 1 {
		t.Fatalf("built %d classes, conv %+v", m.Classes, conv)
	}
	if got := m.Layers[3].(*Linear).In; got != 6*3*2 {
		t.Fatalf("head has %d inputs, want %d", got, 6*3*2)
	}
	if got := conv.Q.Config; got != (LayerQ{WBits: 3, ABits: 5, PerChannel: true}) {
		t.Errorf("Config.Layers override: conv1 %+v", got)
	}
	if got := m.Layers[3].(*Linear).Q.Config; got != (LayerQ{WBits: 6, ABits: 7, PerChannel: false}) {
		t.Errorf("spec quant: head %+v", got)
	}
	bad := &Spec{Name: "bad", Input: [3]int{1, 4, 4}, Layers: []LayerSpec{Conv(2, 5, 1, 0), Flat(), Dense(2)}}
	if _, err := Build(bad, DefaultConfig(), 1); err == nil || !strings.Contains(err.Error(), "layer 1 (conv2d conv1)") {
		t.Errorf("Build of a conv too large for its input: %v", err)
	}
}

// A float layer (LayerSpec.Float, {"float": true}) round-trips through JSON, and in QAT and
// evaluation modes its output is exactly the float model's (no fake quantization of weights,
// bias or output; its range is never observed) while the quantized layer after it is
// quantized. The same network without Float is the control: its first layer then differs.
func TestFloatLayer(t *testing.T) {
	spec := func(float bool) *Spec {
		first := Conv(4, 3, 1, 1)
		if float {
			first = first.Float()
		}
		return &Spec{Name: "f", Input: [3]int{3, 8, 8}, Layers: []LayerSpec{first, ReLU(), MaxPool(2, 2), Flat(), Dense(3)}}
	}
	s := spec(true)
	if !strings.Contains(string(s.JSON()), `"float": true`) {
		t.Fatalf("JSON of a float layer:\n%s", s.JSON())
	}
	p, err := ParseSpec(strings.NewReader(string(s.JSON())))
	if err != nil {
		t.Fatal(err)
	}
	if string(p.JSON()) != string(s.JSON()) || p.Layers[0].Quant == nil || !p.Layers[0].Quant.Float {
		t.Fatalf("round trip:\n%s\n%s", s.JSON(), p.JSON())
	}
	for _, float := range []bool{true, false} {
		m, err := Build(spec(float), DefaultConfig(), 1)
		if err != nil {
			t.Fatal(err)
		}
		conv, fc := m.Layers[0].(*Conv2D), m.Layers[3].(*Linear)
		if got := m.FloatLayers(); float != (len(got) == 1 && got[0] == "conv1") || conv.Q.Config.Float != float || fc.Q.Config.Float {
			t.Fatalf("float=%v: FloatLayers %v, conv1 %+v, fc1 %+v", float, got, conv.Q.Config, fc.Q.Config)
		}
		tr, err := m.NewGraph(2, true)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := m.NewGraph(2, false)
		if err != nil {
			t.Fatal(err)
		}
		fillInput(ev, 3)
		m.SetMode(autograd.ModeFloat)
		if _, err := ev.Run(); err != nil {
			t.Fatal(err)
		}
		floatConv := append([]float32(nil), ev.OutputData(0)...)
		floatFC := append([]float32(nil), ev.OutputData(3)...)
		m.SetMode(autograd.ModeTrain)
		for step := range 3 {
			fillInput(tr, step)
			if loss, err := tr.Run(); err != nil || !(loss > 0) {
				t.Fatalf("float=%v: QAT step %d: loss %v, %v", float, step, loss, err)
			}
		}
		g, err := tr.Grad(0) // conv1.w
		if err != nil {
			t.Fatal(err)
		}
		nonzero := 0
		for _, v := range g {
			if v != 0 {
				nonzero++
			}
		}
		if nonzero == 0 {
			t.Errorf("float=%v: conv1 has no weight gradient in QAT", float)
		}
		if conv.Q.Out.Seen == float || !fc.Q.Out.Seen {
			t.Errorf("float=%v: conv1 output range seen %v, fc1 %v", float, conv.Q.Out.Seen, fc.Q.Out.Seen)
		}
		m.SetMode(autograd.ModeEval)
		if _, err := ev.Run(); err != nil {
			t.Fatal(err)
		}
		same := func(a, b []float32) bool {
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
					return false
				}
			}
			return true
		}
		if got := same(ev.OutputData(0), floatConv); got != float {
			t.Errorf("float=%v: conv1 output in eval mode equals the float model's: %v", float, got)
		}
		if same(ev.OutputData(3), floatFC) {
			t.Errorf("float=%v: fc1 output in eval mode is not quantized", float)
		}
		tr.Close()
		ev.Close()
	}
	// Config.Layers (--layer-bits) names the layer's bits: it is quantized again.
	cfg := DefaultConfig()
	cfg.Layers = map[string]LayerQ{"conv1": {WBits: 6, ABits: 8, PerChannel: true}}
	if m, err := Build(spec(true), cfg, 1); err != nil || len(m.FloatLayers()) != 0 || m.Layers[0].(*Conv2D).Q.Config.WBits != 6 {
		t.Errorf("Config.Layers over a float layer: %v", err)
	}
	bad := `{"name": "x", "input": [1, 8, 8], "layers": [{"type": "flatten"}, {"type": "linear", "out": 4, "quant": {"float": true, "w_bits": 4}}]}`
	if _, err := ParseSpec(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "layer 2 (linear fc1): quant float excludes w_bits") {
		t.Errorf("float with bits: %v", err)
	}
}

// An avgpool2d layer pools on the grid of the quantizer before it: the model input's for a
// first layer, else the output quantizer of the conv2d or linear before it (through other
// pools).
func TestSpecAvgPool(t *testing.T) {
	s := &Spec{Name: "avg", Input: [3]int{2, 12, 12}, Layers: []LayerSpec{
		AvgPool(2, 0), Conv(4, 3, 1, 0), ReLU(), MaxPool(2, 1), AvgPool(3, 2), Flat(), Dense(3),
	}}
	m, err := Build(s, DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	a1, a2 := m.Layers[0].(*AvgPool2D), m.Layers[3].(*AvgPool2D)
	if a1.In != m.InQ || a2.In != m.Layers[1].(*Conv2D).Q.Out {
		t.Fatalf("avgpool input grids: %p %p, want the input's %p and conv1's %p", a1.In, a2.In, m.InQ, m.Layers[1].(*Conv2D).Q.Out)
	}
	// 12 -> avg 2 (stride = kernel) 6 -> conv 3 -> 4 -> max 2 stride 1 -> 3 -> avg 3 stride 2 -> 1.
	if a1.K != 2 || a1.Stride != 2 || a2.K != 3 || a2.Stride != 2 || m.Layers[5].(*Linear).In != 4 {
		t.Fatalf("shapes: %+v %+v, fc In %d", a1, a2, m.Layers[5].(*Linear).In)
	}
}

// The spec in README's "Model spec files (JSON)" section parses and builds: a user copying it
// gets a model, not an error.
func TestReadmeSpecExample(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "## Model spec files (JSON)")
	if i < 0 {
		t.Fatal(`README has no "## Model spec files (JSON)" section`)
	}
	start := strings.Index(readme[i:], "```json\n")
	if start < 0 {
		t.Fatal("no ```json block in README's spec section")
	}
	body := readme[i+start+len("```json\n"):]
	end := strings.Index(body, "```")
	if end < 0 {
		t.Fatal("unterminated ```json block")
	}
	s, err := ParseSpec(strings.NewReader(body[:end]))
	if err != nil {
		t.Fatalf("README's spec: %v", err)
	}
	if _, err := Build(s, DefaultConfig(), 1); err != nil {
		t.Fatalf("README's spec builds: %v", err)
	}
}
