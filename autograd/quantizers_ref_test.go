package autograd_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/fakequant"
)

// The quantizers' fast paths (fused range passes, hoisted constants, two goroutines) give
// the bits of the plain compositions of fakequant primitives written here, on inputs small
// enough to stay on one goroutine and large enough to be split.

// refWeightFQ is WeightQuantizer.Forward as the composition of fakequant's functions.
func refWeightFQ(w []float32, q *autograd.WeightQuantizer) ([]float32, []fakequant.Params) {
	ps := q.ParamsFor(w)
	out := make([]float32, len(w))
	fakequant.FakeQuantizePerChannel(out, w, ps)
	return out, ps
}

// refRequantize is the output quantizer's requantization, element by element.
func refRequantize(src []float32, shape []int, p fakequant.Params, hi int32, scales []float64) []float32 {
	out := make([]float32, len(src))
	inner := len(src) / (shape[0] * shape[1])
	for i, v := range src {
		s := scales[i/inner%shape[1]]
		mult, shift := fakequant.RequantMultiplier(s, p.Scale)
		acc := fakequant.SaturateAccumulator(math.Round(float64(v)/s), shift)
		code := fakequant.Requantize(acc, mult, shift, p.ZeroPoint, p.QMin, hi)
		out[i] = float32(float64(code-p.ZeroPoint) * p.Scale)
	}
	return out
}

func TestQuantizersMatchReference(t *testing.T) {
	rng := newRNG(51)
	for _, sz := range []struct{ n, ch, inner int }{{2, 3, 5}, {64, 20, 576}, {64, 500, 1}, {7, 50, 64}} {
		for _, perChannel := range []bool{false, true} {
			name := fmt.Sprintf("%dx%dx%d/perchannel=%v", sz.n, sz.ch, sz.inner, perChannel)
			ctx := &autograd.Context{Mode: autograd.ModeTrain}
			// Weights (ch, 37): the layer's weight quantizer.
			wq := &autograd.WeightQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}, PerChannel: perChannel, Channels: sz.ch}
			w := normals(rng, sz.ch*37, 0.2)
			w[3] = float32(math.Copysign(0, -1))
			gotW := make([]float32, len(w))
			if err := wq.Forward(gotW, w, []int{sz.ch, 37}); err != nil {
				t.Fatal(err)
			}
			wantW, wantPs := refWeightFQ(w, wq)
			if i, ok := bitsEqual(gotW, wantW); !ok {
				t.Fatalf("%s: weight %d: %g, want %g", name, i, gotW[i], wantW[i])
			}
			for c, p := range wq.Last() {
				if p != wantPs[c] {
					t.Fatalf("%s: weight params %d: %v, want %v", name, c, p, wantPs[c])
				}
			}

			// The input quantizer and the bias quantizer that give the accumulator scales.
			in := &autograd.ActQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8}, Fixed: true, Min: 0, Max: 1, Seen: true}
			in.Forward(make([]float32, 2), []float32{0, 1}, []int{1, 2})
			bq := &autograd.BiasQuantizer{In: in, W: wq}
			bq.Forward(make([]float32, sz.ch), normals(rng, sz.ch, 0.1), []int{sz.ch})

			size := sz.n * sz.ch * sz.inner
			shape := []int{sz.n, sz.ch, sz.inner}
			x := normals(rng, size, 3)
			for i := range x {
				if i%3 == 0 {
					x[i] = 0 // ReLU zeros
				}
			}
			for _, relu6 := range []bool{false, true} {
				out := &autograd.ActQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8}, Decay: 0.9, Min: -2, Max: 5, Seen: true, Steps: 5, Acc: bq, ReLU6: relu6}
				ema := fakequant.EMA{Decay: 0.9, Min: -2, Max: 5, Seen: true}
				ema.Observe(x)
				got := make([]float32, size)
				if err := out.Forward(got, x, shape); err != nil {
					t.Fatal(err)
				}
				if out.Min != ema.Min || out.Max != ema.Max {
					t.Fatalf("%s: EMA range [%v, %v], want [%v, %v]", name, out.Min, out.Max, ema.Min, ema.Max)
				}
				p := ema.Params(out.Scheme)
				hi := p.QMax
				if relu6 {
					hi = fakequant.ReLU6Ceiling(p)
				}
				want := refRequantize(x, shape, p, hi, scalesOf(in, wq))
				if i, ok := bitsEqual(got, want); !ok {
					t.Fatalf("%s relu6 %v: activation %d (%g): %g, want %g", name, relu6, i, x[i], got[i], want[i])
				}

				// Backward: the clipped STE of fakequant's InRange.
				dy := normals(rng, size, 1)
				dx := make([]float32, size)
				out.Backward(dx, x, dy)
				for i, v := range x {
					w := float32(0)
					if p.InRange(float64(v)) {
						w = dy[i]
					}
					if math.Float32bits(dx[i]) != math.Float32bits(w) {
						t.Fatalf("%s: dx[%d] = %g, want %g", name, i, dx[i], w)
					}
				}
			}
		}
	}
}

func scalesOf(in *autograd.ActQuantizer, w *autograd.WeightQuantizer) []float64 {
	p, _ := in.Last()
	var s []float64
	for _, wp := range w.Last() {
		s = append(s, fakequant.AccumulatorScale(p, wp))
	}
	return s
}

func TestQuantizersDetectDivergenceAnywhere(t *testing.T) {
	// A NaN or Inf in either half of a split pass is reported.
	ctx := &autograd.Context{Mode: autograd.ModeTrain}
	const n = 1 << 16
	for _, at := range []int{0, n/2 - 1, n / 2, n - 1} {
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
			x := make([]float32, n)
			x[at] = bad
			a := &autograd.ActQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8}, Decay: 0.9}
			if err := a.Forward(make([]float32, n), x, []int{1, n}); !errors.Is(err, autograd.ErrDiverged) {
				t.Errorf("activation %v at %d: err %v", bad, at, err)
			}
			w := &autograd.WeightQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}, PerChannel: true, Channels: 64}
			if err := w.Forward(make([]float32, n), x, []int{64, n / 64}); !errors.Is(err, autograd.ErrDiverged) {
				t.Errorf("weight %v at %d: err %v", bad, at, err)
			}
		}
	}
}
