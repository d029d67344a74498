package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/train"
)

// A custom network from a spec file through the command: train (the checkpoint records the
// spec), resume, export (0 differing activations) and summary, all without the spec file once
// trained.
func TestSpecFileTrainExport(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "net.json")
	os.WriteFile(spec, []byte(`{"name": "strided", "input": [1, 28, 28], "layers": [
		{"type": "conv2d", "out": 8, "kernel": 3, "stride": 2, "pad": 1}, {"type": "relu"},
		{"type": "conv2d", "out": 16, "kernel": 3, "stride": 2, "pad": 1, "quant": {"w_bits": 8}}, {"type": "relu6"},
		{"type": "flatten"}, {"type": "linear", "out": 10}]}`), 0o644)
	run1 := filepath.Join(dir, "run")
	var out, errb bytes.Buffer
	args := []string{"train", "--model", spec, "--wbits", "4", "--abits", "4", "--epochs", "2", "--stop-after", "1", "--train-limit", "640", "--test-limit", "200", "--out", run1, "--quiet", "--plot=false"}
	if err := run(args, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	if !strings.Contains(out.String(), "strided qat W4A4") {
		t.Errorf("train output:\n%s", out.String())
	}
	os.Remove(spec) // from here on the checkpoint is the only description of the model
	ck, err := train.LoadCheckpoint(run1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ck.Config.Spec()
	if err != nil || s.Name != "strided" || len(s.Layers) != 6 {
		t.Fatalf("checkpoint spec %+v, %v", s, err)
	}
	out.Reset()
	if err := run([]string{"train", "--resume", "--out", run1, "--quiet", "--plot=false"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	model := filepath.Join(dir, "m.qat")
	out.Reset()
	if err := run([]string{"export", "--from", run1, "--out", model, "--test-limit", "200", "--json"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	var res struct {
		Arch      string  `json:"arch"`
		Agreement float64 `json:"agreement"`
		Layers    []struct {
			Name      string  `json:"name"`
			MaxSteps  int     `json:"max_steps"`
			Differing float64 `json:"differing"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.Arch != "strided" || res.Agreement != 1 || len(res.Layers) != 3 {
		t.Fatalf("export: %+v", res)
	}
	for _, l := range res.Layers {
		if l.MaxSteps != 0 || l.Differing != 0 {
			t.Errorf("layer %s differs: %+v", l.Name, l)
		}
	}
	out.Reset()
	if err := run([]string{"summary", model}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "strided") || !strings.Contains(out.String(), "16x7x7") {
		t.Errorf("summary:\n%s", out.String())
	}
}
