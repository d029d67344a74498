package export

import (
	"bytes"
	"math"
	"testing"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// Learned steps (LSQ) at 2 and 3 bits: the exported file holds the learned scales (weights:
// exp of the trained ln step, activations: the step as the layer's output scale) and the
// integer engine computes exactly what the simulation computes.
func TestSimulationEqualsDeploymentLSQ(t *testing.T) {
	_, test, err := data.Load("")
	if err != nil {
		t.Fatal(err)
	}
	// LSQ fine-tunes a float model (its steps start from that model's ranges).
	fcfg := train.DefaultConfig()
	fcfg.Mode, fcfg.Epochs, fcfg.TrainLimit, fcfg.TestLimit = "float", 1, 1280, 200
	fcfg.Out = t.TempDir()
	if _, err := train.Run(fcfg, train.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		wbits, abits int
		perChannel   bool
		rng          string
	}{{2, 2, true, "mse"}, {3, 3, false, "minmax"}, {2, 8, true, "percentile"}} {
		cfg := train.DefaultConfig()
		cfg.Quant.WBits, cfg.Quant.ABits, cfg.Quant.PerChannel = c.wbits, c.abits, c.perChannel
		cfg.Quant.Quantizer, cfg.Quant.Range = nn.QuantizerLSQ, c.rng
		cfg.From, cfg.Epochs, cfg.TrainLimit, cfg.TestLimit, cfg.CalibImages = fcfg.Out, 1, 1280, 200, 200
		cfg.Out = t.TempDir()
		if _, err := train.Run(cfg, train.Options{}); err != nil {
			t.Fatal(err)
		}
		ck, err := train.LoadCheckpoint(cfg.Out)
		if err != nil {
			t.Fatal(err)
		}
		if len(ck.Steps) != 8 {
			t.Fatalf("checkpoint holds %d learned steps, want 8 (weights and activations of 4 layers)", len(ck.Steps))
		}
		m, err := ck.Model()
		if err != nil {
			t.Fatal(err)
		}
		qm, err := Convert(m)
		if err != nil {
			t.Fatal(err)
		}
		// The file's scales are the learned steps.
		for i, l := range m.Quantized() {
			q := l.Quant()
			li := []int{0, 2, 4, 5}[i] // conv1, pool1, conv2, pool2, fc1, fc2
			if got, want := math.Float32frombits(qm.Meta.OutputScaleBits[li]), float32(math.Exp(float64(q.AStep.Data[0]))); math.Abs(float64(got/want-1)) > 1e-6 {
				t.Errorf("%s: output scale %g in the file, learned step %g", l.Name(), got, want)
			}
			ps := q.W.ParamsFor(l.Weights().Data)
			if want := fakequant.StepParams(math.Exp(float64(q.WStep.Data[len(q.WStep.Data)-1])), q.W.Scheme); ps[len(ps)-1] != want {
				t.Errorf("%s: weight params %v, learned %v", l.Name(), ps[len(ps)-1], want)
			}
		}
		var buf bytes.Buffer
		if err := qnet.Encode(&buf, qm); err != nil {
			t.Fatal(err)
		}
		qm2, err := qnet.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Compare(m, qm2, test, 300, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("LSQ W%dA%d: sim %.3f int %.3f agreement %.4f", c.wbits, c.abits, rep.SimAccuracy, rep.IntAccuracy, rep.Agreement)
		if rep.SimAccuracy < 0.5 {
			t.Errorf("W%dA%d: simulated accuracy %.3f: the quick model did not learn", c.wbits, c.abits, rep.SimAccuracy)
		}
		if rep.Agreement != 1 {
			t.Errorf("W%dA%d: argmax agreement %.4f, want 1", c.wbits, c.abits, rep.Agreement)
		}
		for _, l := range rep.Layers {
			if l.MaxSteps != 0 {
				t.Errorf("W%dA%d: layer %s differs by up to %d steps (%.4f%% of values)", c.wbits, c.abits, l.Name, l.MaxSteps, 100*l.Differing)
			}
		}
	}
}
