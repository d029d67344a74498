package nn

import (
	"math"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/fakequant"
)

// qatgo's conv and pool ops compute what gorgonia's stock ops compute: the same loss, logits
// and parameter gradients on LeNet-5 (float and QAT) within float32 tolerance. The output
// quantizers stay before the pools here: after them, the pools take the max of float values,
// and where two differ by the rounding in which the two conv ops sum, the gradient goes to a
// different element (TestQuantizeAfterPool covers that order).
func TestFastOpsMatchStock(t *testing.T) {
	for _, mode := range []autograd.Mode{autograd.ModeFloat, autograd.ModeTrain} {
		var losses []float32
		var grads [][][]float32
		for _, ops := range []Ops{OpsGorgonia, OpsFast} {
			// The rule this test was written under. Its tolerances assume no requantized code
			// differs between the two ops' float sums; under single rounding one accumulator of
			// this seed's batch lands on the other side of a rounding boundary (loss 3.74514 vs
			// 3.74408; seeds 1, 2, 4, 5, 6 agree to 7e-7 under both rules). Both rules are
			// tested against the engine bit for bit in autograd and export.
			cfg := DefaultConfig()
			cfg.Rounding = fakequant.RoundDouble
			m, err := LeNet5(cfg, 3)
			if err != nil {
				t.Fatal(err)
			}
			m.Ops = ops
			m.QuantizeBeforePool = true
			m.SetMode(mode)
			gr, err := m.NewGraph(8, true)
			if err != nil {
				t.Fatal(err)
			}
			fillInput(gr, 2)
			loss, err := gr.Run()
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, loss)
			var gs [][]float32
			for i := range gr.Params {
				g, err := gr.Grad(i)
				if err != nil {
					t.Fatal(err)
				}
				gs = append(gs, append([]float32(nil), g...))
			}
			grads = append(grads, gs)
			gr.Close()
		}
		if d := math.Abs(float64(losses[0] - losses[1])); d > 1e-4*math.Abs(float64(losses[0])) {
			t.Errorf("%v: loss %v (gorgonia) vs %v (fast)", mode, losses[0], losses[1])
		}
		for i := range grads[0] {
			var maxAbs, maxDiff float64
			for j, g := range grads[0][i] {
				maxAbs = math.Max(maxAbs, math.Abs(float64(g)))
				maxDiff = math.Max(maxDiff, math.Abs(float64(g-grads[1][i][j])))
			}
			if maxAbs == 0 || maxDiff > 1e-3*maxAbs {
				t.Errorf("%v: parameter %d gradient differs by %g (max |g| %g)", mode, i, maxDiff, maxAbs)
			}
		}
	}
}

// A training graph quantizes the outputs of conv1 and conv2 after their pools: the same loss
// and logits bit for bit as with the quantizers before the pools, and the same gradients for
// the fully connected layers (the pools' forward values are the same); in float mode every
// gradient too (the inactive quantizers are the identity either way). In QAT, the conv
// gradients differ only where a window holds several elements with the maximum code.
func TestQuantizeAfterPool(t *testing.T) {
	for _, mode := range []autograd.Mode{autograd.ModeFloat, autograd.ModeTrain} {
		var losses []float32
		var logits, grads [][]float32
		var pooled []int
		for _, after := range []bool{false, true} {
			m, err := LeNet5(DefaultConfig(), 3)
			if err != nil {
				t.Fatal(err)
			}
			m.QuantizeBeforePool = !after
			m.SetMode(mode)
			gr, err := m.NewGraph(8, true)
			if err != nil {
				t.Fatal(err)
			}
			k := 0
			for _, n := range gr.G.AllNodes() {
				if n.Op() != nil && strings.HasPrefix(n.Op().String(), "FakeQuantPooled") {
					k++
				}
			}
			pooled = append(pooled, k)
			for step := range 2 {
				fillInput(gr, 2+step)
				loss, err := gr.Run()
				if err != nil {
					t.Fatal(err)
				}
				losses = append(losses, loss)
				logits = append(logits, append([]float32(nil), gr.LogitsData()...))
			}
			for i := range gr.Params {
				g, err := gr.Grad(i)
				if err != nil {
					t.Fatal(err)
				}
				grads = append(grads, append([]float32(nil), g...))
			}
			gr.Close()
		}
		if pooled[0] != 0 || pooled[1] != 2 {
			t.Fatalf("%v: %v FakeQuantPooled ops, want [0 2]", mode, pooled)
		}
		for s := range 2 {
			if math.Float32bits(losses[s]) != math.Float32bits(losses[2+s]) {
				t.Errorf("%v step %d: loss %v after the pools, %v before", mode, s, losses[2+s], losses[s])
			}
			for j := range logits[s] {
				if math.Float32bits(logits[s][j]) != math.Float32bits(logits[2+s][j]) {
					t.Fatalf("%v step %d: logit %d %v after the pools, %v before", mode, s, j, logits[2+s][j], logits[s][j])
				}
			}
		}
		np := len(grads) / 2
		differ := 0
		for i := range np {
			same := true
			for j, g := range grads[i] {
				same = same && math.Float32bits(g) == math.Float32bits(grads[np+i][j])
			}
			if !same {
				differ++
				if mode == autograd.ModeFloat || i >= 4 { // conv1 W, B, conv2 W, B come first
					t.Errorf("%v: gradient of parameter %d differs", mode, i)
				}
			}
		}
		if mode == autograd.ModeTrain && differ == 0 {
			t.Logf("QAT: no conv gradient differs (no ties of the maximum code in this batch)")
		}
	}
}
