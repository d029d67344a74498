package autograd_test

import (
	"math"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// randomMask returns n mask values, each 0 with probability p, else 1.
func randomMask(rngSeed uint64, n int, p float64) []float32 {
	rng := newRNG(rngSeed)
	m := make([]float32, n)
	for i := range m {
		if rng.Float64() >= p {
			m[i] = 1
		}
	}
	return m
}

// wantMasked returns x where mask is 1 and +0 where it is 0: the forward pass on w, and the
// backward pass on dy.
func wantMasked(x, mask []float32) []float32 {
	y := make([]float32, len(x))
	for i, m := range mask {
		if m == 1 {
			y[i] = x[i]
		}
	}
	return y
}

func TestMask(t *testing.T) {
	rng := newRNG(41)
	wd := normals(rng, 3*4*5, 1)
	mask := randomMask(42, len(wd), 0.4)
	g := gorgonia.NewGraph()
	w := input(g, "w", wd, 3, 4, 5)
	y := must(t)(autograd.Mask(w, mask))
	if !y.Shape().Eq(w.Shape()) {
		t.Fatalf("shape %v, want %v", y.Shape(), w.Shape())
	}
	p := newProbe(t, rng, []*gorgonia.Node{y}, w)
	p.run()

	var kept, pruned int
	for _, m := range mask {
		if m == 1 {
			kept++
		} else {
			pruned++
		}
	}
	if kept == 0 || pruned == 0 {
		t.Fatalf("test mask keeps %d and prunes %d values", kept, pruned)
	}
	if i, ok := bitsEqual(values(y), wantMasked(wd, mask)); !ok {
		t.Errorf("y[%d] = %g, want %g (w %g, mask %g)", i, values(y)[i], wantMasked(wd, mask)[i], wd[i], mask[i])
	}
	// dL/dy = r exactly, so dw must be r ⊙ mask bit for bit.
	if i, ok := bitsEqual(p.grad(0), wantMasked(p.rs[0], mask)); !ok {
		t.Errorf("dw[%d] = %g, want %g (mask %g)", i, p.grad(0)[i], wantMasked(p.rs[0], mask)[i], mask[i])
	}
	checkGrad(t, p, 0, wd, 1e-2, 1e-3)
}

func TestMaskExactZeros(t *testing.T) {
	// Pruned weights are +0 in the forward pass and get +0 gradient even when the weight is
	// negative, huge, infinite or NaN: the op selects, it does not multiply (Inf * 0 = NaN).
	wd := []float32{-2, math.MaxFloat32, float32(math.Inf(1)), float32(math.NaN()), 3, float32(math.Inf(-1))}
	mask := []float32{0, 0, 0, 0, 1, 0}
	g := gorgonia.NewGraph()
	w := input(g, "w", wd, 2, 3)
	y := must(t)(autograd.Mask(w, mask))
	dy := input(g, "dy", []float32{float32(math.NaN()), 1e30, -5, float32(math.Inf(1)), 7, 1}, 2, 3)
	loss := must(t)(gorgonia.Sum(must(t)(gorgonia.HadamardProd(y, dy))))
	grads, err := gorgonia.Grad(loss, w)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if i, ok := bitsEqual(values(y), []float32{0, 0, 0, 0, 3, 0}); !ok {
		t.Errorf("y[%d] = %g, want exact +0 for a pruned weight", i, values(y)[i])
	}
	if i, ok := bitsEqual(values(grads[0]), []float32{0, 0, 0, 0, 7, 0}); !ok {
		t.Errorf("dw[%d] = %g, want exact +0 for a pruned weight", i, values(grads[0])[i])
	}
}

func TestMaskInPlaceUpdate(t *testing.T) {
	// The op reads the caller's slice: pruning more weights in place takes effect on the next
	// run of the same tape machine, forward and backward, without rebuilding the graph.
	rng := newRNG(43)
	wd := normals(rng, 4*6, 1)
	mask := randomMask(44, len(wd), 0.25)
	g := gorgonia.NewGraph()
	w := input(g, "w", wd, 4, 6)
	y := must(t)(autograd.Mask(w, mask))
	p := newProbe(t, rng, []*gorgonia.Node{y}, w)

	for round := range 3 {
		p.run()
		if i, ok := bitsEqual(values(y), wantMasked(wd, mask)); !ok {
			t.Fatalf("round %d: y[%d] = %g, want %g", round, i, values(y)[i], wantMasked(wd, mask)[i])
		}
		if i, ok := bitsEqual(p.grad(0), wantMasked(p.rs[0], mask)); !ok {
			t.Fatalf("round %d: dw[%d] = %g, want %g", round, i, p.grad(0)[i], wantMasked(p.rs[0], mask)[i])
		}
		// Prune four more weights in place: the kept ones of smallest index.
		n := 0
		for i, m := range mask {
			if m == 1 && n < 4 {
				mask[i] = 0
				n++
			}
		}
	}
	for i := range mask {
		mask[i] = 0
	}
	p.run()
	for i, v := range values(y) {
		if math.Float32bits(v) != 0 || math.Float32bits(p.grad(0)[i]) != 0 {
			t.Fatalf("all pruned: y[%d] = %g, dw[%d] = %g, want +0", i, v, i, p.grad(0)[i])
		}
	}

	// A value that is neither 0 nor 1 written in place is an error of the next run.
	mask[3] = 0.5
	err := p.vm.RunAll()
	p.vm.Reset()
	if err == nil || !strings.Contains(err.Error(), "mask[3]") {
		t.Errorf("run with mask[3] = 0.5: err = %v, want an error naming mask[3]", err)
	}
}

func TestMaskErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	w := input(g, "w", make([]float32, 6), 2, 3)
	w64 := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(2, 3), gorgonia.WithName("w64"))
	for _, tc := range []struct {
		name string
		w    *gorgonia.Node
		mask []float32
		want string
	}{
		{"short", w, []float32{1, 1, 1, 1, 1}, "5 mask values"},
		{"long", w, make([]float32, 7), "7 mask values"},
		{"half", w, []float32{1, 0, 0.5, 1, 1, 1}, "mask[2] = 0.5"},
		{"minus one", w, []float32{1, 0, 1, -1, 1, 1}, "mask[3] = -1"},
		{"nan", w, []float32{1, 0, 1, 1, float32(math.NaN()), 1}, "mask[4] = NaN"},
		{"float64", w64, make([]float32, 6), "float32"},
	} {
		if _, err := autograd.Mask(tc.w, tc.mask); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// -0 is a valid 0.
	if _, err := autograd.Mask(w, []float32{1, float32(math.Copysign(0, -1)), 1, 1, 1, 1}); err != nil {
		t.Errorf("mask with -0: %v", err)
	}
}

func TestMaskDistinctNodes(t *testing.T) {
	// Two masks of the same weights are two nodes (the hash carries a unique id), not one that
	// gorgonia merged.
	g := gorgonia.NewGraph()
	w := input(g, "w", []float32{1, 2, 3, 4}, 4)
	a := must(t)(autograd.Mask(w, []float32{1, 0, 1, 0}))
	b := must(t)(autograd.Mask(w, []float32{0, 1, 0, 1}))
	if a == b {
		t.Fatal("two masks of w were merged into one node")
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if i, ok := bitsEqual(values(a), []float32{1, 0, 3, 0}); !ok {
		t.Errorf("a[%d] = %g", i, values(a)[i])
	}
	if i, ok := bitsEqual(values(b), []float32{0, 2, 0, 4}); !ok {
		t.Errorf("b[%d] = %g", i, values(b)[i])
	}
}
