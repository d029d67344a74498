package autograd_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/fakequant"
	"gorgonia.org/gorgonia"
)

// TestFakeQuantPooled: FakeQuantPooled(MaxPool2D(pre), pre) gives MaxPool2D(FakeQuant(pre))'s
// output bit for bit, leaves the quantizer's tracked range as that graph does (the range of
// pre, including the row and column an odd size leaves out of every window), and its gradient
// is the STE at each window's float maximum routed to that maximum (the first of equal ones),
// then through the ReLU: checked against a loop, in QAT with a range narrower than the data
// and in float mode, for a BiasReLU source (range from the op) and a gorgonia source (its own
// pass over pre).
func TestFakeQuantPooled(t *testing.T) {
	const n, c, h, w = 3, 4, 7, 7
	oh, ow := h/2, w/2
	for _, mode := range []autograd.Mode{autograd.ModeTrain, autograd.ModeFloat} {
		for _, fastReLU := range []bool{true, false} {
			rng := rand.New(rand.NewPCG(95, 96))
			x0, b0 := normals(rng, n*c*h*w, 2), normals(rng, c, 0.5)
			// Channel 0 of image 0: its largest value in the last row, which no window takes, so
			// the pooled range is narrower than pre's; a window of equal values; a -0.
			x0[(h-1)*w+2] = 9
			x0[0], x0[1], x0[w], x0[w+1] = 1.5-b0[0], 1.5-b0[0], 0.5-b0[0], 1.5-b0[0]
			x0[3] = float32(math.Copysign(0, -1))
			newQ := func() *autograd.ActQuantizer {
				return &autograd.ActQuantizer{Ctx: &autograd.Context{Mode: mode}, Scheme: fakequant.Scheme{Bits: 4}, Decay: 0.5, Min: 0, Max: 1, Seen: true, Steps: 5}
			}
			build := func(pooledFQ bool) (y, x *gorgonia.Node, q *autograd.ActQuantizer, p *probe) {
				q = newQ()
				g := gorgonia.NewGraph()
				x = input(g, "x", append([]float32(nil), x0...), n, c, h, w)
				b := input(g, "b", append([]float32(nil), b0...), c)
				var pre *gorgonia.Node
				if fastReLU {
					pre = must(t)(autograd.BiasReLU(x, b))
				} else {
					bb := must(t)(gorgonia.Reshape(b, []int{1, c, 1, 1}))
					sum := must(t)(gorgonia.BroadcastAdd(x, bb, nil, []byte{0, 2, 3}))
					pre = must(t)(gorgonia.Rectify(sum))
				}
				if pooledFQ {
					y = must(t)(autograd.FakeQuantPooled(must(t)(autograd.MaxPool2D(pre, 2, 2)), pre, q))
				} else {
					y = must(t)(autograd.MaxPool2D(must(t)(autograd.FakeQuant(pre, q)), 2, 2))
				}
				p = newProbe(t, rand.New(rand.NewPCG(97, 98)), []*gorgonia.Node{y}, x)
				return y, x, q, p
			}
			yA, _, qA, pA := build(false)
			yB, _, qB, pB := build(true)
			pA.run()
			pB.run()
			if i, ok := bitsEqual(values(yB), values(yA)); !ok {
				t.Fatalf("%v relu=%v: y[%d] = %v, want %v", mode, fastReLU, i, values(yB)[i], values(yA)[i])
			}
			if qA.Min != qB.Min || qA.Max != qB.Max || qA.Steps != qB.Steps {
				t.Fatalf("%v relu=%v: range %v..%v after %d steps, want %v..%v after %d", mode, fastReLU, qB.Min, qB.Max, qB.Steps, qA.Min, qA.Max, qA.Steps)
			}
			if mode == autograd.ModeTrain && qB.Max <= 1 {
				t.Fatalf("range did not move (max %v): the test does not exercise the observer", qB.Max)
			}

			// The gradient by hand: dy = the probe's weights r.
			pre := make([]float32, len(x0))
			for i, v := range x0 {
				s := v + b0[i/(h*w)%c]
				pre[i] = s * float32(b2f(s >= 0))
			}
			lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
			if mode == autograd.ModeTrain {
				last, _ := qB.Last()
				l, u := last.NudgedRange()
				lo, hi = autograd.SteBounds(l, u)
			}
			want := make([]float32, len(x0))
			clipped, kept := 0, 0
			for pl := 0; pl < n*c; pl++ {
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						a := pl*h*w + 2*oy*w + 2*ox
						for _, off := range []int{1, w, w + 1} {
							if pre[pl*h*w+2*oy*w+2*ox+off] > pre[a] {
								a = pl*h*w + 2*oy*w + 2*ox + off
							}
						}
						d := pB.rs[0][pl*oh*ow+oy*ow+ox]
						if v := pre[a]; !(lo <= v && v <= hi) {
							d = 0
							clipped++
						} else {
							kept++
						}
						want[a] = 0 + d
					}
				}
			}
			for i, v := range x0 {
				s := v + b0[i/(h*w)%c]
				want[i] *= float32(b2f(s >= 0))
			}
			if mode == autograd.ModeTrain && (clipped == 0 || kept == 0) {
				t.Fatalf("%d windows clipped, %d kept: the test does not exercise the STE", clipped, kept)
			}
			if i, ok := bitsEqual(pB.grad(0), want); !ok {
				t.Fatalf("%v relu=%v: dx[%d] = %v, want %v", mode, fastReLU, i, pB.grad(0)[i], want[i])
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
