package autograd_test

import (
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
)

func TestReLU6(t *testing.T) {
	rng := newRNG(3)
	// Values on both sides of both kinks, each at least 0.05 away from them, so that the
	// central difference with step 0.01 sees a single linear piece.
	xd := make([]float32, 4*6)
	for i := range xd {
		for {
			v := -3 + 12*rng.Float64()
			if math.Abs(v) > 0.05 && math.Abs(v-6) > 0.05 {
				xd[i] = float32(v)
				break
			}
		}
	}
	g := gorgonia.NewGraph()
	x := input(g, "x", xd, 4, 6)
	y := must(t)(autograd.ReLU6(x))
	p := newProbe(t, rng, []*gorgonia.Node{y}, x)
	p.run()

	var below, inside, above int
	dx := p.grad(0)
	for i, v := range xd {
		want, wantGrad := v, p.rs[0][i]
		switch {
		case v < 0:
			want, wantGrad = 0, 0
			below++
		case v > 6:
			want, wantGrad = 6, 0
			above++
		default:
			inside++
		}
		if got := values(y)[i]; got != want {
			t.Errorf("ReLU6(%g) = %g, want %g", v, got, want)
		}
		if dx[i] != wantGrad {
			t.Errorf("x = %g: dx = %g, want %g", v, dx[i], wantGrad)
		}
	}
	if below == 0 || inside == 0 || above == 0 {
		t.Fatalf("test data misses a piece: %d below 0, %d inside, %d above 6", below, inside, above)
	}
	checkGrad(t, p, 0, xd, 1e-2, 1e-3)
}

func TestReLU6Kinks(t *testing.T) {
	// At the kinks themselves the gradient is 0 (dx = dy only for 0 < x < 6).
	xd := []float32{0, 6, math.Nextafter32(0, 1), math.Nextafter32(6, 0)}
	g := gorgonia.NewGraph()
	x := input(g, "x", xd, 4)
	y := must(t)(autograd.ReLU6(x))
	p := newProbe(t, newRNG(4), []*gorgonia.Node{y}, x)
	p.run()
	r := p.rs[0]
	want := []float32{0, 0, r[2], r[3]}
	if i, ok := bitsEqual(p.grad(0), want); !ok {
		t.Errorf("x = %g: dx = %g, want %g", xd[i], p.grad(0)[i], want[i])
	}
	if i, ok := bitsEqual(values(y), xd); !ok {
		t.Errorf("ReLU6(%g) = %g", xd[i], values(y)[i])
	}
}
