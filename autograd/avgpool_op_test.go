package autograd_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/fakequant"
	"gorgonia.org/gorgonia"
)

// Float mode: the mean of each window, and its gradient by finite differences.
func TestAvgPool2DFloat(t *testing.T) {
	for _, pc := range []poolCase{{2, 2, 6, 6, 2, 2}, {2, 2, 7, 6, 3, 2}, {1, 2, 5, 5, 2, 1}, {1, 1, 7, 7, 2, 3}} {
		t.Run(pc.String(), func(t *testing.T) {
			rng := newRNG(31)
			xd := normals(rng, pc.n*pc.c*pc.h*pc.w, 1)
			p, y := poolProbe(t, pc, xd, func(x *gorgonia.Node) (*gorgonia.Node, error) {
				return autograd.AvgPool2D(x, pc.k, pc.stride, nil)
			})
			p.run()
			oh, ow := (pc.h-pc.k)/pc.stride+1, (pc.w-pc.k)/pc.stride+1
			got := values(y)
			for plane := 0; plane < pc.n*pc.c; plane++ {
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						var s float64
						for i := 0; i < pc.k; i++ {
							for j := 0; j < pc.k; j++ {
								s += float64(xd[(plane*pc.h+oy*pc.stride+i)*pc.w+ox*pc.stride+j])
							}
						}
						want := s / float64(pc.k*pc.k)
						if g := got[(plane*oh+oy)*ow+ox]; math.Abs(float64(g)-want) > 1e-6 {
							t.Fatalf("plane %d (%d, %d): %g, want %g", plane, oy, ox, g, want)
						}
					}
				}
			}
			checkGrad(t, p, 0, xd, 1e-3, 1e-3)
		})
	}
}

// Quantized: after FakeQuant with a frozen range the pool writes the value of
// fakequant.AveragePool's code for every window (both rules, 2..8 bits, codes at QMin and
// QMax and ties), and its gradient is the mean's (dy/k^2 straight through the rounding).
func TestAvgPool2DQuantized(t *testing.T) {
	for _, rule := range []fakequant.Rounding{fakequant.RoundDouble, fakequant.RoundSingle} {
		for bits := 2; bits <= 8; bits++ {
			for _, pc := range []poolCase{{2, 3, 6, 6, 2, 2}, {2, 2, 7, 7, 3, 3}, {1, 2, 6, 5, 2, 1}, {1, 2, 7, 7, 3, 2}} {
				t.Run(fmt.Sprintf("%v/%d/%v", rule, bits, pc), func(t *testing.T) {
					ctx := &autograd.Context{Mode: autograd.ModeEval, Rounding: rule}
					q := &autograd.ActQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: bits}, Min: -1.3, Max: 2.1, Seen: true}
					p := q.Params()
					rng := newRNG(uint64(32 + bits))
					size := pc.n * pc.c * pc.h * pc.w
					xd := uniforms(rng, size, -1.6, 2.4) // beyond the range: codes at QMin and QMax
					for i := 0; i < size/4; i++ {        // ... and whole planes there
						xd[i] = 5
					}
					for i := size / 4; i < size/2; i++ {
						xd[i] = -5
					}
					for i := size / 2; i < 3*size/4; i++ { // codes Z and Z+1 alternating: ties
						xd[i] = float32(p.Scale * float64(i%2))
					}
					// The pool's input is on q's grid, as the quantizer's last Forward left it.
					codes := make([]float32, size)
					if err := q.Forward(codes, xd, []int{pc.n, pc.c, pc.h, pc.w}); err != nil {
						t.Fatal(err)
					}
					g := gorgonia.NewGraph()
					fq := input(g, "fq", codes, pc.n, pc.c, pc.h, pc.w)
					y := must(t)(autograd.AvgPool2D(fq, pc.k, pc.stride, q))
					pr := newProbe(t, newRNG(33), []*gorgonia.Node{y}, fq)
					pr.run()
					oh, ow := (pc.h-pc.k)/pc.stride+1, (pc.w-pc.k)/pc.stride+1
					got := values(y)
					for plane := 0; plane < pc.n*pc.c; plane++ {
						for oy := 0; oy < oh; oy++ {
							for ox := 0; ox < ow; ox++ {
								var sum int32
								for i := 0; i < pc.k; i++ {
									for j := 0; j < pc.k; j++ {
										v := codes[(plane*pc.h+oy*pc.stride+i)*pc.w+ox*pc.stride+j]
										sum += p.Quantize(float64(v)) - p.ZeroPoint
									}
								}
								wq := fakequant.AveragePool(rule, sum, pc.k*pc.k, p.ZeroPoint, p.QMin, p.QMax)
								gq := p.Quantize(float64(got[(plane*oh+oy)*ow+ox]))
								if gq != wq || got[(plane*oh+oy)*ow+ox] != float32(p.Dequantize(wq)) {
									t.Fatalf("plane %d (%d, %d): value %g (code %d), want code %d", plane, oy, ox, got[(plane*oh+oy)*ow+ox], gq, wq)
								}
							}
						}
					}
					// dL/dfq: each input gets r/k^2 from every window it is in.
					dx := pr.grad(0)
					want := make([]float64, size)
					inv := 1 / float64(pc.k*pc.k)
					for plane := 0; plane < pc.n*pc.c; plane++ {
						for oy := 0; oy < oh; oy++ {
							for ox := 0; ox < ow; ox++ {
								r := float64(pr.rs[0][(plane*oh+oy)*ow+ox])
								for i := 0; i < pc.k; i++ {
									for j := 0; j < pc.k; j++ {
										want[(plane*pc.h+oy*pc.stride+i)*pc.w+ox*pc.stride+j] += r * inv
									}
								}
							}
						}
					}
					for i := range want {
						if math.Abs(float64(dx[i])-want[i]) > 1e-5 {
							t.Fatalf("dx[%d] = %g, want %g", i, dx[i], want[i])
						}
					}
				})
			}
		}
	}
}
