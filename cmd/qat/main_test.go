package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/train"
)

// train -> export -> summary through the command, with --json.
func TestTrainExportJSON(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	args := []string{"train", "--wbits", "4", "--abits", "4", "--epochs", "1", "--train-limit", "640", "--test-limit", "200", "--out", dir, "--quiet", "--json"}
	if err := run(args, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"arch", "test_accuracy", "wbits", "abits", "epochs", "train_seconds", "checkpoint"} {
		if _, ok := res[k]; !ok {
			t.Errorf("train JSON lacks %q: %v", k, res)
		}
	}
	if res["wbits"].(float64) != 4 || res["epochs"].(float64) != 1 {
		t.Errorf("train JSON %v", res)
	}
	out.Reset()
	model := filepath.Join(dir, "m.qat")
	if err := run([]string{"export", "--from", dir, "--out", model, "--test-limit", "200", "--json"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	res = nil
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out.String())
	}
	if res["model_file"] != model || res["arch"] != "lenet5" {
		t.Errorf("export JSON: model_file %v, arch %v", res["model_file"], res["arch"])
	}
	for _, k := range []string{"bytes", "sim_accuracy", "int_accuracy", "agreement"} {
		if _, ok := res[k]; !ok {
			t.Errorf("export JSON lacks %q", k)
		}
	}
	st, err := os.Stat(model)
	if err != nil || float64(st.Size()) != res["bytes"].(float64) {
		t.Errorf("reported %v bytes, file has %v (%v)", res["bytes"], st.Size(), err)
	}
	out.Reset()
	if err := run([]string{"summary", model}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "fully_connected") {
		t.Errorf("summary:\n%s", out.String())
	}
	out.Reset()
	if err := run([]string{"summary", "--json", model}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var sum struct {
		ModelFile string `json:"model_file"`
		FileBytes int64  `json:"file_bytes"`
		Layers    []struct {
			Kind     string  `json:"kind"`
			Weights  int     `json:"weights"`
			Nonzero  int     `json:"nonzero"`
			Sparsity float64 `json:"sparsity"`
			Clusters int     `json:"clusters"`
			Bytes    int     `json:"bytes"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("summary --json: %v\n%s", err, out.String())
	}
	if sum.ModelFile != model || sum.FileBytes != st.Size() || len(sum.Layers) != 6 {
		t.Errorf("summary --json: %+v", sum)
	}
	for _, l := range sum.Layers {
		if l.Weights > 0 && (l.Nonzero == 0 || l.Clusters == 0 || l.Bytes == 0 || l.Sparsity != 1-float64(l.Nonzero)/float64(l.Weights)) {
			t.Errorf("summary --json layer %+v", l)
		}
	}
}

// Bad input is a one-line error, never a panic.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.qat")
	os.WriteFile(junk, []byte("not a model"), 0o644)
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--wbits", "9", "--out", dir}, "--wbits = 9: allowed 2..8"},
		{[]string{"train", "--abits", "1", "--out", dir}, "--abits = 1: allowed 2..8"},
		{[]string{"train", "--model", "vgg", "--out", dir}, `unknown model "vgg"`},
		{[]string{"train", "--data", filepath.Join(dir, "nodata"), "--out", dir, "--epochs", "1"}, "nodata"},
		{[]string{"train", "--out", filepath.Join(file, "x"), "--epochs", "1"}, "cannot create output directory"},
		{[]string{"train", "stray"}, "unexpected argument"},
		{[]string{"train", "--layer-bits", "conv1=8", "--out", dir}, "NAME=WBITS:ABITS"},
		{[]string{"train", "--layer-bits", "conv7=8:8", "--out", dir}, `no quantizable layer "conv7"`},
		{[]string{"export", "--from", dir, "--out", filepath.Join(dir, "m.qat")}, "checkpoint.qck: no such file"},
		{[]string{"export"}, "--from"},
		{[]string{"summary", junk}, "qnet"},
		{[]string{"summary"}, "one model file"},
		{[]string{"frobnicate"}, "unknown command"},
	} {
		var out, errb bytes.Buffer
		err := run(c.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error containing %q", c.args, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error is not one line: %q", c.args, err)
		}
	}
}

// --layer-bits overrides take --per-channel from the command line, whatever the flag order.
func TestLayerBitsFollowPerChannel(t *testing.T) {
	for _, args := range [][]string{
		{"--layer-bits", "conv1=8:6,fc2=4:8", "--per-channel=false"},
		{"--per-channel=false", "--layer-bits", "conv1=8:6,fc2=4:8"},
	} {
		cfg := train.DefaultConfig()
		fs := newFlagSet("train", io.Discard)
		trainFlags(fs, &cfg)
		if err := parse(fs, args); err != nil {
			t.Fatal(err)
		}
		inheritPerChannel(&cfg.Quant)
		if q := cfg.Quant.Layers["conv1"]; q.WBits != 8 || q.ABits != 6 || q.PerChannel {
			t.Errorf("%v: conv1 = %+v", args, q)
		}
		if q := cfg.Quant.Layers["fc2"]; q.WBits != 4 || q.ABits != 8 || q.PerChannel {
			t.Errorf("%v: fc2 = %+v", args, q)
		}
	}
}
