package export

import (
	"errors"
	"fmt"
	"math"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/nn"
)

// ErrNoRanges is returned for a model whose activation ranges were never learned.
var ErrNoRanges = errors.New("export: the model has no activation ranges: train it with --mode qat or calibrate it with --mode ptq first")

// FloatLayerError is returned for a model with a layer kept in float (nn.LayerSpec.Float):
// the integer model, and so every quantized export (qat model file, ONNX, C), quantizes every
// conv2d and linear layer.
type FloatLayerError struct {
	Model string
	Layer string
}

func (e *FloatLayerError) Error() string {
	return fmt.Sprintf("export: %s: layer %s is float (spec quant {\"float\": true}): the integer model quantizes every conv2d and linear layer; train it quantized to export it", e.Model, e.Layer)
}

// CheckQuantizable returns a *FloatLayerError naming the first float layer of m, if any.
func CheckQuantizable(m *nn.Model) error {
	if fl := m.FloatLayers(); len(fl) > 0 {
		return &FloatLayerError{Model: m.Arch, Layer: fl[0]}
	}
	return nil
}

// Convert builds the integer model of m. The model's quantizers must hold ranges (QAT or PTQ),
// and no layer may be float (CheckQuantizable).
// The integer model requantizes under the rule the simulation applies (m.Config.Rounding), and
// records the trained weight scales and output scales as float32 bits (qnet.Meta). The returned
// model has passed qnet's Validate, including the int32 accumulator bound.
func Convert(m *nn.Model) (*qnet.Model, error) {
	if err := CheckQuantizable(m); err != nil {
		return nil, err
	}
	for _, q := range m.ActQuantizers() {
		if !q.Seen {
			return nil, ErrNoRanges
		}
	}
	if m.Ctx.Rounding != m.Config.Rounding {
		return nil, fmt.Errorf("export: the simulation rounds %v but the model's configuration says %v", m.Ctx.Rounding, m.Config.Rounding)
	}
	in := m.InQ.Params()
	qm := &qnet.Model{Name: m.Arch, InC: m.InC, InH: m.InH, InW: m.InW, InputZero: in.ZeroPoint, Rounding: m.Config.Rounding}
	qm.Meta.InputScaleBits = math.Float32bits(float32(in.Scale))
	for _, l := range m.Layers {
		var (
			ql  qnet.Layer
			out = in
			a   affine
			err error
		)
		switch t := l.(type) {
		case *nn.Conv2D:
			if a, out, err = quantizeAffine(t, t.EffectiveWeights(), t.EffectiveBias(), in); err != nil {
				return nil, err
			}
			ql = &qnet.Conv2D{
				InC: t.InC, OutC: t.OutC, KH: t.K, KW: t.K, Stride: t.Stride, Pad: t.Pad,
				WeightBits: a.bits, Weights: a.w, Bias: a.b, Multiplier: a.mult, Shift: a.shift,
				InputZero: in.ZeroPoint, OutputZero: out.ZeroPoint, ActMin: a.lo, ActMax: a.hi, OutBits: a.outBits,
			}
		case *nn.Linear:
			w := append([]float32(nil), t.W.Data...)
			b := append([]float32(nil), t.B.Data...)
			if a, out, err = quantizeAffine(t, w, b, in); err != nil {
				return nil, err
			}
			ql = &qnet.FullyConnected{
				In: t.In, Out: t.Out,
				WeightBits: a.bits, Weights: a.w, Bias: a.b, Multiplier: a.mult, Shift: a.shift,
				InputZero: in.ZeroPoint, OutputZero: out.ZeroPoint, ActMin: a.lo, ActMax: a.hi, OutBits: a.outBits,
			}
		case *nn.MaxPool2D:
			ql = &qnet.MaxPool2D{K: t.K, Stride: t.Stride} // no weights: a.wScales is nil
		case *nn.AvgPool2D:
			// The input's grid, as the simulation's autograd.AvgPool2D pools on it.
			ql = &qnet.AvgPool2D{K: t.K, Stride: t.Stride}
		case *nn.Flatten:
			continue // implicit: FullyConnected reads the CHW vector
		default:
			return nil, fmt.Errorf("export: layer %s (%T) has no integer kernel", l.Name(), l)
		}
		qm.Layers = append(qm.Layers, ql)
		scale := uint32(0)
		if k := ql.Kind(); k != qnet.KindMaxPool2D && k != qnet.KindAvgPool2D {
			scale = math.Float32bits(float32(out.Scale))
		}
		qm.Meta.OutputScaleBits = append(qm.Meta.OutputScaleBits, scale)
		qm.Meta.WeightScaleBits = append(qm.Meta.WeightScaleBits, a.wScales)
		in = out
	}
	if err := qm.Validate(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return qm, nil
}

// affine is a quantized Conv2D or FullyConnected layer's integer data.
type affine struct {
	bits, outBits int
	w             []int8
	b, mult       []int32
	shift         []int32
	lo, hi        int32
	wScales       []uint32 // the weight scales S_w[c] as float32 bits
}

func quantizeAffine(l nn.Quantized, w, b []float32, in fakequant.Params) (affine, fakequant.Params, error) {
	q := l.Quant()
	ws := q.W.ParamsFor(w)
	out := q.Out.Params()
	a := affine{bits: q.Config.WBits, outBits: q.Config.ABits}
	qw := make([]int32, len(w))
	fakequant.QuantizePerChannel(qw, w, ws)
	a.w = make([]int8, len(w))
	for i, v := range qw {
		a.w[i] = int8(v)
	}
	// The same functions as autograd.BiasQuantizer and ActQuantizer, so the graph's integers
	// are these.
	for c, bv := range b {
		s := fakequant.AccumulatorScale(in, ws[c])
		v, ok := fakequant.QuantizeBias(bv, s)
		if !ok {
			return a, out, fmt.Errorf("export: %s: bias %d (%g) does not fit int32 at scale %g", l.Name(), c, bv, s)
		}
		a.b = append(a.b, v)
		a.wScales = append(a.wScales, math.Float32bits(float32(ws[c].Scale)))
		mult, shift := fakequant.RequantMultiplier(s, out.Scale)
		a.mult = append(a.mult, mult)
		a.shift = append(a.shift, int32(shift))
	}
	a.lo, a.hi = out.QMin, out.QMax
	switch q.Act {
	case nn.ActReLU:
		a.lo = max(out.QMin, out.ZeroPoint)
	case nn.ActReLU6:
		a.lo = max(out.QMin, out.ZeroPoint)
		a.hi = fakequant.ReLU6Ceiling(out)
	}
	return a, out, nil
}

// evalMode puts m in frozen evaluation mode and returns a function restoring the old mode.
func evalMode(m *nn.Model) func() {
	old := m.Ctx.Mode
	m.SetMode(autograd.ModeEval)
	return func() { m.SetMode(old) }
}
