package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/nn"
)

// Limits of the numeric settings (Config.Validate and the other Validate methods).
const (
	// MaxBatch bounds BatchSize and EvalBatch: the graphs hold every activation of a batch.
	// Measured: `qat train --batch 4096 --epochs 1 --train-limit 4096 --test-limit 100` peaks
	// at 1.5 GB of RSS, --batch 64 at 178 MB (LeNet-5 QAT, about 340 KB per image).
	MaxBatch = 4096
	// MaxEpochs bounds Epochs and StopAfter.
	MaxEpochs = 100_000
	// MaxDelay bounds Quant.Delay (steps).
	MaxDelay = 1 << 30
	// MaxLR bounds the learning rates.
	MaxLR = 10
)

// A SettingError reports a configuration setting outside its allowed range (or not a finite
// number). Setting names the field as in the Go types, e.g. "BatchSize", "Quant.Decay",
// "Prune.Target"; commands translate it to their flag.
type SettingError struct {
	Setting string
	Value   any
	Allowed string // e.g. "1..4096", "[0, 1)", "a finite number > 0"
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("train: %s = %v: allowed %s", e.Setting, e.Value, e.Allowed)
}

// IntIn returns a *SettingError unless lo <= v <= hi.
func IntIn(setting string, v, lo, hi int) error {
	if v < lo || v > hi {
		return &SettingError{setting, v, fmt.Sprintf("%d..%d", lo, hi)}
	}
	return nil
}

// FloatIn returns a *SettingError unless v is a number in [lo, hi] (or [lo, hi) with
// openHi), so NaN and infinities are always refused.
func FloatIn(setting string, v, lo, hi float64, openHi bool) error {
	ok := v >= lo && v <= hi && !math.IsInf(v, 0)
	bracket := "]"
	if openHi {
		ok = ok && v < hi
		bracket = ")"
	}
	if !ok {
		return &SettingError{setting, v, fmt.Sprintf("[%g, %g%s", lo, hi, bracket)}
	}
	return nil
}

// positive returns a *SettingError unless 0 < v <= hi.
func positive(setting string, v, hi float64) error {
	if !(v > 0 && v <= hi) {
		return &SettingError{setting, v, fmt.Sprintf("(0, %g]", hi)}
	}
	return nil
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Validate checks every setting before any work is done: names, modes, and the range of
// every number (NaN and infinities refused). Bad numbers give a *SettingError. An Arch naming a
// spec file (.json) is read and checked here, and set as the run's spec (SetSpec).
func (c *Config) Validate() error {
	s, err := c.Spec()
	if err != nil {
		return err
	}
	if c.spec == nil && !nn.IsBuiltin(s.Name) {
		c.SetSpec(s)
	}
	if err := validateQuant("Quant", &c.Quant); err != nil {
		return err
	}
	if _, err := ParseMode(string(c.Mode)); err != nil {
		return err
	}
	if c.Mode == ModePTQ {
		if c.From == "" {
			return errors.New("train: ptq needs a trained float checkpoint (From)")
		}
		if err := IntIn("CalibImages", c.CalibImages, 1, data.MaxCount); err != nil {
			return err
		}
	}
	minEpochs := 1
	if c.Mode == ModePTQ {
		minEpochs = 0 // no training
	}
	err = firstErr(
		IntIn("Epochs", c.Epochs, minEpochs, MaxEpochs),
		IntIn("StopAfter", c.StopAfter, 0, MaxEpochs),
		IntIn("BatchSize", c.BatchSize, 1, MaxBatch),
		IntIn("EvalBatch", c.EvalBatch, 1, MaxBatch),
		positive("LR", c.LR, MaxLR),
		FloatIn("Momentum", c.Momentum, 0, 1, true),
		FloatIn("WeightDecay", c.WeightDecay, 0, 1, false),
		IntIn("TrainLimit", c.TrainLimit, 0, data.MaxCount),
		IntIn("Val", c.Val, 0, data.MaxCount),
		IntIn("TestLimit", c.TestLimit, 0, data.MaxCount),
		IntIn("CalibImages", c.CalibImages, 0, data.MaxCount),
		IntIn("Augment", c.Augment, 0, 8),
	)
	if err != nil {
		return err
	}
	if _, err := ParseOptimizer(string(c.Optimizer)); err != nil {
		return err
	}
	if _, err := ParseSchedule(string(c.Schedule)); err != nil {
		return err
	}
	if c.Mode == ModeQAT && !c.Quant.LSQ() && c.Quant.RangeMethod() != nn.RangeMinMax {
		return fmt.Errorf("train: range method %s applies to ptq and to the lsq quantizer (EMA QAT follows batch ranges)", c.Quant.Range)
	}
	if (c.Quant.LSQ() || c.Quant.RangeMethod() != nn.RangeMinMax) && c.Mode != ModeFloat && c.CalibImages <= 0 {
		return &SettingError{"CalibImages", c.CalibImages, "1.." + fmt.Sprint(data.MaxCount) + " (range calibration needs images)"}
	}
	if _, err := nn.ParseOps(string(c.Ops)); err != nil {
		return err
	}
	if c.Out == "" {
		return errors.New("train: an output directory is needed (Out)")
	}
	return nil
}

// validateQuant checks the numbers of a quantization configuration, then the rest
// (nn.Config.Validate: per-layer bits).
func validateQuant(prefix string, q *nn.Config) error {
	err := firstErr(
		IntIn(prefix+".WBits", q.WBits, 2, 8),
		IntIn(prefix+".ABits", q.ABits, 2, 8),
		IntIn(prefix+".LogitBits", q.LogitBits, 2, 8),
		FloatIn(prefix+".Decay", q.Decay, 0, 1, true),
		IntIn(prefix+".Delay", q.Delay, 0, MaxDelay),
	)
	if err != nil {
		return err
	}
	return q.Validate()
}

// Validate checks a checkpoint's contents after decoding: the saved configuration (as
// Config.Validate), the epoch counters, every parameter's shape against its values and every
// value finite (parameters, ranges, batch-norm statistics, optimizer moments), so a corrupt or
// diverged checkpoint is refused when it is read, before a model is built from it or anything
// is written.
func (c *Checkpoint) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("train: saved configuration: %w", err)
	}
	if c.Epoch < 0 || c.Epoch > c.Config.Epochs {
		return &SettingError{"Epoch", c.Epoch, fmt.Sprintf("0..%d (the saved Config.Epochs)", c.Config.Epochs)}
	}
	if !(c.Seconds >= 0) || math.IsInf(c.Seconds, 0) {
		return &SettingError{"Seconds", c.Seconds, "a finite number >= 0"}
	}
	for _, p := range c.Params {
		n, ok := 1, true
		for _, d := range p.Shape {
			if d < 1 || d > 1<<28 || n > (1<<28)/d {
				ok = false
				break
			}
			n *= d
		}
		if !ok || len(p.Shape) == 0 {
			return fmt.Errorf("train: parameter %q has shape %v", p.Name, p.Shape)
		}
		if len(p.Data) != n {
			return fmt.Errorf("train: parameter %q has shape %v (%d values) but holds %d values", p.Name, p.Shape, n, len(p.Data))
		}
		if i := nonFinite32(p.Data); i >= 0 {
			return fmt.Errorf("train: parameter %q value %d is %v: the model diverged or the file is corrupt", p.Name, i, p.Data[i])
		}
	}
	for i, r := range c.Ranges {
		if r.Steps < 0 {
			return fmt.Errorf("train: activation range %d has %d steps", i, r.Steps)
		}
		if r.Seen && !(finite(r.Min) && finite(r.Max) && r.Min <= 0 && 0 <= r.Max) {
			return fmt.Errorf("train: activation range %d is [%v, %v]: want finite bounds around 0", i, r.Min, r.Max)
		}
	}
	for i, b := range c.BN {
		for j := range b.Mean {
			if !finite(b.Mean[j]) {
				return fmt.Errorf("train: batch-norm stage %d channel %d has mean %v", i, j, b.Mean[j])
			}
		}
		for j := range b.Var {
			if !finite(b.Var[j]) || b.Var[j] < 0 {
				return fmt.Errorf("train: batch-norm stage %d channel %d has variance %v", i, j, b.Var[j])
			}
		}
	}
	for _, s := range c.Compression {
		if i := nonFinite32(s.Centroids); i >= 0 {
			return fmt.Errorf("train: centroid %d of %s is %v", i, s.Param, s.Centroids[i])
		}
	}
	switch c.Opt.Kind {
	case "", OptSGD, OptAdam:
	default:
		return fmt.Errorf("train: optimizer state of unknown kind %q", c.Opt.Kind)
	}
	if c.Opt.Steps < 0 {
		return &SettingError{"Opt.Steps", c.Opt.Steps, ">= 0"}
	}
	for k, slot := range c.Opt.Slots {
		for i, v := range slot {
			if j := nonFinite32(v); j >= 0 {
				return fmt.Errorf("train: optimizer moment %d of parameter %d, value %d, is %v", k, i, j, v[j])
			}
		}
	}
	return nil
}

// nonFinite32 returns the index of the first NaN or infinite value of v, or -1.
func nonFinite32(v []float32) int {
	for i, x := range v {
		if x != x || x > math.MaxFloat32 || x < -math.MaxFloat32 {
			return i
		}
	}
	return -1
}

// Validate checks the sensitivity settings.
func (c *SensitivityConfig) Validate() error {
	if c.From == "" {
		return errors.New("train: sensitivity needs a trained checkpoint (From)")
	}
	if len(c.Sparsities) == 0 {
		return &SettingError{"Sparsities", "none", "one or more fractions in [0, 1)"}
	}
	for i, s := range c.Sparsities {
		if err := FloatIn(fmt.Sprintf("Sparsities[%d]", i), s, 0, 1, true); err != nil {
			return err
		}
	}
	return firstErr(
		FloatIn("Tolerance", c.Tolerance, 0, 1, false),
		IntIn("TestLimit", c.TestLimit, 0, data.MaxCount),
		IntIn("EvalBatch", c.EvalBatch, 1, MaxBatch),
	)
}

// prefixed prefixes the setting of a *SettingError with prefix + "." (other errors unchanged).
func prefixed(prefix string, err error) error {
	var se *SettingError
	if errors.As(err, &se) {
		return &SettingError{prefix + "." + se.Setting, se.Value, se.Allowed}
	}
	return err
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
