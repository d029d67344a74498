package autograd

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

func denseF32(data []float32, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

func TestConv2DGradWPatchCache(t *testing.T) {
	// The dW op uses the patches the forward kept only when they were made from the x it is
	// given; otherwise it recomputes them. Both paths give the same bits.
	g, err := newConvGeom(tensor.Shape{3, 2, 7, 6}, tensor.Shape{4, 2, 3, 3}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(40, 1))
	x1, x2, w := randMat(rng, 1, 3*2*7*6), randMat(rng, 1, 3*2*7*6), randMat(rng, 1, 4*2*3*3)
	dy := randMat(rng, 1, g.N*g.O*g.OHW)
	fwd := &conv2DOp{opBase: newOpBase("Conv2D", 2), g: g, inputGrad: true, keepCols: true}
	gw := &conv2DGradWOp{opBase: newOpBase("Conv2DGradW", 3), fwd: fwd}
	run := func(x []float32) []float32 {
		t.Helper()
		dw, err := gw.Do(denseF32(x, 3, 2, 7, 6), denseF32(dy, g.N, g.O, g.OH, g.OW), nil)
		if err != nil {
			t.Fatal(err)
		}
		return dw.(tensor.Tensor).Data().([]float32)
	}
	if _, err := fwd.Do(denseF32(x1, 3, 2, 7, 6), denseF32(w, 4, 2, 3, 3)); err != nil {
		t.Fatal(err)
	}
	if fwd.colsOf != &x1[0] {
		t.Fatal("forward did not record its patches")
	}
	cached := run(x1)
	fwd.colsOf = nil
	recomputed := run(x1)
	for i := range cached {
		if math.Float32bits(cached[i]) != math.Float32bits(recomputed[i]) {
			t.Fatalf("dw[%d]: cached patches %g, recomputed %g", i, cached[i], recomputed[i])
		}
	}
	// Patches of x1 must not be used for x2.
	fwd.colsOf = &x1[0]
	other := run(x2)
	if _, err := fwd.Do(denseF32(x2, 3, 2, 7, 6), denseF32(w, 4, 2, 3, 3)); err != nil {
		t.Fatal(err)
	}
	want := run(x2)
	for i := range want {
		if math.Float32bits(other[i]) != math.Float32bits(want[i]) {
			t.Fatalf("dw[%d] for another x: %g, want %g", i, other[i], want[i])
		}
	}
}

func randMat(rng *rand.Rand, rows, ld int) []float32 {
	m := make([]float32, rows*ld)
	for i := range m {
		m[i] = float32(rng.NormFloat64())
	}
	return m
}
