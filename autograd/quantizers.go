package autograd

import (
	"errors"
	"fmt"
	"github.com/qatgo/qatgo/internal/f32"
	"math"

	"github.com/qatgo/qatgo/fakequant"
)

// Mode says how the quantizers of a model behave when its graph runs.
type Mode int

const (
	// ModeFloat: every quantizer is the identity (float training and evaluation).
	ModeFloat Mode = iota
	// ModeCalibrate: activation quantizers record min/max ranges and pass values through
	// unchanged; weights are not quantized (post-training calibration).
	ModeCalibrate
	// ModeTrain: QAT. Weights are fake-quantized with ranges from their current values,
	// activation ranges follow an EMA of batch ranges and are applied after a delay, gradients
	// pass straight through inside the range.
	ModeTrain
	// ModeEval: ranges frozen; every quantizer that has a range applies it.
	ModeEval
)

func (m Mode) String() string {
	switch m {
	case ModeFloat:
		return "float"
	case ModeCalibrate:
		return "calibrate"
	case ModeTrain:
		return "train"
	case ModeEval:
		return "eval"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Context is the mode and the requantization rule shared by all quantizers of a model (and so
// by its train and eval graphs).
type Context struct {
	Mode Mode
	// Rounding is the rule of the integer engine's requantization (fakequant equation (11) or
	// (11s)) that the activation quantizers apply to recovered accumulators: the rule the
	// exported model records. The zero value is fakequant.RoundDouble.
	Rounding fakequant.Rounding
}

// Quantizer is the state behind a FakeQuant node.
type Quantizer interface {
	// Forward writes FQ(src) into dst (len(dst) == len(src)) and records the range it used.
	// shape is src's shape (axis 1 is the channel axis of activations). It fails on a
	// non-finite range (a diverged model).
	Forward(dst, src []float32, shape []int) error
	// Backward writes the straight-through gradient: dx = dy where x was inside the range
	// recorded by the last Forward, else 0.
	Backward(dx, x, dy []float32)
}

// ActQuantizer quantizes activations with an asymmetric range tracked from batch ranges
// (each extended to include 0) by an exponential moving average m <- m - (1-Decay)(m - batch),
// or by plain min/max during calibration. In ModeTrain it starts quantizing after Delay
// observed batches, so the average has settled; in ModeEval the range is frozen.
type ActQuantizer struct {
	Ctx    *Context
	Scheme fakequant.Scheme
	Decay  float64
	Delay  int
	// Fixed marks a range that is set once and never observed (the model input: raw pixels
	// p/255 with scale 1/255 and zero point 0).
	Fixed bool
	// Acc, when set, is the bias quantizer of the layer this quantizer ends. Whenever both are
	// active, Forward recovers the layer's int32 accumulator from its float output,
	// acc = round(y / (S_in S_w[c])) (y is S_in S_w[c] times an integer, up to float error),
	// and requantizes it exactly as the integer engine does (fakequant equation (12) under
	// Ctx.Rounding), so the simulated codes are the integer codes.
	Acc *BiasQuantizer
	// ReLU6 adds the integer engine's ReLU6 ceiling Z + round(6/S) to that requantization.
	ReLU6 bool

	// State, saved in checkpoints.
	Min, Max float64
	Seen     bool
	Steps    int

	last   fakequant.Params
	active bool
	rq     requantTables
}

// Active reports whether the quantizer applies a range in the current mode.
func (q *ActQuantizer) Active() bool {
	switch q.Ctx.Mode {
	case ModeTrain:
		return q.Seen && (q.Fixed || q.Steps > q.Delay)
	case ModeEval:
		return q.Seen
	}
	return false
}

// Params returns the quantization parameters of the tracked range.
func (q *ActQuantizer) Params() fakequant.Params {
	return fakequant.ChooseParams(q.Min, q.Max, q.Scheme)
}

// Last returns the parameters the last Forward applied, and whether it applied any.
func (q *ActQuantizer) Last() (fakequant.Params, bool) { return q.last, q.active }

// Reset forgets the tracked range.
func (q *ActQuantizer) Reset() { q.Min, q.Max, q.Seen, q.Steps = 0, 0, false, 0 }

// ErrDiverged is returned when an observed range is not finite.
var ErrDiverged = errors.New("values are not finite (NaN or Inf): training diverged")

// batchRange is rangeOf of a tensor, found by the op that wrote it.
type batchRange struct {
	lo, hi float32
	nan    bool
}

// observe updates the tracked range with batch x, whose rangeOf is r if r is not nil.
func (q *ActQuantizer) observe(x []float32, r *batchRange) error {
	if q.Fixed {
		return nil
	}
	var lo, hi float32
	var nan bool
	if r != nil {
		lo, hi, nan = r.lo, r.hi, r.nan
	} else {
		lo, hi, nan = f32.RangeOf(x)
	}
	if nan || math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) {
		return ErrDiverged
	}
	// The range state is the quantizer's own (it is checkpointed); the update rules are
	// fakequant's observers: running min/max for calibration, equation (7) for QAT. They see
	// the batch through its range: fakequant.BatchRange of {lo, hi} is BatchRange of x.
	if len(x) == 0 {
		x = nil
	} else {
		x = []float32{lo, hi}
	}
	if q.Ctx.Mode == ModeCalibrate {
		o := fakequant.MinMax{Min: q.Min, Max: q.Max, Seen: q.Seen}
		o.Observe(x)
		q.Min, q.Max, q.Seen = o.Min, o.Max, o.Seen
	} else {
		o := fakequant.EMA{Decay: q.Decay, Min: q.Min, Max: q.Max, Seen: q.Seen}
		o.Observe(x)
		q.Min, q.Max, q.Seen = o.Min, o.Max, o.Seen
	}
	q.Steps++
	return nil
}

// WeightQuantizer quantizes weights symmetrically (zero point 0, narrow signed range), per
// tensor or per output channel (axis 0), with ranges from the weights' current values.
type WeightQuantizer struct {
	Ctx        *Context
	Scheme     fakequant.Scheme
	PerChannel bool
	Channels   int // size of axis 0
	// LogStep, when set, holds LSQ's trained ln(step) per channel (or one for the tensor,
	// see lsq.go): the weight scales are those steps instead of |w|max/qmax.
	LogStep []float32

	last   []fakequant.Params
	active bool
	absMax []float32
}

// ParamsFor returns the per-channel (or repeated per-tensor) parameters for weights w.
func (q *WeightQuantizer) ParamsFor(w []float32) []fakequant.Params {
	if q.LogStep != nil {
		ps := make([]fakequant.Params, q.Channels)
		for c := range ps {
			ps[c] = q.stepParams(c)
		}
		return ps
	}
	if q.PerChannel {
		return fakequant.PerChannelSymmetric(w, q.Channels, q.Scheme)
	}
	p := fakequant.PerChannelSymmetric(w, 1, q.Scheme)[0]
	ps := make([]fakequant.Params, q.Channels)
	for i := range ps {
		ps[i] = p
	}
	return ps
}

// Last returns the parameters of the last Forward (nil if it did not quantize).
func (q *WeightQuantizer) Last() []fakequant.Params {
	if !q.active {
		return nil
	}
	return q.last
}

// BiasQuantizer puts a bias on the int32 grid of the integer engine: scale S_in*S_w[c], zero
// point 0, so the simulated bias equals the exported one. It is active when both the layer's
// input quantizer and its weight quantizer applied a range in this pass; its gradient is the
// identity (int32 never clips in practice, and the export refuses a bias that would). The
// FakeQuantBias node takes the quantized input and weights as extra inputs so that it runs
// after both.
type BiasQuantizer struct {
	In *ActQuantizer
	W  *WeightQuantizer

	scales []float64 // S_in S_w[c] of the last Forward; nil if it did not quantize
}

// accScales returns the accumulator scales S_in S_w[c] of the last Forward, or nil.
func (q *BiasQuantizer) accScales() []float64 {
	if q == nil {
		return nil
	}
	return q.scales
}
