package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gonum.org/v1/plot"

	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
	"github.com/qatgo/qatgo/train/checkpoint"
)

// writeRun writes a synthetic run directory of LeNet-300-100 (no training): a checkpoint with
// fc1 pruned to 10% and clustered to 8 centroids, metrics.jsonl with two prune cycles and
// activation ranges, prune.jsonl and sensitivity.json.
func writeRun(t *testing.T, dir string) {
	t.Helper()
	cfg := train.DefaultConfig()
	cfg.Arch, cfg.Out = "lenet300-100", dir
	m, err := nn.New(cfg.Arch, cfg.Quant, 7)
	if err != nil {
		t.Fatal(err)
	}
	w := m.Quantized()[0].Weights()
	keep := make([]bool, w.Size())
	assign := make([]int32, w.Size())
	centroids := []float32{-0.09, -0.06, -0.04, -0.02, 0.02, 0.04, 0.06, 0.09}
	for i, v := range w.Data {
		keep[i] = math.Abs(float64(v)) > 0.07 // about 10% of the Xavier-initialized weights
		assign[i] = -1
		if keep[i] {
			best := 0
			for c := range centroids {
				if math.Abs(float64(centroids[c]-v)) < math.Abs(float64(centroids[best]-v)) {
					best = c
				}
			}
			assign[i] = int32(best)
		}
	}
	if err := w.Prune(keep); err != nil {
		t.Fatal(err)
	}
	if err := w.Share(centroids, assign); err != nil {
		t.Fatal(err)
	}
	ck := &train.Checkpoint{Config: cfg, Epoch: 4, Finished: true}
	ck.Params, ck.Ranges = checkpoint.Snapshot(m)
	ck.Compression = checkpoint.SnapshotCompression(m)
	var metrics bytes.Buffer
	enc := json.NewEncoder(&metrics)
	for e := 1; e <= 4; e++ {
		em := train.EpochMetrics{Epoch: e, Cycle: (e + 1) / 2, TrainLoss: 1 / float64(e), TrainAcc: 0.9 + 0.01*float64(e),
			TestAccuracy: 0.91 + 0.01*float64(e), LR: 0.01, Seconds: 1, Images: 640}
		for _, l := range []string{"fc1", "fc2", "fc3"} {
			em.Ranges = append(em.Ranges, train.LayerRange{Layer: l, Min: -0.1 * float64(e), Max: 2 + float64(e)})
		}
		ck.Metrics = append(ck.Metrics, em)
		if err := enc.Encode(em); err != nil {
			t.Fatal(err)
		}
	}
	if err := train.SaveCheckpoint(filepath.Join(dir, train.CheckpointFile), ck); err != nil {
		t.Fatal(err)
	}
	var prune bytes.Buffer
	enc = json.NewEncoder(&prune)
	for c := 0; c <= 2; c++ {
		cr := train.CycleResult{Cycle: c, Epoch: 2 * c, Sparsity: 0.4 * float64(c), TestAccuracy: 0.95 - 0.01*float64(c)}
		if c > 0 {
			a := 0.8
			cr.PrunedAcc = &a
		}
		for i, l := range []string{"fc1", "fc2", "fc3"} {
			cr.Layers = append(cr.Layers, nn.LayerSparsity{Layer: l, Weights: 1000 * (i + 1), Nonzero: 1000*(i+1) - 400*c*(i+1)})
		}
		if err := enc.Encode(cr); err != nil {
			t.Fatal(err)
		}
	}
	sens := train.SensitivityReport{BaseAccuracy: 0.97, Tolerance: 0.001, Layers: []train.SensitivityRow{
		{Layer: "fc1", Weights: 235200, Sparsity: []float64{0.5, 0.9}, Accuracy: []float64{0.97, 0.95}, Suggest: 0.5},
		{Layer: "fc2", Weights: 30000, Sparsity: []float64{0.5, 0.9}, Accuracy: []float64{0.96, 0.90}},
	}}
	sb, err := json.Marshal(sens)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{train.MetricsFile: metrics.Bytes(), train.PruneFile: prune.Bytes(), train.SensitivityFile: sb} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkPicture decodes path as a PNG of w x h pixels that is not blank, or parses it as an
// SVG document w x h points large.
func checkPicture(t *testing.T, path string, w, h int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch filepath.Ext(path) {
	case ".png":
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if got := img.Bounds(); got != image.Rect(0, 0, w, h) {
			t.Fatalf("%s is %v, want %dx%d", path, got, w, h)
		}
		// Drawn, not blank: some pixels are not white, and in several colors.
		colors := map[[4]uint32]bool{}
		dark := 0
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				r, g, bl, a := img.At(x, y).RGBA()
				colors[[4]uint32{r, g, bl, a}] = true
				if r+g+bl < 3*0xffff*3/4 {
					dark++
				}
			}
		}
		if len(colors) < 8 || dark < w*h/200 {
			t.Fatalf("%s looks blank: %d colors, %d dark pixels", path, len(colors), dark)
		}
	case ".svg":
		dec := xml.NewDecoder(bytes.NewReader(b))
		var root *xml.StartElement
		elements := 0
		for {
			tok, err := dec.Token()
			if err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatalf("%s: not XML: %v", path, err)
			}
			if se, ok := tok.(xml.StartElement); ok {
				elements++
				if root == nil {
					se := se.Copy()
					root = &se
				}
			}
		}
		if root == nil || root.Name.Local != "svg" {
			t.Fatalf("%s: root element is not svg", path)
		}
		attrs := map[string]string{}
		for _, a := range root.Attr {
			attrs[a.Name.Local] = a.Value
		}
		// The SVG is in points: 72 per inch, the PNG DPI per inch.
		wantW, wantH := fmt.Sprintf("%gpt", float64(w)*72/DPI), fmt.Sprintf("%gpt", float64(h)*72/DPI)
		if attrs["width"] != wantW || attrs["height"] != wantH {
			t.Fatalf("%s: svg size %s x %s, want %s x %s", path, attrs["width"], attrs["height"], wantW, wantH)
		}
		if elements < 50 {
			t.Fatalf("%s has only %d elements", path, elements)
		}
	default:
		t.Fatalf("unexpected picture %s", path)
	}
}

func TestPicturesOfARun(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir)
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k := r.Kind(); !strings.Contains(k, "QAT W8A8") || !strings.Contains(k, "clustered k=8") || !strings.Contains(k, "pruned") {
		t.Errorf("kind %q", k)
	}
	figs, paths, err := Plot(r)
	if err != nil {
		t.Fatal(err)
	}
	// The documented sizes: training 9 x 4 in, ranges 9 x 4.5, prune 12 x 4, sensitivity 9 x 5
	// at 100 dpi; weights 4.5 in per panel column (three layers: one row of three).
	want := map[string][2]int{"training": {900, 400}, "ranges": {900, 450}, "prune": {1200, 400}, "sensitivity": {900, 500}, "weights": {1350, 0}}
	if len(figs) != len(want) || len(paths) != len(want)*len(Formats) {
		t.Fatalf("%d figures, %d files; want %d figures", len(figs), len(paths), len(want))
	}
	for _, f := range figs {
		size, ok := want[f.Name]
		if !ok {
			t.Fatalf("unexpected figure %s", f.Name)
		}
		w, h := f.Pixels()
		if w != size[0] || (size[1] != 0 && h != size[1]) {
			t.Errorf("%s: %dx%d pixels, want %dx%d", f.Name, w, h, size[0], size[1])
		}
		for _, ext := range Formats {
			checkPicture(t, filepath.Join(dir, PlotsDir, f.Name+"."+ext), w, h)
		}
	}

	// The report links every picture, and only pictures that exist.
	page, err := Write(r, nil, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`\]\(([^)]+)\)`).FindAllStringSubmatch(string(b), -1)
	if len(links) != 2*len(want) {
		t.Errorf("report has %d links, want a PNG and an SVG per figure (%d)", len(links), 2*len(want))
	}
	for _, l := range links {
		if _, err := os.Stat(filepath.Join(dir, l[1])); err != nil {
			t.Errorf("report links %s: %v", l[1], err)
		}
	}
	for _, s := range []string{"## Results", "| pruning | 2 cycles: 80.00% pruned", "## Epochs", "fc1=0.5,fc2=0"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("report lacks %q", s)
		}
	}
}

func TestFrontier(t *testing.T) {
	pts := []Point{
		{Label: "float", Bytes: 1_700_000, Accuracy: 0.992},
		{Label: "qat8", Bytes: 430_000, Accuracy: 0.992},
		{Label: "ptq8", Bytes: 430_004, Accuracy: 0.990},
		{Label: "qat4", Bytes: 220_000, Accuracy: 0.989},
		{Label: "pruned", Bytes: 60_000, Accuracy: 0.991},
		{Label: "clustered", Bytes: 40_000, Accuracy: 0.990},
	}
	var got []string
	for _, p := range Pareto(pts) {
		got = append(got, p.Label)
	}
	// By bytes: clustered 0.990, pruned 0.991 (better), qat4 0.989 (worse), qat8 0.992 (better),
	// ptq8 and float not better than 0.992.
	if strings.Join(got, ",") != "clustered,pruned,qat8" {
		t.Errorf("Pareto frontier %v", got)
	}
	f, err := Frontier(pts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths, err := f.Save(dir)
	if err != nil {
		t.Fatal(err)
	}
	w, h := f.Pixels()
	if w != 1000 || h != 550 {
		t.Errorf("frontier is %dx%d pixels, want 1000x550", w, h)
	}
	for _, p := range paths {
		checkPicture(t, p, w, h)
	}
	if f, _ := Frontier(pts[:1]); f != nil {
		t.Error("a frontier of one model was drawn")
	}
}

func TestBadRunDirectories(t *testing.T) {
	empty := t.TempDir()
	if _, err := Load(empty); err == nil || !strings.Contains(err.Error(), "not a run directory") {
		t.Errorf("empty directory: %v", err)
	}
	if _, err := Expand([]string{filepath.Join(empty, "missing")}); err == nil || !strings.Contains(err.Error(), "no such run directory") {
		t.Errorf("missing directory: %v", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, train.MetricsFile), []byte("{\"epoch\": 1}\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad metrics line: %v", err)
	}
	sens := t.TempDir()
	if err := os.WriteFile(filepath.Join(sens, train.SensitivityFile), []byte(`{"base_accuracy":0.9,"layers":[{"layer":"fc1","sparsity":[0.5],"accuracy":[2]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(sens); err == nil || !strings.Contains(err.Error(), "not fractions") {
		t.Errorf("bad sensitivity.json: %v", err)
	}
	// Epoch numbers far apart draw (with default ticks), they do not hang or panic.
	far := t.TempDir()
	if err := os.WriteFile(filepath.Join(far, train.MetricsFile), []byte("{\"epoch\": 1}\n{\"epoch\": 1000000000}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(far)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Plot(r); err != nil {
		t.Errorf("far epochs: %v", err)
	}
	// A directory of stages (as qat compress writes) stands for them.
	stages := t.TempDir()
	for _, s := range []string{"prune", "cluster"} {
		d := filepath.Join(stages, s)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, train.MetricsFile), []byte("{\"epoch\": 1}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dirs, err := Expand([]string{stages})
	if err != nil || len(dirs) != 2 {
		t.Errorf("stages directory expands to %v, %v", dirs, err)
	}
}

func TestTicks(t *testing.T) {
	ts := []plot.Tick{{Value: 0.9, Label: "a"}, {Value: 0.91}, {Value: 0.925, Label: "b"}, {Value: 0.95, Label: "c"}}
	var got []string
	for _, tk := range relabel(ts, 100, "") {
		got = append(got, tk.Label)
	}
	// 92.5 needs one decimal, so every label has it; unlabelled ticks stay so.
	if strings.Join(got, ",") != "90.0,,92.5,95.0" {
		t.Errorf("percent labels %q", got)
	}
	got = got[:0]
	for _, tk := range relabel([]plot.Tick{{Value: 0, Label: "a"}, {Value: 25000, Label: "b"}}, 1, "") {
		got = append(got, tk.Label)
	}
	if strings.Join(got, ",") != "0,25000" {
		t.Errorf("count labels %q", got)
	}
	if got := humanBytes(38637); got != "38.6 KB" {
		t.Errorf("humanBytes(38637) = %q", got)
	}
}
