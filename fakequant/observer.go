package fakequant

import (
	"fmt"
	"math"
)

// MinMax tracks the running minimum and maximum of everything it has observed, each extended
// to include 0 (post-training calibration). The zero value is ready to use.
type MinMax struct {
	Min, Max float64
	Seen     bool // at least one non-empty batch observed
}

// Observe extends the running range by BatchRange(x). An empty x is ignored.
func (o *MinMax) Observe(x []float32) {
	if len(x) == 0 {
		return
	}
	lo, hi := BatchRange(x)
	if !o.Seen {
		o.Min, o.Max, o.Seen = lo, hi, true
		return
	}
	o.Min = math.Min(o.Min, lo)
	o.Max = math.Max(o.Max, hi)
}

// Params returns ChooseParams(o.Min, o.Max, s); before any observation that is the degenerate
// range [0, 0].
func (o *MinMax) Params(s Scheme) Params { return ChooseParams(o.Min, o.Max, s) }

// EMA tracks an exponential moving average of batch ranges (activations during QAT),
// equation (7): with (bmin, bmax) = BatchRange(x),
//
//	Min <- Min - (1-Decay) (Min - bmin)
//	Max <- Max - (1-Decay) (Max - bmax)
//
// The first non-empty batch initializes Min and Max to its range. Decay must be in [0, 1):
// 0.99..0.999 is usual (PyTorch's averaging constant 0.01 is Decay 0.99); Decay 0 keeps only
// the last batch. Since each batch range contains 0, so does the average.
type EMA struct {
	Decay    float64
	Min, Max float64
	Seen     bool // at least one non-empty batch observed
}

// Observe folds BatchRange(x) into the average. An empty x is ignored.
// It panics if Decay is outside [0, 1).
func (o *EMA) Observe(x []float32) {
	if !(o.Decay >= 0 && o.Decay < 1) {
		panic(fmt.Sprintf("fakequant: EMA.Observe: decay %g outside [0, 1)", o.Decay))
	}
	if len(x) == 0 {
		return
	}
	lo, hi := BatchRange(x)
	if !o.Seen {
		o.Min, o.Max, o.Seen = lo, hi, true
		return
	}
	// The explicit float64 conversions forbid fusing into an FMA, so the result is the same
	// on every architecture.
	o.Min -= float64((1 - o.Decay) * (o.Min - lo))
	o.Max -= float64((1 - o.Decay) * (o.Max - hi))
}

// Params returns ChooseParams(o.Min, o.Max, s); before any observation that is the degenerate
// range [0, 0].
func (o *EMA) Params(s Scheme) Params { return ChooseParams(o.Min, o.Max, s) }
