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
		{"range with ema qat", func(c *Config) { c.Quant.Range = "mse" }, "--range mse applies to ptq and to --quantizer lsq"},
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
