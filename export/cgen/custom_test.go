package cgen_test

import (
	"context"
	"testing"

	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/cgen"
	"github.com/qatgo/qatgo/internal/synth"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// TestTrainedCustomModel compiles a custom network for 3 x 16 x 16 images of 4 classes
// (strided, padded convs, ReLU6, a max pool; built from a spec, trained with W4A4 QAT by
// train.Fit on seeded synthetic data) and runs it on 200 images: every stage's codes, the
// logits and the class equal the engine's.
func TestTrainedCustomModel(t *testing.T) {
	c := compiler(t)
	all, err := synth.Squares(600, 11)
	if err != nil {
		t.Fatal(err)
	}
	trainSet, testSet, err := all.Split(200)
	if err != nil {
		t.Fatal(err)
	}
	spec := &nn.Spec{Name: "rgb16", Input: [3]int{3, 16, 16}, Layers: []nn.LayerSpec{
		nn.Conv(8, 3, 2, 1), nn.ReLU6(), nn.Conv(16, 3, 1, 1), nn.ReLU(), nn.MaxPool(2, 2), nn.Flat(), nn.Dense(4),
	}}
	q := nn.DefaultConfig()
	q.WBits, q.ABits = 4, 4
	m, err := nn.Build(spec, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.DefaultConfig()
	cfg.Mode, cfg.Epochs, cfg.BatchSize, cfg.Out = "qat", 2, 32, ""
	cfg.Quant.Delay = 20
	if _, _, err := train.Fit(context.Background(), m, trainSet, testSet, cfg, train.Options{}); err != nil {
		t.Fatal(err)
	}
	qm, err := export.Convert(m)
	if err != nil {
		t.Fatal(err)
	}
	check(t, c, qm, cgen.Options{}, testSet.Images)
}
