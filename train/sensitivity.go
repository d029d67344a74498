package train

import (
	"fmt"
	"io"
	"time"

	"github.com/qatgo/qatgo/data"
	"github.com/schollz/progressbar/v3"
)

// SensitivityRow is one layer's pruning sensitivity: test accuracy with only this layer pruned
// by magnitude to each sparsity (the others as in the checkpoint).
type SensitivityRow struct {
	Layer    string    `json:"layer"`
	Weights  int       `json:"weights"`
	Sparsity []float64 `json:"sparsity"`
	Accuracy []float64 `json:"accuracy"`
	// Suggest is the largest swept sparsity up to which every swept sparsity (in the order
	// given) stays within the tolerance of the unpruned model (0 if the first does not).
	Suggest float64 `json:"suggest"`
}

// SensitivityConfig configures a sensitivity analysis.
type SensitivityConfig struct {
	From       string
	Sparsities []float64
	Tolerance  float64 // accuracy loss (a fraction, e.g. 0.001) allowed for Suggest
	DataDir    string
	TestLimit  int
	EvalBatch  int
}

// Sensitivity prunes each layer of the checkpoint alone to each sparsity, without retraining,
// and evaluates the model (in the checkpoint's mode: fake-quant for QAT checkpoints) on the
// test set. It returns the unpruned accuracy and one row per layer. Han et al. use such a sweep
// to pick per-layer thresholds; Suggest is a starting point for --layer-target.
func Sensitivity(cfg SensitivityConfig, progress io.Writer) (float64, []SensitivityRow, error) {
	if cfg.EvalBatch == 0 {
		cfg.EvalBatch = 100
	}
	if err := cfg.Validate(); err != nil {
		return 0, nil, err
	}
	ck, err := LoadCheckpoint(cfg.From)
	if err != nil {
		return 0, nil, err
	}
	m, err := ck.Model()
	if err != nil {
		return 0, nil, err
	}
	test, err := data.LoadTest(cfg.DataDir)
	if err != nil {
		return 0, nil, err
	}
	if cfg.TestLimit > 0 {
		test = test.Subset(cfg.TestLimit)
	}
	if err := test.CheckShape(m.InH, m.InW); err != nil {
		return 0, nil, err
	}
	m.SetTraining(false)
	gr, err := m.NewGraph(cfg.EvalBatch, false)
	if err != nil {
		return 0, nil, err
	}
	defer gr.Close()
	base, err := Evaluate(gr, test, 0)
	if err != nil {
		return 0, nil, err
	}
	layers := m.Quantized()
	var bar *progressbar.ProgressBar
	if progress != nil {
		bar = progressbar.NewOptions(len(layers)*len(cfg.Sparsities), progressbar.OptionSetWriter(progress),
			progressbar.OptionSetDescription("sensitivity"), progressbar.OptionShowCount(),
			progressbar.OptionThrottle(250*time.Millisecond), progressbar.OptionSetWidth(20),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }))
	}
	var rows []SensitivityRow
	for _, l := range layers {
		w := l.Weights()
		if w.Shared != nil {
			return 0, nil, fmt.Errorf("%s is clustered: run the sensitivity analysis before clustering", l.Name())
		}
		row := SensitivityRow{Layer: l.Name(), Weights: w.Size()}
		orig := append([]float32(nil), w.Data...)
		mask := w.Mask
		if mask == nil {
			mask = make([]float32, w.Size())
			for i := range mask {
				mask[i] = 1
			}
		}
		failed := false
		for _, s := range cfg.Sparsities {
			keep := keepLargest([][]float32{w.Data}, [][]float32{mask}, int(s*float64(w.Size())+0.5))[0]
			for i, k := range keep {
				if !k {
					w.Data[i] = 0
				}
			}
			acc, err := Evaluate(gr, test, 0)
			copy(w.Data, orig)
			if err != nil {
				return 0, nil, err
			}
			row.Sparsity = append(row.Sparsity, s)
			row.Accuracy = append(row.Accuracy, acc)
			// The largest sparsity up to which every swept level stays within the tolerance.
			if acc >= base-cfg.Tolerance && s > row.Suggest && !failed {
				row.Suggest = s
			} else if acc < base-cfg.Tolerance {
				failed = true
			}
			if bar != nil {
				bar.Add(1)
			}
		}
		rows = append(rows, row)
	}
	return base, rows, nil
}
