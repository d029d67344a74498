package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
)

// randomModel is a valid 28x28 -> 10 integer model: one fully connected layer.
func randomModel(t *testing.T, dir string) (string, *qnet.Model) {
	rng := rand.New(rand.NewPCG(1, 2))
	fc := &qnet.FullyConnected{In: 784, Out: 10, WeightBits: 8, OutBits: 8, ActMin: 0, ActMax: 255, OutputZero: 128}
	for i := 0; i < 784*10; i++ {
		fc.Weights = append(fc.Weights, int8(rng.IntN(255)-127))
	}
	for i := 0; i < 10; i++ {
		fc.Bias = append(fc.Bias, int32(rng.IntN(2000)-1000))
		fc.Multiplier = append(fc.Multiplier, 1<<30)
		fc.Shift = append(fc.Shift, -12)
	}
	m := &qnet.Model{Name: "random", InC: 1, InH: 28, InW: 28, Layers: []qnet.Layer{fc}}
	path := filepath.Join(dir, "m.qat")
	if err := qnet.WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	return path, m
}

func TestEvaluateJSON(t *testing.T) {
	path, _ := randomModel(t, t.TempDir())
	var out, errb bytes.Buffer
	if err := run([]string{"--model", path, "--limit", "200", "--json"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"accuracy", "images", "images_per_second", "images_per_second_batch64"} {
		if _, ok := res[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if res["images"].(float64) != 200 || res["batch_predictions_match"] != true {
		t.Errorf("JSON %v", res)
	}
}

// TestThreads runs the batch pass on several Runners: the classes equal the single-image
// pass (batch_predictions_match) for any thread count, including more threads than batches.
func TestThreads(t *testing.T) {
	path, _ := randomModel(t, t.TempDir())
	for _, n := range []string{"1", "2", "3", "7"} {
		var out, errb bytes.Buffer
		if err := run([]string{"--model", path, "--limit", "330", "--threads", n, "--json"}, &out, &errb); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var res map[string]any
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
			t.Fatal(err)
		}
		if res["batch_predictions_match"] != true || res["threads"].(float64) != float64(n[0]-'0') {
			t.Errorf("--threads %s: %v", n, res)
		}
	}
	var out, errb bytes.Buffer
	if err := run([]string{"--model", path, "--threads", "0"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "--threads 0") {
		t.Errorf("--threads 0: %v", err)
	}
}

func writePNG(t *testing.T, path string, w, h int, px []uint8) {
	img := image.NewGray(image.Rect(0, 0, w, h))
	copy(img.Pix, px)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, buf.Bytes(), 0o644)
}

func TestClassifyFiles(t *testing.T) {
	dir := t.TempDir()
	path, m := randomModel(t, dir)
	_, test, err := data.Load("")
	if err != nil {
		t.Fatal(err)
	}
	r := m.NewRunner()
	digit := filepath.Join(dir, "digit.png")
	writePNG(t, digit, 28, 28, test.Image(0))
	inv := make([]uint8, 784)
	for i, p := range test.Image(1) {
		inv[i] = 255 - p
	}
	inverted := filepath.Join(dir, "inverted.png")
	writePNG(t, inverted, 28, 28, inv)
	idx := filepath.Join(dir, "three.idx")
	var buf bytes.Buffer
	data.WriteImages(&buf, test.Images[:3*784], 3, 28, 28)
	os.WriteFile(idx, buf.Bytes(), 0o644)

	var out bytes.Buffer
	if err := run([]string{"--model", path, "--json", digit, idx}, &out, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res struct {
		Images      int
		Predictions []classified
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatal(err)
	}
	want := []int{r.Predict(test.Image(0)), r.Predict(test.Image(0)), r.Predict(test.Image(1)), r.Predict(test.Image(2))}
	if res.Images != 4 {
		t.Fatalf("classified %d images, want 4", res.Images)
	}
	for i, p := range res.Predictions {
		if p.Class != want[i] {
			t.Errorf("prediction %d (%s[%d]) = %d, want %d", i, p.File, p.Index, p.Class, want[i])
		}
	}
	out.Reset()
	if err := run([]string{"--model", path, "--invert", inverted}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != inverted+": "+string(rune('0'+r.Predict(test.Image(1)))) {
		t.Errorf("--invert: %q", got)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	path, _ := randomModel(t, dir)
	good, _ := os.ReadFile(path)
	trunc := filepath.Join(dir, "trunc.qat")
	os.WriteFile(trunc, good[:len(good)/2], 0o644)
	small := filepath.Join(dir, "small.png")
	writePNG(t, small, 8, 8, make([]uint8, 64))
	junk := filepath.Join(dir, "junk.bin")
	os.WriteFile(junk, []byte("hello"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--model FILE is required"},
		{[]string{"--model", filepath.Join(dir, "none.qat")}, "no such file"},
		{[]string{"--model", trunc}, "truncated"},
		{[]string{"--model", junk}, "qnet"},
		{[]string{"--model", path, small}, "8x8"},
		{[]string{"--model", path, junk}, "not a PNG or idx3"},
		{[]string{"--model", path, "--data", filepath.Join(dir, "nodata")}, "nodata"},
	} {
		var out, errb bytes.Buffer
		err := run(c.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error containing %q", c.args, err, c.want)
		}
	}
}

// Invariant 1: the deployable path does not depend on gorgonia.
func TestNoGorgoniaDependency(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go tool not in PATH: cannot check the dependency list")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".", "../../export/qnet").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "gorgonia") || strings.Contains(dep, "gonum") {
			t.Errorf("cmd/infer depends on %s", dep)
		}
	}
	if !strings.Contains(string(out), "github.com/qatgo/qatgo/export/qnet") {
		t.Errorf("go list output lacks the engine:\n%s", out)
	}
}
