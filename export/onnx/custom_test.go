package onnx_test

import (
	"testing"

	"github.com/qatgo/qatgo/export/onnx"
	"github.com/qatgo/qatgo/internal/synth"
	"github.com/qatgo/qatgo/interop/ort"
)

// TestORTCustomModel runs a custom network for 3 x 16 x 16 images of 4 classes (strided,
// padded convs, ReLU6, a max pool; built from a spec, trained with W4A4 QAT by train.Fit on
// seeded synthetic data) in ONNX Runtime, in both forms, on 200 of its own images: every
// prediction equal to the engine's, every code within one step (and the share that differs
// logged).
func TestORTCustomModel(t *testing.T) {
	ortDir(t)
	qm, testSet, err := synth.TrainedRGB16(13)
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
