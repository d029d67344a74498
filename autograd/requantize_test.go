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
// a tie. Convolution outputs (N, C, H*W) and fully connected ones (N, C), whose channels the
// vector path takes eight at a time, with a channel count that leaves a remainder.
func TestActQuantizerRequantizesAccumulator(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, c := range []struct {
		bits      int
		relu6     bool
		n, ch, hw int
	}{{8, false, 2, 3, 50}, {4, false, 2, 3, 50}, {8, true, 2, 3, 50}, {3, false, 2, 3, 50}, {8, false, 37, 11, 1}, {4, true, 37, 11, 1}} {
		n, ch, hw := c.n, c.ch, c.hw
		ctx := &autograd.Context{Mode: autograd.ModeEval}
		in := &autograd.ActQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8}, Fixed: true, Min: 0, Max: 1, Seen: true}
		in.Forward(make([]float32, 4), []float32{0, 0.2, 0.5, 1}, []int{1, 1, 2, 2})
		w := &autograd.WeightQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}, PerChannel: true, Channels: ch}
		weights := make([]float32, ch*8)
		for i := range weights {
			weights[i] = float32(rng.NormFloat64() * float64(1+i/8))
		}
		w.Forward(make([]float32, len(weights)), weights, []int{ch, 8})
		b := &autograd.BiasQuantizer{In: in, W: w}
		bias := make([]float32, ch)
		for i := range bias {
			bias[i] = float32(rng.NormFloat64() * 0.2)
		}
		b.Forward(make([]float32, ch), bias, []int{ch})
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
		shape := []int{n, ch, hw}
		if hw == 1 {
			shape = shape[:2]
		}
		if err := out.Forward(dst, src, shape); err != nil {
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
