package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/internal/synth"
)

// synthDir writes synth.Squares (3 x 16 x 16 RGB images, 4 classes) as an idx directory: idx4
// images and idx1 labels under the MNIST file names, nTrain training and nTest test images.
func synthDir(t *testing.T, nTrain, nTest int) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []struct {
		split string
		n     int
		seed  uint64
	}{{"train", nTrain, 1}, {"t10k", nTest, 2}} {
		s, err := synth.Squares(f.n, f.seed)
		if err != nil {
			t.Fatal(err)
		}
		var ib, lb bytes.Buffer
		if err := data.WriteImagesCHW(&ib, s.Images, s.N, s.ChannelCount(), s.Rows, s.Cols); err != nil {
			t.Fatal(err)
		}
		if err := data.WriteLabels(&lb, s.Labels); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f.split+"-images-idx3-ubyte"), ib.Bytes(), 0o644)
		os.WriteFile(filepath.Join(dir, f.split+"-labels-idx1-ubyte"), lb.Bytes(), 0o644)
	}
	return dir
}

// writeSpec writes synth.RGB16's spec, with the first layer kept in float if float, as a
// JSON spec file.
func writeSpec(t *testing.T, dir string, float bool) string {
	t.Helper()
	s := synth.RGB16()
	name := "rgb16.json"
	if float {
		s.Layers[0] = s.Layers[0].Float()
		name = "rgb16-float.json"
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, s.JSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A user's own data and model through the commands: qat train --model spec.json --data DIR
// (idx4 RGB images, 4 classes, a validation hold-out) in QAT, qat export on the same data,
// and infer --data DIR, which must find the export's integer accuracy on the same images.
func TestOwnDataEndToEnd(t *testing.T) {
	dataDir := synthDir(t, 256, 96)
	work := t.TempDir()
	spec := writeSpec(t, work, false)
	runDir := filepath.Join(work, "run")
	var out, errb bytes.Buffer
	args := []string{"train", "--model", spec, "--data", dataDir, "--mode", "qat", "--quant-delay", "0", "--epochs", "1",
		"--batch", "32", "--val", "64", "--out", runDir, "--quiet", "--json"}
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, errb.String())
	}
	var tr struct {
		Arch string   `json:"arch"`
		Val  *float64 `json:"val_accuracy"`
	}
	if err := json.Unmarshal(out.Bytes(), &tr); err != nil || tr.Arch != "rgb16" || tr.Val == nil {
		t.Fatalf("train JSON %s: %v", out.String(), err)
	}
	f, err := os.Open(filepath.Join(runDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		var m struct {
			Images int      `json:"images"`
			Val    *float64 `json:"val_accuracy"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.Val == nil || *m.Val != *tr.Val {
			t.Errorf("metrics line %s: %v; want val_accuracy %v", sc.Text(), err, *tr.Val)
		}
		if m.Images != 192 { // 256 - 64 held out, in whole batches of 32
			t.Errorf("trained on %d images, want 192 (64 of 256 held out)", m.Images)
		}
		lines++
	}
	f.Close()
	if lines != 1 {
		t.Errorf("metrics.jsonl has %d lines, want 1", lines)
	}

	model := filepath.Join(work, "m.qat")
	out.Reset()
	if err := run([]string{"export", "--from", runDir, "--out", model, "--data", dataDir, "--quiet", "--json"}, &out, &errb); err != nil {
		t.Fatalf("export: %v\n%s", err, errb.String())
	}
	var ex struct {
		Images    int     `json:"images"`
		IntAcc    float64 `json:"int_accuracy"`
		SimAcc    float64 `json:"sim_accuracy"`
		Agreement float64 `json:"agreement"`
	}
	if err := json.Unmarshal(out.Bytes(), &ex); err != nil {
		t.Fatal(err)
	}
	if ex.Images != 96 || ex.Agreement != 1 || ex.IntAcc != ex.SimAcc {
		t.Errorf("export on the test images: %+v, want 96 images in full agreement", ex)
	}

	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go tool not in PATH: cannot build cmd/infer")
	}
	infer := filepath.Join(work, "infer")
	if b, err := exec.Command(goTool, "build", "-o", infer, "../infer").CombinedOutput(); err != nil {
		t.Fatalf("go build ../infer: %v\n%s", err, b)
	}
	b, err := exec.Command(infer, "--model", model, "--data", dataDir, "--json").Output()
	if err != nil {
		t.Fatalf("infer --data: %v", err)
	}
	var inf struct {
		Acc    float64 `json:"test_accuracy"`
		Images int     `json:"images"`
		Match  bool    `json:"batch_predictions_match"`
	}
	if err := json.Unmarshal(b, &inf); err != nil {
		t.Fatalf("infer JSON %s: %v", b, err)
	}
	if inf.Images != 96 || inf.Acc != ex.IntAcc || !inf.Match {
		t.Errorf("infer: %+v; want the export's integer accuracy %v on 96 images", inf, ex.IntAcc)
	}
	t.Logf("rgb16 W8A8 QAT, 1 epoch on 192 images: validation %.2f%%, test %.2f%% simulated = %.2f%% integer = %.2f%% infer",
		100**tr.Val, 100*ex.SimAcc, 100*ex.IntAcc, 100*inf.Acc)

	// infer refuses a test set that does not fit the model (exit 2, one line).
	mnistLike := t.TempDir()
	var ib, lb bytes.Buffer
	data.WriteImages(&ib, make([]uint8, 2*28*28), 2, 28, 28)
	data.WriteLabels(&lb, []uint8{0, 1})
	os.WriteFile(filepath.Join(mnistLike, "t10k-images-idx3-ubyte"), ib.Bytes(), 0o644)
	os.WriteFile(filepath.Join(mnistLike, "t10k-labels-idx1-ubyte"), lb.Bytes(), 0o644)
	cmd := exec.Command(infer, "--model", model, "--data", mnistLike)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	msg := stderr.String()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || strings.Count(msg, "\n") != 1 ||
		!strings.Contains(msg, "images are 1x28x28 (CxHxW), the model takes 3x16x16") {
		t.Errorf("infer on 1x28x28 data: %v, %q", err, msg)
	}
}
