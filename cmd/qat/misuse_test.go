package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/train"
)

// TestMisuse runs every subcommand in process with bad flags and values: each is refused
// before any work with exit status 2 and one line naming the problem and "see qat CMD -h";
// -h prints the command's help and exits 0. None of these cases reads data or trains.
func TestMisuse(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.qat")
	os.WriteFile(junk, []byte("not a model"), 0o644)
	badJSON := filepath.Join(dir, "bad.json")
	os.WriteFile(badJSON, []byte(`{"prune": {"target": "x"}}`), 0o644)
	bigBatch := filepath.Join(dir, "batch.json")
	os.WriteFile(bigBatch, []byte(`{"prune": {"train": {"batch_size": 1000000000}}}`), 0o644)
	out := []string{"--out", filepath.Join(dir, "run")}
	spec := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	specSyntax := spec("syntax.json", `{"name": "x", "layers": [`)
	specShape := spec("shape.json", `{"name": "x", "input": [1, 28, 28], "layers": [{"type": "linear", "out": 10}]}`)
	specAvg := spec("avg.json", `{"name": "x", "input": [1, 28, 28], "layers": [{"type": "avgpool2d", "kernel": 29}, {"type": "flatten"}, {"type": "linear", "out": 10}]}`)
	for _, c := range []struct {
		args []string
		code int
		want string // in the one-line message (code 2, 1) or the help (code 0)
	}{
		// qat itself
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"--nope"}, 2, "unknown command"},
		{[]string{"-h"}, 0, "usage: qat"},
		{[]string{"help"}, 0, "usage: qat"},
		// train
		{[]string{"train", "-h"}, 0, "examples:"},
		{[]string{"train", "--help"}, 0, "optimization:"},
		{[]string{"train", "--nope"}, 2, "unknown flag -nope"},
		{[]string{"train", "stray"}, 2, `unexpected argument "stray"`},
		{[]string{"train", "--batch", "abc"}, 2, `invalid value "abc" for flag -batch`},
		{[]string{"train", "--seed", "-1"}, 2, "flag -seed"},
		{[]string{"train", "--ema-decay", "NaN"}, 2, "--ema-decay = NaN: allowed [0, 1)"},
		{[]string{"train", "--ema-decay", "1"}, 2, "--ema-decay = 1: allowed [0, 1)"},
		{[]string{"train", "--batch", "1000000000"}, 2, "--batch = 1000000000: allowed 1..4096"},
		{[]string{"train", "--batch", "0"}, 2, "--batch = 0"},
		{[]string{"train", "--eval-batch", "1000000000"}, 2, "--eval-batch = 1000000000: allowed 1..4096"},
		{[]string{"train", "--weight-decay", "-1"}, 2, "--weight-decay = -1: allowed [0, 1]"},
		{[]string{"train", "--weight-decay", "NaN"}, 2, "--weight-decay = NaN"},
		{[]string{"train", "--stop-after", "-1"}, 2, "--stop-after = -1: allowed 0..100000"},
		{[]string{"train", "--optimizer", "sgd", "--momentum", "5"}, 2, "--momentum = 5: allowed [0, 1)"},
		{[]string{"train", "--optimizer", "sgd", "--momentum", "NaN"}, 2, "--momentum = NaN"},
		{[]string{"train", "--lr", "0"}, 2, "--lr = 0: allowed (0, 10]"},
		{[]string{"train", "--lr", "Inf"}, 2, "--lr = +Inf"},
		{[]string{"train", "--epochs", "0"}, 2, "--epochs = 0: allowed 1..100000"},
		{[]string{"train", "--quant-delay", "-1"}, 2, "--quant-delay = -1"},
		{[]string{"train", "--wbits", "9"}, 2, "--wbits = 9: allowed 2..8"},
		{[]string{"train", "--abits", "1"}, 2, "--abits = 1: allowed 2..8"},
		{[]string{"train", "--logit-bits", "1"}, 2, "--logit-bits = 1"},
		{[]string{"train", "--train-limit", "-1"}, 2, "--train-limit = -1"},
		{[]string{"train", "--test-limit", "-1"}, 2, "--test-limit = -1"},
		{[]string{"train", "--mode", "ptq", "--from", "x", "--calib", "0"}, 2, "--calib = 0"},
		{[]string{"train", "--mode", "ptq"}, 2, "ptq needs a trained float checkpoint (--from)"},
		{[]string{"train", "--augment", "9"}, 2, "--augment = 9: allowed 0..8"},
		{[]string{"train", "--mode", "int"}, 2, `unknown mode "int"`},
		{[]string{"train", "--model", "vgg"}, 2, `unknown model "vgg"`},
		{[]string{"train", "--model", filepath.Join(dir, "none.json")}, 2, "no such file"},
		{[]string{"train", "--model", specSyntax}, 2, "not valid JSON"},
		{[]string{"train", "--model", specShape}, 2, "spec layer 1 (linear fc1): input is 1x28x28: add a flatten"},
		{[]string{"train", "--model", specAvg}, 2, "spec layer 1 (avgpool2d avgpool1): input 28x28 too small for pool 29"},
		{[]string{"bench", "--model", specShape}, 2, "add a flatten"},
		{[]string{"train", "--optimizer", "lbfgs"}, 2, "unknown optimizer"},
		{[]string{"train", "--schedule", "linear"}, 2, "schedule"},
		{[]string{"train", "--ops", "cudnn"}, 2, "cudnn"},
		{[]string{"train", "--layer-bits", "conv1=8"}, 2, "NAME=WBITS:ABITS"},
		{[]string{"train", "--layer-bits", "conv1=9:8"}, 2, "bit width must be in 2..8"},
		{[]string{"train", "--out", ""}, 2, "output directory"},
		{[]string{"train", "--val", "-1"}, 2, "--val = -1: allowed 0..10000000"},
		// export
		{[]string{"export", "-h"}, 0, "usage: qat export"},
		{[]string{"export"}, 2, "--from"},
		{[]string{"export", "--from", "x", "--out", "y", "--eval-batch", "0"}, 2, "--eval-batch = 0: allowed 1..4096"},
		{[]string{"export", "--from", "x", "--out", "y", "--eval-batch", "5000"}, 2, "--eval-batch = 5000"},
		{[]string{"export", "--from", "x", "--out", "y", "--test-limit", "-1"}, 2, "--test-limit = -1"},
		{[]string{"export", "--from", "x", "--out", "y", "--encoding", "zip"}, 2, "unknown weight encoding"},
		{[]string{"export", "--nope"}, 2, "unknown flag -nope"},
		// analyze, and the quantizer settings
		{[]string{"analyze", "-h"}, 0, "examples:"},
		{[]string{"analyze"}, 2, "analyze needs --from"},
		{[]string{"analyze", "--from", dir, "--bits", "1"}, 2, "--bits"},
		{[]string{"analyze", "--from", dir, "--images", "0"}, 2, "--images = 0"},
		// mixed
		{[]string{"mixed", "-h"}, 0, "search:"},
		{[]string{"mixed", "--help"}, 0, "qat mixed --from runs/float --budget-bytes 80000 --wbits-choices 2,3,4 --wstep-scales 1,1.5"},
		{[]string{"mixed", "--budget-bytes", "80000"}, 2, "mixed needs --from"},
		{[]string{"mixed", "--from", dir}, 2, "mixed needs --budget-bytes"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "-5"}, 2, "mixed needs --budget-bytes N (N >= 1)"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "1e5"}, 2, `invalid value "1e5" for flag -budget-bytes`},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--wbits-choices", "1,4"}, 2, `--wbits-choices "1,4"`},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--wbits-choices", "2,x"}, 2, `--wbits-choices "2,x"`},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--abits-choices", "9"}, 2, `--abits-choices "9"`},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--wbits-choices", "2,3,4,5,6,7,8,2"}, 2, "--wbits-choices = [2 3 4 5 6 7 8 2]: allowed 1 to 7 bit widths"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--margin", "1"}, 2, "--margin = 1: allowed [0, 1)"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--margin", "NaN"}, 2, "--margin = NaN"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--act-tolerance", "-0.1"}, 2, "--act-tolerance = -0.1"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--retries", "99"}, 2, "--retries = 99: allowed 0..16"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--heldout", "0"}, 2, "--heldout = 0"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--calib", "0"}, 2, "--calib = 0"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--epochs", "0"}, 2, "--epochs = 0: allowed 1..100000"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--lr", "-1"}, 2, "--lr = -1"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--wbits", "4"}, 2, "--wbits does not apply to qat mixed"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--layer-bits", "fc1=2:8"}, 2, "--layer-bits does not apply to qat mixed"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--mode", "float"}, 2, "--mode does not apply"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--encoding", "zip"}, 2, "unknown weight encoding"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--quantizer", "pact"}, 2, "unknown quantizer"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "stray"}, 2, `unexpected argument "stray"`},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--wstep-scales", "1,x"}, 2, `--wstep-scales "1,x"`},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--wstep-scales", "1,9"}, 2, "--wstep-scales = 9: allowed factors in [0.25, 4]"},
		{[]string{"mixed", "--from", dir, "--budget-bytes", "9000", "--wstep-scales", "1.5", "--quantizer", "ema"}, 2, "need the lsq quantizer"},
		{[]string{"train", "--quantizer", "pact"}, 2, `unknown quantizer "pact"`},
		{[]string{"train", "--range", "mse"}, 2, "range method mse applies to ptq"},
		{[]string{"train", "--rounding", "nearest"}, 2, `rounding "nearest"`},
		// plot, report
		{[]string{"plot", "-h"}, 0, "examples:"},
		{[]string{"plot"}, 2, "at least one run directory; see qat plot -h"},
		{[]string{"plot", "--nope", dir}, 2, "unknown flag -nope"},
		{[]string{"plot", "--test-limit", "x", dir}, 2, "invalid value"},
		{[]string{"report", "-h"}, 0, "usage: qat report"},
		{[]string{"report"}, 2, "exactly one run directory"},
		{[]string{"report", dir, dir}, 2, "exactly one run directory"},
		// export --format onnx
		{[]string{"export", "--format", "tflite"}, 2, `--format "tflite" is not qat, onnx or c`},
		{[]string{"export", "--format", "onnx", "--out", "x.onnx"}, 2, "--from"},
		{[]string{"export", "--onnx-int4", "--from", junk, "--out", "x"}, 2, "--onnx-int4 needs --format onnx"},
		// summary
		{[]string{"summary", "-h"}, 0, "usage: qat summary"},
		{[]string{"summary"}, 2, "one model file, got 0"},
		{[]string{"summary", "a", "b"}, 2, "got 2"},
		{[]string{"summary", "--nope", "a"}, 2, "unknown flag"},
		{[]string{"summary", junk}, 1, "qnet"},
		// bench
		{[]string{"bench", "-h"}, 0, "inference benchmark:"},
		{[]string{"bench", "--batches", "-1"}, 2, "--batches = -1"},
		{[]string{"bench", "--rounds", "0"}, 2, "--rounds = 0"},
		{[]string{"bench", "--paired", "-5"}, 2, "--paired = -5"},
		{[]string{"bench", "--images", "0"}, 2, "--images = 0"},
		{[]string{"bench", "--batch", "0"}, 2, "--batch = 0"},
		{[]string{"bench", "--batch", "100000"}, 2, "--batch = 100000"},
		{[]string{"bench", "--wbits", "9"}, 2, "--wbits = 9"},
		{[]string{"bench", "--model", "vgg"}, 2, "unknown model"},
		{[]string{"bench", "--from", "x"}, 2, "needs both --from"},
		{[]string{"bench", "--int", "x"}, 2, "needs both --from"},
		// prune
		{[]string{"prune", "-h"}, 0, "pruning:"},
		{[]string{"prune"}, 2, "pruning needs a trained checkpoint (--from)"},
		{[]string{"prune", "--from", "x", "--target", "1"}, 2, "--target = 1: allowed [0, 1)"},
		{[]string{"prune", "--from", "x", "--target", "NaN"}, 2, "--target = NaN"},
		{[]string{"prune", "--from", "x", "--cycles", "0"}, 2, "--cycles = 0"},
		{[]string{"prune", "--from", "x", "--retrain-epochs", "0"}, 2, "--retrain-epochs = 0"},
		{[]string{"prune", "--from", "x", "--prune-schedule", "gradual", "--prune-freq", "0"}, 2, "--prune-freq = 0"},
		{[]string{"prune", "--from", "x", "--policy", "quality", "--quality", "NaN"}, 2, "--quality = NaN"},
		{[]string{"prune", "--from", "x", "--policy", "random"}, 2, "unknown pruning policy"},
		{[]string{"prune", "--from", "x", "--layer-target", "conv1=1.5"}, 2, "--layer-target = 1.5"},
		{[]string{"prune", "--from", "x", "--lr", "-1"}, 2, "--lr = -1"},
		{[]string{"prune", "--from", "x", "--batch", "1000000000"}, 2, "--batch = 1000000000"},
		{[]string{"prune", "--from", "x", "--ema-decay", "NaN"}, 2, "--ema-decay = NaN"},
		{[]string{"prune", "--from", "x", "--epochs", "3"}, 2, "--epochs does not apply"},
		// sensitivity
		{[]string{"sensitivity", "-h"}, 0, "sweep:"},
		{[]string{"sensitivity"}, 2, "needs a trained checkpoint"},
		{[]string{"sensitivity", "--from", "x", "--tolerance", "-1"}, 2, "--tolerance = -1: allowed [0, 1]"},
		{[]string{"sensitivity", "--from", "x", "--tolerance", "NaN"}, 2, "--tolerance = NaN"},
		{[]string{"sensitivity", "--from", "x", "--sparsities", "0.5,abc"}, 2, `"abc" is not a number`},
		{[]string{"sensitivity", "--from", "x", "--sparsities", "0.5,1.5"}, 2, "--sparsities = 1.5"},
		{[]string{"sensitivity", "--from", "x", "--eval-batch", "0"}, 2, "--eval-batch = 0"},
		{[]string{"sensitivity", "--from", "x", "--test-limit", "-1"}, 2, "--test-limit = -1"},
		// cluster
		{[]string{"cluster", "-h"}, 0, "clustering:"},
		{[]string{"cluster"}, 2, "clustering needs a trained checkpoint"},
		{[]string{"cluster", "--from", "x", "--kmeans-iter", "0"}, 2, "--kmeans-iter = 0"},
		{[]string{"cluster", "--from", "x", "--k", "0"}, 2, "--k = 0: allowed 1..256"},
		{[]string{"cluster", "--from", "x", "--k", "257"}, 2, "--k = 257"},
		{[]string{"cluster", "--from", "x", "--layer-k", "conv1=0"}, 2, "--layer-k = 0"},
		{[]string{"cluster", "--from", "x", "--epochs", "-1"}, 2, "--epochs = -1"},
		{[]string{"cluster", "--from", "x", "--init", "random"}, 2, `kmeans: unknown initialization "random"`},
		{[]string{"cluster", "--from", "x", "--lr", "NaN"}, 2, "--lr = NaN"},
		// compress
		{[]string{"compress", "-h"}, 0, "clustering stage:"},
		{[]string{"compress"}, 2, "needs a trained checkpoint and an output directory (--from, --out)"},
		{[]string{"compress", "--from", "x", "--target", "1.5"}, 2, "--target = 1.5"},
		{[]string{"compress", "--from", "x", "--prune-lr", "-1"}, 2, "--prune-lr = -1: allowed (0, 10] (setting prune.train.lr)"},
		{[]string{"compress", "--from", "x", "--cluster-lr", "NaN"}, 2, "--cluster-lr = NaN"},
		{[]string{"compress", "--from", "x", "--cluster-epochs", "-1"}, 2, "--cluster-epochs = -1"},
		{[]string{"compress", "--from", "x", "--k", "0"}, 2, "--k = 0"},
		{[]string{"compress", "--from", "x", "--cycles", "0"}, 2, "--cycles = 0"},
		{[]string{"compress", "--from", "x", "--wbits", "1"}, 2, "--wbits = 1"},
		{[]string{"compress", "--from", "x", "--test-limit", "-1"}, 2, "--test-limit = -1"},
		{[]string{"compress", "--from", "x", "--encoding", "zip"}, 2, "unknown weight encoding"},
		{[]string{"compress", "--from", "x", "--config", badJSON}, 2, "--config " + badJSON},
		{[]string{"compress", "--from", "x", "--config", bigBatch}, 2, "--config: prune.train.batch_size = 1000000000: allowed 1..4096"},
	} {
		args := c.args
		if len(args) > 1 && args[0] == "train" && !strings.HasPrefix(args[1], "-h") && !strings.HasPrefix(args[1], "--help") {
			// Given first, so that a case's own --out wins.
			args = append(append([]string{args[0]}, out...), args[1:]...)
		}
		var stdout, stderr bytes.Buffer
		code := exitCode(run(args, &stdout, &stderr), &stderr, "qat")
		msg := stderr.String() + stdout.String()
		if code != c.code || !strings.Contains(msg, c.want) {
			t.Errorf("%v: exit status %d, output %q; want %d and %q", c.args, code, msg, c.code, c.want)
			continue
		}
		if code == 0 {
			continue
		}
		if strings.Count(msg, "\n") != 1 {
			t.Errorf("%v: the error is not one line: %q", c.args, msg)
		}
		if code == 2 {
			cmd := "qat"
			if strings.HasPrefix(msg, "qat ") {
				cmd = "qat " + c.args[0]
			}
			if !strings.HasSuffix(msg, "; see "+cmd+" -h\n") {
				t.Errorf("%v: %q does not end with %q", c.args, msg, "see "+cmd+" -h")
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); err == nil {
		t.Error("a refused train created its output directory")
	}
}

// fixture is a float checkpoint of LeNet-5 after one step on 64 images, PTQ-calibrated, and its
// integer model: seconds to make, no real training.
type fixture struct{ float, ptq, model string }

func makeFixture(t *testing.T, seed string) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{filepath.Join(dir, "float"), filepath.Join(dir, "ptq"), filepath.Join(dir, "m.qat")}
	small := []string{"--train-limit", "64", "--test-limit", "100", "--quiet", "--seed", seed}
	for _, args := range [][]string{
		append([]string{"train", "--mode", "float", "--epochs", "1", "--out", f.float}, small...),
		append([]string{"train", "--mode", "ptq", "--from", f.float, "--calib", "64", "--out", f.ptq}, small...),
		{"export", "--from", f.ptq, "--out", f.model, "--test-limit", "100", "--quiet"},
	} {
		var out, errb bytes.Buffer
		if err := run(args, &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
	}
	return f
}

// Failed commands leave no output file; non-finite checkpoints are refused before anything is
// written; a bench of two different models is refused.
func TestFailuresLeaveNothing(t *testing.T) {
	a, b := makeFixture(t, "1"), makeFixture(t, "2")
	dir := t.TempDir()
	run1 := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := exitCode(run(args, &out, &errb), &errb, "qat")
		return code, errb.String()
	}
	noFiles := func(what string) {
		t.Helper()
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".qck") {
				t.Errorf("%s left %s behind", what, e.Name())
			}
		}
	}
	// The export fails on the data after the model was converted and encoded.
	model := filepath.Join(dir, "m.qat")
	if code, msg := run1("export", "--from", a.ptq, "--out", model, "--data", filepath.Join(dir, "nonexistent")); code != 1 || !strings.Contains(msg, "nonexistent") {
		t.Errorf("export --data /nonexistent: %d %q", code, msg)
	}
	noFiles("a failed export")

	// A checkpoint with a NaN weight and a valid checksum.
	ck, err := train.LoadCheckpoint(a.ptq)
	if err != nil {
		t.Fatal(err)
	}
	ck.Params[2].Data[5] = float32(math.NaN())
	nan := filepath.Join(dir, "nan.qck")
	f, err := os.Create(nan)
	if err != nil {
		t.Fatal(err)
	}
	if err := train.EncodeCheckpoint(f, ck); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if code, msg := run1("export", "--from", nan, "--out", model, "--quiet"); code != 1 || !strings.Contains(msg, "value 5 is NaN") {
		t.Errorf("export of a NaN checkpoint: %d %q", code, msg)
	}
	noFiles("export of a NaN checkpoint")
	out := filepath.Join(dir, "run")
	if code, msg := run1("train", "--from", nan, "--out", out, "--epochs", "1", "--train-limit", "64", "--quiet"); code != 1 || !strings.Contains(msg, "is NaN") || strings.Contains(msg, "PC ") {
		t.Errorf("train from a NaN checkpoint: %d %q", code, msg)
	}
	if _, err := os.Stat(filepath.Join(out, train.CheckpointFile)); err == nil {
		t.Error("train from a NaN checkpoint wrote a checkpoint")
	}

	// bench: --int must be the export of --from.
	if code, msg := run1("bench", "--batches", "0", "--from", b.ptq, "--int", a.model); code != 2 || !strings.Contains(msg, "is not the export of") {
		t.Errorf("bench of different models: %d %q", code, msg)
	}
	if code, msg := run1("bench", "--batches", "0", "--from", a.ptq, "--int", a.model, "--images", "64"); code != 0 {
		t.Errorf("bench of a checkpoint and its export: %d %q", code, msg)
	}
}

// Data that does not fit the model (shape, classes, a hold-out larger than the set) is a usage
// error (exit 2, one line naming both sides) before any training, and leaves no run directory;
// a truncated idx4 file is a failure (exit 1) naming the file. A model with a float layer
// trains, but every quantized export refuses it (exit 1, one line naming the layer) and writes
// nothing.
func TestDataMisuse(t *testing.T) {
	good := synthDir(t, 64, 32)
	work := t.TempDir()
	spec, floatSpec := writeSpec(t, work, false), writeSpec(t, work, true)
	copyDir := func(name string) string {
		d := filepath.Join(work, name)
		os.MkdirAll(d, 0o755)
		ents, _ := os.ReadDir(good)
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(good, e.Name()))
			os.WriteFile(filepath.Join(d, e.Name()), b, 0o644)
		}
		return d
	}
	// Six classes: labels 0..5 in the training set.
	sixClasses := copyDir("six")
	var lb bytes.Buffer
	labels := make([]uint8, 64)
	for i := range labels {
		labels[i] = uint8(i % 6)
	}
	data.WriteLabels(&lb, labels)
	os.WriteFile(filepath.Join(sixClasses, "train-labels-idx1-ubyte"), lb.Bytes(), 0o644)
	// A truncated idx4 test file.
	truncated := copyDir("truncated")
	ti := filepath.Join(truncated, "t10k-images-idx3-ubyte")
	b, _ := os.ReadFile(ti)
	os.WriteFile(ti, b[:len(b)-100], 0o644)

	runDir := filepath.Join(work, "run")
	small := []string{"--epochs", "1", "--batch", "16", "--quiet", "--out", runDir}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "--model", "lenet5", "--data", good}, 2, "qat train: the data (--data) does not fit the model: images are 3x16x16 (CxHxW), the model takes 1x28x28"},
		{[]string{"train", "--model", spec, "--data", sixClasses}, 2, "the set has 6 classes, the model outputs 4"},
		{[]string{"train", "--model", spec, "--data", good, "--val", "64"}, 2, "--val = 64: allowed 0..63 (fewer than the 64 training images)"},
		{[]string{"train", "--model", spec, "--data", good, "--train-limit", "40", "--val", "40"}, 2, "--val = 40: allowed 0..39"},
		{[]string{"train", "--model", spec, "--data", truncated}, 1, "t10k-images-idx3-ubyte: truncated pixel data: header declares 32 images of 3x16x16"},
	} {
		var stdout, stderr bytes.Buffer
		args := append(append([]string(nil), c.args...), small...)
		code := exitCode(run(args, &stdout, &stderr), &stderr, "qat")
		msg := stderr.String()
		if code != c.code || !strings.Contains(msg, c.want) || strings.Count(msg, "\n") != 1 {
			t.Errorf("%v: exit %d, %q; want %d and one line with %q", c.args, code, msg, c.code, c.want)
		}
		if _, err := os.Stat(runDir); err == nil {
			t.Fatalf("%v: a refused train created its run directory", c.args)
		}
	}

	// A float first layer trains in QAT; the quantized exports refuse it.
	var stdout, stderr bytes.Buffer
	if err := run(append([]string{"train", "--model", floatSpec, "--data", good, "--mode", "qat"}, small...), &stdout, &stderr); err != nil {
		t.Fatalf("QAT of a spec with a float layer: %v", err)
	}
	for _, format := range []string{"qat", "onnx", "c"} {
		out := filepath.Join(work, "export."+format)
		stderr.Reset()
		code := exitCode(run([]string{"export", "--from", runDir, "--out", out, "--format", format, "--data", good, "--quiet"}, &stdout, &stderr), &stderr, "qat")
		msg := stderr.String()
		if code != 1 || !strings.Contains(msg, "export: rgb16: layer conv1 is float") || strings.Count(msg, "\n") != 1 {
			t.Errorf("export --format %s of a float layer: exit %d, %q", format, code, msg)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("export --format %s of a float layer wrote %s", format, out)
		}
	}
}
