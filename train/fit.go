package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/nn"
)

// Fit trains the in-memory model m (built by nn.Build, or nn.New) on trainSet, evaluating on
// testSet after every epoch, as cfg says: Mode "float" or "qat", the optimizer, schedule,
// epochs, batch size and seed of cfg. Arch, Quant, From, Resume, DataDir and CalibImages are
// not read (the model is m, its quantization m.Config; train limits, test limits and the
// validation hold-out Val apply).
// The model is trained in place and returned with the per-epoch history.
//
// With cfg.Out set, Fit writes the checkpoint (with m's spec, so qat export/summary and
// Checkpoint.Model rebuild the model) and metrics.jsonl there after every epoch, as Run does;
// with cfg.Out == "" it writes nothing. When ctx is cancelled, Fit stops before the next step,
// writes the checkpoint of the parameters at that point (if cfg.Out is set; Epoch counts the
// completed epochs, so a later resume restarts the interrupted epoch with these parameters:
// not bit-identical to an uninterrupted run) and returns the model, the history so far and an
// error wrapping ctx.Err().
//
// A model with batch norm is trained with QAT only after float training (its running
// statistics are folded frozen): Fit it in "float" first, then in "qat".
func Fit(ctx context.Context, m *nn.Model, trainSet, testSet *data.Set, cfg Config, opt Options) (*nn.Model, []EpochMetrics, error) {
	if m == nil || m.Spec == nil {
		return nil, nil, errors.New("train: Fit needs a model built from a spec (nn.Build or nn.New)")
	}
	if trainSet == nil || testSet == nil {
		return nil, nil, errors.New("train: Fit needs a training and a test set")
	}
	if cfg.Mode != "float" && cfg.Mode != "qat" {
		return nil, nil, fmt.Errorf("train: Fit trains in mode float or qat, not %q", cfg.Mode)
	}
	if cfg.From != "" || cfg.Resume {
		return nil, nil, errors.New("train: Fit trains the model it is given: From and Resume are for Run")
	}
	cfg.SetSpec(m.Spec)
	cfg.Quant = m.Config
	v := cfg
	if v.Out == "" {
		v.Out = "-" // Validate wants a run directory; Fit may have none
	}
	if err := v.Validate(); err != nil {
		return nil, nil, err
	}
	ckptPath := ""
	if cfg.Out != "" {
		if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
			return nil, nil, fmt.Errorf("train: cannot create output directory: %w", err)
		}
		ckptPath = filepath.Join(cfg.Out, CheckpointFile)
	}
	trainSet, valSet, err := limitSets(cfg, trainSet)
	if err != nil {
		return nil, nil, err
	}
	if cfg.TestLimit > 0 {
		testSet = testSet.Subset(cfg.TestLimit)
	}
	r := &runner{cfg: cfg, opt: opt, train: trainSet, val: valSet, test: testSet, ckptPath: ckptPath, model: m, preset: true, ctx: ctx}
	if err := r.setup(nil); err != nil {
		return nil, nil, err
	}
	defer r.close()
	_, err = r.loop()
	return m, r.ck.Metrics, err
}

// interrupted writes the checkpoint at a cancellation and returns the error Fit reports.
func (r *runner) interrupted(epoch, step int) error {
	where := fmt.Sprintf("train: stopped at epoch %d step %d", epoch+1, step+1)
	if err := r.save(); err != nil {
		return fmt.Errorf("%s: %w (and the checkpoint was not written: %v)", where, r.ctx.Err(), err)
	}
	if r.cfg.Out == "" {
		return fmt.Errorf("%s: %w", where, r.ctx.Err())
	}
	return fmt.Errorf("%s: %w; checkpoint %s", where, r.ctx.Err(), r.ckptPath)
}
