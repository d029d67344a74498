package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/export/onnx"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
)

// tinyModel is a valid 784 -> 10 fully connected model with its scales in Meta.
func tinyModel() *qnet.Model {
	fc := &qnet.FullyConnected{In: 784, Out: 10, WeightBits: 8, OutBits: 8, OutputZero: 100, ActMin: 0, ActMax: 255}
	fc.Weights = make([]int8, 784*10)
	for i := range fc.Weights {
		fc.Weights[i] = int8(i%15 - 7)
	}
	for c := 0; c < 10; c++ {
		m, s := fakequant.QuantizeMultiplier(0.001 * float64(c+1))
		fc.Bias, fc.Multiplier, fc.Shift = append(fc.Bias, int32(c)), append(fc.Multiplier, m), append(fc.Shift, int32(s))
	}
	m := &qnet.Model{Name: "tiny", InC: 1, InH: 28, InW: 28, Layers: []qnet.Layer{fc}}
	m.Meta.InputScaleBits = math.Float32bits(1.0 / 255)
	m.Meta.OutputScaleBits = []uint32{math.Float32bits(0.1)}
	return m
}

// qat export --format onnx converts a .qat file; the ONNX flags need --format onnx.
func TestExportONNX(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "tiny.qat")
	if err := qnet.WriteFile(in, tinyModel()); err != nil {
		t.Fatal(err)
	}
	for _, form := range []string{"qoperator", "qdq"} {
		out := filepath.Join(dir, form+".onnx")
		var stdout, stderr bytes.Buffer
		args := []string{"export", "--format", "onnx", "--onnx-form", form, "--from", in, "--out", out, "--test-limit", "50", "--json"}
		if err := run(args, &stdout, &stderr); err != nil {
			t.Fatal(err, stderr.String())
		}
		var res map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil { // --json: stdout holds the object alone
			t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
		}
		if res["onnx_form"] != form || res["images"].(float64) != 50 || res["opset"].(float64) != onnx.Opset {
			t.Errorf("%s: JSON %v", form, res)
		}
		ops, err := onnx.OpTypes(out)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"qoperator": "QLinearConv", "qdq": "Gemm"}[form]
		if !slices.Contains(ops, want) {
			t.Errorf("%s: ops %v lack %s", form, ops, want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "--onnx-int4", "--from", in, "--out", filepath.Join(dir, "x")}, "--onnx-int4 needs --format onnx"},
		{[]string{"export", "--format", "onnx", "--onnx-int4", "--from", in, "--out", filepath.Join(dir, "x")}, "--onnx-int4 needs --onnx-form qdq"},
		{[]string{"export", "--format", "onnx", "--onnx-form", "qlinear", "--from", in, "--out", filepath.Join(dir, "x")}, `unknown ONNX form "qlinear"`},
		{[]string{"export", "--format", "tflite", "--from", in, "--out", filepath.Join(dir, "x")}, `--format "tflite" is not qat, onnx or c`},
	} {
		var stdout, stderr bytes.Buffer
		err := run(c.args, &stdout, &stderr)
		var ue *usageError
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &ue) {
			t.Errorf("%v: error %v, want a usage error with %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a refused export wrote its output")
	}
}
