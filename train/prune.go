package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/internal/atomicfile"
	"github.com/qatgo/qatgo/nn"
)

// PruneConfig is a magnitude-pruning run: iterative prune-retrain cycles (Han et al. 2015,
// REFERENCES §4) or gradual pruning during training (Zhu & Gupta 2017, REFERENCES §5).
type PruneConfig struct {
	// Train configures the retraining: Mode "qat" (prune the quantized model) or "float", From
	// (the trained checkpoint to prune: required), optimizer, learning rate and Schedule (they
	// restart every cycle), batch size, augmentation, Out. Its Epochs is set by the driver.
	Train Config `json:"train"`
	// Target is the final pruned fraction: of all weights together (PolicyGlobal) or of each
	// layer (PolicyLayer), unless LayerTargets names the layer.
	Target float64 `json:"target"`
	// Policy picks the weights to prune:
	//   - PolicyGlobal: one magnitude threshold over every layer not named in LayerTargets;
	//   - PolicyLayer: each layer pruned to its own target by magnitude;
	//   - PolicyQuality: per layer, |w| <= Quality * std(w) (Han et al.), std of the layer's
	//     nonzero weights at the start.
	Policy       PrunePolicy        `json:"policy"`
	Quality      float64            `json:"quality"`
	LayerTargets map[string]float64 `json:"layer_targets"`
	// Schedule is PruneCycles (prune a step, retrain RetrainEpochs epochs, Cycles times; the
	// pruned fraction after cycle c is Target * (1 - (1 - c/Cycles)^3)) or PruneGradual (one
	// training of Cycles*RetrainEpochs epochs; the masks are updated every Freq steps over
	// the first two thirds of it on the same cubic curve).
	Schedule      PruneSchedule `json:"prune_schedule"`
	Cycles        int           `json:"cycles"`
	RetrainEpochs int           `json:"retrain_epochs"`
	Freq          int           `json:"freq"`
}

// DefaultPruneConfig prunes 92% of the weights in 5 QAT cycles of 2 epochs.
func DefaultPruneConfig() PruneConfig {
	t := DefaultConfig()
	t.LR, t.Quant.Delay, t.Out = 2e-4, 100, "runs/prune"
	return PruneConfig{Train: t, Target: 0.92, Policy: PolicyGlobal, Quality: 1, Schedule: PruneCycles, Cycles: 5, RetrainEpochs: 2, Freq: 100}
}

// Validate checks the pruning settings (the training ones are checked by the run).
func (c *PruneConfig) Validate() error {
	if c.Train.From == "" {
		return errors.New("train: pruning needs a trained checkpoint (Train.From)")
	}
	if c.Train.Mode != ModeQAT && c.Train.Mode != ModeFloat {
		return fmt.Errorf("train: pruning retrains in mode qat or float, not %q", c.Train.Mode)
	}
	if c.Train.Resume || c.Train.StopAfter != 0 {
		return errors.New("train: a pruning run cannot be resumed or stopped early (Train.Resume, Train.StopAfter): run it again")
	}
	if _, err := ParsePrunePolicy(string(c.Policy)); err != nil {
		return err
	}
	switch c.Policy {
	case PolicyGlobal, PolicyLayer:
		if err := FloatIn("Target", c.Target, 0, 1, true); err != nil {
			return err
		}
	case PolicyQuality:
		if err := positive("Quality", c.Quality, 100); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.LayerTargets)) {
		if err := FloatIn("LayerTargets["+name+"]", c.LayerTargets[name], 0, 1, true); err != nil {
			return err
		}
	}
	if _, err := ParsePruneSchedule(string(c.Schedule)); err != nil {
		return err
	}
	err := firstErr(
		IntIn("Cycles", c.Cycles, 1, 1000),
		IntIn("RetrainEpochs", c.RetrainEpochs, 1, MaxEpochs),
		IntIn("Freq", c.Freq, 1, 1<<30),
	)
	if err != nil {
		return err
	}
	// The retraining settings, with the epochs the driver sets.
	tc := c.Train
	tc.Epochs = c.RetrainEpochs
	if c.Schedule == PruneGradual {
		tc.Epochs = c.Cycles * c.RetrainEpochs
	}
	return prefixed("Train", tc.Validate())
}

// CubicFraction is Zhu & Gupta's schedule: the fraction of the final sparsity reached at
// progress t in [0, 1], 1 - (1 - t)^3 (fast at first, while many weights are redundant).
func CubicFraction(t float64) float64 {
	t = min(max(t, 0), 1)
	return 1 - (1-t)*(1-t)*(1-t)
}

// CycleResult is one row of a pruning run: the state after a cycle's retraining (cycle 0 is
// the model before pruning).
type CycleResult struct {
	Cycle         int                `json:"cycle"`
	Epoch         int                `json:"epoch"`
	Layers        []nn.LayerSparsity `json:"layers"`
	Sparsity      float64            `json:"sparsity"`
	PrunedAcc     *float64           `json:"pruned_accuracy,omitempty"` // right after pruning, before retraining (cycles)
	TestAccuracy  float64            `json:"test_accuracy"`
	RetrainSecond float64            `json:"retrain_seconds"`
}

// PruneResult summarizes a pruning run.
type PruneResult struct {
	Cycles       []CycleResult `json:"cycles"`
	Sparsity     float64       `json:"sparsity"`
	TestAccuracy float64       `json:"test_accuracy"`
	Checkpoint   string        `json:"checkpoint"`
}

// PruneFile is the per-cycle log inside a pruning run's directory.
const PruneFile = "prune.jsonl"

// HanKept are the kept fractions per layer of Han et al. 2015 (Deep Compression Table 1 and 2),
// by model and layer, for reports beside ours; HanSparsity is their overall pruned fraction.
var HanKept = map[string]map[string]float64{
	"lenet5":       {"conv1": 0.66, "conv2": 0.12, "fc1": 0.08, "fc2": 0.19},
	"lenet300-100": {"fc1": 0.08, "fc2": 0.09, "fc3": 0.26},
}

// HanSparsity is Han et al.'s overall pruned fraction of both LeNets (12x fewer weights).
const HanSparsity = 0.92

// Prune runs magnitude pruning as configured. Pruned weights are masked in the graphs (exactly
// zero, zero gradient), their optimizer state is cleared, and masks only ever grow: once
// pruned, a weight stays zero through retraining, QAT and export (the checkpoint carries the
// masks). The checkpoint in Train.Out is written after every epoch; PruneFile after every cycle.
func Prune(cfg PruneConfig, opt Options) (*PruneResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tc := cfg.Train
	tc.Resume, tc.StopAfter = false, 0
	tc.Epochs = cfg.RetrainEpochs
	if cfg.Schedule == PruneGradual {
		tc.Epochs = cfg.Cycles * cfg.RetrainEpochs
	}
	p := &pruner{cfg: cfg}
	r, err := newRunner(tc, opt, nil, hooks{prepare: p.init, inheritRanges: true})
	if err != nil {
		return nil, err
	}
	defer r.close()
	p.r = r
	r.ck.Stage = "prune"
	res := &PruneResult{Checkpoint: r.ckptPath}
	acc, err := r.evaluate()
	if err != nil {
		return nil, err
	}
	res.Cycles = append(res.Cycles, CycleResult{Layers: r.model.Sparsity(), Sparsity: nn.TotalSparsity(r.model.Sparsity()), PrunedAcc: &acc, TestAccuracy: acc})
	r.logf("prune: before pruning: sparsity %.2f%%, test accuracy %.2f%%", 100*res.Cycles[0].Sparsity, 100*acc)
	if cfg.Schedule == PruneGradual {
		err = p.gradual(res)
	} else {
		err = p.cycles(res)
	}
	if err != nil {
		return nil, err
	}
	last := res.Cycles[len(res.Cycles)-1]
	res.Sparsity, res.TestAccuracy = last.Sparsity, last.TestAccuracy
	return res, nil
}

type pruner struct {
	cfg    PruneConfig
	r      *runner
	layers []nn.Quantized
	std    []float64 // std of each layer's weights before pruning
}

// init gives every weight tensor a mask (keeping earlier masks from the checkpoint) before the
// graphs are built, so the graphs contain the mask ops.
func (p *pruner) init(m *nn.Model) error {
	p.layers = m.Quantized()
	for _, l := range p.layers {
		w := l.Weights()
		if w.Shared != nil {
			return fmt.Errorf("train: %s is already clustered: prune before clustering", l.Name())
		}
		if w.Mask == nil {
			keep := make([]bool, w.Size())
			for i := range keep {
				keep[i] = true
			}
			if err := w.Prune(keep); err != nil {
				return err
			}
		}
		p.std = append(p.std, stddevNonzero(w.Data))
	}
	for _, name := range slices.Sorted(maps.Keys(p.cfg.LayerTargets)) {
		if !slices.ContainsFunc(p.layers, func(l nn.Quantized) bool { return l.Name() == name }) {
			return fmt.Errorf("train: %s has no layer %q to prune", m.Arch, name)
		}
	}
	return nil
}

// stddevNonzero is the standard deviation of the nonzero values of v (0 if there are none).
func stddevNonzero(v []float32) float64 {
	var s, s2, n float64
	for _, x := range v {
		if x != 0 {
			s += float64(x)
			s2 += float64(x) * float64(x)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return math.Sqrt(max(s2/n-(s/n)*(s/n), 0))
}

// apply prunes to frac (in [0, 1]) of the final targets, then clears the optimizer state of
// every pruned weight.
func (p *pruner) apply(frac float64) error {
	keeps := make([][]bool, len(p.layers))
	var pool []int // layers pruned by the global threshold
	for i, l := range p.layers {
		w := l.Weights()
		target, named := p.cfg.LayerTargets[l.Name()]
		switch {
		case p.cfg.Policy == PolicyQuality && !named:
			thr := float32(p.cfg.Quality * frac * p.std[i])
			keeps[i] = make([]bool, w.Size())
			for j, v := range w.Data {
				keeps[i][j] = w.Mask[j] != 0 && (v > thr || v < -thr)
			}
		case p.cfg.Policy == PolicyGlobal && !named:
			pool = append(pool, i)
		default:
			if !named {
				target = p.cfg.Target
			}
			keeps[i] = keepLargest([][]float32{w.Data}, [][]float32{w.Mask}, int(math.Round(target*frac*float64(w.Size()))))[0]
		}
	}
	if len(pool) > 0 {
		ws, ms := make([][]float32, len(pool)), make([][]float32, len(pool))
		n := 0
		for k, i := range pool {
			ws[k], ms[k] = p.layers[i].Weights().Data, p.layers[i].Weights().Mask
			n += len(ws[k])
		}
		for k, keep := range keepLargest(ws, ms, int(math.Round(p.cfg.Target*frac*float64(n)))) {
			keeps[pool[k]] = keep
		}
	}
	for i, l := range p.layers {
		if err := l.Weights().Prune(keeps[i]); err != nil {
			return err
		}
	}
	// Pruned weights must not move again: zero their moment buffers (with a zero gradient
	// from the mask op, Adam and SGD then leave them exactly zero).
	st := p.r.optim.State()
	for j, param := range p.r.trainGraph.Params {
		if param.Mask == nil {
			continue
		}
		for _, slot := range st.Slots {
			for k, mk := range param.Mask {
				if mk == 0 {
					slot[j][k] = 0
				}
			}
		}
	}
	return nil
}

// keepLargest returns keep masks over the tensors ws that prune the n smallest magnitudes
// (ties broken by position, so it is deterministic), never reviving a weight whose mask is 0.
func keepLargest(ws, masks [][]float32, n int) [][]bool {
	type ref struct {
		abs  float32
		t, i int32
	}
	var all []ref
	keeps := make([][]bool, len(ws))
	for t, w := range ws {
		keeps[t] = make([]bool, len(w))
		for i, v := range w {
			all = append(all, ref{float32(math.Abs(float64(v))), int32(t), int32(i)})
			keeps[t][i] = masks[t][i] != 0
		}
	}
	sort.Slice(all, func(a, b int) bool {
		x, y := all[a], all[b]
		if x.abs != y.abs {
			return x.abs < y.abs
		}
		if x.t != y.t {
			return x.t < y.t
		}
		return x.i < y.i
	})
	for _, e := range all[:min(max(n, 0), len(all))] {
		keeps[e.t][e.i] = false
	}
	return keeps
}

func (p *pruner) cycles(res *PruneResult) error {
	r := p.r
	for c := 1; c <= p.cfg.Cycles; c++ {
		if err := p.apply(CubicFraction(float64(c) / float64(p.cfg.Cycles))); err != nil {
			return err
		}
		pruned, err := r.evaluate()
		if err != nil {
			return err
		}
		r.logf("prune: cycle %d/%d: sparsity %.2f%%, accuracy before retraining %.2f%%", c, p.cfg.Cycles, 100*nn.TotalSparsity(r.model.Sparsity()), 100*pruned)
		// Each cycle retrains with a fresh learning-rate schedule; quantization ranges carry on.
		r.ck.Epoch, r.ck.Finished = 0, false
		r.epochBase, r.cycle = (c-1)*p.cfg.RetrainEpochs, c
		r.keepRanges = r.keepRanges || c > 1
		start := time.Now()
		out, err := r.loop()
		if err != nil {
			return err
		}
		ls := r.model.Sparsity()
		res.Cycles = append(res.Cycles, CycleResult{Cycle: c, Epoch: c * p.cfg.RetrainEpochs, Layers: ls, Sparsity: nn.TotalSparsity(ls), PrunedAcc: &pruned, TestAccuracy: out.TestAccuracy, RetrainSecond: time.Since(start).Seconds()})
		if err := p.save(res); err != nil {
			return err
		}
	}
	return nil
}

func (p *pruner) gradual(res *PruneResult) error {
	r := p.r
	nb := data.NewBatcher(r.train, r.cfg.BatchSize, true, r.cfg.Seed).NumBatches() // the loop's count
	total := nb * r.cfg.Epochs
	end := total * 2 / 3
	r.beforeStep = func(global int) error {
		if global%p.cfg.Freq != 0 || global > end {
			return nil
		}
		return p.apply(CubicFraction(float64(global+p.cfg.Freq) / float64(end)))
	}
	// One epoch per row; the learning-rate schedule spans the whole run.
	r.cfg.StopAfter = 1
	for e := 1; e <= r.cfg.Epochs; e++ {
		r.keepRanges = r.keepRanges || e > 1
		start := time.Now()
		out, err := r.loop()
		if err != nil {
			return err
		}
		ls := r.model.Sparsity()
		res.Cycles = append(res.Cycles, CycleResult{Cycle: e, Epoch: e, Layers: ls, Sparsity: nn.TotalSparsity(ls), TestAccuracy: out.TestAccuracy, RetrainSecond: time.Since(start).Seconds()})
		if err := p.save(res); err != nil {
			return err
		}
	}
	return nil
}

// save writes the per-cycle log atomically.
func (p *pruner) save(res *PruneResult) error {
	return atomicfile.WriteFile(filepath.Join(p.r.cfg.Out, PruneFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, c := range res.Cycles {
			if err := enc.Encode(c); err != nil {
				return err
			}
		}
		return nil
	})
}
