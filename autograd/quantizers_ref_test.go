package autograd_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/fakequant"
)

// The quantizers' fast paths (fused range passes, hoisted constants, several goroutines) give
// the bits of the paper's formulas written out here, with every quantization parameter
// computed by the test from the data (equations (4), (5) and (7) of fakequant's doc, by hand)
// and only the integer requantization taken from fakequant's scalar reference functions
// (RequantMultiplier, SaturateAccumulator, Requantize, ReLU6Ceiling), on inputs small enough to
// stay on one goroutine and large enough to be split.

// refWeightParams is equation (5) for 8-bit narrow signed weights (ch, per): S_c = |w|max/127
// over channel c (over the whole tensor unless perChannel), Z = 0, codes [-127, 127].
func refWeightParams(w []float32, ch int, perChannel bool) []fakequant.Params {
	per := len(w) / ch
	ps := make([]fakequant.Params, ch)
	var all float64
	for _, v := range w {
		all = math.Max(all, math.Abs(float64(v)))
	}
	for c := range ps {
		m := all
		if perChannel {
			m = 0
			for _, v := range w[c*per : (c+1)*per] {
				m = math.Max(m, math.Abs(float64(v)))
			}
		}
		ps[c] = fakequant.Params{Scale: m / 127, ZeroPoint: 0, QMin: -127, QMax: 127}
	}
	return ps
}

// refFakeQuant is equation (3): clamp(round(x/S) + Z, QMin, QMax) back to real, (q - Z) S,
// rounding halves away from zero.
func refFakeQuant(x float32, p fakequant.Params) float32 {
	q := math.Round(float64(x)/p.Scale) + float64(p.ZeroPoint)
	q = math.Max(float64(p.QMin), math.Min(float64(p.QMax), q))
	return float32((q - float64(p.ZeroPoint)) * p.Scale)
}

// refEMAParams is equation (7), m <- m - (1-decay)(m - batch) for the batch range extended to
// 0, from the range [min, max], then equation (4) for 8-bit unsigned codes: S = (max-min)/255,
// Z = clamp(round(-min/S), 0, 255).
func refEMAParams(x []float32, decay, min, max float64) fakequant.Params {
	lo, hi := 0.0, 0.0
	for _, v := range x {
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
	}
	min -= float64((1 - decay) * (min - lo))
	max -= float64((1 - decay) * (max - hi))
	s := (max - min) / 255
	z := math.Max(0, math.Min(255, math.Round(0-min/s)))
	return fakequant.Params{Scale: s, ZeroPoint: int32(z), QMin: 0, QMax: 255}
}

// refRequantize is the output quantizer's requantization, element by element, with the
// accumulator scales scales[c] = S_in S_w[c].
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
			wantPs := refWeightParams(w, sz.ch, perChannel)
			wantW := make([]float32, len(w))
			for i, v := range w {
				wantW[i] = refFakeQuant(v, wantPs[i/37])
			}
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
			if p, ok := in.Last(); !ok || p != (fakequant.Params{Scale: 1.0 / 255, ZeroPoint: 0, QMin: 0, QMax: 255}) {
				t.Fatalf("%s: input params %v (applied %v), want scale 1/255, zero point 0, [0, 255]", name, p, ok)
			}
			bq := &autograd.BiasQuantizer{In: in, W: wq}
			bq.Forward(make([]float32, sz.ch), normals(rng, sz.ch, 0.1), []int{sz.ch})
			scales := make([]float64, sz.ch) // S_in S_w[c]
			for c := range scales {
				scales[c] = 1.0 / 255 * wantPs[c].Scale
			}

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
				got := make([]float32, size)
				if err := out.Forward(got, x, shape); err != nil {
					t.Fatal(err)
				}
				p := refEMAParams(x, 0.9, -2, 5)
				if last, ok := out.Last(); !ok || last != p {
					t.Fatalf("%s: output params %v (applied %v), want %v", name, last, ok, p)
				}
				hi := p.QMax
				if relu6 {
					hi = fakequant.ReLU6Ceiling(p)
				}
				want := refRequantize(x, shape, p, hi, scales)
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
