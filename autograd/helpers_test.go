package autograd_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// newRNG returns the seeded generator of a test; each test picks its own seed.
func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// normals returns n values N(0, sd^2) rounded to float32.
func normals(rng *rand.Rand, n int, sd float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * sd)
	}
	return v
}

// uniforms returns n values uniform in [lo, hi) rounded to float32.
func uniforms(rng *rand.Rand, n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return v
}

// input adds a float32 tensor node of the given shape to g; its value shares data, so writing
// data changes the input of the next run.
func input(g *gorgonia.ExprGraph, name string, data []float32, shape ...int) *gorgonia.Node {
	if len(data) != tensor.Shape(shape).TotalSize() {
		panic(fmt.Sprintf("input %s: %d values for shape %v", name, len(data), shape))
	}
	t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
	return gorgonia.NewTensor(g, tensor.Float32, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithValue(t))
}

// must returns a function that fails t on a graph-construction error: must(t)(op(...)).
func must(t testing.TB) func(*gorgonia.Node, error) *gorgonia.Node {
	return func(n *gorgonia.Node, err error) *gorgonia.Node {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// probe is the scalar loss L = sum_i sum(outs[i] * rs[i]) over the outputs of the ops under
// test, with fixed random weights rs, compiled on a tape machine together with the gradients of
// L with respect to wrt. dL/douts[i] = rs[i] exactly, so the gradient an op passes back is the
// op's backward applied to rs[i].
type probe struct {
	t     testing.TB
	outs  []*gorgonia.Node
	rs    [][]float32
	grads gorgonia.Nodes // grads[j] = dL/dwrt[j]
	vm    gorgonia.VM
}

func newProbe(t testing.TB, rng *rand.Rand, outs []*gorgonia.Node, wrt ...*gorgonia.Node) *probe {
	t.Helper()
	g := outs[0].Graph()
	p := &probe{t: t, outs: outs}
	var loss *gorgonia.Node
	for i, out := range outs {
		r := normals(rng, out.Shape().TotalSize(), 1)
		p.rs = append(p.rs, r)
		rn := input(g, fmt.Sprintf("r%d", i), r, out.Shape()...)
		term := must(t)(gorgonia.Sum(must(t)(gorgonia.HadamardProd(out, rn))))
		if loss == nil {
			loss = term
		} else {
			loss = must(t)(gorgonia.Add(loss, term))
		}
	}
	var err error
	if p.grads, err = gorgonia.Grad(loss, wrt...); err != nil {
		t.Fatal(err)
	}
	p.vm = gorgonia.NewTapeMachine(g)
	t.Cleanup(func() { p.vm.Close() })
	return p
}

// run executes the graph once on the current inputs.
func (p *probe) run() {
	p.t.Helper()
	defer p.vm.Reset()
	if err := p.vm.RunAll(); err != nil {
		p.t.Fatal(err)
	}
}

// loss returns L of the last run, summed in float64 from the op outputs.
func (p *probe) loss() float64 {
	var s float64
	for i, out := range p.outs {
		for j, v := range values(out) {
			s += float64(v) * float64(p.rs[i][j])
		}
	}
	return s
}

// grad returns a copy of dL/dwrt[j] from the last run.
func (p *probe) grad(j int) []float32 { return append([]float32(nil), values(p.grads[j])...) }

// values returns the float32 data of n's current value.
func values(n *gorgonia.Node) []float32 { return n.Value().Data().([]float32) }

// centralDiff returns the central differences (f(x+h) - f(x-h)) / (2h) of f with respect to
// each element of data, which f reads. The divisor is the step actually taken after rounding
// x +- eps to float32. data is restored.
func centralDiff(data []float32, eps float64, f func() float64) []float64 {
	d := make([]float64, len(data))
	for i, v := range data {
		xp, xm := float32(float64(v)+eps), float32(float64(v)-eps)
		data[i] = xp
		fp := f()
		data[i] = xm
		fm := f()
		data[i] = v
		d[i] = (fp - fm) / (float64(xp) - float64(xm))
	}
	return d
}

// gradErr returns an error naming the first element where |got - want| > tol * max(1, |want|).
func gradErr(got []float32, want []float64, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d gradient values, want %d", len(got), len(want))
	}
	for i, w := range want {
		if g := float64(got[i]); !(math.Abs(g-w) <= tol*math.Max(1, math.Abs(w))) {
			return fmt.Errorf("element %d: analytic %.7g, numeric %.7g (tol %g)", i, g, w, tol)
		}
	}
	return nil
}

// checkGrad compares dL/dwrt[j] of p's last run with central differences of L with respect to
// data, the backing of wrt[j]. It reruns the graph; call it after reading anything else.
func checkGrad(t testing.TB, p *probe, j int, data []float32, eps, tol float64) {
	t.Helper()
	p.run()
	got := p.grad(j)
	want := centralDiff(data, eps, func() float64 { p.run(); return p.loss() })
	if err := gradErr(got, want, tol); err != nil {
		t.Errorf("gradient %d: %v", j, err)
	}
}

// bitsEqual reports the first index where got and want differ in their bits.
func bitsEqual(got, want []float32) (int, bool) {
	if len(got) != len(want) {
		return -1, false
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			return i, false
		}
	}
	return 0, true
}

func TestGradErrCatchesWrongGradient(t *testing.T) {
	// The checker itself: central differences of f(x) = sum x_i^3 match 3 x_i^2, and a gradient
	// off by 1% in one element is flagged.
	x := []float32{-1.5, 0.25, 2}
	f := func() float64 {
		var s float64
		for _, v := range x {
			s += math.Pow(float64(v), 3)
		}
		return s
	}
	want := centralDiff(x, 1e-3, f)
	good := []float32{6.75, 0.1875, 12}
	if err := gradErr(good, want, 1e-4); err != nil {
		t.Errorf("correct gradient rejected: %v", err)
	}
	bad := []float32{6.75, 0.1875, 12.12}
	if err := gradErr(bad, want, 1e-4); err == nil {
		t.Error("gradient off by 1% accepted")
	}
	if x[0] != -1.5 || x[1] != 0.25 || x[2] != 2 {
		t.Errorf("centralDiff did not restore its input: %v", x)
	}
}
