package autograd_test

import (
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
)

// reluInputs returns normal values with the special cases of ReLU's arithmetic mixed in:
// both zeros, the smallest subnormals, infinities and NaN.
func reluInputs(seed uint64, n int) []float32 {
	x := normals(newRNG(seed), n, 1)
	special := []float32{0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for i, v := range special {
		x[(i*7)%n] = v
	}
	return x
}

// rectifyRun builds y = f(x[, b]), runs it under the probe loss with seed 5 and returns y and
// the gradients with respect to x (and b).
func rectifyRun(t *testing.T, f func(x, b *gorgonia.Node) (*gorgonia.Node, error), xd, bd []float32, shape ...int) (y []float32, grads [][]float32) {
	t.Helper()
	g := gorgonia.NewGraph()
	x := input(g, "x", xd, shape...)
	wrt := []*gorgonia.Node{x}
	var b *gorgonia.Node
	if bd != nil {
		b = input(g, "b", bd, len(bd))
		wrt = append(wrt, b)
	}
	out := must(t)(f(x, b))
	p := newProbe(t, newRNG(5), []*gorgonia.Node{out}, wrt...)
	p.run()
	for j := range wrt {
		grads = append(grads, p.grad(j))
	}
	return append([]float32(nil), values(out)...), grads
}

func TestReLUMatchesRectify(t *testing.T) {
	shape := []int{3, 4, 5, 6}
	xd := reluInputs(1, 3*4*5*6)
	want, wantG := rectifyRun(t, func(x, _ *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Rectify(x) }, xd, nil, shape...)
	got, gotG := rectifyRun(t, func(x, _ *gorgonia.Node) (*gorgonia.Node, error) { return autograd.ReLU(x) }, xd, nil, shape...)
	if i, ok := bitsEqual(got, want); !ok {
		t.Errorf("ReLU(%g) = %g (bits %#x), Rectify gives %g (bits %#x)", xd[i], got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
	}
	if i, ok := bitsEqual(gotG[0], wantG[0]); !ok {
		t.Errorf("x = %g: dx = %g, Rectify's dx = %g", xd[i], gotG[0][i], wantG[0][i])
	}
}

func TestBiasReLUMatchesBiasAddRectify(t *testing.T) {
	for _, shape := range [][]int{{5, 7}, {3, 4, 5, 6}, {130, 4, 8, 8}} { // the last splits over two goroutines
		n := 1
		for _, d := range shape {
			n *= d
		}
		xd := reluInputs(2, n)
		bd := normals(newRNG(3), shape[1], 1)
		bd[0] = float32(math.Copysign(0, -1)) // -0 + -0 = -0: pre = -0 passes with mask 1
		xd[0] = bd[0]
		stock := func(x, b *gorgonia.Node) (*gorgonia.Node, error) {
			y, err := autograd.BiasAdd(x, b)
			if err != nil {
				return nil, err
			}
			return gorgonia.Rectify(y)
		}
		want, wantG := rectifyRun(t, stock, xd, bd, shape...)
		got, gotG := rectifyRun(t, autograd.BiasReLU, xd, bd, shape...)
		if i, ok := bitsEqual(got, want); !ok {
			t.Errorf("%v: y[%d] = %g, BiasAdd+Rectify gives %g", shape, i, got[i], want[i])
		}
		for j, name := range []string{"dx", "db"} {
			if i, ok := bitsEqual(gotG[j], wantG[j]); !ok {
				t.Errorf("%v: %s[%d] = %g, BiasAdd+Rectify gives %g", shape, name, i, gotG[j][i], wantG[j][i])
			}
		}
	}
}

func TestBiasReLUGradient(t *testing.T) {
	// Finite values at least 0.05 away from the kink once the bias is added, so that the central
	// difference with step 0.01 sees one linear piece.
	rng := newRNG(4)
	const n, c, inner = 2, 3, 10
	bd := normals(rng, c, 1)
	xd := make([]float32, n*c*inner)
	for i := range xd {
		for {
			v := float32(2 * rng.NormFloat64())
			if math.Abs(float64(v+bd[i/inner%c])) > 0.05 {
				xd[i] = v
				break
			}
		}
	}
	g := gorgonia.NewGraph()
	x, b := input(g, "x", xd, n, c, inner), input(g, "b", bd, c)
	y := must(t)(autograd.BiasReLU(x, b))
	p := newProbe(t, rng, []*gorgonia.Node{y}, x, b)
	p.run()
	checkGrad(t, p, 0, xd, 1e-2, 1e-3)
	checkGrad(t, p, 1, bd, 1e-2, 1e-3)

	g = gorgonia.NewGraph()
	x = input(g, "x", xd, n, c, inner)
	y = must(t)(autograd.ReLU(x))
	p = newProbe(t, rng, []*gorgonia.Node{y}, x)
	p.run()
	checkGrad(t, p, 0, xd, 1e-2, 1e-3)
}

func TestBiasReLUShapeMismatch(t *testing.T) {
	g := gorgonia.NewGraph()
	x := input(g, "x", make([]float32, 6), 2, 3)
	b := input(g, "b", make([]float32, 2), 2)
	if _, err := autograd.BiasReLU(x, b); err == nil {
		t.Errorf("BiasReLU(x %v, b %v) returned no error", x.Shape(), b.Shape())
	}
}
