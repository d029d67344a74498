package export

import (
	"bytes"
	"testing"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/train"
)

// quickQAT trains a small QAT model on a subset and returns its checkpoint.
func quickQAT(t *testing.T, arch string, wbits, abits int) *train.Checkpoint {
	t.Helper()
	cfg := train.DefaultConfig()
	cfg.Arch, cfg.Quant.WBits, cfg.Quant.ABits = arch, wbits, abits
	cfg.Epochs, cfg.TrainLimit, cfg.TestLimit = 1, 1280, 200
	cfg.Out = t.TempDir()
	if _, err := train.Run(cfg, train.Options{}); err != nil {
		t.Fatal(err)
	}
	ck, err := train.LoadCheckpoint(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// Simulation equals deployment: the integer model predicts what the fake-quant graph
// predicts, and every activation is within one quantization step.
func TestSimulationEqualsDeployment(t *testing.T) {
	_, test, err := data.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		arch         string
		wbits, abits int
	}{{"lenet5", 8, 8}, {"lenet5", 4, 4}, {"lenet300-100", 8, 8}} {
		ck := quickQAT(t, c.arch, c.wbits, c.abits)
		m, err := ck.Model()
		if err != nil {
			t.Fatal(err)
		}
		qm, err := Convert(m)
		if err != nil {
			t.Fatal(err)
		}
		// Through the file format, as a user would run it.
		var buf bytes.Buffer
		if err := qnet.Encode(&buf, qm); err != nil {
			t.Fatal(err)
		}
		qm2, err := qnet.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Compare(m, qm2, test, 500, 100)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s W%dA%d: sim %.3f int %.3f agreement %.4f layers %+v", c.arch, c.wbits, c.abits, rep.SimAccuracy, rep.IntAccuracy, rep.Agreement, rep.Layers)
		if rep.SimAccuracy < 0.5 {
			t.Errorf("%s: simulated accuracy %.3f: the quick model did not learn", c.arch, rep.SimAccuracy)
		}
		if rep.Agreement != 1 {
			t.Errorf("%s W%dA%d: argmax agreement %.4f, want 1 (the simulation uses the integer requantization)", c.arch, c.wbits, c.abits, rep.Agreement)
		}
		for _, l := range rep.Layers {
			if l.MaxSteps > 1 {
				t.Errorf("%s W%dA%d: layer %s differs by %d steps", c.arch, c.wbits, c.abits, l.Name, l.MaxSteps)
			}
		}
	}
}
