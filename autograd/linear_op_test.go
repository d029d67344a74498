package autograd_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
)

// linearCase is one fully connected product: x (N,In), w (Out,In).
type linearCase struct{ n, in, out int }

func (lc linearCase) String() string { return fmt.Sprintf("x%dx%d_w%dx%d", lc.n, lc.in, lc.out, lc.in) }

var linearCases = []linearCase{
	{64, 800, 500}, // LeNet-5 fc1 at batch 64 (Sgemm on two goroutines)
	{64, 500, 10},  // LeNet-5 fc2
	{3, 7, 5},
	{1, 1, 1},
	{5, 17, 33},
}

// naiveLinear is y = x W^T in float64, and the sum of |products| (the scale of float32 error).
func naiveLinear(lc linearCase, x, w []float32) (y, scale []float64) {
	y, scale = make([]float64, lc.n*lc.out), make([]float64, lc.n*lc.out)
	for i := 0; i < lc.n; i++ {
		for o := 0; o < lc.out; o++ {
			var s, a float64
			for k := 0; k < lc.in; k++ {
				p := float64(x[i*lc.in+k]) * float64(w[o*lc.in+k])
				s += p
				a += math.Abs(p)
			}
			y[i*lc.out+o], scale[i*lc.out+o] = s, a
		}
	}
	return y, scale
}

// linearProbe builds x, w[, b], y = f(x, w[, b]) and the probe loss on a new graph.
func linearProbe(t *testing.T, lc linearCase, xd, wd, bd []float32, f func(x, w, b *gorgonia.Node) (*gorgonia.Node, error)) (*probe, *gorgonia.Node) {
	g := gorgonia.NewGraph()
	x := input(g, "x", xd, lc.n, lc.in)
	w := input(g, "w", wd, lc.out, lc.in)
	wrt := []*gorgonia.Node{x, w}
	var b *gorgonia.Node
	if bd != nil {
		b = input(g, "b", bd, lc.out)
		wrt = append(wrt, b)
	}
	y := must(t)(f(x, w, b))
	return newProbe(t, newRNG(21), []*gorgonia.Node{y}, wrt...), y
}

func gorgoniaLinear(x, w, b *gorgonia.Node) (*gorgonia.Node, error) {
	wt, err := gorgonia.Transpose(w)
	if err != nil {
		return nil, err
	}
	y, err := gorgonia.Mul(x, wt)
	if err != nil || b == nil {
		return y, err
	}
	return autograd.BiasAdd(y, b)
}

func TestLinearMatchesGorgonia(t *testing.T) {
	for _, lc := range linearCases {
		t.Run(lc.String(), func(t *testing.T) {
			rng := newRNG(20)
			xd, wd, bd := normals(rng, lc.n*lc.in, 1), normals(rng, lc.out*lc.in, 0.3), normals(rng, lc.out, 1)
			pm, ym := linearProbe(t, lc, xd, wd, nil, func(x, w, _ *gorgonia.Node) (*gorgonia.Node, error) { return autograd.Linear(x, w) })
			if ym.Shape()[0] != lc.n || ym.Shape()[1] != lc.out {
				t.Fatalf("output shape %v", ym.Shape())
			}
			pm.run()
			want, scale := naiveLinear(lc, xd, wd)
			if err := closeTo(values(ym), want, scale, 1e-5); err != nil {
				t.Errorf("forward against the definition: %v", err)
			}
			pg, yg := linearProbe(t, lc, xd, wd, nil, gorgoniaLinear)
			pg.run()
			if err := maxAbsClose(values(ym), values(yg), 1e-5); err != nil {
				t.Errorf("forward against gorgonia Mul(x, Transpose(w)): %v", err)
			}
			for j, name := range []string{"dx", "dw"} {
				if err := maxAbsClose(pm.grad(j), pg.grad(j), 1e-5); err != nil {
					t.Errorf("%s against gorgonia: %v", name, err)
				}
			}

			// The fused bias equals Linear followed by BiasAdd bit for bit, gradients included.
			pf, yf := linearProbe(t, lc, xd, wd, bd, autograd.LinearBias)
			pf.run()
			pu, yu := linearProbe(t, lc, xd, wd, bd, func(x, w, b *gorgonia.Node) (*gorgonia.Node, error) {
				y, err := autograd.Linear(x, w)
				if err != nil {
					return nil, err
				}
				return autograd.BiasAdd(y, b)
			})
			pu.run()
			if i, ok := bitsEqual(values(yf), values(yu)); !ok {
				t.Errorf("LinearBias y[%d] = %g, Linear+BiasAdd %g", i, values(yf)[i], values(yu)[i])
			}
			for j, name := range []string{"dx", "dw", "db"} {
				if i, ok := bitsEqual(pf.grad(j), pu.grad(j)); !ok {
					t.Errorf("LinearBias %s[%d] = %g, Linear+BiasAdd %g", name, i, pf.grad(j)[i], pu.grad(j)[i])
				}
			}
		})
	}
}

func TestLinearGradFiniteDifferences(t *testing.T) {
	for _, lc := range []linearCase{{3, 7, 5}, {2, 4, 1}, {1, 3, 6}} {
		t.Run(lc.String(), func(t *testing.T) {
			rng := newRNG(22)
			xd, wd, bd := normals(rng, lc.n*lc.in, 1), normals(rng, lc.out*lc.in, 0.5), normals(rng, lc.out, 1)
			p, _ := linearProbe(t, lc, xd, wd, bd, autograd.LinearBias)
			checkGrad(t, p, 0, xd, 1e-2, 1e-3)
			checkGrad(t, p, 1, wd, 1e-2, 1e-3)
			checkGrad(t, p, 2, bd, 1e-2, 1e-3)
		})
	}
}

func TestLinearNoInputGrad(t *testing.T) {
	lc := linearCase{4, 9, 6}
	rng := newRNG(23)
	xd, wd := normals(rng, lc.n*lc.in, 1), normals(rng, lc.out*lc.in, 0.5)
	p, y := linearProbe(t, lc, xd, wd, nil, func(x, w, _ *gorgonia.Node) (*gorgonia.Node, error) { return autograd.Linear(x, w) })
	p.run()

	g := gorgonia.NewGraph()
	x := input(g, "x", xd, lc.n, lc.in)
	w := input(g, "w", wd, lc.out, lc.in)
	yn := must(t)(autograd.LinearNoInputGrad(x, w))
	q := newProbe(t, newRNG(21), []*gorgonia.Node{yn}, w)
	q.run()
	if i, ok := bitsEqual(values(yn), values(y)); !ok {
		t.Errorf("y[%d] differs from Linear", i)
	}
	if i, ok := bitsEqual(q.grad(0), p.grad(1)); !ok {
		t.Errorf("dw[%d] = %g, Linear gives %g", i, q.grad(0)[i], p.grad(1)[i])
	}
	g2 := gorgonia.NewGraph()
	x2 := input(g2, "x", xd, lc.n, lc.in)
	y2 := must(t)(autograd.LinearNoInputGrad(x2, input(g2, "w", wd, lc.out, lc.in)))
	if _, err := gorgonia.Grad(must(t)(gorgonia.Sum(y2)), x2); err == nil {
		t.Error("Grad with respect to the input of LinearNoInputGrad returned no error")
	}
}

func TestLinearReusesBuffersSafely(t *testing.T) {
	// Outputs and gradients live in the ops across runs: a second run on new inputs gives what
	// a fresh graph gives, bit for bit, and gradients of repeated runs do not leak into each
	// other.
	lc := linearCase{64, 800, 500}
	rng := newRNG(24)
	xd, wd, bd := normals(rng, lc.n*lc.in, 1), normals(rng, lc.out*lc.in, 0.3), normals(rng, lc.out, 1)
	p, y := linearProbe(t, lc, xd, wd, bd, autograd.LinearBias)
	p.run()
	copy(xd, normals(rng, len(xd), 1))
	p.run()
	q, yq := linearProbe(t, lc, xd, wd, bd, autograd.LinearBias)
	q.run()
	if i, ok := bitsEqual(values(y), values(yq)); !ok {
		t.Errorf("y[%d] after a rerun differs from a fresh graph", i)
	}
	for j := range 3 {
		if i, ok := bitsEqual(p.grad(j), q.grad(j)); !ok {
			t.Errorf("gradient %d [%d] after a rerun differs from a fresh graph", j, i)
		}
	}
}

func TestLinearBadShapes(t *testing.T) {
	g := gorgonia.NewGraph()
	x := input(g, "x", make([]float32, 6), 2, 3)
	for _, ws := range [][]int{{4, 2}, {3}, {2, 3, 1}} {
		size := 1
		for _, d := range ws {
			size *= d
		}
		w := input(g, "w", make([]float32, size), ws...)
		if _, err := autograd.Linear(x, w); err == nil {
			t.Errorf("Linear(x %v, w %v) returned no error", x.Shape(), ws)
		}
	}
	w := input(g, "w4", make([]float32, 12), 4, 3)
	if _, err := autograd.LinearBias(x, w, input(g, "b", make([]float32, 3), 3)); err == nil {
		t.Error("LinearBias with a bias of the wrong length returned no error")
	}
}
