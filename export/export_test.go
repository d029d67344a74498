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
	cfg.Quant.Delay = 5 // train through the quantized forward, not only evaluate it
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
		rep, err := Compare(m, qm2, test, 550, 100, nil) // a partial last batch too
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
		if rep.Images != 550 {
			t.Errorf("compared %d images, want 550", rep.Images)
		}
		// Bit-exact: the simulation requantizes with the engine's arithmetic.
		for _, l := range rep.Layers {
			if l.MaxSteps != 0 {
				t.Errorf("%s W%dA%d: layer %s differs by up to %d steps (%.4f%% of values)", c.arch, c.wbits, c.abits, l.Name, l.MaxSteps, 100*l.Differing)
			}
		}
	}
}

// LeNet-5 with batch norm: float training with batch statistics, then QAT with BN folded into
// the quantized weights; the integer model matches the folded simulation exactly, and folding
// itself preserves the float model's function.
func TestBatchNormFolding(t *testing.T) {
	_, test, err := data.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.DefaultConfig()
	cfg.Arch, cfg.Mode, cfg.Epochs, cfg.TrainLimit, cfg.TestLimit = "lenet5-bn", "float", 1, 1280, 200
	cfg.Quant.Delay = 5
	cfg.Out = t.TempDir()
	if _, err := train.Run(cfg, train.Options{}); err != nil {
		t.Fatal(err)
	}
	fck, err := train.LoadCheckpoint(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	if len(fck.BN) != 2 || fck.BN[0].Mean[0] == 0 {
		t.Fatalf("running statistics were not learned or saved: %+v", fck.BN)
	}
	// Folding (in float mode) computes the same function as batch norm with running stats.
	plain, err := fck.Model()
	if err != nil {
		t.Fatal(err)
	}
	folded, err := fck.Model()
	if err != nil {
		t.Fatal(err)
	}
	folded.FoldBN = true
	pg, err := plain.NewGraph(50, false)
	if err != nil {
		t.Fatal(err)
	}
	fg, err := folded.NewGraph(50, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range test.Images[:50*784] {
		pg.Input()[i] = float32(p) / 255
		fg.Input()[i] = float32(p) / 255
	}
	if _, err := pg.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := fg.Run(); err != nil {
		t.Fatal(err)
	}
	for i, v := range pg.LogitsData() {
		if d := v - fg.LogitsData()[i]; d > 1e-3 || d < -1e-3 {
			t.Fatalf("logit %d: batch norm %v, folded %v", i, v, fg.LogitsData()[i])
		}
	}

	q := cfg
	q.Mode, q.From, q.Out = "qat", cfg.Out, t.TempDir()
	if _, err := train.Run(q, train.Options{}); err != nil {
		t.Fatal(err)
	}
	qck, err := train.LoadCheckpoint(q.Out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range qck.BN {
		for c, v := range qck.BN[i].Var {
			if v != fck.BN[i].Var[c] {
				t.Fatalf("QAT changed the frozen running variance of stage %d channel %d", i, c)
			}
		}
	}
	m, err := qck.Model()
	if err != nil {
		t.Fatal(err)
	}
	qm, err := Convert(m)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Compare(m, qm, test, 300, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lenet5-bn W8A8: sim %.3f int %.3f agreement %.4f", rep.SimAccuracy, rep.IntAccuracy, rep.Agreement)
	if rep.Agreement != 1 || rep.SimAccuracy < 0.5 {
		t.Errorf("agreement %.4f, sim accuracy %.3f", rep.Agreement, rep.SimAccuracy)
	}
	for _, l := range rep.Layers {
		if l.MaxSteps != 0 {
			t.Errorf("layer %s differs by up to %d steps", l.Name, l.MaxSteps)
		}
	}
}
