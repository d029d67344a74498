package export_test

import (
	"bytes"
	"testing"

	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/internal/synth"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// TestAvgPoolEndToEnd trains synth.AvgRGB16 (average pools on the pixels and after each conv,
// 2x2 stride 1, 2x2 stride 2, 3x3 stride 2) with W4A4 QAT under both rounding rules (and with
// learned steps, LSQ, under single rounding), exports
// it from memory and requires the integer engine to agree with the simulation on every
// held-out image and every activation, average pools included; the file (format version 3)
// decodes to the same model.
func TestAvgPoolEndToEnd(t *testing.T) {
	for _, c := range []struct {
		r   fakequant.Rounding
		lsq bool
	}{{fakequant.RoundSingle, false}, {fakequant.RoundDouble, false}, {fakequant.RoundSingle, true}} {
		r := c.r
		name := r.String()
		if c.lsq {
			name += "-lsq"
		}
		t.Run(name, func(t *testing.T) {
			m, testSet, err := synth.TrainSpec(synth.AvgRGB16(), 5, r, func(cfg *train.Config) {
				if c.lsq {
					cfg.Quant.Quantizer = nn.QuantizerLSQ
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			ex, err := export.FromModel(m, testSet, 0)
			if err != nil {
				t.Fatal(err)
			}
			rep := ex.Report
			if rep.Images != testSet.N || rep.Agreement != 1 {
				t.Fatalf("agreement %.4f on %d images, want 1 on %d", rep.Agreement, rep.Images, testSet.N)
			}
			pools := 0
			for _, l := range rep.Layers {
				if l.MaxSteps != 0 || l.Differing != 0 {
					t.Errorf("layer %s: max %d steps, %.4f%% differing, want 0", l.Name, l.MaxSteps, 100*l.Differing)
				}
			}
			t.Logf("%s: test accuracy %.2f%% simulated, %.2f%% integer, agreement %.2f%% on %d images, layers %+v", name, 100*rep.SimAccuracy, 100*rep.IntAccuracy, 100*rep.Agreement, rep.Images, rep.Layers)
			if rep.SimAccuracy < 0.6 {
				t.Errorf("simulated accuracy %.3f on 4 classes: not learning", rep.SimAccuracy)
			}
			qm, err := qnet.Decode(bytes.NewReader(ex.File))
			if err != nil {
				t.Fatal(err)
			}
			if v := uint16(ex.File[8]) | uint16(ex.File[9])<<8; v != 3 {
				t.Errorf("file version %d, want 3", v)
			}
			for _, l := range qm.Layers {
				if l.Kind() == qnet.KindAvgPool2D {
					pools++
				}
			}
			if c.lsq != (m.LearnedSteps() != nil) {
				t.Fatalf("learned steps: %d parameters, want LSQ %v", len(m.LearnedSteps()), c.lsq)
			}
			if pools != 3 || qm.Rounding != r {
				t.Fatalf("integer model: %d average pools, rounding %v", pools, qm.Rounding)
			}
		})
	}
}

// TestGlobalAvgPoolEndToEnd: a network whose last layer is a global average pool
// (synth.GAPRGB16: conv, conv to one channel per class, 8x8 average pool, flatten) trains,
// exports and runs with the simulation equal to the engine.
func TestGlobalAvgPoolEndToEnd(t *testing.T) {
	m, testSet, err := synth.TrainSpec(synth.GAPRGB16(), 6, fakequant.RoundSingle, synth.GAPRate)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := export.FromModel(m, testSet, 0)
	if err != nil {
		t.Fatal(err)
	}
	rep := ex.Report
	t.Logf("test accuracy %.2f%% simulated, %.2f%% integer, agreement %.2f%%, layers %+v", 100*rep.SimAccuracy, 100*rep.IntAccuracy, 100*rep.Agreement, rep.Layers)
	if rep.Agreement != 1 || len(rep.Layers) != 4 {
		t.Fatalf("agreement %.4f, %d layers", rep.Agreement, len(rep.Layers))
	}
	for _, l := range rep.Layers {
		if l.MaxSteps != 0 || l.Differing != 0 {
			t.Errorf("layer %s: max %d steps, %.4f%% differing, want 0", l.Name, l.MaxSteps, 100*l.Differing)
		}
	}
	if rep.SimAccuracy < 0.6 {
		t.Errorf("simulated accuracy %.3f on 4 classes: not learning", rep.SimAccuracy)
	}
}
