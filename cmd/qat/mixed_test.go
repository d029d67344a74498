package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/export"
)

// qat mixed on a small subset: the exported file fits the budget by the file's own accounting
// (qat summary's file_bytes and the file's length), holds the chosen bits, and the integer
// engine equals the simulation (every test image, 0 differing activations in every layer); a
// budget below every assignment fails with exit 1 and leaves no model file.
func TestMixedCommand(t *testing.T) {
	dir := t.TempDir()
	float := filepath.Join(dir, "float")
	runJSON(t, "train", "--mode", "float", "--epochs", "1", "--train-limit", "640", "--test-limit", "100", "--quiet", "--json", "--plot=false", "--out", float)

	const budget = 150000
	out := filepath.Join(dir, "mixed")
	// --range minmax: LSQ steps from min/max (the MSE search per channel is the slow part of each
	// calibration; the search calibrates dozens of models).
	small := []string{"--train-limit", "640", "--test-limit", "200", "--heldout", "100", "--calib", "100", "--epochs", "1", "--quant-delay", "5", "--range", "minmax", "--quiet"}
	res, human := runJSON(t, append([]string{"mixed", "--from", float, "--budget-bytes", "150000", "--wbits-choices", "2,8", "--out", out, "--json"}, small...)...)
	for _, want := range []string{"frontier", "<- chosen", "choice: --layer-bits", "fits the budget"} {
		if !strings.Contains(human, want) {
			t.Errorf("human output lacks %q:\n%s", want, human)
		}
	}
	// The file as written, by its own storage accounting.
	model := filepath.Join(out, "model.qat")
	st, err := os.Stat(model)
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := runJSON(t, "summary", "--json", model)
	if fb := int64(sum["file_bytes"].(float64)); fb != st.Size() || fb > budget {
		t.Errorf("file %d bytes, summary says %d; budget %d", st.Size(), fb, budget)
	}
	if int64(res["bytes"].(float64)) != st.Size() || res["fits_budget"] != true {
		t.Errorf("result bytes %v fits %v; file %d", res["bytes"], res["fits_budget"], st.Size())
	}
	// The chosen widths are the file's.
	choice := res["choice"].(map[string]any)
	wbits := choice["wbits"].(map[string]any)
	if int(choice["bytes"].(float64)) > int(res["search_budget_bytes"].(float64)) {
		t.Errorf("choice of %v bytes over the search budget %v", choice["bytes"], res["search_budget_bytes"])
	}
	names := []string{"conv1", "conv2", "fc1", "fc2"}
	var weighted []map[string]any
	for _, l := range sum["layers"].([]any) {
		if l := l.(map[string]any); l["weights"].(float64) > 0 {
			weighted = append(weighted, l)
		}
	}
	if len(weighted) != len(names) {
		t.Fatalf("%d weighted layers in the file", len(weighted))
	}
	lowered := 0
	for i, n := range names {
		b := wbits[n].(float64)
		if b != 2 && b != 8 {
			t.Errorf("%s at %v bits, not a choice", n, b)
		}
		if weighted[i]["wbits"].(float64) != b {
			t.Errorf("%s: file has %v weight bits, the choice %v", n, weighted[i]["wbits"], b)
		}
		if b == 2 {
			lowered++
		}
	}
	if lowered == 0 || lowered == len(names) {
		t.Errorf("the budget between the all-2-bit and all-8-bit files should mix widths: %v", wbits)
	}
	// Simulation == engine.
	ex := res["export"].(map[string]any)
	if ex["agreement"].(float64) != 1 || ex["images"].(float64) != 200 {
		t.Errorf("agreement %v on %v images", ex["agreement"], ex["images"])
	}
	for _, l := range ex["layers"].([]any) {
		l := l.(map[string]any)
		if l["differing"].(float64) != 0 || l["max_steps"].(float64) != 0 {
			t.Errorf("layer %v: %v differing, max %v steps", l["name"], l["differing"], l["max_steps"])
		}
	}
	// The frontier: sorted by estimated bytes, exact bytes measured, the chosen point marked, the
	// smallest at 2 bits everywhere; and the run directory holds the record.
	fr := res["frontier"].([]any)
	chosen, prev := 0, -1.0
	for _, p := range fr {
		p := p.(map[string]any)
		if eb := p["estimated_bytes"].(float64); eb < prev {
			t.Errorf("frontier not sorted by estimated bytes: %v after %v", eb, prev)
		} else {
			prev = eb
		}
		if p["chosen"] == true {
			chosen++
		}
		if p["bytes"].(float64) <= 0 {
			t.Errorf("frontier point without exact bytes: %v", p)
		}
	}
	if chosen != 1 || len(fr) < 2 {
		t.Errorf("%d frontier points, %d chosen", len(fr), chosen)
	}
	b, err := os.ReadFile(filepath.Join(out, export.MixedFile))
	if err != nil {
		t.Fatal(err)
	}
	var rec export.MixedResult
	if err := json.Unmarshal(b, &rec); err != nil || rec.BudgetBytes != budget || len(rec.Frontier) != len(fr) {
		t.Errorf("%s: %v, budget %d, %d points", export.MixedFile, err, rec.BudgetBytes, len(rec.Frontier))
	}

	// A budget nothing fits: exit 1, the frontier saved, no model file.
	out2 := filepath.Join(dir, "tiny")
	var o, e bytes.Buffer
	code := exitCode(run(append([]string{"mixed", "--from", float, "--budget-bytes", "5000", "--wbits-choices", "2,8", "--out", out2}, small...), &o, &e), &e, "qat")
	if code != 1 || !strings.Contains(e.String(), "fits 4975 bytes") {
		t.Errorf("budget 5000: exit %d, %q", code, e.String())
	}
	if _, err := os.Stat(filepath.Join(out2, "model.qat")); err == nil {
		t.Error("an infeasible budget left a model file")
	}
	if _, err := os.Stat(filepath.Join(out2, export.MixedFile)); err != nil {
		t.Errorf("an infeasible budget did not record its frontier: %v", err)
	}

	// Wider initial weight steps (--wstep-scales): the fine-tune starts from them (a run resumed
	// from the scaled steps), the file still fits and equals the simulation, and fc1's record at
	// 2 bits is smaller than with the unscaled steps (more zeros).
	out3 := filepath.Join(dir, "scaled")
	res3, _ := runJSON(t, append([]string{"mixed", "--from", float, "--budget-bytes", "150000", "--wbits-choices", "2", "--wstep-scales", "1.5", "--out", out3, "--json"}, small...)...)
	if res3["fits_budget"] != true || res3["export"].(map[string]any)["agreement"].(float64) != 1 {
		t.Errorf("scaled steps: fits %v, agreement %v", res3["fits_budget"], res3["export"].(map[string]any)["agreement"])
	}
	for _, l := range res3["export"].(map[string]any)["layers"].([]any) {
		if l := l.(map[string]any); l["differing"].(float64) != 0 {
			t.Errorf("scaled steps: layer %v: %v differing", l["name"], l["differing"])
		}
	}
	if k := res3["choice"].(map[string]any)["wstep_scale"].(map[string]any)["fc1"].(float64); k != 1.5 {
		t.Errorf("scaled steps: fc1 scale %v", k)
	}
	recordAt2 := func(r map[string]any, scale float64) float64 {
		for _, l := range r["layers"].([]any) {
			l := l.(map[string]any)
			if l["layer"] != "fc1" {
				continue
			}
			for i, b := range l["wbits"].([]any) {
				if b.(float64) == 2 && l["wstep_scale"].([]any)[i].(float64) == scale {
					return l["record_bytes"].([]any)[i].(float64)
				}
			}
		}
		t.Fatalf("no fc1 record at 2 bits, scale %v", scale)
		return 0
	}
	if a, b := recordAt2(res, 1), recordAt2(res3, 1.5); b >= a {
		t.Errorf("fc1 at 2 bits: %v bytes with steps x1.5, %v without", b, a)
	}

	// The compression pipeline takes mixed bits per layer and LSQ (here a choice like qat mixed's).
	comp := filepath.Join(dir, "compress")
	cres, _ := runJSON(t, "compress", "--from", float, "--out", comp, "--layer-bits", "conv2=4:8,fc1=2:8", "--quantizer", "lsq", "--range", "mse",
		"--target", "0.8", "--cycles", "1", "--retrain-epochs", "1", "--k", "4", "--cluster-epochs", "1",
		"--train-limit", "640", "--test-limit", "200", "--quiet", "--json", "--plot=false")
	fin := cres["export"].(map[string]any)
	if fin["agreement"].(float64) != 1 {
		t.Errorf("compress: agreement %v", fin["agreement"])
	}
	for _, l := range fin["layers"].([]any) {
		if l := l.(map[string]any); l["differing"].(float64) != 0 {
			t.Errorf("compress: layer %v: %v differing", l["name"], l["differing"])
		}
	}
	csum, _ := runJSON(t, "summary", "--json", filepath.Join(comp, "model.qat"))
	want := map[string]float64{"conv1": 8, "conv2": 4, "fc1": 2, "fc2": 8}
	i := 0
	for _, l := range csum["layers"].([]any) {
		l := l.(map[string]any)
		if l["weights"].(float64) == 0 {
			continue
		}
		if l["wbits"].(float64) != want[names[i]] || l["clusters"].(float64) > 4 {
			t.Errorf("compress: %s has %v weight bits and %v clusters, want %v bits and <= 4", names[i], l["wbits"], l["clusters"], want[names[i]])
		}
		i++
	}
}
