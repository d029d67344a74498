package nn

import (
	"strings"
	"testing"
)

func TestLeNetShapes(t *testing.T) {
	m, err := LeNet5(DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	// Deep Compression's LeNet-5: 431K weights (430,500 weights + 580 biases).
	if n := m.NumWeights(); n != 431080 || m.Classes != 10 {
		t.Fatalf("LeNet-5 has %d parameters and %d classes", n, m.Classes)
	}
	mlp, err := LeNet300100(DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := mlp.NumWeights(); n != 784*300+300+300*100+100+100*10+10 {
		t.Fatalf("LeNet-300-100 has %d parameters", n)
	}
}

// Mixed precision is configuration: per-layer overrides reach the quantizers, and the last
// layer's output uses LogitBits.
func TestMixedPrecisionConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WBits, cfg.ABits, cfg.LogitBits = 4, 4, 8
	cfg.Layers = map[string]LayerQ{"conv1": {WBits: 8, ABits: 6, PerChannel: false}}
	m, err := LeNet5(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][3]int{"conv1": {8, 6, 0}, "conv2": {4, 4, 1}, "fc1": {4, 4, 1}, "fc2": {4, 8, 1}}
	for _, l := range m.Quantized() {
		q := l.Quant()
		w := want[l.Name()]
		pc := 0
		if q.W.PerChannel {
			pc = 1
		}
		if q.W.Scheme.Bits != w[0] || q.Out.Scheme.Bits != w[1] || pc != w[2] || !q.W.Scheme.Signed || !q.W.Scheme.Narrow || q.Out.Scheme.Signed {
			t.Errorf("%s: weights %v per-channel %v, activations %v; want bits %v", l.Name(), q.W.Scheme, q.W.PerChannel, q.Out.Scheme, w)
		}
	}
	// Each layer's input quantizer is the previous quantized layer's output quantizer.
	qs := m.Quantized()
	if qs[0].Quant().In != m.InQ {
		t.Error("conv1 input is not the model input quantizer")
	}
	for i := 1; i < len(qs); i++ {
		if qs[i].Quant().In != qs[i-1].Quant().Out {
			t.Errorf("%s input quantizer is not %s's output", qs[i].Name(), qs[i-1].Name())
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.WBits = 1 }, "weight bits = 1"},
		{func(c *Config) { c.ABits = 9 }, "activation bits = 9"},
		{func(c *Config) { c.Layers = map[string]LayerQ{"fc1": {WBits: 12, ABits: 8}} }, "fc1 weight bits = 12"},
		{func(c *Config) { c.Decay = 1 }, "EMA decay"},
		{func(c *Config) { c.Layers = map[string]LayerQ{"conv9": {WBits: 8, ABits: 8}} }, `no quantizable layer "conv9"`},
		{func(c *Config) { c.Delay = -1 }, "delay"},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		_, err := LeNet5(cfg, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
	if _, err := New("alexnet", DefaultConfig(), 1); err == nil || !strings.Contains(err.Error(), `unknown model "alexnet"`) {
		t.Errorf("unknown model: %v", err)
	}
}
