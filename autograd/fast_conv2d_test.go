package autograd_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convCase is one convolution: x (N,C,H,W), w (O,C,K,K).
type convCase struct {
	n, c, h, w, o, k, stride, pad int
}

func (cc convCase) String() string {
	return fmt.Sprintf("x%dx%dx%dx%d_w%dx%dx%d_s%d_p%d", cc.n, cc.c, cc.h, cc.w, cc.o, cc.k, cc.k, cc.stride, cc.pad)
}
func (cc convCase) outHW() (int, int) {
	return (cc.h+2*cc.pad-cc.k)/cc.stride + 1, (cc.w+2*cc.pad-cc.k)/cc.stride + 1
}

var convCases = []convCase{
	{64, 1, 28, 28, 20, 5, 1, 0},  // LeNet-5 conv1
	{64, 20, 12, 12, 50, 5, 1, 0}, // LeNet-5 conv2
	{3, 3, 9, 8, 4, 3, 2, 1},
	{2, 2, 7, 7, 3, 3, 1, 1},
	{3, 3, 6, 5, 2, 2, 2, 0},
	{1, 2, 5, 5, 3, 5, 1, 0},   // 1x1 output
	{5, 4, 10, 11, 7, 3, 2, 0}, // odd batch
	{2, 1, 3, 3, 2, 5, 1, 1},   // kernel larger than the input
}

// naiveConv is the definition of the convolution in float64, and the same sum over absolute
// values (the scale float32 rounding errors are relative to).
func naiveConv(cc convCase, x, w []float32) (y, scale []float64) {
	oh, ow := cc.outHW()
	y, scale = make([]float64, cc.n*cc.o*oh*ow), make([]float64, cc.n*cc.o*oh*ow)
	for n := 0; n < cc.n; n++ {
		for o := 0; o < cc.o; o++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var s, a float64
					for c := 0; c < cc.c; c++ {
						for kh := 0; kh < cc.k; kh++ {
							for kw := 0; kw < cc.k; kw++ {
								iy, ix := oy*cc.stride-cc.pad+kh, ox*cc.stride-cc.pad+kw
								if iy < 0 || iy >= cc.h || ix < 0 || ix >= cc.w {
									continue
								}
								p := float64(w[((o*cc.c+c)*cc.k+kh)*cc.k+kw]) * float64(x[((n*cc.c+c)*cc.h+iy)*cc.w+ix])
								s += p
								a += math.Abs(p)
							}
						}
					}
					i := ((n*cc.o+o)*oh+oy)*ow + ox
					y[i], scale[i] = s, a
				}
			}
		}
	}
	return y, scale
}

// closeTo checks |got - want| <= tol * scale element by element.
func closeTo(got []float32, want []float64, scale []float64, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*scale[i]+1e-30) {
			return fmt.Errorf("element %d: %.8g, want %.8g (scale %g)", i, got[i], want[i], scale[i])
		}
	}
	return nil
}

// maxAbsClose checks |got - want| <= tol * max |want| (for gradients, sums of many terms of
// either sign).
func maxAbsClose(got, want []float32, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	var m float64
	for _, v := range want {
		m = math.Max(m, math.Abs(float64(v)))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= tol*m) {
			return fmt.Errorf("element %d: %.8g, want %.8g (max |want| %g)", i, got[i], want[i], m)
		}
	}
	return nil
}

func gorgoniaConv(x, w *gorgonia.Node, cc convCase) (*gorgonia.Node, error) {
	return gorgonia.Conv2d(x, w, tensor.Shape{cc.k, cc.k}, []int{cc.pad, cc.pad}, []int{cc.stride, cc.stride}, []int{1, 1})
}

// convProbe builds x, w, y = conv(x, w) and the probe loss on a new graph.
func convProbe(t *testing.T, cc convCase, xd, wd []float32, seed uint64, conv func(x, w *gorgonia.Node) (*gorgonia.Node, error)) (*probe, *gorgonia.Node) {
	g := gorgonia.NewGraph()
	x := input(g, "x", xd, cc.n, cc.c, cc.h, cc.w)
	w := input(g, "w", wd, cc.o, cc.c, cc.k, cc.k)
	y := must(t)(conv(x, w))
	return newProbe(t, newRNG(seed), []*gorgonia.Node{y}, x, w), y
}

func TestConv2DMatchesGorgonia(t *testing.T) {
	for _, cc := range convCases {
		t.Run(cc.String(), func(t *testing.T) {
			rng := newRNG(11)
			xd := normals(rng, cc.n*cc.c*cc.h*cc.w, 1)
			wd := normals(rng, cc.o*cc.c*cc.k*cc.k, 0.3)
			oh, ow := cc.outHW()

			pm, ym := convProbe(t, cc, xd, wd, 5, func(x, w *gorgonia.Node) (*gorgonia.Node, error) {
				return autograd.Conv2D(x, w, cc.stride, cc.pad)
			})
			if want := (tensor.Shape{cc.n, cc.o, oh, ow}); !ym.Shape().Eq(want) {
				t.Fatalf("output shape %v, want %v", ym.Shape(), want)
			}
			pm.run()

			// Forward against the float64 definition.
			want, scale := naiveConv(cc, xd, wd)
			if err := closeTo(values(ym), want, scale, 1e-5); err != nil {
				t.Errorf("forward against the definition: %v", err)
			}
			// Forward and both gradients against gorgonia's Conv2d on the same loss.
			pg, yg := convProbe(t, cc, xd, wd, 5, func(x, w *gorgonia.Node) (*gorgonia.Node, error) {
				return gorgoniaConv(x, w, cc)
			})
			pg.run()
			gy := values(yg)
			gyd := make([]float64, len(gy))
			for i, v := range gy {
				gyd[i] = float64(v)
			}
			if err := closeTo(values(ym), gyd, scale, 2e-5); err != nil {
				t.Errorf("forward against gorgonia.Conv2d: %v", err)
			}
			if err := maxAbsClose(pm.grad(0), pg.grad(0), 1e-5); err != nil {
				t.Errorf("dx against gorgonia: %v", err)
			}
			if err := maxAbsClose(pm.grad(1), pg.grad(1), 1e-5); err != nil {
				t.Errorf("dw against gorgonia: %v", err)
			}
		})
	}
}

func TestConv2DGradFiniteDifferences(t *testing.T) {
	for _, cc := range []convCase{
		{2, 2, 5, 5, 3, 3, 1, 1},
		{3, 2, 6, 5, 2, 3, 2, 1},
		{2, 1, 5, 6, 2, 2, 2, 0},
		{1, 2, 3, 3, 2, 5, 1, 1},
	} {
		t.Run(cc.String(), func(t *testing.T) {
			rng := newRNG(12)
			xd := normals(rng, cc.n*cc.c*cc.h*cc.w, 1)
			wd := normals(rng, cc.o*cc.c*cc.k*cc.k, 0.5)
			p, _ := convProbe(t, cc, xd, wd, 6, func(x, w *gorgonia.Node) (*gorgonia.Node, error) {
				return autograd.Conv2D(x, w, cc.stride, cc.pad)
			})
			checkGrad(t, p, 0, xd, 1e-2, 1e-3)
			checkGrad(t, p, 1, wd, 1e-2, 1e-3)
		})
	}
}

func TestConv2DNoInputGrad(t *testing.T) {
	cc := convCase{3, 2, 6, 6, 4, 3, 1, 0}
	rng := newRNG(13)
	xd, wd := normals(rng, cc.n*cc.c*cc.h*cc.w, 1), normals(rng, cc.o*cc.c*cc.k*cc.k, 0.5)
	p, _ := convProbe(t, cc, xd, wd, 7, func(x, w *gorgonia.Node) (*gorgonia.Node, error) {
		return autograd.Conv2D(x, w, cc.stride, cc.pad)
	})
	p.run()

	g := gorgonia.NewGraph()
	x := input(g, "x", xd, cc.n, cc.c, cc.h, cc.w)
	w := input(g, "w", wd, cc.o, cc.c, cc.k, cc.k)
	y := must(t)(autograd.Conv2DNoInputGrad(x, w, cc.stride, cc.pad))
	if y.Shape().TotalSize() != len(values(p.outs[0])) {
		t.Fatalf("output shape %v", y.Shape())
	}
	q := newProbe(t, newRNG(7), []*gorgonia.Node{y}, w)
	q.run()
	if i, ok := bitsEqual(q.grad(0), p.grad(1)); !ok {
		t.Errorf("dw[%d] = %g, Conv2D gives %g", i, q.grad(0)[i], p.grad(1)[i])
	}
	if i, ok := bitsEqual(values(y), values(p.outs[0])); !ok {
		t.Errorf("y[%d] differs from Conv2D", i)
	}

	g2 := gorgonia.NewGraph()
	x2 := input(g2, "x", xd, cc.n, cc.c, cc.h, cc.w)
	w2 := input(g2, "w", wd, cc.o, cc.c, cc.k, cc.k)
	y2 := must(t)(autograd.Conv2DNoInputGrad(x2, w2, cc.stride, cc.pad))
	if _, err := gorgonia.Grad(must(t)(gorgonia.Sum(y2)), x2); err == nil {
		t.Error("Grad with respect to the input of Conv2DNoInputGrad returned no error")
	}
}

func TestConv2DDeterministic(t *testing.T) {
	// Two runs give bit-identical outputs and gradients (the dW halves are summed in a fixed
	// order), and so does a fresh graph.
	cc := convCases[1]
	rng := newRNG(14)
	xd, wd := normals(rng, cc.n*cc.c*cc.h*cc.w, 1), normals(rng, cc.o*cc.c*cc.k*cc.k, 0.3)
	conv := func(x, w *gorgonia.Node) (*gorgonia.Node, error) { return autograd.Conv2D(x, w, cc.stride, cc.pad) }
	p, y := convProbe(t, cc, xd, wd, 8, conv)
	p.run()
	y1, dx1, dw1 := append([]float32(nil), values(y)...), p.grad(0), p.grad(1)
	p.run()
	q, yq := convProbe(t, cc, xd, wd, 8, conv)
	q.run()
	for _, c := range []struct {
		name      string
		a, b1, b2 []float32
	}{{"y", y1, values(y), values(yq)}, {"dx", dx1, p.grad(0), q.grad(0)}, {"dw", dw1, p.grad(1), q.grad(1)}} {
		if i, ok := bitsEqual(c.b1, c.a); !ok {
			t.Errorf("%s[%d] differs between two runs", c.name, i)
		}
		if i, ok := bitsEqual(c.b2, c.a); !ok {
			t.Errorf("%s[%d] differs between two graphs", c.name, i)
		}
	}
}

func TestConv2DBadShapes(t *testing.T) {
	g := gorgonia.NewGraph()
	x := input(g, "x", make([]float32, 2*3*5*5), 2, 3, 5, 5)
	for _, tc := range []struct {
		wshape      []int
		stride, pad int
	}{
		{[]int{4, 2, 3, 3}, 1, 0}, // channels
		{[]int{4, 3, 3, 2}, 1, 0}, // not square
		{[]int{4, 3, 7, 7}, 1, 0}, // larger than the input
		{[]int{4, 3, 3, 3}, 0, 0},
		{[]int{4, 3, 3, 3}, 1, -1},
		{[]int{4, 27}, 1, 0},
	} {
		w := input(g, "w", make([]float32, tensor.Shape(tc.wshape).TotalSize()), tc.wshape...)
		if _, err := autograd.Conv2D(x, w, tc.stride, tc.pad); err == nil {
			t.Errorf("Conv2D(x %v, w %v, stride %d, pad %d) returned no error", x.Shape(), tc.wshape, tc.stride, tc.pad)
		}
	}
}
