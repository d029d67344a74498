package autograd_test

import (
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/fakequant"
	"gorgonia.org/gorgonia"
)

// lsqRef is LSQ's gradient of p = ln S written out from the paper's cases with Params.Quantize
// (independently of fakequant.LSQStepGrad): S g sum_i r_i d_i, d_i = q_i - Z - x_i/S inside the
// grid, Qn or Qp where x_i/S is beyond it, g = 1/sqrt(n Qp).
func lsqRef(x, r []float32, p fakequant.Params, n int) float64 {
	qn, qp := float64(p.QMin-p.ZeroPoint), float64(p.QMax-p.ZeroPoint)
	var sum float64
	for i, xv := range x {
		v := float64(xv) / p.Scale
		d := float64(p.Quantize(float64(xv))-p.ZeroPoint) - v
		if v <= qn {
			d = qn
		} else if v >= qp {
			d = qp
		}
		sum += float64(r[i]) * d
	}
	return p.Scale * sum / math.Sqrt(float64(n)*qp)
}

// lsqGraph is y = FakeQuantLSQ(x, p, q) with the probe loss sum(y r) and gradients dx, dp.
func lsqGraph(t *testing.T, seed uint64, q autograd.LearnedQuantizer, x, logStep []float32, shape ...int) *probe {
	g := gorgonia.NewGraph()
	xn := input(g, "x", x, shape...)
	pn := input(g, "p", logStep, len(logStep))
	y := must(t)(autograd.FakeQuantLSQ(xn, pn, q))
	return newProbe(t, newRNG(seed), []*gorgonia.Node{y}, xn, pn)
}

func TestFakeQuantLSQActivations(t *testing.T) {
	rng := newRNG(41)
	for _, bits := range []int{2, 3, 4, 8} {
		ctx := &autograd.Context{Mode: autograd.ModeTrain}
		q := &autograd.ActQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: bits}, Fixed: true, Min: -1, Max: 3, Seen: true}
		z := q.Params().ZeroPoint
		shape := []int{4, 3, 5, 5}
		x := uniforms(rng, 300, -2, 5)
		step := 4.5 / float64(int(1)<<bits) // clips part of [-2, 5]
		p := []float32{float32(math.Log(step))}
		pr := lsqGraph(t, uint64(bits), q, x, p, shape...)
		pr.run()
		ps := q.Params()
		if ps.ZeroPoint != z || math.Abs(ps.Scale-math.Exp(float64(p[0]))) > 1e-12 {
			t.Fatalf("%d bits: params %v, want zero point %d and step %g", bits, ps, z, math.Exp(float64(p[0])))
		}
		want := make([]float32, len(x))
		fakequant.FakeQuantizeSlice(want, x, ps)
		if i, ok := bitsEqual(values(pr.outs[0]), want); !ok {
			t.Fatalf("%d bits: FQ(%g) = %g, want %g", bits, x[i], values(pr.outs[0])[i], want[i])
		}
		lo, hi := ps.NudgedRange()
		dx, r := pr.grad(0), pr.rs[0]
		clipped := 0
		for i, v := range x {
			w := r[i]
			if f := float64(v); f < lo || f > hi {
				w, clipped = 0, clipped+1
			}
			if dx[i] != w {
				t.Fatalf("%d bits: x = %g in [%g, %g]: dx %g, want %g", bits, v, lo, hi, dx[i], w)
			}
		}
		if clipped == 0 || clipped == len(x) {
			t.Fatalf("%d bits: %d of %d values clipped: the case does not exercise both branches", bits, clipped, len(x))
		}
		got, ref := float64(pr.grad(1)[0]), lsqRef(x, r, ps, 75)
		if math.Abs(got-ref) > 1e-5*math.Max(1e-3, math.Abs(ref)) {
			t.Errorf("%d bits: dL/dp = %g, reference %g", bits, got, ref)
		}

		// Float mode: identity, and the step gets no gradient.
		ctx.Mode = autograd.ModeFloat
		pr.run()
		if i, ok := bitsEqual(values(pr.outs[0]), x); !ok {
			t.Errorf("%d bits, float mode: y[%d] = %g, want %g", bits, i, values(pr.outs[0])[i], x[i])
		}
		if g := pr.grad(1)[0]; g != 0 {
			t.Errorf("%d bits, float mode: dL/dp = %g, want 0", bits, g)
		}
	}
}

func TestFakeQuantLSQWeights(t *testing.T) {
	rng := newRNG(43)
	for _, bits := range []int{2, 3, 4, 8} {
		for _, perChannel := range []bool{true, false} {
			ctx := &autograd.Context{Mode: autograd.ModeTrain}
			const c = 6
			q := &autograd.WeightQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: bits, Signed: true, Narrow: true}, PerChannel: perChannel, Channels: c}
			_, qmax := q.Scheme.Range()
			w := normals(rng, c*4*3*3, 0.5)
			p := make([]float32, q.NumSteps())
			for i := range p {
				p[i] = float32(math.Log(0.8 * (1 + 0.3*rng.Float64()) / float64(qmax)))
			}
			pr := lsqGraph(t, uint64(bits), q, w, p, c, 4, 3, 3)
			pr.run()
			ps := make([]fakequant.Params, c)
			for ch := range ps {
				ps[ch] = fakequant.StepParams(math.Exp(float64(p[ch%len(p)])), q.Scheme)
			}
			if got := q.ParamsFor(w); len(got) != c || got[c-1] != ps[c-1] {
				t.Fatalf("ParamsFor = %v, want %v", got, ps)
			}
			want := make([]float32, len(w))
			fakequant.FakeQuantizePerChannel(want, w, ps)
			if i, ok := bitsEqual(values(pr.outs[0]), want); !ok {
				t.Fatalf("%d bits per-channel=%v: FQ(%g) = %g, want %g", bits, perChannel, w[i], values(pr.outs[0])[i], want[i])
			}
			dx, r := pr.grad(0), pr.rs[0]
			per := len(w) / c
			clipped := 0
			for i, v := range w {
				lo, hi := ps[i/per].NudgedRange()
				want := r[i]
				if f := float64(v); f < lo || f > hi {
					want, clipped = 0, clipped+1
				}
				if dx[i] != want {
					t.Fatalf("%d bits: w = %g in [%g, %g]: dx %g, want %g", bits, v, lo, hi, dx[i], want)
				}
			}
			if clipped == 0 {
				t.Fatalf("%d bits: no weight clipped: the case does not exercise the clip", bits)
			}
			dp := pr.grad(1)
			for k := range p {
				var ref float64
				if perChannel {
					ref = lsqRef(w[k*per:(k+1)*per], r[k*per:(k+1)*per], ps[k], per)
				} else {
					ref = lsqRef(w, r, ps[0], len(w))
				}
				if math.Abs(float64(dp[k])-ref) > 1e-5*math.Max(1e-3, math.Abs(ref)) {
					t.Errorf("%d bits per-channel=%v: dL/dp[%d] = %g, reference %g", bits, perChannel, k, dp[k], ref)
				}
			}
		}
	}
}
