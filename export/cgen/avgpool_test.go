package cgen_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/cgen"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/internal/synth"
)

// withAvgPools turns the max pools of m into average pools of the same geometry, all of them
// (all) or each with probability 1/2, and with probability 1/2 adds one on the model input;
// it returns the number of average pools.
func withAvgPools(rng *rand.Rand, m *qnet.Model, all bool) int {
	n := 0
	for i, l := range m.Layers {
		if p, ok := l.(*qnet.MaxPool2D); ok && (all || rng.IntN(2) == 0) {
			m.Layers[i] = &qnet.AvgPool2D{K: p.K, Stride: p.Stride}
			n++
		}
	}
	if rng.IntN(2) == 0 { // a 2x2 stride-1 pool on a one pixel larger input keeps the shapes
		m.Layers = append([]qnet.Layer{&qnet.AvgPool2D{K: 2, Stride: 1}}, m.Layers...)
		m.InH, m.InW = m.InH+1, m.InW+1
		n++
	}
	return n
}

// TestAvgPoolRandomModels compiles random models whose pools are average pools (2..8 bits,
// both rounding rules, pools after convolutions and on the input, strides below, equal to and
// above the window) and checks every stage's codes against the engine's.
func TestAvgPoolRandomModels(t *testing.T) {
	c := compiler(t)
	rng := rand.New(rand.NewPCG(18, 7))
	pools := 0
	for i := range 16 {
		r := fakequant.Rounding(i % 2)
		bits := [][]int{{8}, {4}, {2, 3, 4, 5, 6, 7, 8}}[i/2%3]
		m := randomModel(rng, bits, r)
		m.Name = fmt.Sprintf("avg%d", i)
		pools += withAvgPools(rng, m, i%4 == 0)
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		check(t, c, m, cgen.Options{Layout: allLayouts[i%len(allLayouts)]}, images(rng, m, 30))
	}
	if pools < 12 {
		t.Errorf("%d average pools in the random models, want more", pools)
	}
	t.Logf("%d average pools", pools)
}

// TestAvgPoolTrainedModel compiles synth.AvgRGB16 trained with W4A4 QAT (average pools on the
// pixels and after each conv) and runs it on its 200 held-out images, as exported and with the
// other rounding rule: every stage's codes equal the engine's; also under the sanitizers.
func TestAvgPoolTrainedModel(t *testing.T) {
	c := compiler(t)
	m, testSet, err := synth.TrainSpec(synth.AvgRGB16(), 11, fakequant.RoundSingle)
	if err != nil {
		t.Fatal(err)
	}
	qm, err := export.Convert(m)
	if err != nil {
		t.Fatal(err)
	}
	check(t, c, qm, cgen.Options{}, testSet.Images)
	double := *qm
	double.Rounding = fakequant.RoundDouble
	check(t, c, &double, cgen.Options{}, testSet.Images)
	check(t, sanitized(c), qm, cgen.Options{}, testSet.Images[:10*qm.InC*qm.InH*qm.InW])
}

// TestGlobalAvgPoolModel compiles synth.GAPRGB16, whose last layer is a global average pool
// (the output codes are the pool's), trained with W4A4 QAT: every stage's codes and the class
// equal the engine's on its 200 held-out images.
func TestGlobalAvgPoolModel(t *testing.T) {
	c := compiler(t)
	m, testSet, err := synth.TrainSpec(synth.GAPRGB16(), 6, fakequant.RoundSingle, synth.GAPRate)
	if err != nil {
		t.Fatal(err)
	}
	qm, err := export.Convert(m)
	if err != nil {
		t.Fatal(err)
	}
	if qm.Layers[len(qm.Layers)-1].Kind() != qnet.KindAvgPool2D {
		t.Fatalf("last layer %v", qm.Layers[len(qm.Layers)-1].Kind())
	}
	check(t, c, qm, cgen.Options{}, testSet.Images)
}
