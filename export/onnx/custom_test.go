package onnx_test

import (
	"context"
	"testing"

	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/onnx"
	"github.com/qatgo/qatgo/internal/synth"
	"github.com/qatgo/qatgo/interop/ort"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// TestORTCustomModel runs a custom network for 3 x 16 x 16 images of 4 classes (strided,
// padded convs, ReLU6, a max pool; built from a spec, trained with W4A4 QAT by train.Fit on
// seeded synthetic data) in ONNX Runtime, in both forms, on 200 of its own images: every
// prediction equal to the engine's, every code within one step (and the share that differs
// logged).
func TestORTCustomModel(t *testing.T) {
	ortDir(t)
	all, err := synth.Squares(600, 13)
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
	for _, f := range []onnx.Form{onnx.QOperator, onnx.QDQ} {
		c, r, err := ort.Check(qm, testSet, ort.CheckOptions{SetImages: true, ONNX: onnx.Options{Form: f}})
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		t.Logf("%v (ORT %s): %d images, agreement %.4f, engine %.4f, ORT %.4f, layers %+v", f, r.Version, c.Images, c.Agreement, c.EngineAccuracy, c.ORTAccuracy, c.Layers)
		if c.Images != testSet.N || c.Agreement != 1 {
			t.Errorf("%v: agreement %.4f on %d images, want 1 on %d", f, c.Agreement, c.Images, testSet.N)
		}
		if len(c.Layers) < 3 {
			t.Fatalf("%v: layers compared: %+v", f, c.Layers)
		}
		for _, l := range c.Layers {
			if l.MaxDiff > 1 {
				t.Errorf("%v: %s codes differ by up to %d", f, l.Name, l.MaxDiff)
			}
		}
	}
}
