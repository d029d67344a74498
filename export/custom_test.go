package export_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/internal/synth"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// synthetic returns n seeded 3 x 16 x 16 images of 4 classes (synth.Squares).
func synthetic(n int, seed uint64) *data.Set {
	s, err := synth.Squares(n, seed)
	if err != nil {
		panic(err)
	}
	return s
}

// customSpec is a network not built in: two strided, padded convs (one with its own 8-bit
// quantization), a max pool, ReLU6, and a linear layer with 4 outputs.
func customSpec() *nn.Spec {
	return &nn.Spec{Name: "tiny-rgb", Input: [3]int{3, 16, 16}, Layers: []nn.LayerSpec{
		nn.Conv(8, 3, 2, 1).Quantized(8, 8, true), nn.ReLU(),
		nn.Conv(16, 3, 2, 1), nn.ReLU6(),
		nn.MaxPool(2, 2),
		nn.Flat(),
		nn.Dense(4),
	}}
}

// TestCustomModelEndToEnd builds a custom network for 3 x 16 x 16 images of 4 classes, trains
// it with W4A4 QAT (train.Fit), exports it from memory and requires the integer engine to
// agree with the simulation on every image and every activation; the exported file decodes
// to the same model, and the checkpoint Fit wrote rebuilds the model from its recorded spec.
func TestCustomModelEndToEnd(t *testing.T) {
	all := synthetic(1200, 1)
	if all.ClassCount() != 4 || all.ChannelCount() != 3 {
		t.Fatalf("synthetic set: %d classes, %d channels", all.ClassCount(), all.ChannelCount())
	}
	trainSet, testSet, err := all.Split(400)
	if err != nil {
		t.Fatal(err)
	}
	q := nn.DefaultConfig()
	q.WBits, q.ABits = 4, 4
	m, err := nn.Build(customSpec(), q, 3)
	if err != nil {
		t.Fatal(err)
	}
	if m.Classes != 4 || m.InC != 3 {
		t.Fatalf("model: %d classes, %d input channels", m.Classes, m.InC)
	}
	if got := m.Quantized()[0].Quant().Config; got.WBits != 8 || got.ABits != 8 {
		t.Fatalf("conv1's own quantization: got %+v, want W8A8", got)
	}
	cfg := train.DefaultConfig()
	cfg.Mode, cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.Out = "qat", 4, 32, 3e-3, t.TempDir()
	cfg.Quant.Delay = 50
	m, hist, err := train.Fit(context.Background(), m, trainSet, testSet, cfg, train.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 4 {
		t.Fatalf("history has %d epochs, want 4", len(hist))
	}
	if acc := hist[len(hist)-1].TestAccuracy; acc < 0.9 {
		t.Fatalf("test accuracy %.3f after 4 epochs on an easy task: not learning", acc)
	}
	ex, err := export.FromModel(m, testSet, 0)
	if err != nil {
		t.Fatal(err)
	}
	rep := ex.Report
	if rep.Images != testSet.N || rep.Agreement != 1 {
		t.Fatalf("agreement %.4f on %d images, want 1 on %d", rep.Agreement, rep.Images, testSet.N)
	}
	for _, l := range rep.Layers {
		if l.MaxSteps != 0 || l.Differing != 0 {
			t.Errorf("layer %s: max %d steps, %.4f%% differing, want 0", l.Name, l.MaxSteps, 100*l.Differing)
		}
	}
	t.Logf("%s: test accuracy %.2f%% simulated, %.2f%% integer, agreement %.2f%% on %d images", m.Arch, 100*rep.SimAccuracy, 100*rep.IntAccuracy, 100*rep.Agreement, rep.Images)
	if rep.SimAccuracy != rep.IntAccuracy {
		t.Errorf("simulation %.4f, integer %.4f", rep.SimAccuracy, rep.IntAccuracy)
	}
	// The engine on the file's bytes, image by image, against the report's integer accuracy.
	qm, err := qnet.Decode(bytes.NewReader(ex.File))
	if err != nil {
		t.Fatal(err)
	}
	if qm.InC != 3 || qm.InH != 16 || qm.InW != 16 {
		t.Fatalf("integer model input %dx%dx%d", qm.InC, qm.InH, qm.InW)
	}
	pred := make([]int, testSet.N)
	qm.NewRunner().PredictBatch(testSet.Images, testSet.N, pred)
	ok := 0
	for i, p := range pred {
		if p == int(testSet.Labels[i]) {
			ok++
		}
	}
	if got := float64(ok) / float64(testSet.N); got != rep.IntAccuracy {
		t.Errorf("engine accuracy %.4f, report %.4f", got, rep.IntAccuracy)
	}
	// The checkpoint carries the spec: it rebuilds the same integer model.
	ck, err := train.LoadCheckpoint(filepath.Join(cfg.Out, train.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	qm2, err := export.Convert(m2)
	if err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	if err := qnet.EncodeWith(&b2, qm2, qnet.EncodeOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b2.Bytes(), ex.File) {
		t.Error("the model rebuilt from the checkpoint exports differently")
	}
}

// A model with a float layer trains in QAT (train.Fit), and its checkpoint keeps the layer
// float; the quantized export refuses it with one line naming the layer (a *FloatLayerError),
// from memory and from the checkpoint, and Run writes no file.
func TestFloatLayerRefused(t *testing.T) {
	all := synthetic(160, 2)
	trainSet, testSet, err := all.Split(32)
	if err != nil {
		t.Fatal(err)
	}
	s := customSpec()
	s.Layers[0] = nn.Conv(8, 3, 2, 1).Float().Named("stem")
	m, err := nn.Build(s, nn.DefaultConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.DefaultConfig()
	cfg.Mode, cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.Out = "qat", 1, 32, 3e-3, t.TempDir()
	m, hist, err := train.Fit(context.Background(), m, trainSet, testSet, cfg, train.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 {
		t.Fatalf("history has %d epochs, want 1", len(hist))
	}
	check := func(what string, err error) {
		t.Helper()
		var fe *export.FloatLayerError
		if !errors.As(err, &fe) || fe.Layer != "stem" || !strings.Contains(err.Error(), "layer stem is float") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want a one-line *FloatLayerError naming stem", what, err)
		}
	}
	_, err = export.FromModel(m, testSet, 0)
	check("FromModel", err)
	ckPath := filepath.Join(cfg.Out, train.CheckpointFile)
	ck, err := train.LoadCheckpoint(ckPath)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	if got := m2.FloatLayers(); len(got) != 1 || got[0] != "stem" {
		t.Fatalf("rebuilt from the checkpoint: float layers %v, want [stem]", got)
	}
	_, err = export.Convert(m2)
	check("Convert of the checkpoint's model", err)
	_, err = export.LoadInteger(ckPath)
	check("LoadInteger (ONNX and C exports)", err)
	out := filepath.Join(t.TempDir(), "m.qat")
	_, err = export.Run(export.Config{From: ckPath, Out: out, EvalBatch: 100})
	check("Run", err)
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused export wrote its file")
	}
	// The compress pipeline and the mixed-precision search end in a quantized export: both
	// refuse before any training.
	pc := export.DefaultPipelineConfig()
	pc.From, pc.Out = ckPath, filepath.Join(t.TempDir(), "compress")
	_, err = export.Pipeline(pc, train.Options{})
	check("Pipeline", err)
	mc := export.DefaultMixedConfig()
	mc.From, mc.Out, mc.BudgetBytes = ckPath, filepath.Join(t.TempDir(), "mixed"), 10000
	mc.Train.Out = mc.Out
	_, err = export.MixedSearch(mc, train.Options{})
	check("MixedSearch", err)
}
