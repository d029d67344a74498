package train

import (
	"strings"
	"testing"

	"github.com/qatgo/qatgo/nn"
)

// LSQ fine-tuning trains its steps (they leave their calibrated values), is seeded and
// resumable like any run, and a PTQ run with LSQ quantizers is the calibration alone.
func TestLSQTrainsStepsAndResumes(t *testing.T) {
	float := tinyConfig(t)
	float.Mode, float.Epochs = "float", 1
	if _, err := Run(float, Options{}); err != nil {
		t.Fatal(err)
	}
	lsq := tinyConfig(t)
	lsq.From, lsq.CalibImages = float.Out, 200
	lsq.Quant.WBits, lsq.Quant.ABits, lsq.Quant.Quantizer, lsq.Quant.Range = 3, 3, nn.QuantizerLSQ, nn.RangeMSE
	if _, err := Run(lsq, Options{}); err != nil {
		t.Fatal(err)
	}
	ptq := lsq
	ptq.Mode, ptq.Out = "ptq", t.TempDir()
	if _, err := Run(ptq, Options{}); err != nil {
		t.Fatal(err)
	}
	trained, calibrated := loadParams(t, lsq.Out), loadParams(t, ptq.Out)
	if len(trained.Steps) != 8 || len(calibrated.Steps) != 8 {
		t.Fatalf("%d and %d learned steps saved, want 8", len(trained.Steps), len(calibrated.Steps))
	}
	for i, s := range trained.Steps {
		if equalF32(s.Data, calibrated.Steps[i].Data) {
			t.Errorf("step %s did not move from its calibrated value %v", s.Name, s.Data)
		}
	}
	f := loadParams(t, float.Out)
	for i := range f.Params {
		if !equalF32(f.Params[i].Data, calibrated.Params[i].Data) {
			t.Fatalf("PTQ changed parameter %s", f.Params[i].Name)
		}
	}

	half := lsq
	half.Out, half.StopAfter = t.TempDir(), 1
	if _, err := Run(half, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(Config{Out: half.Out, Resume: true}, Options{}); err != nil {
		t.Fatal(err)
	}
	resumed := loadParams(t, half.Out)
	sameParams(t, "resumed LSQ", trained, resumed)
	for i, s := range trained.Steps {
		if !equalF32(s.Data, resumed.Steps[i].Data) {
			t.Fatalf("resumed LSQ: step %s = %v, uninterrupted %v", s.Name, resumed.Steps[i].Data, s.Data)
		}
	}
}

func TestLSQConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"quantizer", func(c *Config) { c.Quant.Quantizer = "pact" }, `unknown quantizer "pact"`},
		{"range", func(c *Config) { c.Quant.Range = "kl" }, `unknown range method "kl"`},
		{"percentile", func(c *Config) { c.Quant.Range, c.Quant.Percentile = "percentile", 30 }, "percentile 30 must be in (50, 100]"},
		{"range with ema qat", func(c *Config) { c.Quant.Range = "mse" }, "range method mse applies to ptq and to the lsq quantizer"},
		{"lsq without calibration", func(c *Config) { c.Quant.Quantizer, c.CalibImages = "lsq", 0 }, "range calibration needs images"},
	} {
		cfg := tinyConfig(t)
		c.edit(&cfg)
		_, err := Run(cfg, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// The per-layer analysis: more bits, less noise in every layer; at 8 bits the "solo" model
// (the layer at 8 bits, the others at 8) is the full 8-bit model, so its logits SQNR is the
// last layer's model SQNR exactly.
func TestAnalyze(t *testing.T) {
	float := tinyConfig(t)
	float.Mode, float.Epochs = "float", 1
	if _, err := Run(float, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, rng := range []string{nn.RangeMSE} {
		q := nn.DefaultConfig()
		q.Range = rng
		res, err := Analyze(AnalyzeConfig{From: float.Out, Bits: []int{2, 8}, Quant: q, CalibImages: 100, Images: 100, Batch: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 8 || len(res.Layers) != 4 {
			t.Fatalf("%s: %d rows for %d layers, want 8 for 4", rng, len(res.Rows), len(res.Layers))
		}
		for i, l := range res.Layers {
			lo, hi := res.Rows[i], res.Rows[len(res.Layers)+i]
			if lo.Layer != l || lo.Bits != 2 || hi.Bits != 8 || lo.SQNR == nil || hi.SQNR == nil || lo.SoloSQNR == nil || hi.SoloSQNR == nil {
				t.Fatalf("%s: rows %+v, %+v", rng, lo, hi)
			}
			if *hi.SQNR <= *lo.SQNR+6 || *hi.SoloSQNR <= *lo.SoloSQNR {
				t.Errorf("%s %s: SQNR %.1f dB at 8 bits, %.1f at 2 (solo %.1f, %.1f)", rng, l, *hi.SQNR, *lo.SQNR, *hi.SoloSQNR, *lo.SoloSQNR)
			}
			if last := res.Rows[2*len(res.Layers)-1]; *hi.SoloSQNR != *last.SQNR {
				t.Errorf("%s %s: solo logits SQNR at 8 bits %v, the 8-bit model's %v", rng, l, *hi.SoloSQNR, *last.SQNR)
			}
		}
		if res.Accuracy[8] < res.FloatAcc-0.03 {
			t.Errorf("%s: 8-bit accuracy %.3f, float %.3f", rng, res.Accuracy[8], res.FloatAcc)
		}
	}
}
