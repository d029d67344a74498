package autograd_test

import (
	"errors"
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/fakequant"
	"gorgonia.org/gorgonia"
)

// convWeights returns OIHW weights (3, 2, 2, 2) whose output channels have very different
// magnitudes: N(0, sd_c^2) with sd = 0.05, 1, 8.
func convWeights(seed uint64) []float32 {
	rng := newRNG(seed)
	var w []float32
	for _, sd := range []float64{0.05, 1, 8} {
		w = append(w, normals(rng, 8, sd)...)
	}
	return w
}

func absMax(x []float32) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

func TestWeightQuantizer(t *testing.T) {
	int8n := fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}
	wd := convWeights(20)
	maxErr := map[bool]float64{} // largest |FQ(w) - w| of channel 0, by PerChannel
	for _, perChannel := range []bool{true, false} {
		name := map[bool]string{true: "per-channel", false: "per-tensor"}[perChannel]
		t.Run(name, func(t *testing.T) {
			q := &autograd.WeightQuantizer{Ctx: &autograd.Context{Mode: autograd.ModeTrain}, Scheme: int8n, PerChannel: perChannel, Channels: 3}
			f := newFQGraph(t, newRNG(21), q, 3, 2, 2, 2)
			f.run(wd)
			ps := q.Last()
			if len(ps) != 3 {
				t.Fatalf("Last() has %d params, want 3", len(ps))
			}
			// Equation (5): Z = 0, S = absMax / 127, from the channel or from the whole tensor.
			for c, p := range ps {
				am := absMax(wd)
				if perChannel {
					am = absMax(wd[c*8 : (c+1)*8])
				}
				if p.ZeroPoint != 0 || p.Scale != am/127 || p.QMin != -127 || p.QMax != 127 {
					t.Errorf("channel %d: params %v, want scale %g/127, zero point 0, [-127, 127]", c, p, am)
				}
			}
			if perChannel && (ps[0].Scale >= ps[1].Scale || ps[1].Scale >= ps[2].Scale) {
				t.Errorf("per-channel scales %g, %g, %g do not follow the channel magnitudes", ps[0].Scale, ps[1].Scale, ps[2].Scale)
			}
			checkQuantized(t, f, ps)

			// Each output is on its channel's grid: y/S is an integer in [-127, 127], within S/2
			// of the weight.
			for i, y := range f.out() {
				p := ps[i/8]
				k := float64(y) / p.Scale
				if math.Abs(k-math.Round(k)) > 1e-4 || math.Abs(k) > 127+1e-4 {
					t.Errorf("y[%d] = %g is %g steps of %g: not a code of [-127, 127]", i, y, k, p.Scale)
				}
				e := math.Abs(float64(y) - float64(wd[i]))
				if e > p.Scale/2*(1+1e-6) {
					t.Errorf("|y - w|[%d] = %g > S/2 = %g", i, e, p.Scale/2)
				}
				if i < 8 {
					maxErr[perChannel] = math.Max(maxErr[perChannel], e)
				}
			}
		})
	}
	// Channel 0 is 160 times smaller than channel 2: its own scale resolves it much better.
	if !(maxErr[true]*10 < maxErr[false]) {
		t.Errorf("channel 0 error: per-channel %g, per-tensor %g; want per-channel far smaller", maxErr[true], maxErr[false])
	}
}

func TestWeightQuantizerClipsPerChannel(t *testing.T) {
	// With an unsigned scheme the range of each channel is [0, absMax]: negative weights are
	// clipped to 0 and get no gradient, channel by channel.
	q := &autograd.WeightQuantizer{Ctx: &autograd.Context{Mode: autograd.ModeEval}, Scheme: fakequant.Scheme{Bits: 8}, PerChannel: true, Channels: 3}
	f := newFQGraph(t, newRNG(22), q, 3, 2, 2, 2)
	wd := convWeights(23)
	f.run(wd)
	ps := q.Last()
	negatives := 0
	for _, v := range wd {
		if v < 0 {
			negatives++
		}
	}
	if got := checkQuantized(t, f, ps); got != negatives || negatives == 0 {
		t.Errorf("%d gradients clipped, want the %d negative weights", got, negatives)
	}
}

func TestWeightQuantizerInactive(t *testing.T) {
	for _, mode := range []autograd.Mode{autograd.ModeFloat, autograd.ModeCalibrate} {
		t.Run(mode.String(), func(t *testing.T) {
			q := &autograd.WeightQuantizer{Ctx: &autograd.Context{Mode: mode}, Scheme: fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}, PerChannel: true, Channels: 3}
			f := newFQGraph(t, newRNG(24), q, 3, 2, 2, 2)
			f.run(convWeights(25))
			checkIdentity(t, f)
			if q.Last() != nil {
				t.Errorf("Last() = %v, want nil", q.Last())
			}
		})
	}
}

// biasGraph is the quantization of a fully connected layer's bias, wired as nn does it:
// bq = FakeQuant(b, bQ, xq, wq) runs after the input and weight quantizers.
type biasGraph struct {
	x, w, b []float32
	wq, bq  *gorgonia.Node
	p       *probe // loss sum(bq * r0) + sum(wq * r1); gradients wrt b and w
}

func newBiasGraph(t *testing.T, inQ *autograd.ActQuantizer, wQ *autograd.WeightQuantizer) *biasGraph {
	t.Helper()
	rng := newRNG(30)
	bg := &biasGraph{x: normals(rng, 2*4, 1), w: normals(rng, 3*4, 0.3), b: normals(rng, 3, 0.5)}
	g := gorgonia.NewGraph()
	x, w, b := input(g, "x", bg.x, 2, 4), input(g, "w", bg.w, 3, 4), input(g, "b", bg.b, 3)
	xq := must(t)(autograd.FakeQuant(x, inQ))
	bg.wq = must(t)(autograd.FakeQuant(w, wQ))
	bg.bq = must(t)(autograd.FakeQuant(b, &autograd.BiasQuantizer{In: inQ, W: wQ}, xq, bg.wq))
	bg.p = newProbe(t, rng, []*gorgonia.Node{bg.bq, bg.wq}, b, w)
	return bg
}

func TestBiasQuantizer(t *testing.T) {
	ctx := &autograd.Context{Mode: autograd.ModeTrain}
	inQ := &autograd.ActQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8}, Decay: 0.99}
	wQ := &autograd.WeightQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}, PerChannel: true, Channels: 3}
	bg := newBiasGraph(t, inQ, wQ)
	bg.p.run()

	in, ok := inQ.Last()
	ws := wQ.Last()
	if !ok || ws == nil {
		t.Fatalf("input or weight quantizer inactive: %v %v", ok, ws)
	}
	changed := 0
	for c, v := range values(bg.bq) {
		// bq[c] is the float32 of k * S_in * S_w[c] for an integer k: within float32 rounding
		// of the exact multiple, and within half a step of b[c].
		s := in.Scale * ws[c].Scale
		k := math.Round(float64(v) / s)
		if d := math.Abs(float64(v) - k*s); d > math.Abs(k*s)*0x1p-24 {
			t.Errorf("bq[%d] = %g is %g from %g * %g: not on the int32 grid", c, v, d, k, s)
		}
		if d := math.Abs(float64(v) - float64(bg.b[c])); d > s/2*(1+1e-6) {
			t.Errorf("bq[%d] = %g is %g from b = %g, more than half a step %g", c, v, d, bg.b[c], s/2)
		}
		if v != bg.b[c] {
			changed++
		}
	}
	if changed == 0 {
		t.Error("no bias value changed: the test data is already on the grid")
	}
	// The gradient of the bias is the identity; the weights get only their own STE: the bias
	// node's extra inputs are not differentiated.
	if i, ok := bitsEqual(bg.p.grad(0), bg.p.rs[0]); !ok {
		t.Errorf("db[%d] = %g, want %g", i, bg.p.grad(0)[i], bg.p.rs[0][i])
	}
	if i, ok := bitsEqual(bg.p.grad(1), bg.p.rs[1]); !ok {
		t.Errorf("dw[%d] = %g, want %g (weights in range: the STE passes)", i, bg.p.grad(1)[i], bg.p.rs[1][i])
	}
}

func TestBiasQuantizerInactive(t *testing.T) {
	s8 := fakequant.Scheme{Bits: 8}
	int8n := fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}
	for _, tc := range []struct {
		name string
		mode autograd.Mode
		inQ  autograd.ActQuantizer
	}{
		// Weights quantized, input not yet (the input quantizer waits out its delay).
		{"train-delay", autograd.ModeTrain, autograd.ActQuantizer{Scheme: s8, Decay: 0.99, Delay: 5}},
		// Weights quantized, input quantizer without a range.
		{"eval-unseen", autograd.ModeEval, autograd.ActQuantizer{Scheme: s8}},
		{"float", autograd.ModeFloat, autograd.ActQuantizer{Scheme: s8, Min: -1, Max: 1, Seen: true}},
		{"calibrate", autograd.ModeCalibrate, autograd.ActQuantizer{Scheme: s8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := &autograd.Context{Mode: tc.mode}
			inQ := tc.inQ
			inQ.Ctx = ctx
			wQ := &autograd.WeightQuantizer{Ctx: ctx, Scheme: int8n, PerChannel: true, Channels: 3}
			bg := newBiasGraph(t, &inQ, wQ)
			bg.p.run()
			if i, ok := bitsEqual(values(bg.bq), bg.b); !ok {
				t.Errorf("bq[%d] = %g, want b = %g unchanged", i, values(bg.bq)[i], bg.b[i])
			}
			if i, ok := bitsEqual(bg.p.grad(0), bg.p.rs[0]); !ok {
				t.Errorf("db[%d] = %g, want %g", i, bg.p.grad(0)[i], bg.p.rs[0][i])
			}
		})
	}
}

func TestFakeQuantDiverged(t *testing.T) {
	// A NaN or Inf reaching an observing quantizer fails the run with ErrDiverged.
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		q := &autograd.ActQuantizer{Ctx: &autograd.Context{Mode: autograd.ModeTrain}, Scheme: fakequant.Scheme{Bits: 8}, Decay: 0.9}
		g := gorgonia.NewGraph()
		xd := []float32{0.5, bad, -1}
		must(t)(autograd.FakeQuant(input(g, "x", xd, 3), q))
		vm := gorgonia.NewTapeMachine(g)
		err := vm.RunAll()
		vm.Close()
		// gorgonia's VM wraps the op's error in a type without Unwrap; its Err method has it.
		var vmErr interface{ Err() error }
		if !errors.As(err, &vmErr) || !errors.Is(vmErr.Err(), autograd.ErrDiverged) {
			t.Errorf("x = %v: RunAll error %v, want ErrDiverged", xd, err)
		}
		if q.Seen || q.Steps != 0 {
			t.Errorf("x = %v: state recorded from a diverged batch: Seen %v Steps %d", xd, q.Seen, q.Steps)
		}
	}
}
