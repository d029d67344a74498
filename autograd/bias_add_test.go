package autograd_test

import (
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestBiasAdd(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape []int // (N, C, ...)
	}{
		{"2-D", []int{3, 4}},
		{"4-D", []int{2, 3, 2, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := newRNG(1)
			n, c := tc.shape[0], tc.shape[1]
			size := 1
			for _, d := range tc.shape {
				size *= d
			}
			inner := size / (n * c)
			xd, bd := normals(rng, size, 1), normals(rng, c, 1)

			g := gorgonia.NewGraph()
			x, b := input(g, "x", xd, tc.shape...), input(g, "b", bd, c)
			y := must(t)(autograd.BiasAdd(x, b))
			if !y.Shape().Eq(x.Shape()) {
				t.Fatalf("output shape %v, want %v", y.Shape(), x.Shape())
			}
			p := newProbe(t, rng, []*gorgonia.Node{y}, x, b)
			p.run()

			// Forward: y[n,c,...] = x[n,c,...] + b[c], the same float32 addition.
			yd := values(y)
			for i := range xd {
				ch := i / inner % c
				if want := xd[i] + bd[ch]; yd[i] != want {
					t.Fatalf("y[%d] = %g, want x + b[%d] = %g", i, yd[i], ch, want)
				}
			}
			// Backward: dx = dy exactly; db[c] = sum of dy over n and the spatial axes.
			if i, ok := bitsEqual(p.grad(0), p.rs[0]); !ok {
				t.Errorf("dx[%d] = %g, want dy = %g", i, p.grad(0)[i], p.rs[0][i])
			}
			db := make([]float64, c)
			for i, r := range p.rs[0] {
				db[i/inner%c] += float64(r)
			}
			if err := gradErr(p.grad(1), db, 1e-5); err != nil {
				t.Errorf("db against the sum of dy: %v", err)
			}
			checkGrad(t, p, 0, xd, 1e-2, 1e-3)
			checkGrad(t, p, 1, bd, 1e-2, 1e-3)
		})
	}
}

func TestBiasAddShapeMismatch(t *testing.T) {
	g := gorgonia.NewGraph()
	x := input(g, "x", make([]float32, 6), 2, 3)
	for _, bshape := range [][]int{{2}, {4}, {3, 1}} {
		b := input(g, "b", make([]float32, tensor.Shape(bshape).TotalSize()), bshape...)
		if _, err := autograd.BiasAdd(x, b); err == nil {
			t.Errorf("BiasAdd(x %v, b %v) returned no error", x.Shape(), bshape)
		}
	}
	if _, err := autograd.BiasAdd(input(g, "v", make([]float32, 3), 3), input(g, "b3", make([]float32, 3), 3)); err == nil {
		t.Error("BiasAdd of a 1-D x returned no error")
	}
}
