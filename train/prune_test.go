package train

import (
	"github.com/qatgo/qatgo/train/checkpoint"
	"math"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/nn"
)

// trained writes a tiny QAT run and returns its directory.
func trained(t *testing.T) string {
	t.Helper()
	cfg := tinyConfig(t)
	cfg.Epochs = 1
	if _, err := Run(cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	return cfg.Out
}

func tinyPrune(t *testing.T, from string) PruneConfig {
	cfg := DefaultPruneConfig()
	cfg.Train = tinyConfig(t)
	cfg.Train.From, cfg.Train.Quant.Delay = from, 5
	cfg.Cycles, cfg.RetrainEpochs = 3, 1
	return cfg
}

// nonzero returns the nonzero count of each quantizable layer's weights in a checkpoint.
func nonzero(t *testing.T, dir string) (map[string]int, *nn.Model) {
	t.Helper()
	ck := loadParams(t, dir)
	m, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, s := range m.Sparsity() {
		out[s.Layer] = s.Nonzero
	}
	return out, m
}

// Pruning reaches its target, never revives a weight, and the masks survive the checkpoint.
func TestPruneCyclesReachTargetAndOnlyGrow(t *testing.T) {
	from := trained(t)
	for _, policy := range []PrunePolicy{PolicyGlobal, PolicyLayer} {
		t.Run(string(policy), func(t *testing.T) {
			cfg := tinyPrune(t, from)
			cfg.Policy, cfg.Target = policy, 0.9
			cfg.LayerTargets = map[string]float64{"conv1": 0.5}
			res, err := Prune(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Cycles) != 4 {
				t.Fatalf("%d rows, want 4 (before + 3 cycles)", len(res.Cycles))
			}
			for i := 1; i < len(res.Cycles); i++ {
				for j, l := range res.Cycles[i].Layers {
					if prev := res.Cycles[i-1].Layers[j]; l.Nonzero > prev.Nonzero {
						t.Fatalf("cycle %d: %s has %d nonzero weights, %d before", i, l.Layer, l.Nonzero, prev.Nonzero)
					}
				}
			}
			last := res.Cycles[3]
			// Cycles continue the data order: the metrics count epochs across cycles.
			ck := loadParams(t, cfg.Train.Out)
			for i, m := range ck.Metrics {
				if m.Epoch != i+1 || m.Cycle != i+1 {
					t.Fatalf("metrics row %d: epoch %d cycle %d, want %d and %d", i, m.Epoch, m.Cycle, i+1, i+1)
				}
			}
			if ck.Stage != "prune" {
				t.Fatalf("checkpoint stage %q", ck.Stage)
			}
			q := tinyConfig(t)
			q.Out, q.Resume = cfg.Train.Out, true
			if _, err := Run(q, Options{}); err == nil || !strings.Contains(err.Error(), "pruning run") {
				t.Fatalf("qat train --resume of a pruning run: err = %v", err)
			}
			counts, m := nonzero(t, cfg.Train.Out)
			for _, l := range last.Layers {
				if counts[l.Layer] != l.Nonzero {
					t.Fatalf("%s: checkpoint has %d nonzero weights, run reported %d", l.Layer, counts[l.Layer], l.Nonzero)
				}
				want := 0.9
				if l.Layer == "conv1" {
					want = 0.5
				}
				if policy == "layer" || l.Layer == "conv1" {
					if got := 1 - l.Kept(); math.Abs(got-want) > 0.002 {
						t.Fatalf("%s: sparsity %.4f, want %.2f", l.Layer, got, want)
					}
				}
			}
			// The global threshold prunes the pooled layers to the target together.
			var w, nz int
			for _, l := range last.Layers {
				if l.Layer != "conv1" {
					w += l.Weights
					nz += l.Nonzero
				}
			}
			if got := 1 - float64(nz)/float64(w); math.Abs(got-0.9) > 0.002 {
				t.Fatalf("pooled sparsity %.4f, want 0.90", got)
			}
			for _, l := range m.Quantized() {
				p := l.Weights()
				if p.Mask == nil {
					t.Fatalf("%s: the checkpoint lost its mask", l.Name())
				}
				for i, v := range p.Data {
					if p.Mask[i] == 0 && v != 0 {
						t.Fatalf("%s[%d] = %v but pruned", l.Name(), i, v)
					}
				}
			}
		})
	}
}

// QAT fine-tuning of a pruned checkpoint (plain `qat train --from`) keeps every pruned weight
// at exactly zero: the mask op gives zero gradient and Adam's state stays zero.
func TestPrunedStaysPrunedThroughQAT(t *testing.T) {
	cfg := tinyPrune(t, trained(t))
	cfg.Cycles = 1
	if _, err := Prune(cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	before, _ := nonzero(t, cfg.Train.Out)
	q := tinyConfig(t)
	q.From, q.Epochs, q.Quant.WBits, q.Quant.ABits = cfg.Train.Out, 1, 4, 4
	if _, err := Run(q, Options{}); err != nil {
		t.Fatal(err)
	}
	after, m := nonzero(t, q.Out)
	for name, n := range before {
		if after[name] != n {
			t.Fatalf("%s: %d nonzero weights after QAT, %d before", name, after[name], n)
		}
	}
	if s := nn.TotalSparsity(m.Sparsity()); s < 0.9 {
		t.Fatalf("sparsity %.3f after QAT", s)
	}
}

func TestPruneGradual(t *testing.T) {
	cfg := tinyPrune(t, trained(t))
	cfg.Schedule, cfg.Freq, cfg.Target = "gradual", 3, 0.8
	cfg.Cycles, cfg.RetrainEpochs = 3, 1 // 3 epochs of 10 steps, masks updated until step 20
	res, err := Prune(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.Sparsity-0.8) > 0.002 {
		t.Fatalf("final sparsity %.4f, want 0.80", res.Sparsity)
	}
	if s := res.Cycles[1].Sparsity; !(s > 0 && s < res.Sparsity) {
		t.Fatalf("after epoch 1 sparsity %.4f: want gradual growth below %.4f", s, res.Sparsity)
	}
}

func TestCubicFraction(t *testing.T) {
	for _, c := range []struct{ t, want float64 }{{0, 0}, {1, 1}, {0.5, 0.875}, {-1, 0}, {2, 1}} {
		if got := CubicFraction(c.t); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("CubicFraction(%v) = %v, want %v", c.t, got, c.want)
		}
	}
}

func TestPruneConfigErrors(t *testing.T) {
	for name, mod := range map[string]func(*PruneConfig){
		"no from":      func(c *PruneConfig) { c.Train.From = "" },
		"target 1":     func(c *PruneConfig) { c.Target = 1 },
		"policy":       func(c *PruneConfig) { c.Policy = "random" },
		"schedule":     func(c *PruneConfig) { c.Schedule = "linear" },
		"cycles":       func(c *PruneConfig) { c.Cycles = 0 },
		"ptq":          func(c *PruneConfig) { c.Train.Mode = "ptq" },
		"layer target": func(c *PruneConfig) { c.LayerTargets = map[string]float64{"fc1": -0.1} },
	} {
		cfg := DefaultPruneConfig()
		cfg.Train.From = "x"
		mod(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	cfg := tinyPrune(t, trained(t))
	cfg.LayerTargets = map[string]float64{"fc9": 0.5}
	if _, err := Prune(cfg, Options{}); err == nil {
		t.Error("unknown layer: no error")
	}
}

func TestSensitivity(t *testing.T) {
	from := trained(t)
	base, rows, err := Sensitivity(SensitivityConfig{From: from, Sparsities: []float64{0, 0.5, 0.99}, Tolerance: 1, TestLimit: 200}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4 layers", len(rows))
	}
	for _, r := range rows {
		if r.Accuracy[0] != base {
			t.Errorf("%s at sparsity 0: %v, want the base accuracy %v", r.Layer, r.Accuracy[0], base)
		}
		if r.Suggest != 0.99 {
			t.Errorf("%s: suggest %v with tolerance 1, want 0.99", r.Layer, r.Suggest)
		}
	}
	if _, _, err := Sensitivity(SensitivityConfig{From: from, Sparsities: []float64{1}}, nil); err == nil {
		t.Error("sparsity 1: no error")
	}
}

// A checkpoint's masks and codebooks are checked before they are installed.
func TestRestoreCompressionRejectsBadState(t *testing.T) {
	m, err := nn.New("lenet5", nn.DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	w := m.Quantized()[0].Weights() // conv1.w, 500 weights, all nonzero
	mask := func(v uint8) []uint8 {
		s := make([]uint8, w.Size())
		for i := range s {
			s[i] = 1
		}
		s[3] = v
		return s
	}
	assign := make([]int32, w.Size())
	for name, cs := range map[string][]checkpoint.CompressionState{
		"unknown tensor":          {{Param: "conv9.w", Mask: mask(1)}},
		"short mask":              {{Param: w.Name, Mask: []uint8{1, 0}}},
		"mask value 2":            {{Param: w.Name, Mask: mask(2)}},
		"pruned but nonzero":      {{Param: w.Name, Mask: mask(0)}},
		"assignment out of range": {{Param: w.Name, Centroids: []float32{0.1}, Assign: append([]int32{1}, assign[1:]...)}},
		"short assignment":        {{Param: w.Name, Centroids: []float32{0.1}, Assign: assign[:10]}},
		"NaN centroid":            {{Param: w.Name, Centroids: []float32{float32(math.NaN())}, Assign: assign}},
	} {
		if err := checkpoint.RestoreCompression(m, cs); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Pruning can only remove weights.
	keep := make([]bool, w.Size())
	if err := w.Prune(keep); err != nil {
		t.Fatal(err)
	}
	keep[0] = true
	if err := w.Prune(keep); err == nil {
		t.Error("reviving a pruned weight: no error")
	}
}

// Per-layer targets override every policy, also quality.
func TestPruneQualityWithLayerTarget(t *testing.T) {
	cfg := tinyPrune(t, trained(t))
	cfg.Policy, cfg.Quality, cfg.Cycles = "quality", 1, 1
	cfg.LayerTargets = map[string]float64{"conv1": 0}
	res, err := Prune(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Cycles[1].Layers {
		switch {
		case l.Layer == "conv1" && l.Nonzero != l.Weights:
			t.Errorf("conv1 has %d of %d weights with target 0", l.Nonzero, l.Weights)
		case l.Layer != "conv1" && (l.Kept() > 0.5 || l.Kept() < 0.2):
			// |w| > std keeps about a third of a bell-shaped layer.
			t.Errorf("%s keeps %.3f with quality 1", l.Layer, l.Kept())
		}
	}
}

func TestSensitivityTolerance(t *testing.T) {
	from := trained(t)
	_, rows, err := Sensitivity(SensitivityConfig{From: from, Sparsities: []float64{0, 0.99}, Tolerance: 0, TestLimit: 200}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Pruning 99% of conv1 (5 weights left) costs accuracy: no suggestion beyond 0.
	if rows[0].Layer != "conv1" || rows[0].Suggest != 0 || rows[0].Accuracy[1] >= rows[0].Accuracy[0] {
		t.Errorf("conv1: %+v", rows[0])
	}
}
