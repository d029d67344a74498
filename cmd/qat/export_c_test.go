package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/export/qnet"
)

// TestExportC writes the C of a small .qat model with --format c and checks
// the files and the flash/RAM lines; bad --format and --c-layout values are
// one-line errors.
func TestExportC(t *testing.T) {
	dir := t.TempDir()
	m := &qnet.Model{Name: "tiny", InC: 1, InH: 4, InW: 4, Layers: []qnet.Layer{
		&qnet.Conv2D{InC: 1, OutC: 2, KH: 3, KW: 3, Stride: 1, Pad: 1, WeightBits: 8,
			Weights: []int8{1, -2, 3, 0, 5, 0, -7, 8, 9, 0, 0, 1, 0, 0, 0, 2, 0, 0},
			Bias:    []int32{10, -10}, Multiplier: []int32{1 << 30, 1 << 30}, Shift: []int32{-3, -4},
			ActMin: 0, ActMax: 255, OutBits: 8},
		&qnet.MaxPool2D{K: 2, Stride: 2},
		&qnet.FullyConnected{In: 8, Out: 3, WeightBits: 4,
			Weights: []int8{1, 2, 3, 4, 5, 6, 7, -7, 0, 0, 0, 0, 1, 0, 0, 0, -1, -2, -3, 0, 0, 0, 0, 0},
			Bias:    []int32{0, 1, 2}, Multiplier: []int32{1 << 30, 1 << 30, 1 << 30}, Shift: []int32{-2, -2, -2},
			ActMin: 0, ActMax: 255, OutBits: 8},
	}}
	model := filepath.Join(dir, "tiny.qat")
	if err := qnet.WriteFile(model, m); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "c")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"export", "--format", "c", "--from", model, "--out", out, "--json"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tiny.h", "tiny.c"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("tiny_predict")) {
			t.Errorf("%s does not declare tiny_predict", f)
		}
	}
	s := stderr.String() // --json: the human lines go to stderr, stdout holds the JSON object
	for _, want := range []string{"flash:", "RAM:", "conv0_pool1", "fc2"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	var res map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res["arena_bytes"] == nil {
		t.Errorf("stdout is not the JSON result (%v):\n%s", err, stdout.String())
	}
	for _, args := range [][]string{
		{"export", "--format", "onnx2", "--from", model, "--out", out},
		{"export", "--format", "c", "--from", model, "--out", out, "--c-layout", "dense-int4"}, // conv is 8-bit
		{"export", "--format", "c", "--from", model, "--out", out, "--c-layout", "zip"},
		{"export", "--format", "c", "--out", out},
	} {
		err := run(args, &stdout, &stderr)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line", args, err)
		}
	}
}
