package train_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/internal/synth"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// Analyze handles a layer the spec keeps in float: in the W b A b models it stays float (as
// the first layer, its output is then exactly the float model's: no SQNR), and its solo row
// quantizes it (Config.Layers), measuring what keeping it float saves. The data is a
// synthetic idx4 directory (3 x 16 x 16 RGB, 4 classes).
func TestAnalyzeFloatLayer(t *testing.T) {
	dir := t.TempDir()
	sets := map[string]*data.Set{}
	for _, split := range []string{"train", "t10k"} {
		s, err := synth.Squares(96, uint64(len(split)))
		if err != nil {
			t.Fatal(err)
		}
		sets[split] = s
		var ib, lb bytes.Buffer
		if err := data.WriteImagesCHW(&ib, s.Images, s.N, s.ChannelCount(), s.Rows, s.Cols); err != nil {
			t.Fatal(err)
		}
		data.WriteLabels(&lb, s.Labels)
		os.WriteFile(filepath.Join(dir, split+"-images-idx3-ubyte"), ib.Bytes(), 0o644)
		os.WriteFile(filepath.Join(dir, split+"-labels-idx1-ubyte"), lb.Bytes(), 0o644)
	}
	spec := synth.RGB16()
	spec.Layers[0] = spec.Layers[0].Float()
	m, err := nn.Build(spec, nn.DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.DefaultConfig()
	cfg.Mode, cfg.Epochs, cfg.BatchSize, cfg.Out = train.ModeFloat, 1, 32, t.TempDir()
	if _, _, err := train.Fit(context.Background(), m, sets["train"], sets["t10k"], cfg, train.Options{}); err != nil {
		t.Fatal(err)
	}
	res, err := train.Analyze(train.AnalyzeConfig{From: cfg.Out, Bits: []int{4}, Quant: nn.DefaultConfig(), CalibImages: 32, Images: 48, DataDir: dir, Batch: 16})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 3 || res.Rows[0].Layer != "conv1" {
		t.Fatalf("rows %+v, want conv1, conv2, fc1", res.Rows)
	}
	if r := res.Rows[0]; r.SQNR != nil || r.SoloSQNR == nil {
		t.Errorf("float conv1: SQNR %v (want none: float in the W4A4 model), solo %v (want a value: quantized alone)", r.SQNR, r.SoloSQNR)
	}
	if r := res.Rows[1]; r.SQNR == nil || r.SoloSQNR == nil {
		t.Errorf("quantized conv2: SQNR %v, solo %v; want both", r.SQNR, r.SoloSQNR)
	}
}
