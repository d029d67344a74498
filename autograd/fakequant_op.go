package autograd

import (
	"fmt"
	"math"

	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/internal/f32"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
)

// FakeQuant adds y = FQ(x) to x's graph, with the range chosen by q. Its gradient is q's
// straight-through estimator (see Quantizer.Backward).
//
// Extra inputs (deps) are not differentiated and not read: they only order the node after
// theirs, for quantizers that read the state of others (BiasQuantizer).
func FakeQuant(x *gorgonia.Node, q Quantizer, deps ...*gorgonia.Node) (*gorgonia.Node, error) {
	op := &fakeQuantOp{opBase: sameShapeOp("FakeQuant", 1+len(deps), 0), q: q}
	op.src, _ = x.Op().(rangeSource)
	return gorgonia.ApplyOp(op, append([]*gorgonia.Node{x}, deps...)...)
}

// FakeQuantPooled adds y = FQ(pool) for pool = MaxPool2D(pre) (either pool op): the same
// values as MaxPool2D(FakeQuant(pre, q)), because q's fake-quantization (and its
// requantization) is monotone non-decreasing, so the max of the quantized window is the
// quantization of its max, computed on a quarter of the values for 2x2 windows. q observes
// the range of pre, as FakeQuant(pre, q) does, not the pooled one (a pool can drop the last
// row and column): found by pre's op when that is a ReLU or BiasReLU, else by a pass over pre.
// The gradient is q's STE at the pooled values, that is at each window's float max; where
// several elements of a window share the maximum code, the other order routes the gradient to
// the first of them instead (the gradients differ there, the forward values nowhere).
func FakeQuantPooled(pool, pre *gorgonia.Node, q *ActQuantizer) (*gorgonia.Node, error) {
	ps, xs := pool.Shape(), pre.Shape()
	if ps.Dims() != 4 || xs.Dims() != 4 || ps[0] != xs[0] || ps[1] != xs[1] || ps[2] > xs[2] || ps[3] > xs[3] {
		return nil, fmt.Errorf("autograd: FakeQuantPooled: pool %v is not a pooling of %v", ps, xs)
	}
	op := &fakeQuantOp{opBase: sameShapeOp("FakeQuantPooled", 2, 0), q: q, srcIn: 1}
	op.src, _ = pre.Op().(rangeSource)
	return gorgonia.ApplyOp(op, pool, pre)
}

// rangeSource is an op that records the range of the output it last wrote (f32.RangeOf of it)
// as it writes it.
type rangeSource interface {
	// outputRange returns that range if y is that output.
	outputRange(y []float32) (batchRange, bool)
}

type fakeQuantOp struct {
	opBase
	q Quantizer
	// src is the op that wrote input srcIn when that op finds the range of its output while
	// writing it (ReLU, BiasReLU), which spares an activation quantizer its own pass over the
	// data. srcIn is 0 (x itself) or 1 (FakeQuantPooled's pre, whose range is observed).
	src   rangeSource
	srcIn int
	y     outBuf
}

func (op *fakeQuantOp) Type() hm.Type {
	ts := make([]hm.Type, 0, op.arity+1)
	ts = append(ts, hm.TypeVariable('a'))
	for i := 1; i < op.arity; i++ {
		ts = append(ts, hm.TypeVariable(rune('b'+i)))
	}
	ts = append(ts, hm.TypeVariable('a'))
	return hm.NewFnType(ts...)
}

func (op *fakeQuantOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	out, y := op.y.data(shape)
	if aq, ok := op.q.(*ActQuantizer); ok && op.srcIn != 0 {
		var pre []float32
		if pre, _, err = floats(vs[op.srcIn]); err != nil {
			return nil, err
		}
		var r batchRange
		if m := aq.Ctx.Mode; (m == ModeTrain || m == ModeCalibrate) && !aq.Fixed {
			ok := false
			if op.src != nil {
				r, ok = op.src.outputRange(pre)
			}
			if !ok {
				r.lo, r.hi, r.nan = f32.RangeOf(pre)
			}
		}
		err = aq.forward(y, x, shape, &r)
	} else if ok && op.src != nil {
		if r, ok := op.src.outputRange(x); ok {
			err = aq.forward(y, x, shape, &r)
		} else {
			err = aq.Forward(y, x, shape)
		}
	} else {
		err = op.q.Forward(y, x, shape)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (op *fakeQuantOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	d[0] = true
	return d
}

func (op *fakeQuantOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	g := &fakeQuantGradOp{opBase: sameShapeOp("FakeQuantGrad", 2, 0), q: op.q}
	dx, err := gorgonia.ApplyOp(g, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	ret := make(gorgonia.Nodes, len(inputs))
	ret[0] = dx
	return ret, nil
}

// fakeQuantGradOp computes dx = STE(x, dy) with the range of the forward pass.
type fakeQuantGradOp struct {
	opBase
	q  Quantizer
	dx outBuf
}

func (op *fakeQuantGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (op *fakeQuantGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	dy, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	out, dx := op.dx.data(shape)
	op.q.Backward(dx, x, dy)
	return out, nil
}

// The quantizers' arithmetic, the forward and backward of the ops above. Each calls one kernel
// of internal/f32 per row: FakeQuantize (fakequant equation (3) on a row), STEBackward (the
// clipped straight-through estimator), and, for an activation quantizer that ends a layer with
// a bias quantizer, RequantChannel and RequantColumns8 (the integer engine's requantization,
// fakequant.RequantizeWith, of the recovered accumulators).

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
	tab   f32.RequantTable
	mult  []int32
	shift []int
	vec   []f32.RequantConsts // the kernels' operands for each channel
	cols  []requantCols       // ... and for each group of eight channels of a fully connected output
}

// requantCols are the operands of f32.RequantColumns8 for eight adjacent channels; ok is false
// if one of them has a positive shift (the kernel does not handle those).
type requantCols struct {
	k  f32.RequantConsts
	ok bool
}

// requantize is Forward on the integer engine's arithmetic: recover each accumulator from its
// float value and apply fakequant.RequantizeWith(Ctx.Rounding, ...) with the multiplier the
// export computes (f32.RequantChannel, f32.RequantColumns8; fakequant's functions themselves
// for a channel with a positive shift). The elements are independent, so the batch is split
// over the workers; every element gets the same operations whatever the split.
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
	// The value of each code, so the kernels write no float arithmetic; the clamp relative to
	// the zero point.
	t.tab.Set(rule, p, hi)
	tab := &t.tab
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
	mults, shifts := t.mult, t.shift
	// Fully connected outputs (inner == 1) go eight channels at a time down the batch, where
	// the eight have shift <= 0 (cols[g] set for channels 8g..8g+7).
	colGroups := 0
	if inner == 1 && f32.HasAVX2() {
		colGroups = channels / 8
		if cap(t.cols) < colGroups {
			t.cols = make([]requantCols, colGroups)
		}
		t.cols = t.cols[:colGroups]
		for g := range t.cols {
			cg := &t.cols[g]
			cg.ok = true
			for i := range 8 {
				c := 8*g + i
				cg.ok = cg.ok && shifts[c] <= 0
				cg.k.SetLane(i, accScales[c], mults[c], uint(-shifts[c]), tab.VLo, tab.VHi, p.Scale)
			}
		}
	}
	// The one-channel operands, for the channels the column groups do not cover (each set
	// writes ~0.7 KB: for fc1's 500 channels, 370 KB a step that would only evict the GEMM's data).
	for c, s := range accScales {
		if t.shift[c] <= 0 && !(c < 8*colGroups && t.cols[c/8].ok) {
			t.vec[c].Set(s, t.mult[c], uint(-t.shift[c]), tab.VLo, tab.VHi, p.Scale)
		}
	}
	block := channels * inner
	f32.SplitRows(len(src)/block, block, func(r0, r1 int) {
		for g := range colGroups {
			if cg := &t.cols[g]; cg.ok && r0 < r1 {
				off := r0*block + 8*g
				f32.RequantColumns8(tab, dst[off:r1*block], src[off:r1*block], r1-r0, channels, &cg.k)
			}
		}
		for base := r0 * block; base < r1*block; base += block {
			for c, s := range accScales {
				if c < 8*colGroups && t.cols[c/8].ok {
					continue // done above
				}
				off := base + c*inner
				d, x := dst[off:off+inner], src[off:off+inner]
				if shift := shifts[c]; shift > 0 {
					for k, v := range x {
						acc := fakequant.SaturateAccumulator(math.Round(float64(v)/s), shift)
						d[k] = tab.Value[fakequant.RequantizeWith(rule, acc, mults[c], shift, p.ZeroPoint, p.QMin, hi)-p.QMin]
					}
					continue
				}
				// The usual case: fakequant.RequantizeWith with the multiply inlined and the
				// clamp as min/max, eight values at a time where the CPU allows.
				f32.RequantChannel(tab, d, x, &t.vec[c])
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
