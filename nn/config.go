package nn

import (
	"fmt"

	"github.com/qatgo/qatgo/fakequant"
)

// LayerQ is the quantization configuration of one layer.
type LayerQ struct {
	WBits      int  `json:"wbits"`       // weight bits, 2..8 (signed, narrow range, zero point 0)
	ABits      int  `json:"abits"`       // output activation bits, 2..8 (unsigned, asymmetric)
	PerChannel bool `json:"per_channel"` // per-output-channel weight scales
	// Float keeps the layer unquantized (LayerSpec.Float): no fake quantization of its
	// weights, bias or output; the bits are not used. A model with a float layer has no
	// integer export.
	Float bool `json:"float,omitempty"`
}

// WeightScheme returns the integer grid of the weights.
func (q LayerQ) WeightScheme() fakequant.Scheme {
	return fakequant.Scheme{Bits: q.WBits, Signed: true, Narrow: true}
}

// ActScheme returns the integer grid of the output activations.
func (q LayerQ) ActScheme() fakequant.Scheme { return fakequant.Scheme{Bits: q.ABits} }

// Config configures a model's quantization.
type Config struct {
	WBits int `json:"wbits"` // default weight bits of every quantizable layer
	ABits int `json:"abits"` // default activation bits of every quantizable layer
	// LogitBits are the output bits of the last layer (its argmax is the prediction). 8 by
	// default even when ABits is lower: a 4-bit logit grid ties too often.
	LogitBits  int     `json:"logit_bits"`
	PerChannel bool    `json:"per_channel"`
	Decay      float64 `json:"ema_decay"` // EMA decay of activation ranges (default 0.99)
	Delay      int     `json:"delay"`     // QAT steps before activations are quantized (default 0)
	// Rounding is the requantization rule (fakequant equation (11) or (11s)) that the
	// simulation applies and the exported model records. DefaultConfig sets
	// fakequant.RoundSingle; the zero value is fakequant.RoundDouble, so the configuration of a
	// checkpoint written before the field existed decodes to the rule it was trained with.
	Rounding fakequant.Rounding `json:"rounding"`
	// Layers overrides the configuration of named layers (mixed precision).
	Layers map[string]LayerQ `json:"layer_quant"`
	// Quantizer is how weight and activation scales are found: "ema" (or "", the default:
	// weight scales from |w|max, activation ranges from an EMA of batch ranges) or "lsq"
	// (learned step sizes, Esser et al. 2020: every scale is a trained parameter).
	Quantizer string `json:"quantizer"`
	// Range is how ranges are chosen from calibration data, for PTQ and for the initial LSQ
	// steps: "minmax" (or "", the default), "mse" (fakequant equation (15)) or "percentile"
	// (equation (16), at Percentile).
	Range string `json:"range"`
	// Percentile is the percentile of Range "percentile" (default 99.99 when 0).
	Percentile float64 `json:"percentile"`
}

// Quantizer and range names.
const (
	QuantizerEMA    = "ema"
	QuantizerLSQ    = "lsq"
	RangeMinMax     = "minmax"
	RangeMSE        = "mse"
	RangePercentile = "percentile"
)

// LSQ reports whether scales are learned (Quantizer "lsq").
func (c Config) LSQ() bool { return c.Quantizer == QuantizerLSQ }

// RangeMethod returns Range with "" read as "minmax".
func (c Config) RangeMethod() string {
	if c.Range == "" {
		return RangeMinMax
	}
	return c.Range
}

// PercentileOrDefault returns Percentile, or 99.99 when it is 0.
func (c Config) PercentileOrDefault() float64 {
	if c.Percentile == 0 {
		return 99.99
	}
	return c.Percentile
}

// DefaultConfig is W8A8, per-channel weights, EMA decay 0.99, single rounding.
func DefaultConfig() Config {
	return Config{WBits: 8, ABits: 8, LogitBits: 8, PerChannel: true, Decay: 0.99, Rounding: fakequant.RoundSingle}
}

// Validate checks bit widths, the EMA decay and the rounding rule.
func (c Config) Validate() error {
	check := func(what string, b int) error {
		if b < 2 || b > 8 {
			return fmt.Errorf("nn: %s = %d: bit width must be in 2..8", what, b)
		}
		return nil
	}
	for _, e := range []error{check("weight bits", c.WBits), check("activation bits", c.ABits), check("logit bits", c.LogitBits)} {
		if e != nil {
			return e
		}
	}
	for name, q := range c.Layers {
		if q.Float {
			continue
		}
		if err := check(name+" weight bits", q.WBits); err != nil {
			return err
		}
		if err := check(name+" activation bits", q.ABits); err != nil {
			return err
		}
	}
	if !(c.Decay >= 0 && c.Decay < 1) { // NaN fails too
		return fmt.Errorf("nn: EMA decay %v must be in [0, 1)", c.Decay)
	}
	if c.Delay < 0 {
		return fmt.Errorf("nn: quantization delay %d must be >= 0", c.Delay)
	}
	if !c.Rounding.Valid() {
		return fmt.Errorf("nn: undefined requantization rounding %d (have single, double)", uint8(c.Rounding))
	}
	switch c.Quantizer {
	case "", QuantizerEMA, QuantizerLSQ:
	default:
		return fmt.Errorf("nn: unknown quantizer %q (have ema, lsq)", c.Quantizer)
	}
	switch c.Range {
	case "", RangeMinMax, RangeMSE, RangePercentile:
	default:
		return fmt.Errorf("nn: unknown range method %q (have minmax, mse, percentile)", c.Range)
	}
	if p := c.PercentileOrDefault(); !(p > 50 && p <= 100) {
		return fmt.Errorf("nn: percentile %v must be in (50, 100]", c.Percentile)
	}
	return nil
}

func (c Config) layerQ(name string, last bool) LayerQ {
	if q, ok := c.Layers[name]; ok {
		return q
	}
	q := LayerQ{WBits: c.WBits, ABits: c.ABits, PerChannel: c.PerChannel}
	if last {
		q.ABits = c.LogitBits
	}
	return q
}
