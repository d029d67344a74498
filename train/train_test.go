package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/qatgo/qatgo/train/checkpoint"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/qatgo/qatgo/nn"
)

// tinyConfig is QAT on 640 images (10 steps an epoch) with activations quantized from step 5,
// evaluated on 250 test images (a partial last eval batch).
func tinyConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.Epochs, cfg.TrainLimit, cfg.TestLimit = 2, 640, 250
	cfg.Quant.Delay = 5
	cfg.Out = t.TempDir()
	return cfg
}

func loadParams(t *testing.T, dir string) *Checkpoint {
	t.Helper()
	ck, err := LoadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

func sameParams(t *testing.T, what string, a, b *Checkpoint) {
	t.Helper()
	for i := range a.Params {
		for j, v := range a.Params[i].Data {
			if w := b.Params[i].Data[j]; v != w {
				t.Fatalf("%s: %s[%d] = %v vs %v", what, a.Params[i].Name, j, v, w)
			}
		}
	}
	for i := range a.Ranges {
		if a.Ranges[i] != b.Ranges[i] {
			t.Fatalf("%s: activation range %d: %+v vs %+v", what, i, a.Ranges[i], b.Ranges[i])
		}
	}
}

// Invariant 5: the same command with the same seed gives the same model; and a resumed run
// equals an uninterrupted one.
func TestSeededAndResumable(t *testing.T) {
	full := tinyConfig(t)
	if _, err := Run(full, Options{}); err != nil {
		t.Fatal(err)
	}
	again := full
	again.Out = t.TempDir()
	if _, err := Run(again, Options{}); err != nil {
		t.Fatal(err)
	}
	sameParams(t, "same seed", loadParams(t, full.Out), loadParams(t, again.Out))

	other := full
	other.Out, other.Seed = t.TempDir(), 2
	if _, err := Run(other, Options{}); err != nil {
		t.Fatal(err)
	}
	if a, b := loadParams(t, full.Out), loadParams(t, other.Out); a.Params[0].Data[0] == b.Params[0].Data[0] {
		t.Fatal("seeds 1 and 2 gave the same first weight")
	}

	half := full
	half.Out, half.StopAfter = t.TempDir(), 1
	if _, err := Run(half, Options{}); err != nil {
		t.Fatal(err)
	}
	if ck := loadParams(t, half.Out); ck.Epoch != 1 || ck.Finished {
		t.Fatalf("interrupted run: epoch %d finished %v", ck.Epoch, ck.Finished)
	}
	// Resume with nothing but the directory: the saved configuration is used.
	resumed := Config{Out: half.Out, Resume: true}
	res, err := Run(resumed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Epochs != 2 {
		t.Fatalf("resumed run reports %d epochs", res.Epochs)
	}
	sameParams(t, "resumed", loadParams(t, full.Out), loadParams(t, resumed.Out))
	for _, dir := range []string{full.Out, resumed.Out} {
		b, err := os.ReadFile(filepath.Join(dir, MetricsFile))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "\n"); n != 2 {
			t.Errorf("%s has %d lines, want one per epoch (2)", MetricsFile, n)
		}
		// Every QAT epoch records the tracked activation ranges; the last equal the checkpoint's.
		ck := loadParams(t, dir)
		for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var m EpochMetrics
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			if len(m.Ranges) != len(ck.Ranges) {
				t.Fatalf("%s line %d has %d ranges, the model %d quantizers", MetricsFile, i+1, len(m.Ranges), len(ck.Ranges))
			}
			for j, r := range m.Ranges {
				if !(r.Min <= 0 && 0 <= r.Max && r.Min < r.Max) || r.Layer == "" {
					t.Errorf("%s line %d: range %+v", MetricsFile, i+1, r)
				}
				if i == 1 && (r.Min != ck.Ranges[j].Min || r.Max != ck.Ranges[j].Max) {
					t.Errorf("last epoch's range %d is %+v, the checkpoint's %+v", j, r, ck.Ranges[j])
				}
			}
		}
	}
}

// A diverging run stops with a clear error and keeps the last good checkpoint.
func TestDivergenceKeepsCheckpoint(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.StopAfter = 1
	if _, err := Run(cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	// Make the saved run diverge from epoch 2 on: finite weights whose products overflow.
	path := filepath.Join(cfg.Out, CheckpointFile)
	ck := loadParams(t, cfg.Out)
	for i := range ck.Params[0].Data {
		ck.Params[0].Data[i] = 3e38
	}
	if err := SaveCheckpoint(path, ck); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(Config{Out: cfg.Out, Resume: true}, Options{})
	if err == nil {
		t.Fatal("learning rate 1e30 did not diverge")
	}
	if !strings.Contains(err.Error(), "last good checkpoint (epoch 1)") {
		t.Fatalf("error does not point at the last good checkpoint: %v", err)
	}
	// The message names where it happened and what, never a made-up loss of 0.
	if !strings.Contains(err.Error(), "diverged at epoch 2 step 1 ") || strings.Contains(err.Error(), "loss is 0") {
		t.Fatalf("divergence message: %v", err)
	}
	after, err := os.ReadFile(filepath.Join(cfg.Out, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the checkpoint changed after a diverged epoch")
	}
}

func TestConfigErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"wbits 9", func(c *Config) { c.Quant.WBits = 9 }, "Quant.WBits = 9: allowed 2..8"},
		{"abits 1", func(c *Config) { c.Quant.ABits = 1 }, "Quant.ABits = 1: allowed 2..8"},
		{"model", func(c *Config) { c.Arch = "resnet" }, `unknown model "resnet"`},
		{"mode", func(c *Config) { c.Mode = "int" }, `unknown mode "int"`},
		{"ptq without from", func(c *Config) { c.Mode = "ptq" }, "ptq needs a trained float checkpoint"},
		{"optimizer", func(c *Config) { c.Optimizer = "lbfgs" }, "unknown optimizer"},
		{"epochs", func(c *Config) { c.Epochs = 0 }, "Epochs = 0: allowed 1..100000"},
		{"lr", func(c *Config) { c.LR = -1 }, "LR = -1: allowed (0, 10]"},
		{"unwritable out", func(c *Config) { c.Out = filepath.Join(file, "run") }, "cannot create output directory"},
		{"missing data", func(c *Config) { c.DataDir = filepath.Join(t.TempDir(), "none") }, "no train-images-idx3-ubyte file"},
		{"bn qat from scratch", func(c *Config) { c.Arch = "lenet5-bn" }, "train it in float first"},
		{"resume nothing", func(c *Config) { c.Resume = true }, "cannot resume"},
		{"from missing", func(c *Config) { c.From = filepath.Join(t.TempDir(), "x.qck") }, "no such file"},
	} {
		cfg := tinyConfig(t)
		c.edit(&cfg)
		_, err := Run(cfg, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
		// Errors carry their package's prefix (train's own, data's for the data it reads, nn's
		// for the model it builds) and name settings, not the flags of a command.
		if err != nil && !(strings.HasPrefix(err.Error(), "train: ") || strings.HasPrefix(err.Error(), "data: ") || strings.HasPrefix(err.Error(), "nn: ")) || strings.Contains(fmt.Sprint(err), "--") {
			t.Errorf("%s: %q does not start with a package prefix or names a flag", c.name, err)
		}
	}
}

// PTQ calibrates ranges on a float checkpoint without touching its parameters.
func TestPTQ(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Mode, cfg.Epochs = "float", 1
	if _, err := Run(cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	ptq := cfg
	ptq.Mode, ptq.From, ptq.Out, ptq.CalibImages = "ptq", cfg.Out, t.TempDir(), 300
	res, err := Run(ptq, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.TestAccuracy < 0.3 {
		t.Fatalf("PTQ accuracy %.3f", res.TestAccuracy)
	}
	f, q := loadParams(t, cfg.Out), loadParams(t, ptq.Out)
	for i := range f.Params {
		if !equalF32(f.Params[i].Data, q.Params[i].Data) {
			t.Fatalf("PTQ changed parameter %s", f.Params[i].Name)
		}
	}
	for i, r := range q.Ranges {
		if !r.Seen || !(r.Max > r.Min) {
			t.Fatalf("range %d not calibrated: %+v", i, r)
		}
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Every truncation and every byte flip of a checkpoint is an error, never a panic.
func TestCheckpointCorruption(t *testing.T) {
	ck := &Checkpoint{Config: DefaultConfig(), Epoch: 3, Params: []checkpoint.ParamState{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}}
	var buf bytes.Buffer
	if err := EncodeCheckpoint(&buf, ck); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	if got, err := DecodeCheckpoint(bytes.NewReader(good)); err != nil || got.Epoch != 3 || got.Params[0].Data[1] != 2 {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for n := 0; n < len(good); n++ {
		if _, err := DecodeCheckpoint(bytes.NewReader(good[:n])); !errors.Is(err, checkpoint.ErrInvalid) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	for i := range good {
		bad := append([]byte(nil), good...)
		bad[i] ^= 0x10
		if _, err := DecodeCheckpoint(bytes.NewReader(bad)); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
}

func FuzzDecodeCheckpoint(f *testing.F) {
	var buf bytes.Buffer
	EncodeCheckpoint(&buf, &Checkpoint{Config: DefaultConfig(), Params: []checkpoint.ParamState{{Name: "w", Shape: []int{1}, Data: []float32{1}}}})
	f.Add(buf.Bytes())
	f.Add([]byte("QATGOCKP"))
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeCheckpoint(bytes.NewReader(b))
	})
}

// A model rebuilt from a checkpoint simulates with the ops it was trained with.
func TestCheckpointKeepsOps(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Epochs, cfg.TrainLimit, cfg.Ops = 1, 128, "gorgonia"
	if _, err := Run(cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	m, err := loadParams(t, cfg.Out).Model()
	if err != nil {
		t.Fatal(err)
	}
	if m.Ops != nn.OpsGorgonia {
		t.Fatalf("rebuilt model uses ops %q, trained with gorgonia", m.Ops)
	}
	cfg.Ops = "cudnn"
	if _, err := Run(cfg, Options{}); err == nil || !strings.Contains(err.Error(), `unknown ops "cudnn"`) {
		t.Fatalf("unknown ops: %v", err)
	}
}

// splitParams covers every element of every parameter exactly once, whether it splits or not.
func TestSplitParams(t *testing.T) {
	for _, sizes := range [][]int{{}, {0}, {5, 0, 7}, {splitParamsMin, 3}, {1, splitParamsMin * 3, 2, 9}} {
		params := make([][]float32, len(sizes))
		for i, n := range sizes {
			params[i] = make([]float32, n)
		}
		var mu sync.Mutex
		splitParams(params, func(i, lo, hi int) {
			mu.Lock()
			defer mu.Unlock()
			for j := lo; j < hi; j++ {
				params[i][j]++
			}
		})
		for i, p := range params {
			for j, v := range p {
				if v != 1 {
					t.Fatalf("sizes %v: params[%d][%d] visited %v times", sizes, i, j, v)
				}
			}
		}
	}
}

// The optimizers' two-goroutine update gives the bits of the serial loop (and is race-free:
// .ci/run runs it under -race).
func TestOptimizerSplitMatchesSerial(t *testing.T) {
	sizes := []int{3, splitParamsMin + 5, 17, splitParamsMin}
	for _, kind := range []OptimizerKind{"adam", "sgd"} {
		opt, err := NewOptimizer(kind, 0.9, 1e-4, sizes)
		if err != nil {
			t.Fatal(err)
		}
		params, grads, want := make([][]float32, len(sizes)), make([][]float32, len(sizes)), make([][]float32, len(sizes))
		slots := [2][][]float32{make([][]float32, len(sizes)), make([][]float32, len(sizes))}
		for i, n := range sizes {
			params[i], grads[i], want[i] = make([]float32, n), make([]float32, n), make([]float32, n)
			slots[0][i], slots[1][i] = make([]float32, n), make([]float32, n)
			for j := range n {
				params[i][j] = float32(j%97) * 0.01
				want[i][j] = params[i][j]
			}
		}
		const lr = 1e-3
		for step := 1; step <= 3; step++ {
			for i := range grads {
				for j := range grads[i] {
					grads[i][j] = float32((j*step)%13-6) * 0.1
				}
			}
			opt.Step(params, grads, lr)
			// The serial loops of Step, written out.
			for i, w := range want {
				g := grads[i]
				for j := range w {
					if kind == "sgd" {
						v := slots[0][i]
						d := g[j] + float32(1e-4)*w[j]
						v[j] = float32(0.9)*v[j] + d
						w[j] -= float32(lr) * v[j]
						continue
					}
					c1, c2 := 1-math.Pow(0.9, float64(step)), 1-math.Pow(0.999, float64(step))
					m, v := slots[0][i], slots[1][i]
					b1, b2 := float32(0.9), float32(0.999)
					m[j] = b1*m[j] + (1-b1)*g[j]
					v[j] = b2*v[j] + (1-b2)*g[j]*g[j]
					w[j] = w[j]*float32(1-lr*1e-4) - float32(lr*math.Sqrt(c2)/c1)*m[j]/(float32(math.Sqrt(float64(v[j])))+float32(1e-8*math.Sqrt(c2)))
				}
			}
		}
		for i := range want {
			for j := range want[i] {
				if math.Float32bits(params[i][j]) != math.Float32bits(want[i][j]) {
					t.Fatalf("%s: params[%d][%d] = %v, want %v", kind, i, j, params[i][j], want[i][j])
				}
			}
		}
	}
}
