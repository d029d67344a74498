package train

import "fmt"

// Mode is what a run does with its model. Its value is the name the CLI, the JSON
// configurations, the metrics and the checkpoints use.
type Mode string

// The modes of a run.
const (
	ModeFloat Mode = "float" // float training, no quantization
	ModeQAT   Mode = "qat"   // fake-quant training (from scratch or fine-tuning Config.From)
	ModePTQ   Mode = "ptq"   // no training: calibrate the activation ranges of Config.From
)

// ParseMode returns the mode named s.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeFloat, ModeQAT, ModePTQ:
		return m, nil
	}
	return "", fmt.Errorf("train: unknown mode %q (have float, qat, ptq)", s)
}

// String returns the mode's name.
func (m Mode) String() string { return string(m) }

// Set parses s into m (flag.Value).
func (m *Mode) Set(s string) error { return set(m, s, ParseMode) }

// OptimizerKind names an optimizer (NewOptimizer).
type OptimizerKind string

// The optimizers.
const (
	OptSGD  OptimizerKind = "sgd"  // SGD with momentum and optional weight decay
	OptAdam OptimizerKind = "adam" // Adam (Kingma & Ba 2015)
)

// ParseOptimizer returns the optimizer named s.
func ParseOptimizer(s string) (OptimizerKind, error) {
	switch k := OptimizerKind(s); k {
	case OptSGD, OptAdam:
		return k, nil
	}
	return "", fmt.Errorf("train: unknown optimizer %q (have sgd, adam)", s)
}

// String returns the optimizer's name.
func (k OptimizerKind) String() string { return string(k) }

// Set parses s into k (flag.Value).
func (k *OptimizerKind) Set(s string) error { return set(k, s, ParseOptimizer) }

// Schedule is a learning-rate schedule (see LR).
type Schedule string

// The learning-rate schedules.
const (
	ScheduleConst  Schedule = "const"  // the base rate throughout
	ScheduleCosine Schedule = "cosine" // cosine decay to 1% of the base rate
	ScheduleStep   Schedule = "step"   // x0.1 at 50% and again at 75% of the steps
)

// ParseSchedule returns the schedule named s.
func ParseSchedule(s string) (Schedule, error) {
	switch sc := Schedule(s); sc {
	case ScheduleConst, ScheduleCosine, ScheduleStep:
		return sc, nil
	}
	return "", fmt.Errorf("train: unknown learning-rate schedule %q (have const, cosine, step)", s)
}

// String returns the schedule's name.
func (sc Schedule) String() string { return string(sc) }

// Set parses s into sc (flag.Value).
func (sc *Schedule) Set(s string) error { return set(sc, s, ParseSchedule) }

// set stores parse(s) in *dst, or returns parse's error and leaves *dst alone.
func set[T any](dst *T, s string, parse func(string) (T, error)) error {
	v, err := parse(s)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

// PrunePolicy picks the weights a pruning run removes (PruneConfig.Policy).
type PrunePolicy string

// The pruning policies.
const (
	PolicyGlobal  PrunePolicy = "global"  // one magnitude threshold over the layers
	PolicyLayer   PrunePolicy = "layer"   // each layer pruned to its own target by magnitude
	PolicyQuality PrunePolicy = "quality" // |w| <= Quality * std(w) per layer (Han et al.)
)

// ParsePrunePolicy returns the policy named s.
func ParsePrunePolicy(s string) (PrunePolicy, error) {
	switch p := PrunePolicy(s); p {
	case PolicyGlobal, PolicyLayer, PolicyQuality:
		return p, nil
	}
	return "", fmt.Errorf("train: unknown pruning policy %q (have global, layer, quality)", s)
}

// String returns the policy's name.
func (p PrunePolicy) String() string { return string(p) }

// Set parses s into p (flag.Value).
func (p *PrunePolicy) Set(s string) error { return set(p, s, ParsePrunePolicy) }

// PruneSchedule is how a pruning run reaches its target (PruneConfig.Schedule).
type PruneSchedule string

// The pruning schedules.
const (
	PruneCycles  PruneSchedule = "cycles"  // prune a step, retrain, repeat (Han et al.)
	PruneGradual PruneSchedule = "gradual" // masks updated during one training (Zhu & Gupta)
)

// ParsePruneSchedule returns the pruning schedule named s.
func ParsePruneSchedule(s string) (PruneSchedule, error) {
	switch sc := PruneSchedule(s); sc {
	case PruneCycles, PruneGradual:
		return sc, nil
	}
	return "", fmt.Errorf("train: unknown pruning schedule %q (have cycles, gradual)", s)
}

// String returns the schedule's name.
func (sc PruneSchedule) String() string { return string(sc) }

// Set parses s into sc (flag.Value).
func (sc *PruneSchedule) Set(s string) error { return set(sc, s, ParsePruneSchedule) }
