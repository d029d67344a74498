package autograd_test

import (
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
)

// MNIST's normalization: x = (p/255 - mean) / std.
const foldMean, foldStd = 0.1307, 0.3081

var foldShape = []int{3, 2, 2, 2} // OIHW

func TestNormFoldWeights(t *testing.T) {
	rng := newRNG(5)
	wd := normals(rng, 24, 0.5)
	g := gorgonia.NewGraph()
	w := input(g, "w", wd, foldShape...)
	wf := must(t)(autograd.FoldNormWeightsNode(w, foldStd))
	p := newProbe(t, rng, []*gorgonia.Node{wf}, w)
	p.run()
	for i, v := range values(wf) {
		if want := float64(wd[i]) / foldStd; math.Abs(float64(v)-want) > 1e-6*math.Abs(want) {
			t.Errorf("wf[%d] = %g, want w/std = %g", i, v, want)
		}
	}
	checkGrad(t, p, 0, wd, 1e-2, 1e-3)
}

func TestNormFoldBias(t *testing.T) {
	rng := newRNG(6)
	wd, bd := normals(rng, 24, 0.5), normals(rng, 3, 0.5)
	g := gorgonia.NewGraph()
	w, b := input(g, "w", wd, foldShape...), input(g, "b", bd, 3)
	bf := must(t)(autograd.FoldNormBiasNode(b, w, foldMean, foldStd))
	p := newProbe(t, rng, []*gorgonia.Node{bf}, b, w)
	p.run()
	for o, v := range values(bf) {
		var s float64
		for _, x := range wd[o*8 : (o+1)*8] {
			s += float64(x)
		}
		if want := float64(bd[o]) - foldMean/foldStd*s; math.Abs(float64(v)-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("bf[%d] = %g, want b - (mean/std) rowsum(w) = %g", o, v, want)
		}
	}
	checkGrad(t, p, 0, bd, 1e-2, 1e-3)
	checkGrad(t, p, 1, wd, 1e-2, 1e-3)
}

func TestNormFoldComposed(t *testing.T) {
	// As in nn.Conv2D: w feeds both FoldNormWeightsNode and FoldNormBiasNode, and its gradient is the
	// sum of both paths: dw[o,...] = dwf[o,...]/std - (mean/std) dbf[o].
	rng := newRNG(7)
	wd, bd := normals(rng, 24, 0.5), normals(rng, 3, 0.5)
	g := gorgonia.NewGraph()
	w, b := input(g, "w", wd, foldShape...), input(g, "b", bd, 3)
	bf := must(t)(autograd.FoldNormBiasNode(b, w, foldMean, foldStd))
	wf := must(t)(autograd.FoldNormWeightsNode(w, foldStd))
	p := newProbe(t, rng, []*gorgonia.Node{wf, bf}, w, b)
	p.run()

	want := make([]float64, len(wd))
	for i := range want {
		want[i] = float64(p.rs[0][i])/foldStd - foldMean/foldStd*float64(p.rs[1][i/8])
	}
	if err := gradErr(p.grad(0), want, 1e-6); err != nil {
		t.Errorf("dw against the formula: %v", err)
	}
	if i, ok := bitsEqual(p.grad(1), p.rs[1]); !ok {
		t.Errorf("db[%d] = %g, want dbf = %g", i, p.grad(1)[i], p.rs[1][i])
	}
	checkGrad(t, p, 0, wd, 1e-2, 1e-3)
	checkGrad(t, p, 1, bd, 1e-2, 1e-3)
}

func TestFoldNormIdentity(t *testing.T) {
	// The folding identity on one output position of a convolution without padding:
	// sum w x + b with x = (p - mean)/std equals sum (w/std) p + folded b.
	rng := newRNG(8)
	wd, bd := normals(rng, 24, 0.5), normals(rng, 3, 0.5)
	pix := uniforms(rng, 8, 0, 1) // one 2x2x2 input patch, p/255
	wf, bf := make([]float32, len(wd)), make([]float32, len(bd))
	autograd.FoldNormWeightsInto(wf, wd, foldStd)
	autograd.FoldNormBiasInto(bf, bd, wd, foldMean, foldStd)
	for o := range bd {
		want, got := float64(bd[o]), float64(bf[o])
		for i, v := range pix {
			want += float64(wd[o*8+i]) * (float64(v) - foldMean) / foldStd
			got += float64(wf[o*8+i]) * float64(v)
		}
		if math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
			t.Errorf("output channel %d: folded %g, normalized input %g", o, got, want)
		}
	}
}

func TestNormFoldBiasShapeMismatch(t *testing.T) {
	g := gorgonia.NewGraph()
	w := input(g, "w", make([]float32, 24), foldShape...)
	if _, err := autograd.FoldNormBiasNode(input(g, "b", make([]float32, 4), 4), w, foldMean, foldStd); err == nil {
		t.Error("bias of 4 accepted for 3 filters")
	}
}
