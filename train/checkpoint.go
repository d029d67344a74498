package train

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train/checkpoint"
)

// CheckpointFile is the checkpoint's name inside a run directory.
const CheckpointFile = "checkpoint.qck"

// Checkpoint is everything needed to rebuild a model and continue its training exactly.
type Checkpoint struct {
	Epoch  int // completed epochs of this run
	Params []checkpoint.ParamState
	Ranges []checkpoint.RangeState // activation quantizers, in model order
	BN     []checkpoint.BNStats    // batch-norm running statistics, in model order
	// Compression holds the pruning masks and weight-sharing codebooks (none for dense models).
	Compression []checkpoint.CompressionState
	Opt         OptState
	Config      Config // the run's configuration (for resume)
	Metrics     []EpochMetrics
	Seconds     float64 // training seconds so far
	Finished    bool
	// Stage is "prune" or "cluster" for the checkpoints of those drivers ("" for training).
	Stage string
	// Steps are the learned ln(step) parameters of a model with Quantizer "lsq"
	// (nn.Model.LearnedSteps; none otherwise: older checkpoints decode without them).
	Steps []checkpoint.ParamState
}

// Model rebuilds the checkpoint's model with its parameters and ranges.
func (c *Checkpoint) Model() (*nn.Model, error) {
	// Config holds the model (Arch, Quant, Ops) and how its parameters were produced (Mode).
	cfg := c.Config
	m, err := cfg.newModel(cfg.Quant, 0)
	if err != nil {
		return nil, err
	}
	if err := checkpoint.Restore(m, c.Params, c.Ranges); err != nil {
		return nil, err
	}
	if err := checkpoint.RestoreBN(m, c.BN); err != nil {
		return nil, err
	}
	if err := checkpoint.RestoreCompression(m, c.Compression); err != nil {
		return nil, err
	}
	if err := checkpoint.RestoreSteps(m, c.Steps); err != nil {
		return nil, err
	}
	m.FoldBN = cfg.Mode != ModeFloat
	// The simulation uses the ops the model was trained with.
	if m.Ops, err = nn.ParseOps(string(cfg.Ops)); err != nil {
		return nil, err
	}
	if cfg.Mode == ModeFloat {
		m.SetMode(autograd.ModeFloat)
	} else {
		m.SetMode(autograd.ModeEval)
	}
	return m, nil
}

// EncodeCheckpoint writes c in the checkpoint format (package checkpoint). A custom model's
// spec follows the record as a second gob value (its JSON), so that the record of a built-in
// network is encoded as before.
func EncodeCheckpoint(w io.Writer, c *Checkpoint) error {
	if s := c.Config.customSpec(); s != nil {
		return checkpoint.Encode(w, c, string(s.JSON()))
	}
	return checkpoint.Encode(w, c)
}

// DecodeCheckpoint reads a checkpoint (checkpoint.Decode) and validates its contents
// (Checkpoint.Validate); a file that fails either is a checkpoint.ErrInvalid.
func DecodeCheckpoint(r io.Reader) (*Checkpoint, error) {
	var c Checkpoint
	var spec string // a custom model's spec (JSON); none for a built-in network
	if _, err := checkpoint.Decode(r, &c, &spec); err != nil {
		return nil, err
	}
	if spec != "" {
		s, err := nn.ParseSpec(strings.NewReader(spec))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", checkpoint.ErrInvalid, err)
		}
		if s.Name != c.Config.Arch {
			return nil, fmt.Errorf("%w: model spec %q for model %q", checkpoint.ErrInvalid, s.Name, c.Config.Arch)
		}
		c.Config.SetSpec(s)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", checkpoint.ErrInvalid, err)
	}
	return &c, nil
}

// SaveCheckpoint writes c atomically to path. A checkpoint that fails Validate (a parameter
// that is not finite, say) is refused and nothing is written.
func SaveCheckpoint(path string, c *Checkpoint) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("train: refusing to write %s: %w", path, err)
	}
	if s := c.Config.customSpec(); s != nil {
		return checkpoint.WriteFile(path, c, string(s.JSON()))
	}
	return checkpoint.WriteFile(path, c)
}

// LoadCheckpoint reads a checkpoint file, or the checkpoint inside a run directory.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, CheckpointFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	c, err := DecodeCheckpoint(f)
	if err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	return c, nil
}
