package autograd_test

import (
	"math"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// randomAssign returns n assignments in [0, k), each -1 (pruned) with probability p.
func randomAssign(seed uint64, n, k int, p float64) []int32 {
	rng := newRNG(seed)
	a := make([]int32, n)
	for i := range a {
		if rng.Float64() < p {
			a[i] = -1
		} else {
			a[i] = int32(rng.IntN(k))
		}
	}
	return a
}

// gatherRef is the reference of Gather in float64: y_i = c[a_i] or 0, and
// dc_j = sum_{i: a_i = j} dy_i.
func gatherRef(c []float32, assign []int32, dy []float32) (y, dc []float64) {
	y = make([]float64, len(assign))
	dc = make([]float64, len(c))
	for i, a := range assign {
		if a == -1 {
			continue
		}
		y[i] = float64(c[a])
		dc[a] += float64(dy[i])
	}
	return y, dc
}

// round32 rounds float64 values to float32.
func round32(v []float64) []float32 {
	r := make([]float32, len(v))
	for i, x := range v {
		r[i] = float32(x)
	}
	return r
}

func TestGather(t *testing.T) {
	for _, tc := range []struct {
		name  string
		k     int
		shape []int
		p     float64
	}{
		{"conv", 8, []int{4, 3, 3, 3}, 0.3},
		{"fc", 16, []int{10, 50}, 0.5},
		{"vector", 3, []int{7}, 0.2},
		{"one centroid", 1, []int{5, 4}, 0.4},
		{"all pruned", 4, []int{3, 2}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := newRNG(51)
			cd := normals(rng, tc.k, 0.1)
			n := tensor.Shape(tc.shape).TotalSize()
			assign := randomAssign(52, n, tc.k, tc.p)
			g := gorgonia.NewGraph()
			c := input(g, "c", cd, tc.k)
			y := must(t)(autograd.Gather(c, assign, tc.shape...))
			if !y.Shape().Eq(tensor.Shape(tc.shape)) {
				t.Fatalf("shape %v, want %v", y.Shape(), tc.shape)
			}
			p := newProbe(t, rng, []*gorgonia.Node{y}, c)
			p.run()

			// Tolerance 0: the forward is a copy, the backward one float64 sum per centroid.
			wantY, wantDC := gatherRef(cd, assign, p.rs[0])
			if i, ok := bitsEqual(values(y), round32(wantY)); !ok {
				t.Errorf("y[%d] = %g, want %g (assign %d)", i, values(y)[i], wantY[i], assign[i])
			}
			if i, ok := bitsEqual(p.grad(0), round32(wantDC)); !ok {
				t.Errorf("dc[%d] = %g, want %g", i, p.grad(0)[i], wantDC[i])
			}
			for i, a := range assign {
				if a == -1 && math.Float32bits(values(y)[i]) != 0 {
					t.Errorf("pruned y[%d] = %g, want +0", i, values(y)[i])
				}
			}
			checkGrad(t, p, 0, cd, 1e-2, 1e-3)

			// Deterministic: a second run gives the same bits.
			first := p.grad(0)
			p.run()
			if i, ok := bitsEqual(p.grad(0), first); !ok {
				t.Errorf("rerun: dc[%d] = %g, first run %g", i, p.grad(0)[i], first[i])
			}
		})
	}
}

// distinctNonzero counts the distinct nonzero values of v.
func distinctNonzero(v []float32) int {
	seen := map[float32]bool{}
	for _, x := range v {
		if x != 0 {
			seen[x] = true
		}
	}
	return len(seen)
}

func TestGatherTrainingKeepsCodebook(t *testing.T) {
	// One gradient-descent step on the centroids of a shared weight tensor that fits a dense
	// target: the loss falls, the weights still take at most k distinct nonzero values, and the
	// pruned ones are still exactly zero.
	const k, lr = 4, 0.05
	rng := newRNG(53)
	shape := []int{6, 8}
	n := 6 * 8
	cd := []float32{-0.3, -0.1, 0.1, 0.3}
	assign := randomAssign(54, n, k, 0.25)
	g := gorgonia.NewGraph()
	c := input(g, "c", cd, k)
	w := must(t)(autograd.Gather(c, assign, shape...))
	// loss = |w - t|^2 - |t|^2 = sum(w ⊙ w + w ⊙ (-2t)), written with products only: the tape
	// machine may overwrite the value of an input whose backward does not need it (Sub(w, t)
	// would leave w - t in w's value), and the test reads w after the run.
	minus2t := normals(rng, n, 0.3)
	for i := range minus2t {
		minus2t[i] *= -2
	}
	m2t := input(g, "minus2t", minus2t, shape...)
	loss := must(t)(gorgonia.Sum(must(t)(gorgonia.Add(
		must(t)(gorgonia.HadamardProd(w, w)), must(t)(gorgonia.HadamardProd(w, m2t))))))
	grads, err := gorgonia.Grad(loss, c)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(c))
	defer vm.Close()
	solver := gorgonia.NewVanillaSolver(gorgonia.WithLearnRate(lr))

	var losses []float32
	for step := range 3 {
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		losses = append(losses, loss.Value().Data().(float32))
		if d := distinctNonzero(values(w)); d > k {
			t.Errorf("step %d: %d distinct nonzero weights, want <= %d", step, d, k)
		}
		for i, a := range assign {
			switch {
			case a == -1 && math.Float32bits(values(w)[i]) != 0:
				t.Errorf("step %d: pruned w[%d] = %g", step, i, values(w)[i])
			case a >= 0 && values(w)[i] != cd[a]:
				t.Errorf("step %d: w[%d] = %g, want c[%d] = %g", step, i, values(w)[i], a, cd[a])
			}
		}
		before := append([]float32(nil), cd...)
		dc := append([]float32(nil), values(grads[0])...)
		if err := solver.Step(gorgonia.NodesToValueGrads(gorgonia.Nodes{c})); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
		after := c.Value().Data().([]float32)
		for j := range after {
			if want := before[j] - lr*dc[j]; math.Abs(float64(after[j]-want)) > 1e-6 {
				t.Errorf("step %d: c[%d] = %g after the step, want %g - %g*%g = %g", step, j, after[j], before[j], lr, dc[j], want)
			}
		}
		cd = after
	}
	for i := 1; i < len(losses); i++ {
		if !(losses[i] < losses[i-1]) {
			t.Errorf("loss went %g -> %g at step %d", losses[i-1], losses[i], i)
		}
	}
}

func TestGatherErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	c := input(g, "c", []float32{1, 2, 3}, 3)
	m := input(g, "m", []float32{1, 2, 3, 4}, 2, 2)
	c64 := gorgonia.NewVector(g, tensor.Float64, gorgonia.WithShape(3), gorgonia.WithName("c64"))
	for _, tc := range []struct {
		name   string
		c      *gorgonia.Node
		assign []int32
		shape  []int
		want   string
	}{
		{"too large", c, []int32{0, 1, 3, 2}, []int{2, 2}, "assign[2] = 3"},
		{"below -1", c, []int32{0, -2, 1, 2}, []int{4}, "assign[1] = -2"},
		{"short", c, []int32{0, 1, 2}, []int{2, 2}, "3 assignments"},
		{"long", c, []int32{0, 1, 2, 0, 1}, []int{2, 2}, "5 assignments"},
		{"no shape", c, []int32{0}, nil, "no output shape"},
		{"zero dim", c, nil, []int{0, 3}, "dimension < 1"},
		{"matrix centroids", m, []int32{0, 1}, []int{2}, "want a vector"},
		{"float64", c64, []int32{0, 1}, []int{2}, "float32"},
	} {
		if _, err := autograd.Gather(tc.c, tc.assign, tc.shape...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestGatherCopiesAssign(t *testing.T) {
	// The op copies the assignments: writing the caller's slice later changes nothing (unlike
	// Mask, whose point is the shared slice).
	g := gorgonia.NewGraph()
	c := input(g, "c", []float32{1, 2, 3}, 3)
	assign := []int32{2, -1, 0, 1}
	y := must(t)(autograd.Gather(c, assign, 2, 2))
	assign[0], assign[1] = 7, 1 // 7 would be out of range
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if i, ok := bitsEqual(values(y), []float32{3, 0, 1, 2}); !ok {
		t.Errorf("y[%d] = %g", i, values(y)[i])
	}
}

// BenchmarkGather compares the forward and backward pass of Gather with gorgonia's ByIndices on
// a 256x1152 weight tensor (a 3x3 convolution, 128 -> 256 channels) shared through 16 centroids.
// ByIndices cannot express pruned weights, so both get assignments in [0, 16), and it gives a
// vector of 256*1152 values (the reshape is left out in its favour).
func BenchmarkGather(b *testing.B) {
	const k = 16
	shape := []int{256, 1152}
	n := 256 * 1152
	assign := randomAssign(55, n, k, 0)
	cd := normals(newRNG(56), k, 0.1)
	r := normals(newRNG(57), n, 1)

	run := func(b *testing.B, build func(g *gorgonia.ExprGraph, c *gorgonia.Node) *gorgonia.Node) {
		g := gorgonia.NewGraph()
		c := input(g, "c", cd, k)
		y := build(g, c)
		rn := input(g, "r", r, y.Shape()...)
		loss := must(b)(gorgonia.Sum(must(b)(gorgonia.HadamardProd(y, rn))))
		if _, err := gorgonia.Grad(loss, c); err != nil {
			b.Fatal(err)
		}
		vm := gorgonia.NewTapeMachine(g)
		defer vm.Close()
		b.ResetTimer()
		for b.Loop() {
			if err := vm.RunAll(); err != nil {
				b.Fatal(err)
			}
			vm.Reset()
		}
	}
	b.Run("qatgo", func(b *testing.B) {
		run(b, func(g *gorgonia.ExprGraph, c *gorgonia.Node) *gorgonia.Node {
			return must(b)(autograd.Gather(c, assign, shape...))
		})
	})
	b.Run("ByIndices", func(b *testing.B) {
		run(b, func(g *gorgonia.ExprGraph, c *gorgonia.Node) *gorgonia.Node {
			idx := make([]int, n)
			for i, a := range assign {
				idx[i] = int(a)
			}
			in := gorgonia.NewTensor(g, tensor.Int, 1, gorgonia.WithShape(n), gorgonia.WithName("idx"),
				gorgonia.WithValue(tensor.New(tensor.WithShape(n), tensor.WithBacking(idx))))
			return must(b)(gorgonia.ByIndices(c, in, 0))
		})
	})
}
