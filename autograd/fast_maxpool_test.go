package autograd_test

import (
	"fmt"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type poolCase struct{ n, c, h, w, k, stride int }

func (pc poolCase) String() string {
	return fmt.Sprintf("x%dx%dx%dx%d_k%d_s%d", pc.n, pc.c, pc.h, pc.w, pc.k, pc.stride)
}

// poolProbe builds x, y = pool(x) and the probe loss on a new graph.
func poolProbe(t *testing.T, pc poolCase, xd []float32, pool func(x *gorgonia.Node) (*gorgonia.Node, error)) (*probe, *gorgonia.Node) {
	g := gorgonia.NewGraph()
	x := input(g, "x", xd, pc.n, pc.c, pc.h, pc.w)
	y := must(t)(pool(x))
	return newProbe(t, newRNG(21), []*gorgonia.Node{y}, x), y
}

func TestMaxPool2DMatchesGorgonia(t *testing.T) {
	// The forward selects an input element and the backward adds dy in output order, as
	// gorgonia does, so both agree bit for bit, ties included: inputs drawn from {0, 1, 2} tie
	// in most windows, and gorgonia takes the first maximum in row-major window order.
	for _, pc := range []poolCase{
		{64, 20, 24, 24, 2, 2}, // LeNet-5 pool1
		{64, 50, 8, 8, 2, 2},   // LeNet-5 pool2
		{2, 3, 7, 7, 3, 2},     // overlapping windows
		{3, 2, 6, 5, 2, 1},
		{1, 1, 5, 5, 3, 3}, // rows and columns left over
		{3, 1, 4, 4, 4, 1}, // one window
	} {
		for _, ties := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/ties=%v", pc, ties), func(t *testing.T) {
				rng := newRNG(22)
				xd := normals(rng, pc.n*pc.c*pc.h*pc.w, 1)
				if ties {
					for i := range xd {
						xd[i] = float32(rng.IntN(3))
					}
				}
				pm, ym := poolProbe(t, pc, xd, func(x *gorgonia.Node) (*gorgonia.Node, error) {
					return autograd.MaxPool2D(x, pc.k, pc.stride)
				})
				pg, yg := poolProbe(t, pc, xd, func(x *gorgonia.Node) (*gorgonia.Node, error) {
					return gorgonia.MaxPool2D(x, tensor.Shape{pc.k, pc.k}, []int{0, 0}, []int{pc.stride, pc.stride})
				})
				if !ym.Shape().Eq(yg.Shape()) {
					t.Fatalf("output shape %v, gorgonia %v", ym.Shape(), yg.Shape())
				}
				pm.run()
				pg.run()
				if i, ok := bitsEqual(values(ym), values(yg)); !ok {
					t.Errorf("y[%d] = %g, gorgonia %g", i, values(ym)[i], values(yg)[i])
				}
				if i, ok := bitsEqual(pm.grad(0), pg.grad(0)); !ok {
					t.Errorf("dx[%d] = %g, gorgonia %g", i, pm.grad(0)[i], pg.grad(0)[i])
				}
			})
		}
	}
}

func TestMaxPool2DGradFiniteDifferences(t *testing.T) {
	for _, pc := range []poolCase{{2, 2, 6, 6, 2, 2}, {2, 2, 7, 6, 3, 2}, {1, 2, 5, 5, 2, 1}} {
		t.Run(pc.String(), func(t *testing.T) {
			// Distinct values 0.1 apart: a step of 1e-3 never changes a window's maximum.
			rng := newRNG(23)
			size := pc.n * pc.c * pc.h * pc.w
			xd := make([]float32, size)
			for i, j := range rng.Perm(size) {
				xd[i] = 0.1 * float32(j-size/2)
			}
			p, _ := poolProbe(t, pc, xd, func(x *gorgonia.Node) (*gorgonia.Node, error) {
				return autograd.MaxPool2D(x, pc.k, pc.stride)
			})
			checkGrad(t, p, 0, xd, 1e-3, 1e-3)
		})
	}
}

func TestMaxPool2DDeterministicAndReused(t *testing.T) {
	// The argmax buffer is reused: a second run on changed inputs must route the gradient by
	// the new maxima, and rerunning the first inputs gives the first results again.
	pc := poolCase{5, 3, 6, 6, 2, 2}
	rng := newRNG(24)
	xd := normals(rng, pc.n*pc.c*pc.h*pc.w, 1)
	x0 := append([]float32(nil), xd...)
	p, y := poolProbe(t, pc, xd, func(x *gorgonia.Node) (*gorgonia.Node, error) {
		return autograd.MaxPool2D(x, pc.k, pc.stride)
	})
	p.run()
	y1, dx1 := append([]float32(nil), values(y)...), p.grad(0)
	for i := range xd {
		xd[i] = -xd[i]
	}
	p.run()
	dx2 := p.grad(0)
	for i := range dx2 {
		if dx2[i] != 0 && dx1[i] != 0 && x0[i] != 0 {
			// With x negated the maximum of a window is its former minimum: only a window of
			// equal values could route to the same element.
			t.Fatalf("dx[%d] nonzero in both runs: argmax not updated", i)
		}
	}
	copy(xd, x0)
	p.run()
	if i, ok := bitsEqual(values(y), y1); !ok {
		t.Errorf("y[%d] differs on rerun", i)
	}
	if i, ok := bitsEqual(p.grad(0), dx1); !ok {
		t.Errorf("dx[%d] differs on rerun", i)
	}
}

func TestMaxPool2DBadArgs(t *testing.T) {
	g := gorgonia.NewGraph()
	x := input(g, "x", make([]float32, 2*3*5*5), 2, 3, 5, 5)
	for _, a := range [][2]int{{0, 1}, {2, 0}, {6, 1}} {
		if _, err := autograd.MaxPool2D(x, a[0], a[1]); err == nil {
			t.Errorf("MaxPool2D(k %d, stride %d) returned no error", a[0], a[1])
		}
	}
	if _, err := autograd.MaxPool2D(input(g, "v", make([]float32, 6), 2, 3), 1, 1); err == nil {
		t.Error("MaxPool2D of a 2-D input returned no error")
	}
}
