package train

import (
	"fmt"
	"math"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/nn"
)

// maxRangeSample bounds the values kept per layer for the MSE and percentile range searches.
const maxRangeSample = 1 << 18

// ActSample is what calibration saw of one quantized layer's output: its exact range
// (fakequant.BatchRange over all values) and an evenly strided sample of the values.
type ActSample struct {
	Min, Max float64
	Values   []float32
}

// SampleActivations runs gr (an evaluation graph of gr.Model) in ModeCalibrate over the first n
// images of s and returns one ActSample per quantized layer of the model, in order. In
// ModeCalibrate no quantizer changes a value, so these are the float model's activations (batch
// norm folded where the model folds it). The model is left in ModeCalibrate.
func SampleActivations(gr *nn.Graph, s *data.Set, n int) ([]ActSample, error) {
	m := gr.Model
	m.SetMode(autograd.ModeCalibrate)
	var idx []int
	for i, l := range m.Layers {
		if _, ok := l.(nn.Quantized); ok {
			idx = append(idx, i)
		}
	}
	n = min(n, s.N)
	if n <= 0 {
		return nil, fmt.Errorf("train: calibration needs images, got %d", n)
	}
	out := make([]ActSample, len(idx))
	stride := make([]int, len(idx))
	first := true
	err := ForEachBatch(gr, s, n, func(_, cnt int) error {
		for j, li := range idx {
			v := gr.OutputData(li)
			per := len(v) / gr.Batch
			v = v[:cnt*per]
			if first {
				stride[j] = max(1, (n*per+maxRangeSample-1)/maxRangeSample)
			}
			lo, hi := fakequant.BatchRange(v)
			o := &out[j]
			o.Min, o.Max = math.Min(o.Min, lo), math.Max(o.Max, hi)
			for k := 0; k < len(v); k += stride[j] {
				o.Values = append(o.Values, v[k])
			}
			for _, x := range v {
				if x != x || math.IsInf(float64(x), 0) {
					return fmt.Errorf("train: layer %s: %w", m.Layers[li].Name(), autograd.ErrDiverged)
				}
			}
		}
		first = false
		return nil
	})
	return out, err
}

// ActRange chooses an activation range from a calibration sample by the method of cfg
// (nn.Config.Range): min/max, MSE (fakequant (15)) or percentile (16).
func ActRange(cfg nn.Config, a ActSample, s fakequant.Scheme) (min, max float64) {
	switch cfg.RangeMethod() {
	case nn.RangeMSE:
		return fakequant.AsymmetricMSE(a.Values, s)
	case nn.RangePercentile:
		return fakequant.PercentileRange(a.Values, cfg.PercentileOrDefault())
	}
	return a.Min, a.Max
}

// WeightClip chooses the symmetric clip of a block of weights by the method of cfg: |w|max,
// MSE (15) or the percentile of |w| (16).
func WeightClip(cfg nn.Config, w []float32, s fakequant.Scheme) float64 {
	switch cfg.RangeMethod() {
	case nn.RangeMSE:
		return fakequant.SymmetricMSE(w, s)
	case nn.RangePercentile:
		return fakequant.PercentileAbs(w, cfg.PercentileOrDefault())
	}
	absMax := 0.0
	for _, v := range w {
		absMax = math.Max(absMax, math.Abs(float64(v))) // NaN-free: SampleActivations checked
	}
	return absMax
}

// effectiveWeights returns the float weights a layer's weight quantizer sees.
func effectiveWeights(l nn.Quantized) []float32 {
	if c, ok := l.(*nn.Conv2D); ok {
		return c.EffectiveWeights()
	}
	return l.Weights().Data
}

// Calibrate sets the model's ranges from n images of s through gr (an evaluation graph of the
// model) by the range method of the model's configuration. Under "ema" quantizers it sets the
// activation ranges (weights keep |w|max scales). Under "lsq" it initializes every learned
// step: activation steps (and zero points) from the chosen ranges, weight steps per channel (or
// tensor) from the chosen clips. The model is left in ModeCalibrate.
func Calibrate(gr *nn.Graph, s *data.Set, n int) error {
	m := gr.Model
	samples, err := SampleActivations(gr, s, n)
	if err != nil {
		return err
	}
	cfg := m.Config
	for i, l := range m.Quantized() {
		q := l.Quant()
		if q.Config.Float {
			continue // a float layer has no ranges to calibrate
		}
		lo, hi := ActRange(cfg, samples[i], q.Out.Scheme)
		q.Out.Min, q.Out.Max, q.Out.Seen, q.Out.Steps = lo, hi, true, 0
		if q.AStep == nil {
			continue
		}
		q.AStep.Data[0] = float32(math.Log(q.Out.Params().Scale))
		w := effectiveWeights(l)
		steps := q.W.NumSteps()
		per := len(w) / steps
		for k := range steps {
			clip := WeightClip(cfg, w[k*per:(k+1)*per], q.W.Scheme)
			q.WStep.Data[k] = float32(math.Log(fakequant.SymmetricParams(clip, q.W.Scheme).Scale))
		}
	}
	m.SyncSteps()
	return nil
}
