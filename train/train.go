package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/qatgo/qatgo/train/checkpoint"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/internal/atomicfile"
	"github.com/qatgo/qatgo/nn"
	"github.com/schollz/progressbar/v3"
)

// Config is one training run.
type Config struct {
	// Arch is a built-in network (lenet5, lenet5-bn, lenet300-100), a spec file (.json), or
	// the name of the spec set by SetSpec.
	Arch  string    `json:"arch"`
	Quant nn.Config `json:"quant"` // bit widths, per-channel, EMA decay, delay
	// Mode: ModeFloat (no quantization), ModeQAT (fake-quant training; from scratch, or
	// fine-tuning the checkpoint in From), ModePTQ (no training: calibrate the ranges of From on
	// CalibImages training images with min/max observers).
	Mode Mode   `json:"mode"`
	From string `json:"from"` // checkpoint (file or run directory) to start from; "" = fresh seeded init
	// Resume continues the run in Out from its checkpoint; the result equals an uninterrupted
	// run with the same configuration.
	Resume bool `json:"resume"`
	// StopAfter ends this invocation after that many epochs (0 = run to Epochs); the
	// learning-rate schedule still spans Epochs, so --resume later continues the same run.
	StopAfter   int           `json:"stop_after"`
	Epochs      int           `json:"epochs"`
	BatchSize   int           `json:"batch_size"`
	LR          float64       `json:"lr"`
	Optimizer   OptimizerKind `json:"optimizer"` // OptSGD or OptAdam
	Momentum    float64       `json:"momentum"`
	WeightDecay float64       `json:"weight_decay"`
	Schedule    Schedule      `json:"schedule"` // ScheduleConst, ScheduleCosine, ScheduleStep
	Seed        uint64        `json:"seed"`
	Out         string        `json:"out"`          // run directory: checkpoint.qck, metrics.jsonl
	DataDir     string        `json:"data_dir"`     // "" = the MNIST shipped in the GoMNIST module
	TrainLimit  int           `json:"train_limit"`  // use only the first N training images (0 = all)
	TestLimit   int           `json:"test_limit"`   // evaluate on the first N test images (0 = all)
	CalibImages int           `json:"calib_images"` // PTQ calibration images
	Augment     int           `json:"augment"`      // random translation of training images by up to N pixels (0 = off)
	Ops         nn.Ops        `json:"ops"`          // nn.OpsFast (default) or nn.OpsGorgonia: the conv and pool ops of the graphs
	EvalBatch   int           `json:"eval_batch"`
	Val         int           `json:"val,omitempty"` // hold out the last N training images (after TrainLimit), evaluated every epoch (0 = none)
	// spec is the model when set by SetSpec (a custom model); unexported, so the checkpoint
	// record's encoding is that of a built-in run (the spec is stored after it).
	spec *nn.Spec
}

// DefaultConfig is W8A8 QAT of LeNet-5 with Adam and a cosine schedule.
func DefaultConfig() Config {
	q := nn.DefaultConfig()
	q.Delay = 300 // let the activation EMA settle before quantizing (Jacob et al. §3)
	return Config{
		Arch: "lenet5", Quant: q, Mode: ModeQAT, Epochs: 4, BatchSize: 64,
		LR: 1e-3, Optimizer: OptAdam, Momentum: 0.9, Schedule: ScheduleCosine, Seed: 1, Out: "runs/qat",
		CalibImages: 1000, EvalBatch: 100, Ops: nn.OpsFast,
	}
}

// EpochMetrics is one line of metrics.jsonl.
type EpochMetrics struct {
	Epoch        int     `json:"epoch"`
	TrainLoss    float64 `json:"train_loss"`
	TrainAcc     float64 `json:"train_accuracy"`
	TestAccuracy float64 `json:"test_accuracy"`
	LR           float64 `json:"lr"`
	Seconds      float64 `json:"seconds"`
	Images       int     `json:"images"`
	Cycle        int     `json:"cycle,omitempty"` // prune cycle (qat prune with cycles)
	// Ranges are the activation quantizers' tracked ranges at the end of the epoch (the EMA
	// observers of QAT, the min/max of PTQ calibration), one per quantized layer that has seen
	// data; none in float runs. Records written before this field existed have none.
	Ranges []LayerRange `json:"ranges,omitempty"`
	// ValAccuracy is the accuracy on the held-out training images (Config.Val); nil without.
	ValAccuracy *float64 `json:"val_accuracy,omitempty"`
}

// LayerRange is one activation quantizer's range [Min, Max] after an epoch.
type LayerRange struct {
	Layer string  `json:"layer"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
}

// actRanges returns the tracked range of every activation quantizer that has seen data (none
// in float runs, whose quantizers do not observe).
func (r *runner) actRanges() []LayerRange {
	if r.cfg.Mode == ModeFloat {
		return nil
	}
	var rs []LayerRange
	for _, l := range r.model.Quantized() {
		if q := l.Quant().Out; q.Seen {
			rs = append(rs, LayerRange{Layer: l.Name(), Min: q.Min, Max: q.Max})
		}
	}
	return rs
}

// Result summarizes a run.
type Result struct {
	Arch         string         `json:"arch"`
	Mode         Mode           `json:"mode"`
	WBits        int            `json:"wbits"`
	ABits        int            `json:"abits"`
	Epochs       int            `json:"epochs"`
	TestAccuracy float64        `json:"test_accuracy"`
	TrainSeconds float64        `json:"train_seconds"`
	Checkpoint   string         `json:"checkpoint"`
	History      []EpochMetrics `json:"-"`
	// ValAccuracy is the last epoch's accuracy on the held-out training images (Config.Val).
	ValAccuracy *float64 `json:"val_accuracy,omitempty"`
	// FloatLayers names the layers kept in float (spec quant {"float": true}); WBits and ABits
	// are the other layers' defaults.
	FloatLayers []string `json:"float_layers,omitempty"`
}

// Options are the run's side channels.
type Options struct {
	Progress io.Writer // progress bars (nil: none)
	Log      io.Writer // one line per epoch (nil: none)
}

// Run trains (or calibrates) a model as configured, writing checkpoints atomically into
// cfg.Out after every epoch. A NaN or Inf loss stops the run with an error and leaves the last
// good checkpoint in place.
//
// With cfg.Resume the run continues from the checkpoint in cfg.Out under the configuration
// saved there (only Out and StopAfter are taken from cfg), so it equals the uninterrupted run.
func Run(cfg Config, opt Options) (*Result, error) {
	var resume *Checkpoint
	if cfg.Resume {
		ck, err := LoadCheckpoint(filepath.Join(cfg.Out, CheckpointFile))
		if err != nil {
			return nil, fmt.Errorf("train: cannot resume: %w", err)
		}
		if ck.Stage == "prune" {
			return nil, fmt.Errorf("train: cannot resume: %s holds a pruning run, which a training run would continue without pruning: run the pruning (Prune) again", cfg.Out)
		}
		saved := ck.Config
		saved.Out, saved.Resume, saved.StopAfter = cfg.Out, true, cfg.StopAfter
		cfg, resume = saved, ck
	}
	r, err := newRunner(cfg, opt, resume, hooks{})
	if err != nil {
		return nil, err
	}
	defer r.close()
	if cfg.Mode == ModePTQ {
		return r.calibrate()
	}
	return r.loop()
}

// hooks adapt a runner to the compression drivers (prune.go, cluster.go).
type hooks struct {
	prepare func(m *nn.Model) error // after the parameters are loaded, before graphs are built
	// inheritRanges starts a QAT run from the activation ranges of a quantized From checkpoint
	// with the same bit widths (instead of learning them anew after the delay).
	inheritRanges bool
}

// newRunner validates cfg, loads the data and builds the model and its graphs and optimizer.
func newRunner(cfg Config, opt Options, resume *Checkpoint, h hooks) (*runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ckptPath := filepath.Join(cfg.Out, CheckpointFile)
	trainSet, testSet, err := data.Load(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	trainSet, valSet, err := limitSets(cfg, trainSet)
	if err != nil {
		return nil, err
	}
	if cfg.TestLimit > 0 {
		testSet = testSet.Subset(cfg.TestLimit)
	}
	r := &runner{cfg: cfg, opt: opt, train: trainSet, val: valSet, test: testSet, ckptPath: ckptPath, prepare: h.prepare, inherit: h.inheritRanges}
	if err := r.setup(resume); err != nil {
		return nil, err
	}
	// Only now, with the data and the model known to fit: a refused run leaves no directory.
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		r.close()
		return nil, fmt.Errorf("train: cannot create output directory: %w", err)
	}
	return r, nil
}

// limitSets applies TrainLimit to the training set, then holds out its last Val images as the
// validation set (nil when Val is 0).
func limitSets(cfg Config, trainSet *data.Set) (train, val *data.Set, err error) {
	if cfg.TrainLimit > 0 {
		trainSet = trainSet.Subset(cfg.TrainLimit)
	}
	if cfg.Val == 0 {
		return trainSet, nil, nil
	}
	if cfg.Val >= trainSet.N {
		return nil, nil, &SettingError{"Val", cfg.Val, fmt.Sprintf("0..%d (fewer than the %d training images)", trainSet.N-1, trainSet.N)}
	}
	return trainSet.Split(cfg.Val)
}

type runner struct {
	cfg         Config
	opt         Options
	train, test *data.Set
	val         *data.Set // held-out training images (Config.Val), or nil
	ckptPath    string

	model      *nn.Model
	trainGraph *nn.Graph
	evalGraph  *nn.Graph
	optim      Optimizer
	ck         Checkpoint

	// Hooks of the compression drivers (prune.go, cluster.go); zero for plain training.
	prepare    func(m *nn.Model) error // see hooks
	inherit    bool                    // see hooks.inheritRanges
	beforeStep func(global int) error  // before each training step (gradual pruning)
	keepRanges bool                    // continue with the activation ranges the model has
	// epochBase is added to the run's epoch for the data order, the augmentation and the
	// metrics: prune cycles restart the learning-rate schedule, not the data.
	epochBase int
	cycle     int // the prune cycle being retrained (0 outside cycles)
	// preset is true for a model handed in by Fit (trained in place; no From, no resume).
	preset bool
	// ctx, when set (Fit), is checked before every step: cancellation writes the checkpoint
	// and stops.
	ctx context.Context
}

func (r *runner) setup(resume *Checkpoint) error {
	cfg := r.cfg
	var err error
	if r.model == nil { // Fit passes its model in
		if r.model, err = cfg.newModel(cfg.Quant, cfg.Seed); err != nil {
			return err
		}
	}
	r.model.Ops, _ = nn.ParseOps(string(cfg.Ops))
	for _, s := range []*data.Set{r.train, r.test} { // r.val is a part of r.train
		if err := s.CheckInput(r.model.InC, r.model.InH, r.model.InW); err != nil {
			return err
		}
		if err := s.CheckClasses(r.model.Classes); err != nil {
			return err
		}
	}
	r.ck = Checkpoint{Config: cfg}
	switch {
	case resume != nil:
		ck := resume
		if err := checkpoint.Restore(r.model, ck.Params, ck.Ranges); err != nil {
			return err
		}
		if err := checkpoint.RestoreBN(r.model, ck.BN); err != nil {
			return err
		}
		if err := checkpoint.RestoreCompression(r.model, ck.Compression); err != nil {
			return err
		}
		if err := checkpoint.RestoreSteps(r.model, ck.Steps); err != nil {
			return err
		}
		r.ck = *ck
		r.ck.Config = cfg
	case cfg.From != "":
		ck, err := LoadCheckpoint(cfg.From)
		if err != nil {
			return err
		}
		if same, err := sameSpec(ck.Config, cfg); err != nil || ck.Config.Arch != cfg.Arch || !same {
			return fmt.Errorf("train: checkpoint %s holds model %s, not %s", cfg.From, ck.Config.describe(), cfg.describe())
		}
		// Start from the parameters (with their masks and codebooks: what one stage built, the
		// next keeps); ranges are learned anew under this run's bit widths unless inherited.
		var ranges []checkpoint.RangeState
		if r.inherit && cfg.Mode == ModeQAT && ck.Config.Mode != ModeFloat && sameActBits(r.model, ck.Config.Quant) {
			ranges = ck.Ranges
			r.keepRanges = true
		}
		if err := checkpoint.Restore(r.model, ck.Params, ranges); err != nil {
			return err
		}
		if err := checkpoint.RestoreBN(r.model, ck.BN); err != nil {
			return err
		}
		if err := checkpoint.RestoreCompression(r.model, ck.Compression); err != nil {
			return err
		}
	case cfg.Mode == ModeQAT && len(r.model.BatchNorms()) > 0 && !r.preset:
		return fmt.Errorf("train: %s: QAT folds batch norm with frozen running statistics: train it in float first, then QAT from that checkpoint (From)", cfg.Arch)
	}
	r.model.FoldBN = cfg.Mode != ModeFloat
	if r.prepare != nil {
		if err := r.prepare(r.model); err != nil {
			return err
		}
	}
	if err := r.model.CheckShared(); err != nil {
		return err
	}
	if r.trainGraph, err = r.model.NewGraph(cfg.BatchSize, true); err != nil {
		return err
	}
	if r.evalGraph, err = r.model.NewGraph(cfg.EvalBatch, false); err != nil {
		return err
	}
	sizes := make([]int, len(r.trainGraph.Params))
	for i, p := range r.trainGraph.Params {
		sizes[i] = p.Size()
	}
	if r.optim, err = NewOptimizer(cfg.Optimizer, cfg.Momentum, cfg.WeightDecay, sizes); err != nil {
		return err
	}
	if resume != nil && r.ck.Opt.Kind != "" {
		if err := r.optim.SetState(r.ck.Opt); err != nil {
			return err
		}
	}
	return nil
}

// sameActBits reports whether a model built with q would quantize every activation as m does.
func sameActBits(m *nn.Model, q nn.Config) bool {
	if m.Spec == nil {
		return false
	}
	o, err := nn.Build(m.Spec, q, 0)
	if err != nil {
		return false
	}
	a, b := m.ActQuantizers(), o.ActQuantizers()
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Scheme != b[i].Scheme {
			return false
		}
	}
	return true
}

func (r *runner) close() {
	r.trainGraph.Close()
	r.evalGraph.Close()
}

func (r *runner) evalMode() autograd.Mode {
	if r.cfg.Mode == ModeFloat {
		return autograd.ModeFloat
	}
	return autograd.ModeEval
}

func (r *runner) evaluate() (float64, error) {
	r.model.SetMode(r.evalMode())
	r.model.SetTraining(false)
	return Evaluate(r.evalGraph, r.test, 0)
}

// save writes the checkpoint, then metrics.jsonl (one JSON line per epoch of the
// checkpoint's history), both atomically, so the two always describe the same run.
func (r *runner) save() error {
	if r.cfg.Out == "" { // Fit without a run directory: nothing is written
		return nil
	}
	r.ck.Params, r.ck.Ranges = checkpoint.Snapshot(r.model)
	r.ck.BN = checkpoint.SnapshotBN(r.model)
	r.ck.Compression = checkpoint.SnapshotCompression(r.model)
	r.ck.Steps = checkpoint.SnapshotSteps(r.model)
	r.ck.Opt = r.optim.State()
	if err := SaveCheckpoint(r.ckptPath, &r.ck); err != nil {
		return fmt.Errorf("train: writing checkpoint: %w", err)
	}
	err := atomicfile.WriteFile(filepath.Join(r.cfg.Out, MetricsFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, m := range r.ck.Metrics {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("train: writing metrics: %w", err)
	}
	return nil
}

// MetricsFile is the per-epoch metrics log inside a run directory.
const MetricsFile = "metrics.jsonl"

func (r *runner) result(acc float64) *Result {
	res := &Result{
		Arch: r.cfg.Arch, Mode: r.cfg.Mode, WBits: r.cfg.Quant.WBits, ABits: r.cfg.Quant.ABits,
		Epochs: r.ck.Epoch, TestAccuracy: acc, TrainSeconds: r.ck.Seconds, Checkpoint: r.ckptPath,
		History: r.ck.Metrics, FloatLayers: r.model.FloatLayers(),
	}
	if n := len(r.ck.Metrics); n > 0 {
		res.ValAccuracy = r.ck.Metrics[n-1].ValAccuracy
	}
	return res
}

// calibrate is post-training quantization: min/max ranges over the first CalibImages
// training images, no parameter update.
func (r *runner) calibrate() (*Result, error) {
	start := time.Now()
	r.model.ResetRanges()
	if q := r.cfg.Quant; q.LSQ() || q.RangeMethod() != nn.RangeMinMax {
		// Ranges (and learned steps) chosen from a sample of the activations.
		if err := Calibrate(r.evalGraph, r.train, r.cfg.CalibImages); err != nil {
			return nil, err
		}
	} else {
		r.model.SetMode(autograd.ModeCalibrate)
		if err := ForEachBatch(r.evalGraph, r.train, r.cfg.CalibImages, func(int, int) error { return nil }); err != nil {
			return nil, err
		}
	}
	r.ck.Seconds = time.Since(start).Seconds()
	acc, err := r.evaluate()
	if err != nil {
		return nil, err
	}
	r.ck.Finished = true
	r.ck.Metrics = append(r.ck.Metrics, EpochMetrics{TestAccuracy: acc, Seconds: r.ck.Seconds, Images: min(r.cfg.CalibImages, r.train.N), Ranges: r.actRanges()})
	if err := r.save(); err != nil {
		return nil, err
	}
	r.logf("ptq: calibrated on %d images, test accuracy %.2f%%", min(r.cfg.CalibImages, r.train.N), 100*acc)
	return r.result(acc), nil
}

// Step applies opt to the gradients of the last run of gr and clears them: the update of every
// training loop of this package, for loops and benchmarks outside it. params are the parameter
// slices of gr (gr.Params[i].Data), grads scratch space aligned with them.
func Step(gr *nn.Graph, opt Optimizer, params, grads [][]float32, lr float64) error {
	return step(gr, opt, params, grads, lr)
}

// step applies the optimizer to the gradients of the last run of gr and clears them.
// grads is scratch space aligned with params.
func step(gr *nn.Graph, opt Optimizer, params, grads [][]float32, lr float64) error {
	for j := range grads {
		g, err := gr.Grad(j)
		if err != nil {
			return err
		}
		grads[j] = g
	}
	opt.Step(params, grads, lr)
	return gr.ZeroGrad()
}

// cyclePrefix names the prune cycle in epoch log lines ("" outside cycles).
func (r *runner) cyclePrefix() string {
	if r.cycle == 0 {
		return ""
	}
	return fmt.Sprintf("cycle %d ", r.cycle)
}

func (r *runner) logf(format string, args ...any) {
	if r.opt.Log != nil {
		fmt.Fprintf(r.opt.Log, format+"\n", args...)
	}
}

func (r *runner) loop() (*Result, error) {
	cfg := r.cfg
	b := data.NewBatcher(r.train, cfg.BatchSize, true, cfg.Seed)
	nb := b.NumBatches()
	if nb == 0 {
		return nil, fmt.Errorf("train: training set has %d images, fewer than one batch of %d", r.train.N, cfg.BatchSize)
	}
	total := nb * cfg.Epochs
	mode := autograd.ModeFloat
	if cfg.Mode == ModeQAT {
		mode = autograd.ModeTrain
	}
	if !cfg.Resume && cfg.Mode == ModeQAT && !r.keepRanges {
		r.model.ResetRanges()
		if cfg.Quant.LSQ() && r.ck.Epoch == 0 {
			// LSQ starts from steps chosen on calibration data (--range, --calib images).
			if err := Calibrate(r.evalGraph, r.train, cfg.CalibImages); err != nil {
				return nil, err
			}
			r.logf("lsq: steps initialized from %s ranges of %d training images", cfg.Quant.RangeMethod(), min(cfg.CalibImages, r.train.N))
		}
	}
	gr := r.trainGraph
	params := make([][]float32, len(gr.Params))
	grads := make([][]float32, len(gr.Params))
	for i, p := range gr.Params {
		params[i] = p.Data
	}
	labels := make([]uint8, cfg.BatchSize)
	tmp := make([]float32, r.train.Rows*r.train.Cols)
	acc := 0.0
	if r.ck.Epoch >= cfg.Epochs {
		var err error
		if acc, err = r.evaluate(); err != nil {
			return nil, err
		}
	}
	last := cfg.Epochs
	if cfg.StopAfter > 0 {
		last = min(last, r.ck.Epoch+cfg.StopAfter)
	}
	for epoch := r.ck.Epoch; epoch < last; epoch++ {
		start := time.Now()
		perm := b.Epoch(r.epochBase + epoch)
		r.model.SetMode(mode)
		r.model.SetTraining(true)
		var bar *progressbar.ProgressBar
		if r.opt.Progress != nil {
			bar = progressbar.NewOptions(nb,
				progressbar.OptionSetWriter(r.opt.Progress),
				progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch+1, cfg.Epochs)),
				progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true),
				progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionThrottle(250*time.Millisecond),
				progressbar.OptionSetWidth(20), progressbar.OptionOnCompletion(func() { fmt.Fprintln(r.opt.Progress) }))
		}
		var lossSum float64
		correct, seen := 0, 0
		var lr float64
		for i := 0; i < nb; i++ {
			if r.ctx != nil && r.ctx.Err() != nil {
				return nil, r.interrupted(epoch, i)
			}
			global := epoch*nb + i
			lr, _ = LR(cfg.Schedule, cfg.LR, global, total)
			if r.beforeStep != nil {
				if err := r.beforeStep(global); err != nil {
					return nil, err
				}
			}
			b.Fill(perm, i, gr.Input(), gr.Targets(), labels)
			if cfg.Augment > 0 {
				shiftImages(gr.Input(), cfg.BatchSize, r.train.ChannelCount(), r.train.Rows, r.train.Cols, cfg.Augment, cfg.Seed, r.epochBase+epoch, i, tmp)
			}
			loss, err := gr.Run()
			// gorgonia flattens op errors into strings, so match the message too.
			diverged := err != nil && (errors.Is(err, autograd.ErrDiverged) || strings.Contains(err.Error(), autograd.ErrDiverged.Error()))
			if err != nil && !diverged {
				return nil, err
			}
			if diverged || math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
				msg := "no checkpoint was written yet"
				if r.ck.Epoch > 0 {
					msg = fmt.Sprintf("the last good checkpoint (epoch %d) is %s", r.ck.Epoch, r.ckptPath)
				}
				what := fmt.Sprintf("the loss is %v", loss)
				if diverged {
					// The run stopped inside the graph, before a loss was computed.
					what = "an activation or weight reached a fake-quant node as NaN or Inf"
				}
				return nil, fmt.Errorf("train: training diverged at epoch %d step %d of %d (global step %d): %s (learning rate %.3g too high?); %s",
					r.epochBase+epoch+1, i+1, nb, global+1, what, lr, msg)
			}
			lossSum += float64(loss)
			if err := step(gr, r.optim, params, grads, lr); err != nil {
				return nil, err
			}
			logits := gr.LogitsData()
			k := r.model.Classes
			for n := 0; n < cfg.BatchSize; n++ {
				if Argmax(logits[n*k:(n+1)*k]) == int(labels[n]) {
					correct++
				}
			}
			seen += cfg.BatchSize
			if bar != nil {
				bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f acc %.2f%%", epoch+1, cfg.Epochs, lossSum/float64(i+1), 100*float64(correct)/float64(seen)))
				bar.Add(1)
			}
		}
		secs := time.Since(start).Seconds()
		var err error
		if acc, err = r.evaluate(); err != nil {
			return nil, err
		}
		m := EpochMetrics{Epoch: r.epochBase + epoch + 1, Cycle: r.cycle, TrainLoss: lossSum / float64(nb), TrainAcc: float64(correct) / float64(seen), TestAccuracy: acc, LR: lr, Seconds: secs, Images: seen, Ranges: r.actRanges()}
		val := ""
		if r.val != nil {
			va, err := Evaluate(r.evalGraph, r.val, 0) // still in evaluation mode
			if err != nil {
				return nil, err
			}
			m.ValAccuracy = &va
			val = fmt.Sprintf(" val %.2f%%", 100*va)
		}
		r.ck.Metrics = append(r.ck.Metrics, m)
		r.ck.Epoch = epoch + 1
		r.ck.Seconds += secs
		r.ck.Finished = r.ck.Epoch == cfg.Epochs
		if err := r.save(); err != nil {
			return nil, err
		}
		r.logf("%sepoch %d/%d: loss %.4f train %.2f%% test %.2f%%%s (%.1f s)", r.cyclePrefix(), epoch+1, cfg.Epochs, m.TrainLoss, 100*m.TrainAcc, 100*acc, val, secs)
	}
	return r.result(acc), nil
}
