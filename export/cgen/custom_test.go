package cgen_test

import (
	"testing"

	"github.com/qatgo/qatgo/export/cgen"
	"github.com/qatgo/qatgo/internal/synth"
)

// TestTrainedCustomModel compiles a custom network for 3 x 16 x 16 images of 4 classes
// (strided, padded convs, ReLU6, a max pool; built from a spec, trained with W4A4 QAT by
// train.Fit on seeded synthetic data) and runs it on 200 images: every stage's codes, the
// logits and the class equal the engine's.
func TestTrainedCustomModel(t *testing.T) {
	c := compiler(t)
	qm, testSet, err := synth.TrainedRGB16(11)
	if err != nil {
		t.Fatal(err)
	}
	check(t, c, qm, cgen.Options{}, testSet.Images)
}
