package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/internal/atomicfile"
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
	if err := test.CheckInput(m.InC, m.InH, m.InW); err != nil {
		return 0, nil, err
	}
	if err := test.CheckLabels(m.Classes); err != nil {
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
			return 0, nil, fmt.Errorf("train: %s is clustered: run the sensitivity analysis before clustering", l.Name())
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

// SensitivityFile is the sensitivity sweep's record inside the run directory it analysed.
const SensitivityFile = "sensitivity.json"

// SensitivityReport is the content of SensitivityFile.
type SensitivityReport struct {
	From         string           `json:"from"`
	BaseAccuracy float64          `json:"base_accuracy"`
	TestImages   int              `json:"test_limit,omitempty"` // 0: the whole test set
	Tolerance    float64          `json:"tolerance"`
	Layers       []SensitivityRow `json:"layers"`
}

// SaveSensitivity writes the sweep atomically as SensitivityFile into the run directory of
// cfg.From (the directory itself, or the one holding the checkpoint file) and returns its path.
func SaveSensitivity(cfg SensitivityConfig, base float64, rows []SensitivityRow) (string, error) {
	dir := cfg.From
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	path := filepath.Join(dir, SensitivityFile)
	rep := SensitivityReport{From: cfg.From, BaseAccuracy: base, TestImages: cfg.TestLimit, Tolerance: cfg.Tolerance, Layers: rows}
	err := atomicfile.WriteFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	})
	if err != nil {
		return "", fmt.Errorf("train: writing %s: %w", path, err)
	}
	return path, nil
}

// maxSensitivityBytes bounds what LoadSensitivity reads.
const maxSensitivityBytes = 16 << 20

// LoadSensitivity reads a SensitivityFile, checking that every layer has as many accuracies
// as sparsities, at least one, and every value a fraction in [0, 1].
func LoadSensitivity(path string) (*SensitivityReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSensitivityBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSensitivityBytes {
		return nil, fmt.Errorf("train: %s is larger than %d bytes", path, maxSensitivityBytes)
	}
	var rep SensitivityReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("train: %s: %v", path, err)
	}
	frac := func(x float64) bool { return x >= 0 && x <= 1 }
	if !frac(rep.BaseAccuracy) || !frac(rep.Tolerance) {
		return nil, fmt.Errorf("train: %s: base accuracy %v or tolerance %v is not a fraction", path, rep.BaseAccuracy, rep.Tolerance)
	}
	for _, r := range rep.Layers {
		if len(r.Sparsity) != len(r.Accuracy) || len(r.Sparsity) == 0 {
			return nil, fmt.Errorf("train: %s: layer %s has %d sparsities and %d accuracies", path, r.Layer, len(r.Sparsity), len(r.Accuracy))
		}
		for i := range r.Sparsity {
			if !frac(r.Sparsity[i]) || !frac(r.Accuracy[i]) {
				return nil, fmt.Errorf("train: %s: layer %s: sparsity %v, accuracy %v are not fractions", path, r.Layer, r.Sparsity[i], r.Accuracy[i])
			}
		}
	}
	return &rep, nil
}
