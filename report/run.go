package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// MaxLogBytes bounds the size of the JSON logs read from a run directory.
const MaxLogBytes = 64 << 20

// Run is what a run directory holds. Absent files leave their fields empty.
type Run struct {
	Dir  string
	Name string // the directory's base name, for legends

	Checkpoint  *train.Checkpoint
	Model       *nn.Model                // built from Checkpoint (weights, masks, codebooks)
	Metrics     []train.EpochMetrics     // metrics.jsonl
	Cycles      []train.CycleResult      // prune.jsonl
	Sensitivity *train.SensitivityReport // sensitivity.json
	Models      []ModelFile              // *.qat in the directory, by name
}

// ModelFile is an integer model file of a run.
type ModelFile struct {
	Path  string
	Bytes int64
	Model *qnet.Model
}

// IsRunDir reports whether dir holds any file Load reads.
func IsRunDir(dir string) bool {
	for _, f := range []string{train.CheckpointFile, train.MetricsFile, train.PruneFile, train.SensitivityFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	m, _ := filepath.Glob(filepath.Join(dir, "*.qat"))
	return len(m) > 0
}

// Expand returns the run directories among dirs: a directory that is no run directory itself
// but holds some (a qat compress directory: prune/, cluster/ and model.qat beside them) is
// replaced by them, and kept too if it holds a model file.
func Expand(dirs []string) ([]string, error) {
	var out []string
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil {
			return nil, fmt.Errorf("%s: no such run directory", d)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s is a file, not a run directory", d)
		}
		if _, err := os.Stat(filepath.Join(d, train.CheckpointFile)); err == nil {
			out = append(out, d)
			continue
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			return nil, err
		}
		var subs []string
		for _, e := range ents {
			if sub := filepath.Join(d, e.Name()); e.IsDir() && IsRunDir(sub) {
				subs = append(subs, sub)
			}
		}
		switch {
		case IsRunDir(d):
			out = append(out, d)
		case len(subs) == 0:
			return nil, fmt.Errorf("%s is not a run directory (no %s, %s, %s, %s or .qat file)", d, train.CheckpointFile, train.MetricsFile, train.PruneFile, train.SensitivityFile)
		}
		out = append(out, subs...)
	}
	return out, nil
}

// Load reads a run directory.
func Load(dir string) (*Run, error) {
	if !IsRunDir(dir) {
		return nil, fmt.Errorf("%s is not a run directory (no %s, %s, %s, %s or .qat file)", dir, train.CheckpointFile, train.MetricsFile, train.PruneFile, train.SensitivityFile)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	r := &Run{Dir: dir, Name: filepath.Base(abs)}
	if p := filepath.Join(dir, train.CheckpointFile); exists(p) {
		if r.Checkpoint, err = train.LoadCheckpoint(p); err != nil {
			return nil, err
		}
		if r.Model, err = r.Checkpoint.Model(); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	if r.Metrics, err = readJSONL[train.EpochMetrics](filepath.Join(dir, train.MetricsFile)); err != nil {
		return nil, err
	}
	if len(r.Metrics) == 0 && r.Checkpoint != nil {
		r.Metrics = r.Checkpoint.Metrics
	}
	if r.Cycles, err = readJSONL[train.CycleResult](filepath.Join(dir, train.PruneFile)); err != nil {
		return nil, err
	}
	if p := filepath.Join(dir, train.SensitivityFile); exists(p) {
		if r.Sensitivity, err = train.LoadSensitivity(p); err != nil {
			return nil, err
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.qat"))
	slices.Sort(files)
	for _, f := range files {
		m, err := qnet.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		st, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		r.Models = append(r.Models, ModelFile{Path: f, Bytes: st.Size(), Model: m})
	}
	return r, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readJSONL reads one JSON object per line; a missing file is no records.
func readJSONL[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxLogBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxLogBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxLogBytes)
	}
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			return nil, fmt.Errorf("%s line %d: %v", path, n, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

// Arch is the run's model architecture ("" if unknown).
func (r *Run) Arch() string {
	if r.Checkpoint != nil {
		return r.Checkpoint.Config.Arch
	}
	return ""
}

// Kind describes the run in a few words: "QAT W8A8", "PTQ W8A8", "float", with "pruned 92%"
// and "clustered k=16" for compression stages.
func (r *Run) Kind() string {
	ck := r.Checkpoint
	if ck == nil {
		if len(r.Models) > 0 {
			return "integer model"
		}
		return ""
	}
	c := ck.Config
	var s string
	switch c.Mode {
	case "float":
		s = "float"
	case "ptq":
		s = fmt.Sprintf("PTQ W%dA%d", c.Quant.WBits, c.Quant.ABits)
	default:
		s = fmt.Sprintf("QAT W%dA%d", c.Quant.WBits, c.Quant.ABits)
	}
	if len(c.Quant.Layers) > 0 && c.Mode != "float" {
		s += " mixed"
	}
	k := 0
	for _, cs := range ck.Compression {
		k = max(k, len(cs.Centroids))
	}
	if sp := nn.TotalSparsity(r.Model.Sparsity()); sp > 0.005 {
		s += fmt.Sprintf(", %.1f%% pruned", 100*sp)
	}
	if k > 0 {
		s += fmt.Sprintf(", clustered k=%d", k)
	}
	return s
}

// LastAccuracy is the test accuracy of the run's last evaluation (its last metrics record),
// and false if there is none.
func (r *Run) LastAccuracy() (float64, bool) {
	if n := len(r.Metrics); n > 0 {
		return r.Metrics[n-1].TestAccuracy, true
	}
	if n := len(r.Cycles); n > 0 {
		return r.Cycles[n-1].TestAccuracy, true
	}
	return 0, false
}
