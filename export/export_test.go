package export

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// quickQAT trains a small QAT model on a subset and returns its checkpoint.
func quickQAT(t *testing.T, arch string, wbits, abits int, rounding fakequant.Rounding) *train.Checkpoint {
	t.Helper()
	cfg := train.DefaultConfig()
	cfg.Arch, cfg.Quant.WBits, cfg.Quant.ABits, cfg.Quant.Rounding = arch, wbits, abits, rounding
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
// predicts, and every activation is equal, under both rounding rules. The same model run by
// the engine under the other rule differs, so the comparison can tell the rules apart. The
// exported weight scales are the trained weight quantizer's.
func TestSimulationEqualsDeployment(t *testing.T) {
	_, test, err := data.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		arch         string
		wbits, abits int
		rounding     fakequant.Rounding
	}{{"lenet5", 8, 8, fakequant.RoundSingle}, {"lenet5", 8, 8, fakequant.RoundDouble}, {"lenet5", 4, 4, fakequant.RoundSingle},
		{"lenet5", 4, 4, fakequant.RoundDouble}, {"lenet300-100", 8, 8, fakequant.RoundSingle}} {
		name := fmt.Sprintf("%s W%dA%d %v", c.arch, c.wbits, c.abits, c.rounding)
		ck := quickQAT(t, c.arch, c.wbits, c.abits, c.rounding)
		if ck.Config.Quant.Rounding != c.rounding {
			t.Fatalf("%s: the checkpoint records rounding %v", name, ck.Config.Quant.Rounding)
		}
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
		if qm2.Rounding != c.rounding {
			t.Errorf("%s: the integer model rounds %v", name, qm2.Rounding)
		}
		rep, err := Compare(m, qm2, test, 550, 100, nil) // a partial last batch too
		if err != nil {
			t.Fatal(err)
		}
		checkWeightScales(t, name, m, qm2)
		t.Logf("%s: sim %.3f int %.3f agreement %.4f layers %+v", name, rep.SimAccuracy, rep.IntAccuracy, rep.Agreement, rep.Layers)
		if rep.SimAccuracy < 0.5 {
			t.Errorf("%s: simulated accuracy %.3f: the quick model did not learn", name, rep.SimAccuracy)
		}
		if rep.Agreement != 1 {
			t.Errorf("%s: argmax agreement %.4f, want 1 (the simulation uses the integer requantization)", name, rep.Agreement)
		}
		if rep.Images != 550 {
			t.Errorf("compared %d images, want 550", rep.Images)
		}
		// Bit-exact: the simulation requantizes with the engine's arithmetic.
		for _, l := range rep.Layers {
			if l.MaxSteps != 0 || l.Differing != 0 {
				t.Errorf("%s: layer %s differs by up to %d steps (%.4f%% of values)", name, l.Name, l.MaxSteps, 100*l.Differing)
			}
		}
		// The engine under the other rule: some activation differs.
		other := *qm2
		other.Rounding = fakequant.RoundSingle + fakequant.RoundDouble - c.rounding
		rep, err = Compare(m, &other, test, 200, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		differ := 0.0
		for _, l := range rep.Layers {
			differ = max(differ, l.Differing)
		}
		t.Logf("%s against the engine under %v: up to %.4f%% of a layer's activations differ", name, other.Rounding, 100*differ)
		if differ == 0 {
			t.Errorf("%s: the engine under %v gives the same activations: the comparison cannot tell the rules apart", name, other.Rounding)
		}
	}
}

// checkWeightScales checks that qm's Meta.WeightScaleBits are the float32 weight scales the
// simulation's weight quantizers applied in their last forward pass, one per output channel,
// none for max pool.
func checkWeightScales(t *testing.T, name string, m *nn.Model, qm *qnet.Model) {
	t.Helper()
	var want [][]uint32
	for _, l := range m.Layers {
		switch l.(type) {
		case *nn.Flatten:
			continue
		case *nn.MaxPool2D:
			want = append(want, nil)
			continue
		}
		ps := l.(nn.Quantized).Quant().W.Last()
		if ps == nil {
			t.Fatalf("%s: layer %s: the simulation did not quantize its weights", name, l.Name())
		}
		var s []uint32
		for _, p := range ps {
			s = append(s, math.Float32bits(float32(p.Scale)))
		}
		want = append(want, s)
	}
	if !reflect.DeepEqual(qm.Meta.WeightScaleBits, want) {
		t.Errorf("%s: weight scales %v, want %v", name, qm.Meta.WeightScaleBits, want)
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
