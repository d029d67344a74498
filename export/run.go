package export

import (
	"fmt"
	"io"
	"os"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/train"
)

// Config is one export: a trained checkpoint in, an integer model file out, and the fidelity
// measured on the test set.
type Config struct {
	From      string // checkpoint file or run directory
	Out       string // integer model file (written atomically)
	DataDir   string // MNIST idx directory ("" = the embedded copy)
	TestLimit int    // compare on the first N test images (0 = all 10,000)
	EvalBatch int    // simulation batch size
	// Progress receives a progress bar for the comparison (nil: none).
	Progress io.Writer
}

// Result is what an export reports.
type Result struct {
	Model string `json:"model"`
	Out   string `json:"out"`
	Bytes int64  `json:"bytes"`
	// Float32Bytes is the size of the model's parameters in float32, for compression ratios.
	Float32Bytes int `json:"float32_bytes"`
	WBits        int `json:"wbits"`
	ABits        int `json:"abits"`
	Report
	Summary []qnet.LayerSummary `json:"-"`
	Int     *qnet.Model         `json:"-"`
}

// Run converts the checkpoint, writes the file, reads it back and compares it with the
// simulation on the test set.
func Run(cfg Config) (*Result, error) {
	if cfg.From == "" || cfg.Out == "" {
		return nil, fmt.Errorf("export needs --from CHECKPOINT and --out FILE")
	}
	if cfg.EvalBatch <= 0 {
		cfg.EvalBatch = 100
	}
	ck, err := train.LoadCheckpoint(cfg.From)
	if err != nil {
		return nil, err
	}
	m, err := ck.Model()
	if err != nil {
		return nil, err
	}
	qm, err := Convert(m)
	if err != nil {
		return nil, err
	}
	if err := qnet.WriteFile(cfg.Out, qm); err != nil {
		return nil, fmt.Errorf("writing %s: %w", cfg.Out, err)
	}
	// Evaluate the file itself, not the in-memory model.
	qm, err = qnet.ReadFile(cfg.Out)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(cfg.Out)
	if err != nil {
		return nil, err
	}
	_, test, err := data.Load(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	rep, err := Compare(m, qm, test, cfg.TestLimit, cfg.EvalBatch, cfg.Progress)
	if err != nil {
		return nil, err
	}
	return &Result{
		Model: ck.Config.Arch, Out: cfg.Out, Bytes: st.Size(), Float32Bytes: 4 * m.NumWeights(),
		WBits: ck.Config.Quant.WBits, ABits: ck.Config.Quant.ABits, Report: *rep, Summary: qm.Summary(), Int: qm,
	}, nil
}
