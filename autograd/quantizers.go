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

func (q *ActQuantizer) Forward(dst, src []float32, shape []int) error {
	return q.forward(dst, src, shape, nil)
}

// forward is Forward with src's rangeOf given (r != nil) by the op that wrote src.
func (q *ActQuantizer) forward(dst, src []float32, shape []int, r *batchRange) error {
	if m := q.Ctx.Mode; m == ModeTrain || m == ModeCalibrate {
		if err := q.observe(src, r); err != nil {
			return err
		}
	}
	q.active = q.Active()
	if !q.active {
		f32.CopyHalves(dst, src)
		return nil
	}
	q.last = q.Params()
	if accScales := q.Acc.accScales(); accScales != nil {
		q.requantize(dst, src, shape, accScales)
		return nil
	}
	f32.SplitRows(len(src), 1, func(lo, hi int) { f32.FakeQuantize(dst[lo:hi], src[lo:hi], q.last) })
	return nil
}

// requantTables are the per-call constants of ActQuantizer.requantize, kept to avoid
// allocating them on every run.
type requantTables struct {
	value []float32 // value[code-QMin]: the real value of each code
	mult  []int32
	shift []int
	vec   []f32.RequantConsts // the vector kernel's operands for each channel
	cols  []requantCols       // ... and for each group of four channels of a fully connected output
}

// requantCols are the operands of f32.RequantColumns4 for four adjacent channels; ok is false if
// one of them has a positive shift (requantRow does not handle those).
type requantCols struct {
	k    f32.RequantConsts
	s    [4]float64
	mult [4]int32
	exp  [4]uint
	ok   bool
}

// requantize is Forward on the integer engine's arithmetic: recover each accumulator from its
// float value and apply fakequant.RequantizeWith(Ctx.Rounding, ...) with the multiplier the
// export computes. The
// elements are independent, so the batch is split over two goroutines; every element gets the
// same operations whatever the split.
func (q *ActQuantizer) requantize(dst, src []float32, shape []int, accScales []float64) {
	p := q.last
	rule := q.Ctx.Rounding
	if !rule.Valid() {
		panic(fmt.Sprintf("autograd: requantize: undefined rounding %d", uint8(rule)))
	}
	channels := len(accScales)
	if len(shape) < 2 || shape[1] != channels {
		panic(fmt.Sprintf("autograd: requantize: activation shape %v does not have %d channels on axis 1", shape, channels))
	}
	inner := 1
	for _, d := range shape[2:] {
		inner *= d
	}
	hi := p.QMax
	if q.ReLU6 {
		hi = fakequant.ReLU6Ceiling(p)
	}
	t := &q.rq
	// value[code-QMin] is the real value of each code, so the loop writes no float arithmetic.
	t.value = grow(t.value, int(p.QMax-p.QMin+1))
	for code := p.QMin; code <= p.QMax; code++ {
		t.value[code-p.QMin] = float32(float64(code-p.ZeroPoint) * p.Scale)
	}
	// Requantize's clamp, relative to the zero point: code = clamp(v, vlo, vhi) + Z.
	vlo, vhi, zoff := p.QMin-p.ZeroPoint, hi-p.ZeroPoint, p.ZeroPoint-p.QMin
	t.mult = make32(t.mult, channels)
	if cap(t.shift) < channels {
		t.shift = make([]int, channels)
	}
	t.shift = t.shift[:channels]
	if cap(t.vec) < channels {
		t.vec = make([]f32.RequantConsts, channels)
	}
	t.vec = t.vec[:channels]
	for c, s := range accScales {
		t.mult[c], t.shift[c] = fakequant.RequantMultiplier(s, p.Scale)
	}
	value, mults, shifts := t.value, t.mult, t.shift
	zero := value[min(max(0, vlo), vhi)+zoff] // Requantize(0)
	// Fully connected outputs (inner == 1) go four channels at a time down the batch, where
	// the four have shift <= 0 (cols[g] set for channels 4g..4g+3).
	colGroups := 0
	if inner == 1 && f32.HasAVX2() {
		colGroups = channels / 4
		if cap(t.cols) < colGroups {
			t.cols = make([]requantCols, colGroups)
		}
		t.cols = t.cols[:colGroups]
		for g := range t.cols {
			cg := &t.cols[g]
			cg.ok = true
			for i := range 4 {
				c := 4*g + i
				cg.ok = cg.ok && shifts[c] <= 0
				cg.s[i], cg.mult[i], cg.exp[i] = accScales[c], mults[c], uint(-shifts[c])
				cg.k.SetLane(i, accScales[c], mults[c], uint(-shifts[c]), vlo, vhi, p.Scale)
			}
		}
	}
	// The one-channel operands, for the channels the column groups do not cover (each set
	// writes ~0.8 KB: for fc1's 500 channels, 400 KB a step that would only evict the GEMM's data).
	for c, s := range accScales {
		if t.shift[c] <= 0 && !(c < 4*colGroups && t.cols[c/4].ok) {
			t.vec[c].Set(s, t.mult[c], uint(-t.shift[c]), vlo, vhi, p.Scale)
		}
	}
	block := channels * inner
	f32.SplitRows(len(src)/block, block, func(r0, r1 int) {
		for g := range colGroups {
			if cg := &t.cols[g]; cg.ok && r0 < r1 {
				off := r0*block + 4*g
				f32.RequantColumns4(rule, dst[off:r1*block], src[off:r1*block], r1-r0, channels, &cg.k, &cg.s, &cg.mult, &cg.exp, vlo, vhi, zoff, value, zero)
			}
		}
		for base := r0 * block; base < r1*block; base += block {
			for c, s := range accScales {
				if c < 4*colGroups && t.cols[c/4].ok {
					continue // done above
				}
				mult, shift := mults[c], shifts[c]
				off := base + c*inner
				d, x := dst[off:off+inner], src[off:off+inner]
				if shift > 0 {
					for k, v := range x {
						acc := fakequant.SaturateAccumulator(math.Round(float64(v)/s), shift)
						d[k] = value[fakequant.RequantizeWith(rule, acc, mult, shift, p.ZeroPoint, p.QMin, hi)-p.QMin]
					}
					continue
				}
				// The usual case: fakequant.RequantizeWith with the multiply inlined and the
				// clamp as min/max, eight or four values at a time where the CPU allows.
				f32.RequantChannel(rule, d, x, &t.vec[c], s, mult, uint(-shift), vlo, vhi, zoff, value, zero)
			}
		}
	})
}

func (q *ActQuantizer) Backward(dx, x, dy []float32) {
	if !q.active {
		f32.CopyHalves(dx, dy)
		return
	}
	f32.SplitRows(len(x), 1, func(lo, hi int) { f32.STEBackward(dx[lo:hi], x[lo:hi], dy[lo:hi], q.last) })
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

func (q *WeightQuantizer) Forward(dst, src []float32, _ []int) error {
	m := q.Ctx.Mode
	q.active = m == ModeTrain || m == ModeEval
	if !q.active {
		f32.CopyHalves(dst, src)
		return nil
	}
	channels := 1
	if q.PerChannel {
		channels = q.Channels
	}
	if q.Channels <= 0 || len(src)%q.Channels != 0 {
		panic(fmt.Sprintf("autograd: WeightQuantizer: %d weights in %d channels", len(src), q.Channels))
	}
	// One pass per channel finds |w|max and any NaN or Inf (fakequant.PerChannelSymmetric's
	// range, which ignores NaNs and panics on Inf: here both mean divergence); the second
	// fake-quantizes. Channels are split over two goroutines.
	per := len(src) / channels
	if cap(q.absMax) < channels {
		q.absMax = make([]float32, channels)
	}
	absMax := q.absMax[:channels]
	var bad [2]bool
	f32.SplitRowsW(channels, per, func(w, lo, hi int) {
		for c := lo; c < hi; c++ {
			m, nan := f32.AbsMax(src[c*per : (c+1)*per])
			absMax[c] = m
			if nan || math.IsInf(float64(m), 0) {
				bad[w] = true
			}
		}
	})
	if bad[0] || bad[1] {
		return fmt.Errorf("weights: %w", ErrDiverged)
	}
	if cap(q.last) < q.Channels {
		q.last = make([]fakequant.Params, q.Channels)
	}
	q.last = q.last[:q.Channels]
	for c := range q.last {
		if q.LogStep != nil {
			q.last[c] = q.stepParams(c)
		} else {
			q.last[c] = fakequant.SymmetricParams(float64(absMax[c%channels]), q.Scheme)
		}
	}
	blk := len(src) / q.Channels
	f32.SplitRows(q.Channels, blk, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			f32.FakeQuantize(dst[c*blk:(c+1)*blk], src[c*blk:(c+1)*blk], q.last[c])
		}
	})
	return nil
}

// Backward is the clipped STE. For signed (symmetric) schemes the range comes from the
// weights' own abs-max, so no weight is outside it and the gradient passes unchanged (the
// bound absMax/qmax*qmax can land one ulp below the largest weight; clipping there would zero
// that weight's gradient for no reason). Unsigned schemes, and learned steps (which clip
// on purpose), clip the gradient to the grid.
func (q *WeightQuantizer) Backward(dx, x, dy []float32) {
	if !q.active || (q.Scheme.Signed && q.LogStep == nil) {
		f32.CopyHalves(dx, dy)
		return
	}
	per := len(x) / len(q.last)
	for c, p := range q.last {
		lo, hi := c*per, (c+1)*per
		f32.STEBackward(dx[lo:hi], x[lo:hi], dy[lo:hi], p)
	}
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

func (q *BiasQuantizer) Forward(dst, src []float32, _ []int) error {
	ws := q.W.Last()
	in, ok := q.In.Last()
	if !ok || ws == nil {
		q.scales = nil
		copy(dst, src)
		return nil
	}
	q.scales = q.scales[:0]
	for c, b := range src {
		s := fakequant.AccumulatorScale(in, ws[c])
		q.scales = append(q.scales, s)
		v, _ := fakequant.QuantizeBias(b, s) // saturates; the exporter refuses such a bias
		dst[c] = float32(float64(v) * s)
	}
	return nil
}

func (q *BiasQuantizer) Backward(dx, x, dy []float32) { copy(dx, dy) }
