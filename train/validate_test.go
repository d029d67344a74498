package train

import (
	"bytes"
	"errors"
	"github.com/qatgo/qatgo/train/checkpoint"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/qatgo/qatgo/nn"
)

// Every numeric setting out of range, NaN or infinite is refused by Config.Validate with a
// *SettingError naming the setting and its range.
func TestConfigValidateNumbers(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, c := range []struct {
		setting string
		edit    func(*Config)
	}{
		{"Quant.Decay", func(c *Config) { c.Quant.Decay = nan }},
		{"Quant.Decay", func(c *Config) { c.Quant.Decay = 1 }},
		{"Quant.Decay", func(c *Config) { c.Quant.Decay = -0.1 }},
		{"Quant.Delay", func(c *Config) { c.Quant.Delay = -1 }},
		{"Quant.LogitBits", func(c *Config) { c.Quant.LogitBits = 9 }},
		{"BatchSize", func(c *Config) { c.BatchSize = 1_000_000_000 }},
		{"BatchSize", func(c *Config) { c.BatchSize = 0 }},
		{"EvalBatch", func(c *Config) { c.EvalBatch = 1_000_000_000 }},
		{"EvalBatch", func(c *Config) { c.EvalBatch = -1 }},
		{"WeightDecay", func(c *Config) { c.WeightDecay = -1 }},
		{"WeightDecay", func(c *Config) { c.WeightDecay = nan }},
		{"WeightDecay", func(c *Config) { c.WeightDecay = inf }},
		{"StopAfter", func(c *Config) { c.StopAfter = -1 }},
		{"Momentum", func(c *Config) { c.Optimizer, c.Momentum = "sgd", 5 }},
		{"Momentum", func(c *Config) { c.Optimizer, c.Momentum = "sgd", nan }},
		{"LR", func(c *Config) { c.LR = nan }},
		{"LR", func(c *Config) { c.LR = inf }},
		{"LR", func(c *Config) { c.LR = 0 }},
		{"Epochs", func(c *Config) { c.Epochs = -3 }},
		{"Epochs", func(c *Config) { c.Epochs = MaxEpochs + 1 }},
		{"TrainLimit", func(c *Config) { c.TrainLimit = -1 }},
		{"TestLimit", func(c *Config) { c.TestLimit = -1 }},
		{"CalibImages", func(c *Config) { c.Mode, c.From, c.CalibImages = "ptq", "x", 0 }},
		{"Augment", func(c *Config) { c.Augment = 9 }},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		err := cfg.Validate()
		var se *SettingError
		if !errors.As(err, &se) || se.Setting != c.setting || !strings.Contains(err.Error(), "allowed") {
			t.Errorf("%s: Validate = %v, want a SettingError for %s", c.setting, err, c.setting)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: message has more than one line: %q", c.setting, err)
		}
	}
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("default configuration refused: %v", err)
	}
}

func TestOtherConfigsValidateNumbers(t *testing.T) {
	nan := math.NaN()
	p := DefaultPruneConfig()
	p.Train.From = "x"
	for _, c := range []struct {
		setting string
		err     func() error
	}{
		{"Target", func() error { q := p; q.Target = nan; return q.Validate() }},
		{"Target", func() error { q := p; q.Target = 1; return q.Validate() }},
		{"Cycles", func() error { q := p; q.Cycles = 0; return q.Validate() }},
		{"Freq", func() error { q := p; q.Schedule, q.Freq = "gradual", 0; return q.Validate() }},
		{"Quality", func() error { q := p; q.Policy, q.Quality = "quality", nan; return q.Validate() }},
		{"Train.LR", func() error { q := p; q.Train.LR = -1; return q.Validate() }},
		{"Train.BatchSize", func() error { q := p; q.Train.BatchSize = 1 << 40; return q.Validate() }},
		{"MaxIter", func() error { c := DefaultClusterConfig(); c.Train.From = "x"; c.MaxIter = 0; return c.Validate() }},
		{"K", func() error { c := DefaultClusterConfig(); c.Train.From = "x"; c.K = 257; return c.Validate() }},
		{"Train.Quant.Decay", func() error {
			c := DefaultClusterConfig()
			c.Train.From, c.Train.Quant.Decay = "x", nan
			return c.Validate()
		}},
		{"Tolerance", func() error {
			s := SensitivityConfig{From: "x", Sparsities: []float64{0.5}, Tolerance: -1, EvalBatch: 100}
			return s.Validate()
		}},
		{"Tolerance", func() error {
			s := SensitivityConfig{From: "x", Sparsities: []float64{0.5}, Tolerance: nan, EvalBatch: 100}
			return s.Validate()
		}},
		{"Sparsities[1]", func() error {
			s := SensitivityConfig{From: "x", Sparsities: []float64{0.5, nan}, EvalBatch: 100}
			return s.Validate()
		}},
	} {
		err := c.err()
		var se *SettingError
		if !errors.As(err, &se) || se.Setting != c.setting {
			t.Errorf("%s: Validate = %v, want a SettingError for %s", c.setting, err, c.setting)
		}
	}
}

// validCheckpoint is a small, valid checkpoint of LeNet-300-100 (random init), built once.
var validCheckpoint = sync.OnceValue(func() []byte {
	cfg := DefaultConfig()
	cfg.Arch, cfg.Out = "lenet300-100", "runs/x"
	m, err := nn.New(cfg.Arch, cfg.Quant, 1)
	if err != nil {
		panic(err)
	}
	ck := &Checkpoint{Config: cfg, Epoch: 1}
	ck.Params, ck.Ranges = checkpoint.Snapshot(m)
	var buf bytes.Buffer
	if err := EncodeCheckpoint(&buf, ck); err != nil {
		panic(err)
	}
	return buf.Bytes()
})

func decodeValid(t testing.TB) *Checkpoint {
	ck, err := DecodeCheckpoint(bytes.NewReader(validCheckpoint()))
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// Crafted checkpoints with a valid checksum (EncodeCheckpoint does not validate) are refused
// when read, with a message that says what is wrong.
func TestCraftedCheckpointsRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Checkpoint)
		want string
	}{
		{"epoch -3", func(c *Checkpoint) { c.Epoch = -3 }, "Epoch = -3: allowed 0..4"},
		{"epoch past the run", func(c *Checkpoint) { c.Epoch = 5 }, "Epoch = 5"},
		{"batch 2^40", func(c *Checkpoint) { c.Config.BatchSize = 1 << 40 }, "BatchSize = 1099511627776: allowed 1..4096"},
		{"eval batch 2^40", func(c *Checkpoint) { c.Config.EvalBatch = 1 << 40 }, "EvalBatch"},
		{"NaN decay", func(c *Checkpoint) { c.Config.Quant.Decay = math.NaN() }, "Quant.Decay = NaN"},
		{"NaN weight", func(c *Checkpoint) { c.Params[0].Data[7] = float32(math.NaN()) }, `parameter "fc1.w" value 7 is NaN`},
		{"Inf bias", func(c *Checkpoint) { c.Params[1].Data[0] = float32(math.Inf(-1)) }, "is -Inf"},
		{"short data", func(c *Checkpoint) { c.Params[0].Data = c.Params[0].Data[:1000] }, "(235200 values) but holds 1000 values"},
		{"negative shape", func(c *Checkpoint) { c.Params[0].Shape = []int{-300, -784} }, "has shape [-300 -784]"},
		{"NaN range", func(c *Checkpoint) { c.Ranges[0] = checkpoint.RangeState{Min: math.NaN(), Max: 1, Seen: true} }, "activation range 0"},
		{"NaN moment", func(c *Checkpoint) { c.Opt = OptState{Kind: "adam", Slots: [][][]float32{{{float32(math.NaN())}}}} }, "optimizer moment"},
		{"unknown optimizer", func(c *Checkpoint) { c.Opt.Kind = "lbfgs" }, `unknown kind "lbfgs"`},
		{"negative seconds", func(c *Checkpoint) { c.Seconds = -1 }, "Seconds = -1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ck := decodeValid(t)
			c.edit(ck)
			var buf bytes.Buffer
			if err := EncodeCheckpoint(&buf, ck); err != nil {
				t.Fatal(err)
			}
			_, err := DecodeCheckpoint(&buf)
			if !errors.Is(err, checkpoint.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("DecodeCheckpoint: %v, want checkpoint.ErrInvalid containing %q", err, c.want)
			}
			// And it is never written.
			if err := SaveCheckpoint(t.TempDir()+"/ck.qck", ck); err == nil {
				t.Fatal("SaveCheckpoint wrote an invalid checkpoint")
			}
		})
	}
}

// The messages that used to mislead: an empty optimizer state of the right kind, and a
// parameter whose shape matches but whose data is short.
func TestMisleadingMessagesFixed(t *testing.T) {
	opt, _ := NewOptimizer("adam", 0, 0, []int{3})
	err := opt.SetState(OptState{Kind: "adam"})
	if err == nil || strings.Contains(err.Error(), `is "adam", want "adam"`) || !strings.Contains(err.Error(), "0 moment buffers, want 2") {
		t.Errorf("empty adam state: %v", err)
	}
	ck := decodeValid(t)
	m, err := nn.New(ck.Config.Arch, ck.Config.Quant, 0)
	if err != nil {
		t.Fatal(err)
	}
	ck.Params[0].Data = ck.Params[0].Data[:10]
	err = checkpoint.Restore(m, ck.Params, nil)
	if err == nil || !strings.Contains(err.Error(), "holds 10 values, want 235200") {
		t.Errorf("short parameter: %v", err)
	}
}

// FuzzDecodeCheckpointContents mutates the decoded contents of a valid checkpoint (counters,
// settings, a parameter value, shape and length, the optimizer state) and re-encodes it with a
// valid checksum, so the fuzzer reaches the checks behind the CRC. A checkpoint that decodes
// must satisfy Validate's invariants and rebuild its model without panicking.
func FuzzDecodeCheckpointContents(f *testing.F) {
	f.Add(1, 64, 100, 0.001, 0.99, 0.0, 0, float32(0.5), 300, 784, 0, "adam", 0)
	f.Add(-3, 1<<40, 0, math.NaN(), 1.0, -1.0, 5, float32(math.Inf(1)), -1, 0, 1000, "", 2)
	f.Add(0, 1, 1, 10.0, 0.0, 1.0, 0, float32(-0.0), 1, 1, 1, "sgd", 1)
	f.Fuzz(func(t *testing.T, epoch, batch, evalBatch int, lr, decay, wd float64, stopAfter int, w float32, d0, d1, cut int, optKind string, slots int) {
		ck := decodeValid(t)
		ck.Epoch, ck.Config.BatchSize, ck.Config.EvalBatch = epoch, batch, evalBatch
		ck.Config.LR, ck.Config.Quant.Decay, ck.Config.WeightDecay, ck.Config.StopAfter = lr, decay, wd, stopAfter
		p := &ck.Params[0]
		p.Data[0] = w
		p.Shape = []int{d0, d1}
		if cut > 0 && cut < len(p.Data) {
			p.Data = p.Data[:cut]
		}
		ck.Opt.Kind = OptimizerKind(optKind)
		if slots >= 0 && slots <= 3 {
			ck.Opt.Slots = make([][][]float32, slots)
		}
		var buf bytes.Buffer
		if err := EncodeCheckpoint(&buf, ck); err != nil {
			return
		}
		got, err := DecodeCheckpoint(&buf)
		if err != nil {
			if !errors.Is(err, checkpoint.ErrInvalid) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		c := got.Config
		if got.Epoch < 0 || got.Epoch > c.Epochs || c.BatchSize < 1 || c.BatchSize > MaxBatch || c.EvalBatch < 1 || c.EvalBatch > MaxBatch ||
			!(c.Quant.Decay >= 0 && c.Quant.Decay < 1) || !(c.LR > 0 && c.LR <= MaxLR) || nonFinite32(got.Params[0].Data) >= 0 {
			t.Fatalf("accepted an invalid checkpoint: epoch %d, config %+v", got.Epoch, c)
		}
		if _, err := got.Model(); err != nil && strings.Contains(err.Error(), "panic") {
			t.Fatal(err)
		}
		if got.Opt.Kind != "" {
			opt, err := NewOptimizer(got.Opt.Kind, c.Momentum, c.WeightDecay, []int{len(got.Params[0].Data)})
			if err == nil {
				opt.SetState(got.Opt)
			}
		}
	})
}
