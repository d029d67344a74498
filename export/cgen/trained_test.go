package cgen_test

import (
	"math/rand/v2"
	"testing"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/cgen"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/train"
)

// quickLeNet5 trains LeNet-5 with QAT on 1280 images for one epoch (as
// export's tests do) and converts it to the integer model.
func quickLeNet5(t *testing.T, wbits, abits int) *qnet.Model {
	t.Helper()
	cfg := train.DefaultConfig()
	cfg.Arch, cfg.Quant.WBits, cfg.Quant.ABits = "lenet5", wbits, abits
	cfg.Epochs, cfg.TrainLimit, cfg.TestLimit = 1, 1280, 100
	cfg.Quant.Delay = 5
	cfg.Out = t.TempDir()
	if _, err := train.Run(cfg, train.Options{}); err != nil {
		t.Fatal(err)
	}
	ck, err := train.LoadCheckpoint(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	qm, err := export.Convert(m)
	if err != nil {
		t.Fatal(err)
	}
	return qm
}

// TestTrainedLeNet5 compiles trained LeNet-5s (W8A8 and W4A4, and the W8A8
// one pruned to Deep Compression's kept fractions with 16 values per layer)
// and runs them on the first 300 MNIST test images, read by the harness
// from an idx file: every stage's codes, the logits and the class equal the
// engine's.
func TestTrainedLeNet5(t *testing.T) {
	c := compiler(t)
	_, test, err := data.Load("")
	if err != nil {
		t.Fatal(err)
	}
	imgs := test.Subset(300).Images
	m8 := quickLeNet5(t, 8, 8)
	m4 := quickLeNet5(t, 4, 4)
	// Accuracy of the engine on these images: the model learned something.
	r := m8.NewRunner()
	right := 0
	for i := range 300 {
		if r.Predict(imgs[i*784:(i+1)*784]) == int(test.Labels[i]) {
			right++
		}
	}
	if right < 150 {
		t.Fatalf("the quick W8A8 model gets %d of 300 right: it did not learn", right)
	}
	for _, tc := range []struct {
		name string
		m    *qnet.Model
	}{{"w8a8", m8}, {"w4a4", m4}} {
		tc.m.Name = "lenet5_" + tc.name
		rep := check(t, c, tc.m, cgen.Options{}, imgs)
		t.Logf("%s: %v, const %d bytes, arena %d bytes", tc.name, layouts(rep), rep.ConstBytes, rep.ArenaBytes)
	}
	rng := rand.New(rand.NewPCG(2, 7))
	pruneShare(rng, m8, []float64{0.66, 0.12, 0.08, 0.19}, 16)
	m8.Name = "lenet5_pruned"
	if err := m8.Validate(); err != nil {
		t.Fatal(err)
	}
	rep := check(t, c, m8, cgen.Options{}, imgs)
	t.Logf("pruned + 16 values: %v, const %d bytes, arena %d bytes", layouts(rep), rep.ConstBytes, rep.ArenaBytes)
}
