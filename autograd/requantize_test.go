package autograd_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/fakequant"
)

// The output quantizer of a layer recovers each int32 accumulator from the float output and
// requantizes it with the integer engine's arithmetic (fakequant.Requantize): its codes are
// the engine's codes exactly, even for values a float rounding would put on the other side of
// a tie.
func TestActQuantizerRequantizesAccumulator(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, c := range []struct {
		bits  int
		relu6 bool
	}{{8, false}, {4, false}, {8, true}, {3, false}} {
		ctx := &autograd.Context{Mode: autograd.ModeEval}
		in := &autograd.ActQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8}, Fixed: true, Min: 0, Max: 1, Seen: true}
		const n, ch, hw = 2, 3, 50
		in.Forward(make([]float32, 4), []float32{0, 0.2, 0.5, 1}, []int{1, 1, 2, 2})
		w := &autograd.WeightQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}, PerChannel: true, Channels: ch}
		weights := make([]float32, ch*8)
		for i := range weights {
			weights[i] = float32(rng.NormFloat64() * float64(1+i/8))
		}
		w.Forward(make([]float32, len(weights)), weights, []int{ch, 8})
		b := &autograd.BiasQuantizer{In: in, W: w}
		b.Forward(make([]float32, ch), []float32{0.1, -0.2, 0.3}, []int{ch})
		out := &autograd.ActQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: c.bits}, Min: -1, Max: 7, Seen: true, Acc: b, ReLU6: c.relu6}
		p := out.Params()

		src := make([]float32, n*ch*hw)
		want := make([]int32, len(src))
		for i := range src {
			cc := (i / hw) % ch
			s := fakequant.AccumulatorScale(in.Params(), w.Last()[cc])
			acc := int32(rng.IntN(2*int(8/s)) - int(8/s))
			// A float output within a relative 1e-6 of acc*s, as a float32 GEMM delivers.
			src[i] = float32(float64(acc) * s * (1 + 1e-6*(rng.Float64()-0.5)))
			mult, shift := fakequant.RequantMultiplier(s, p.Scale)
			hi := p.QMax
			if c.relu6 {
				hi = fakequant.ReLU6Ceiling(p)
			}
			want[i] = fakequant.Requantize(acc, mult, shift, p.ZeroPoint, p.QMin, hi)
		}
		dst := make([]float32, len(src))
		if err := out.Forward(dst, src, []int{n, ch, hw}); err != nil {
			t.Fatal(err)
		}
		for i, v := range dst {
			code := int32(math.Round(float64(v)/p.Scale)) + p.ZeroPoint
			if code != want[i] || v != float32(float64(want[i]-p.ZeroPoint)*p.Scale) {
				t.Fatalf("bits %d relu6 %v: value %d (%v) -> %v (code %d), want code %d", c.bits, c.relu6, i, src[i], v, code, want[i])
			}
		}
	}
}
