package autograd_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/fakequant"
	"gorgonia.org/gorgonia"
)

// fqGraph is y = FakeQuant(x, q) with the probe loss sum(y * r) and its gradient dx.
type fqGraph struct {
	x []float32 // x's backing: write a batch, then run
	y *gorgonia.Node
	p *probe
}

func newFQGraph(t *testing.T, rng *rand.Rand, q autograd.Quantizer, shape ...int) *fqGraph {
	t.Helper()
	size := 1
	for _, d := range shape {
		size *= d
	}
	f := &fqGraph{x: make([]float32, size)}
	g := gorgonia.NewGraph()
	x := input(g, "x", f.x, shape...)
	f.y = must(t)(autograd.FakeQuant(x, q))
	f.p = newProbe(t, rng, []*gorgonia.Node{f.y}, x)
	return f
}

// run copies batch into x and runs the graph.
func (f *fqGraph) run(batch []float32) {
	copy(f.x, batch)
	f.p.run()
}

// out and dx return the output and the input gradient of the last run.
func (f *fqGraph) out() []float32 { return values(f.y) }
func (f *fqGraph) dx() []float32  { return f.p.grad(0) }

// checkQuantized checks the last run of f against ps (one Params per equal block of x): the
// output is fakequant.FakeQuantizePerChannel bit for bit, and dx is the clipped STE, dy = r
// bit for bit where lo <= x <= hi and exactly 0 elsewhere. It returns how many gradients were
// clipped.
func checkQuantized(t *testing.T, f *fqGraph, ps []fakequant.Params) (clipped int) {
	t.Helper()
	want := make([]float32, len(f.x))
	fakequant.FakeQuantizePerChannel(want, f.x, ps)
	if i, ok := bitsEqual(f.out(), want); !ok {
		t.Errorf("FakeQuant(%g) = %g, want %g", f.x[i], f.out()[i], want[i])
	}
	per := len(f.x) / len(ps)
	dx, r := f.dx(), f.p.rs[0]
	for i, v := range f.x {
		lo, hi := ps[i/per].NudgedRange()
		w := r[i]
		if x := float64(v); x < lo || x > hi {
			w = 0
			clipped++
		}
		if math.Float32bits(dx[i]) != math.Float32bits(w) {
			t.Errorf("x = %g in [%g, %g]: dx = %g, want %g", v, lo, hi, dx[i], w)
		}
	}
	return clipped
}

// checkIdentity checks that the last run of f passed x and the gradient through unchanged.
func checkIdentity(t *testing.T, f *fqGraph) {
	t.Helper()
	if i, ok := bitsEqual(f.out(), f.x); !ok {
		t.Errorf("identity expected: FakeQuant(%g) = %g", f.x[i], f.out()[i])
	}
	if i, ok := bitsEqual(f.dx(), f.p.rs[0]); !ok {
		t.Errorf("full gradient expected: x = %g: dx = %g, want %g", f.x[i], f.dx()[i], f.p.rs[0][i])
	}
}

func TestFakeQuantSTEEdges(t *testing.T) {
	// A frozen range whose nudged edges are exact in float32: S = 1/64, Z = 64, so
	// lo = -1 and hi = 191/64. The edges pass the gradient; one ulp outside does not.
	q := &autograd.ActQuantizer{
		Ctx: &autograd.Context{Mode: autograd.ModeEval}, Scheme: fakequant.Scheme{Bits: 8},
		Min: -1, Max: 191.0 / 64, Seen: true, Steps: 7,
	}
	p := q.Params()
	if lo, hi := p.NudgedRange(); p.Scale != 1.0/64 || p.ZeroPoint != 64 || lo != -1 || hi != 191.0/64 {
		t.Fatalf("params %v, range [%g, %g]: want scale 1/64, zero point 64, range [-1, 191/64]", p, lo, hi)
	}
	lo, hi := float32(-1), float32(191.0/64)
	edges := []float32{
		lo, hi, math.Nextafter32(lo, -2), math.Nextafter32(hi, 4), math.Nextafter32(lo, 0), math.Nextafter32(hi, 0),
		0, -3, 5, 0.5 / 64, -1.5 / 64, // two ties, rounded away from zero
	}
	rng := newRNG(9)
	batch := append(edges, uniforms(rng, 40-len(edges), -2, 4)...)
	f := newFQGraph(t, rng, q, 5, 8)
	f.run(batch)

	if got := checkQuantized(t, f, []fakequant.Params{p}); got == 0 {
		t.Error("no gradient was clipped: the test data does not leave the range")
	}
	dx, r := f.dx(), f.p.rs[0]
	for i, name := range []string{"lo", "hi"} {
		if dx[i] != r[i] {
			t.Errorf("x = %s: dx = %g, want the upstream %g (closed interval)", name, dx[i], r[i])
		}
		if dx[2+i] != 0 {
			t.Errorf("x one ulp outside %s: dx = %g, want 0", name, dx[2+i])
		}
	}
	if q.Min != -1 || q.Max != 191.0/64 || q.Steps != 7 || !q.Seen {
		t.Errorf("ModeEval changed the state: Min %g Max %g Steps %d Seen %v", q.Min, q.Max, q.Steps, q.Seen)
	}
	if last, ok := q.Last(); !ok || last != p {
		t.Errorf("Last() = %v, %v; want %v, true", last, ok, p)
	}
}

// emaRef is equation (7) with the first batch initializing the range; each batch range is
// extended to include 0.
type emaRef struct {
	min, max float64
	seen     bool
}

func (e *emaRef) observe(x []float32, decay float64) {
	lo, hi := 0.0, 0.0
	for _, v := range x {
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
	}
	if !e.seen {
		e.min, e.max, e.seen = lo, hi, true
		return
	}
	e.min = e.min - float64((1-decay)*(e.min-lo))
	e.max = e.max - float64((1-decay)*(e.max-hi))
}

func TestActQuantizerTrainDelayEMA(t *testing.T) {
	const decay, delay, steps = 0.9, 2, 6
	q := &autograd.ActQuantizer{
		Ctx: &autograd.Context{Mode: autograd.ModeTrain}, Scheme: fakequant.Scheme{Bits: 8},
		Decay: decay, Delay: delay,
	}
	rng := newRNG(10)
	f := newFQGraph(t, rng, q, 4, 6)
	var ref emaRef
	ema := fakequant.EMA{Decay: decay} // the observer of equation (7), for a cross-check
	clipped := 0
	for k := 1; k <= steps; k++ {
		// The first batch is all positive (its range is extended down to 0); later ones grow,
		// so each leaves the average range of the batches before it.
		batch := uniforms(rng, 24, 0.5, 2)
		if k > 1 {
			batch = normals(rng, 24, 0.5*float64(k))
		}
		f.run(batch)
		ref.observe(batch, decay)
		ema.Observe(batch)
		if ema.Min != ref.min || ema.Max != ref.max {
			t.Fatalf("step %d: reference [%g, %g] disagrees with fakequant.EMA [%g, %g]", k, ref.min, ref.max, ema.Min, ema.Max)
		}
		if q.Min != ref.min || q.Max != ref.max || !q.Seen || q.Steps != k {
			t.Fatalf("step %d: state Min %g Max %g Seen %v Steps %d, want Min %g Max %g Seen true Steps %d",
				k, q.Min, q.Max, q.Seen, q.Steps, ref.min, ref.max, k)
		}
		if k == 1 && q.Min != 0 {
			t.Errorf("step 1: Min %g from an all-positive batch, want 0", q.Min)
		}
		_, active := q.Last()
		if k <= delay {
			if active || q.Active() {
				t.Errorf("step %d <= Delay %d: quantizer active", k, delay)
			}
			checkIdentity(t, f)
			if lo, hi := q.Params().NudgedRange(); k > 1 && !outside(batch, lo, hi) {
				t.Fatalf("step %d: batch inside the tracked range: the full gradient is not tested", k)
			}
			continue
		}
		last, _ := q.Last()
		if !active || last != q.Params() {
			t.Errorf("step %d > Delay %d: Last() = %v, %v; want %v, true", k, delay, last, active, q.Params())
		}
		clipped += checkQuantized(t, f, []fakequant.Params{q.Params()})
	}
	if clipped == 0 {
		t.Error("no gradient clipped after the delay: the test data never leaves the range")
	}
}

// outside reports whether some value of x lies outside [lo, hi].
func outside(x []float32, lo, hi float64) bool {
	for _, v := range x {
		if float64(v) < lo || float64(v) > hi {
			return true
		}
	}
	return false
}

func TestActQuantizerCalibrate(t *testing.T) {
	q := &autograd.ActQuantizer{
		Ctx: &autograd.Context{Mode: autograd.ModeCalibrate}, Scheme: fakequant.Scheme{Bits: 8},
		Decay: 0.5, // must not matter: calibration takes plain min/max
	}
	rng := newRNG(11)
	f := newFQGraph(t, rng, q, 3, 5)
	batches := [][]float32{
		uniforms(rng, 15, 0.25, 1.5), // all positive: Min starts at 0
		uniforms(rng, 15, -0.5, 3),
		uniforms(rng, 15, -2, 1),
		uniforms(rng, 15, -0.1, 0.1),
	}
	wantMin, wantMax := 0.0, 0.0
	for k, b := range batches {
		f.run(b)
		for _, v := range b {
			wantMin, wantMax = math.Min(wantMin, float64(v)), math.Max(wantMax, float64(v))
		}
		if q.Min != wantMin || q.Max != wantMax || q.Steps != k+1 || !q.Seen {
			t.Errorf("batch %d: Min %g Max %g Steps %d Seen %v, want running min/max [%g, %g], Steps %d",
				k, q.Min, q.Max, q.Steps, q.Seen, wantMin, wantMax, k+1)
		}
		if _, ok := q.Last(); ok || q.Active() {
			t.Errorf("batch %d: quantizer active in ModeCalibrate", k)
		}
		checkIdentity(t, f)
	}
}

func TestActQuantizerFloat(t *testing.T) {
	q := &autograd.ActQuantizer{Ctx: &autograd.Context{Mode: autograd.ModeFloat}, Scheme: fakequant.Scheme{Bits: 8}, Decay: 0.9}
	rng := newRNG(12)
	f := newFQGraph(t, rng, q, 2, 7)
	for k := 0; k < 3; k++ {
		f.run(normals(rng, 14, 3))
		checkIdentity(t, f)
	}
	if q.Min != 0 || q.Max != 0 || q.Seen || q.Steps != 0 {
		t.Errorf("ModeFloat recorded state: Min %g Max %g Seen %v Steps %d", q.Min, q.Max, q.Seen, q.Steps)
	}
	if _, ok := q.Last(); ok {
		t.Error("Last() reports a range in ModeFloat")
	}
}

func TestActQuantizerEvalUnseen(t *testing.T) {
	// In ModeEval a quantizer that never observed anything has no range and passes through.
	q := &autograd.ActQuantizer{Ctx: &autograd.Context{Mode: autograd.ModeEval}, Scheme: fakequant.Scheme{Bits: 8}}
	rng := newRNG(13)
	f := newFQGraph(t, rng, q, 9)
	f.run(normals(rng, 9, 2))
	checkIdentity(t, f)
	if q.Seen || q.Steps != 0 {
		t.Errorf("ModeEval observed: Seen %v Steps %d", q.Seen, q.Steps)
	}
}

func TestActQuantizerFixed(t *testing.T) {
	// A fixed range (the model input) quantizes from the first step, whatever the delay, and
	// is never updated.
	q := &autograd.ActQuantizer{
		Ctx: &autograd.Context{Mode: autograd.ModeTrain}, Scheme: fakequant.Scheme{Bits: 8},
		Decay: 0.9, Delay: 100, Fixed: true, Min: 0, Max: 1, Seen: true,
	}
	rng := newRNG(14)
	f := newFQGraph(t, rng, q, 16)
	f.run(uniforms(rng, 16, -0.5, 1.5))
	want := fakequant.ChooseParams(0, 1, fakequant.Scheme{Bits: 8})
	if checkQuantized(t, f, []fakequant.Params{want}) == 0 {
		t.Error("no gradient clipped: the test data does not leave [0, 1]")
	}
	if q.Min != 0 || q.Max != 1 || q.Steps != 0 {
		t.Errorf("fixed range updated: Min %g Max %g Steps %d", q.Min, q.Max, q.Steps)
	}
}

func TestFakeQuantDistinctNodes(t *testing.T) {
	// Two FakeQuant nodes on the same input with different quantizers must not be merged by
	// gorgonia's hash-consing: each computes its own range, and dx sums both STEs.
	ctx := &autograd.Context{Mode: autograd.ModeEval}
	s := fakequant.Scheme{Bits: 4}
	q1 := &autograd.ActQuantizer{Ctx: ctx, Scheme: s, Min: -1, Max: 1, Seen: true}
	q2 := &autograd.ActQuantizer{Ctx: ctx, Scheme: s, Min: -4, Max: 4, Seen: true}
	rng := newRNG(15)
	xd := uniforms(rng, 12, -5, 5)
	g := gorgonia.NewGraph()
	x := input(g, "x", xd, 3, 4)
	y1 := must(t)(autograd.FakeQuant(x, q1))
	y2 := must(t)(autograd.FakeQuant(x, q2))
	if y1 == y2 {
		t.Fatal("FakeQuant returned the same node for two quantizers")
	}
	if h1, h2 := y1.Op().Hashcode(), y2.Op().Hashcode(); h1 == h2 {
		t.Errorf("op hashes equal: %#x", h1)
	}
	if y1.Hashcode() == y2.Hashcode() {
		t.Errorf("node hashes equal: %#x", y1.Hashcode())
	}
	p := newProbe(t, rng, []*gorgonia.Node{y1, y2}, x)
	p.run()

	p1, p2 := q1.Params(), q2.Params()
	want1, want2 := make([]float32, 12), make([]float32, 12)
	fakequant.FakeQuantizeSlice(want1, xd, p1)
	fakequant.FakeQuantizeSlice(want2, xd, p2)
	if i, ok := bitsEqual(values(y1), want1); !ok {
		t.Errorf("y1[%d] = %g, want %g with %v", i, values(y1)[i], want1[i], p1)
	}
	if i, ok := bitsEqual(values(y2), want2); !ok {
		t.Errorf("y2[%d] = %g, want %g with %v", i, values(y2)[i], want2[i], p2)
	}
	if _, same := bitsEqual(want1, want2); same {
		t.Fatal("test data gives equal outputs for both ranges")
	}
	dx := p.grad(0)
	for i, v := range xd {
		var g1, g2 float32
		if p1.InRange(float64(v)) {
			g1 = p.rs[0][i]
		}
		if p2.InRange(float64(v)) {
			g2 = p.rs[1][i]
		}
		if want := g1 + g2; dx[i] != want {
			t.Errorf("x = %g: dx = %g, want %g + %g", v, dx[i], g1, g2)
		}
	}
}
