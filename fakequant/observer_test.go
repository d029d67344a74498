package fakequant

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMinMax(t *testing.T) {
	var o MinMax
	if p := o.Params(uint8s); p != ChooseParams(0, 0, uint8s) {
		t.Errorf("unseen MinMax params %v, want the degenerate range", p)
	}
	o.Observe(nil)
	if o.Seen {
		t.Error("an empty batch marked the observer as seen")
	}
	steps := []struct {
		x        []float32
		min, max float64
	}{
		{[]float32{1, 2, 3}, 0, 3}, // includes 0
		{[]float32{-1, 0.5}, -1, 3},
		{[]float32{}, -1, 3}, // ignored
		{[]float32{2.5, -0.5}, -1, 3},
		{[]float32{-4, 7}, -4, 7},
	}
	for i, st := range steps {
		o.Observe(st.x)
		if !o.Seen || o.Min != st.min || o.Max != st.max {
			t.Fatalf("step %d: MinMax = %+v, want [%g, %g]", i, o, st.min, st.max)
		}
	}
	if p, want := o.Params(int8s), ChooseParams(-4, 7, int8s); p != want {
		t.Errorf("Params = %v, want %v", p, want)
	}
}

func TestEMA(t *testing.T) {
	o := EMA{Decay: 0.9}
	if p := o.Params(uint8s); p != ChooseParams(0, 0, uint8s) {
		t.Errorf("unseen EMA params %v, want the degenerate range", p)
	}
	o.Observe(nil)
	if o.Seen {
		t.Error("an empty batch marked the observer as seen")
	}
	// The first batch initializes.
	o.Observe([]float32{-1, 2, 0.5})
	if !o.Seen || o.Min != -1 || o.Max != 2 {
		t.Fatalf("after the first batch %+v, want [-1, 2]", o)
	}
	// Then m <- m - 0.1 (m - batch): -1 - 0.1(-1 - -3) = -1.2, 2 - 0.1(2 - 1) = 1.9.
	o.Observe([]float32{-3, 1})
	if math.Abs(o.Min - -1.2) > 1e-15 || math.Abs(o.Max-1.9) > 1e-15 {
		t.Fatalf("after the second batch %+v, want [-1.2, 1.9]", o)
	}
	// A positive-only batch pulls Min toward 0 (its range is extended to include 0).
	o.Observe([]float32{1, 2})
	if math.Abs(o.Min - -1.08) > 1e-15 || math.Abs(o.Max-1.91) > 1e-15 {
		t.Fatalf("after the third batch %+v, want [-1.08, 1.91]", o)
	}
	o.Observe([]float32{}) // ignored
	if math.Abs(o.Min - -1.08) > 1e-15 {
		t.Fatalf("an empty batch changed the average: %+v", o)
	}
	if p, want := o.Params(uint8s), ChooseParams(o.Min, o.Max, uint8s); p != want {
		t.Errorf("Params = %v, want %v", p, want)
	}
}

func TestEMAFormula(t *testing.T) {
	rng := newRNG()
	for _, d := range []float64{0, 0.5, 0.9, 0.99, 0.999} {
		o := EMA{Decay: d}
		var wmin, wmax float64
		for i := range 300 {
			x := make([]float32, 1+rng.IntN(50))
			for j := range x {
				x[j] = float32(rng.NormFloat64()*2 + 0.5)
			}
			lo, hi := BatchRange(x)
			if i == 0 {
				wmin, wmax = lo, hi
			} else {
				wmin = wmin - float64((1-d)*(wmin-lo))
				wmax = wmax - float64((1-d)*(wmax-hi))
			}
			o.Observe(x)
			if o.Min != wmin || o.Max != wmax {
				t.Fatalf("decay %g step %d: %+v, want [%g, %g]", d, i, o, wmin, wmax)
			}
			if d == 0 && (o.Min != lo || o.Max != hi) {
				t.Fatalf("decay 0 does not keep the last batch")
			}
			if !(o.Min <= 0 && 0 <= o.Max) {
				t.Fatalf("decay %g: average [%g, %g] lost 0", d, o.Min, o.Max)
			}
		}
	}
}

func TestEMAConverges(t *testing.T) {
	// After the initial batch the error shrinks by the decay each step: d^n.
	o := EMA{Decay: 0.99}
	o.Observe([]float32{-10, 10})
	batch := []float32{-1, 3}
	for range 2000 {
		o.Observe(batch)
	}
	want := 9 * math.Pow(0.99, 2000) // |Min - -1| = 9 d^n
	if math.Abs(o.Min - -1) > want*1.01+1e-12 || math.Abs(o.Max-3) > 7*math.Pow(0.99, 2000)*1.01+1e-12 {
		t.Errorf("EMA did not converge: %+v", o)
	}
}

func TestEMADecayPanics(t *testing.T) {
	for _, d := range []float64{1, -0.1, 1.5, math.NaN()} {
		o := EMA{Decay: d}
		mustPanic(t, "EMA decay", func() { o.Observe([]float32{1}) })
	}
}

// TestObserversCalibrate runs a small calibration: the observed ranges must cover the data
// they saw (MinMax) and the chosen params keep 0 exact.
func TestObserversCalibrate(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var mm MinMax
	ema := EMA{Decay: 0.95}
	var all []float32
	for range 40 {
		x := make([]float32, 64)
		for i := range x {
			x[i] = float32(math.Max(0, rng.NormFloat64())) // ReLU outputs
		}
		all = append(all, x...)
		mm.Observe(x)
		ema.Observe(x)
	}
	lo, hi := BatchRange(all)
	if mm.Min != lo || mm.Max != hi {
		t.Errorf("MinMax [%g, %g], want the range of all data [%g, %g]", mm.Min, mm.Max, lo, hi)
	}
	if ema.Min != 0 || !(ema.Max > 0 && ema.Max <= hi) {
		t.Errorf("EMA [%g, %g] for ReLU data within [0, %g]", ema.Min, ema.Max, hi)
	}
	for _, s := range []Scheme{uint8s, int8s} {
		checkParams(t, mm.Params(s), s, mm.Min, mm.Max)
		checkParams(t, ema.Params(s), s, ema.Min, ema.Max)
	}
}
