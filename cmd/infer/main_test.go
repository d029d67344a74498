package main

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
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
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out.String())
	}
	if res["model_file"] != path {
		t.Errorf("model_file = %v, want %s", res["model_file"], path)
	}
	for _, k := range []string{"test_accuracy", "images", "images_per_second", "images_per_second_batch64"} {
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
		var res map[string]any
		if err := json.Unmarshal(out.Bytes(), &res); err != nil { // --json: stdout is the object alone
			t.Fatal(err)
		}
		if res["batch_predictions_match"] != true || res["threads"].(float64) != float64(n[0]-'0') {
			t.Errorf("--threads %s: %v", n, res)
		}
	}
	var out, errb bytes.Buffer
	err := run([]string{"--model", path, "--threads", "0"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "--threads = 0: allowed 1..256") {
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

	var out, errb bytes.Buffer
	if err := run([]string{"--model", path, "--json", digit, idx}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Images      int
		Predictions []classified
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out.String())
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

// Usage errors exit 2 with one line; -h exits 0.
func TestMisuse(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "examples:"},
		{[]string{"--help"}, 0, "usage: infer"},
		{[]string{}, 2, "--model FILE is required"},
		{[]string{"--nope"}, 2, "unknown flag -nope"},
		{[]string{"--limit", "x", "--model", "m"}, 2, `invalid value "x" for flag -limit`},
		{[]string{"--limit", "-1", "--model", "m"}, 2, "--limit = -1"},
		{[]string{"--model", filepath.Join(t.TempDir(), "none.qat")}, 1, "no such file"},
	} {
		var out, errb bytes.Buffer
		code := exitCode(run(c.args, &out, &errb), &errb)
		msg := errb.String()
		if code != c.code || !strings.Contains(msg, c.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, msg, c.code, c.want)
			continue
		}
		if code != 0 && strings.Count(msg, "\n") != 1 {
			t.Errorf("%v: not one line: %q", c.args, msg)
		}
		if code == 2 && !strings.HasSuffix(msg, "; see infer -h\n") {
			t.Errorf("%v: %q lacks the pointer to -h", c.args, msg)
		}
	}
}

// PNGs other than 8-bit grayscale are refused unless --gray says to convert them.
func TestPNGFormats(t *testing.T) {
	dir := t.TempDir()
	path, m := randomModel(t, dir)
	r := m.NewRunner()
	gray := make([]uint8, 784)
	for i := range gray {
		gray[i] = uint8(i * 7)
	}
	write := func(name string, img image.Image) string {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, buf.Bytes(), 0o644)
		return p
	}
	rect := image.Rect(0, 0, 28, 28)
	rgba, g16 := image.NewRGBA(rect), image.NewGray16(rect)
	opaque := image.NewNRGBA(rect)
	for i, v := range gray {
		x, y := i%28, i/28
		rgba.Set(x, y, color.RGBA{v, v, v, 128})
		g16.Set(x, y, color.Gray16{uint16(v) * 257})
		opaque.Set(x, y, color.NRGBA{v, v, v, 255})
	}
	rgb := opaque
	// A 1-bit grayscale PNG, written by hand: Go's encoder writes only 8 and 16 bits.
	oneBit := filepath.Join(dir, "1bit.png")
	os.WriteFile(oneBit, oneBitPNG(t), 0o644)
	for _, c := range []struct {
		file, kind string
	}{
		{write("rgb.png", rgb), "8-bit RGB"},
		{write("rgba.png", rgba), "8-bit RGBA"},
		{write("gray16.png", g16), "16-bit grayscale"},
		{oneBit, "1-bit grayscale"},
	} {
		var out, errb bytes.Buffer
		err := run([]string{"--model", path, c.file}, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), c.kind) || !strings.Contains(err.Error(), "--gray") {
			t.Errorf("%s: %v, want a refusal naming %q and --gray", c.file, err, c.kind)
			continue
		}
		out.Reset()
		if err := run([]string{"--model", path, "--gray", c.file}, &out, &errb); err != nil {
			t.Errorf("%s with --gray: %v", c.file, err)
		}
	}
	// The opaque RGB image converts to the gray pixels it was made from.
	var out, errb bytes.Buffer
	if err := run([]string{"--model", path, "--gray", "--json", filepath.Join(dir, "rgb.png")}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var res struct{ Predictions []classified }
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res.Predictions) != 1 || res.Predictions[0].Class != r.Predict(gray) {
		t.Errorf("--gray RGB: %v %+v, want class %d", err, res, r.Predict(gray))
	}
}

// oneBitPNG is a 28x28 1-bit grayscale PNG (all black).
func oneBitPNG(t *testing.T) []byte {
	var raw []byte
	for y := 0; y < 28; y++ {
		raw = append(raw, 0, 0, 0, 0, 0) // filter byte + 28 bits in 4 bytes
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	chunk := func(typ string, data []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		b = append(b, typ...)
		b = append(b, data...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, 28)
	ihdr = binary.BigEndian.AppendUint32(ihdr, 28)
	ihdr = append(ihdr, 1, 0, 0, 0, 0) // depth 1, gray, deflate, filter 0, no interlace
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, chunk("IHDR", ihdr)...)
	b = append(b, chunk("IDAT", z.Bytes())...)
	b = append(b, chunk("IEND", nil)...)
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("hand-made 1-bit PNG: %v", err)
	}
	return b
}

// infer reads only the test files: a directory without the training files works.
func TestTestSetOnly(t *testing.T) {
	path, _ := randomModel(t, t.TempDir())
	_, test, err := data.Load("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	te := test.Subset(100)
	var ib, lb bytes.Buffer
	data.WriteImages(&ib, te.Images, te.N, te.Rows, te.Cols)
	data.WriteLabels(&lb, te.Labels)
	os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"), ib.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), lb.Bytes(), 0o644)
	var out, errb bytes.Buffer
	if err := run([]string{"--model", path, "--data", dir, "--json"}, &out, &errb); err != nil {
		t.Fatalf("infer with only the test files: %v", err)
	}
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res["images"] != 100.0 {
		t.Errorf("%v %v", err, res)
	}
}

// rgbModel is a valid 3x4x5 -> 4 integer model: one fully connected layer.
func rgbModel(t *testing.T, dir string) (string, *qnet.Model) {
	rng := rand.New(rand.NewPCG(3, 4))
	const in = 3 * 4 * 5
	fc := &qnet.FullyConnected{In: in, Out: 4, WeightBits: 8, OutBits: 8, ActMin: 0, ActMax: 255, OutputZero: 128}
	for i := 0; i < in*4; i++ {
		fc.Weights = append(fc.Weights, int8(rng.IntN(255)-127))
	}
	for i := 0; i < 4; i++ {
		fc.Bias = append(fc.Bias, int32(rng.IntN(2000)-1000))
		fc.Multiplier = append(fc.Multiplier, 1<<30)
		fc.Shift = append(fc.Shift, -9)
	}
	m := &qnet.Model{Name: "rgb", InC: 3, InH: 4, InW: 5, Layers: []qnet.Layer{fc}}
	path := filepath.Join(dir, "rgb.qat")
	if err := qnet.WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	return path, m
}

// A 3-channel model: an idx4 test set (--data) is evaluated image by image like the engine;
// an 8-bit RGB PNG is read as CHW planes; idx4 files classify; a gray PNG, a PNG of the wrong
// size, idx files of another shape and a test set with more classes than the model's outputs
// are refused with one line naming both sides.
func TestRGBModel(t *testing.T) {
	dir := t.TempDir()
	path, m := rgbModel(t, dir)
	r := m.NewRunner()
	const n, c, h, w = 50, 3, 4, 5
	rng := rand.New(rand.NewPCG(5, 6))
	imgs := make([]uint8, n*c*h*w)
	for i := range imgs {
		imgs[i] = uint8(rng.IntN(256))
	}
	labels := make([]uint8, n)
	correct := 0
	for i := range labels {
		labels[i] = uint8(rng.IntN(4))
		if r.Predict(imgs[i*c*h*w:(i+1)*c*h*w]) == int(labels[i]) {
			correct++
		}
	}
	writeDir := func(name string, labels []uint8) string {
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o755)
		var ib, lb bytes.Buffer
		if err := data.WriteImagesCHW(&ib, imgs, n, c, h, w); err != nil {
			t.Fatal(err)
		}
		data.WriteLabels(&lb, labels)
		os.WriteFile(filepath.Join(d, "t10k-images-idx3-ubyte"), ib.Bytes(), 0o644)
		os.WriteFile(filepath.Join(d, "t10k-labels-idx1-ubyte"), lb.Bytes(), 0o644)
		return d
	}
	var out, errb bytes.Buffer
	if err := run([]string{"--model", path, "--data", writeDir("ok", labels), "--json"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var res evalResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Images != n || res.Accuracy != float64(correct)/n || !res.BatchPredictsMatch {
		t.Errorf("--data: %+v, %v; want accuracy %d/%d", res, err, correct, n)
	}

	// Image 0 as an RGB PNG and the first three as an idx4 file.
	rgb := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			rgb.Set(x, y, color.NRGBA{imgs[y*w+x], imgs[h*w+y*w+x], imgs[2*h*w+y*w+x], 255})
		}
	}
	var pb bytes.Buffer
	png.Encode(&pb, rgb)
	pngPath := filepath.Join(dir, "img.png")
	os.WriteFile(pngPath, pb.Bytes(), 0o644)
	var ib bytes.Buffer
	data.WriteImagesCHW(&ib, imgs[:3*c*h*w], 3, c, h, w)
	idxPath := filepath.Join(dir, "three.idx")
	os.WriteFile(idxPath, ib.Bytes(), 0o644)
	out.Reset()
	if err := run([]string{"--model", path, "--json", pngPath, idxPath}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var cl struct{ Predictions []classified }
	json.Unmarshal(out.Bytes(), &cl)
	want := []int{r.Predict(imgs[:c*h*w]), r.Predict(imgs[:c*h*w]), r.Predict(imgs[c*h*w : 2*c*h*w]), r.Predict(imgs[2*c*h*w : 3*c*h*w])}
	if len(cl.Predictions) != len(want) {
		t.Fatalf("classified %d images, want %d", len(cl.Predictions), len(want))
	}
	for i, p := range cl.Predictions {
		if p.Class != want[i] {
			t.Errorf("prediction %d (%s[%d]) = %d, want %d", i, p.File, p.Index, p.Class, want[i])
		}
	}

	gray := filepath.Join(dir, "gray.png")
	writePNG(t, gray, w, h, make([]uint8, w*h))
	wrongSize := filepath.Join(dir, "big.png")
	var bb bytes.Buffer
	png.Encode(&bb, image.NewNRGBA(image.Rect(0, 0, 8, 8)))
	os.WriteFile(wrongSize, bb.Bytes(), 0o644)
	var ob bytes.Buffer
	data.WriteImages(&ob, make([]uint8, 2*h*w), 2, h, w)
	oneChannel := filepath.Join(dir, "gray.idx")
	os.WriteFile(oneChannel, ob.Bytes(), 0o644)
	tooMany := append([]uint8(nil), labels...)
	tooMany[7] = 5
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--model", path, gray}, 1, "PNG is 8-bit grayscale, the model takes 8-bit RGB"},
		{[]string{"--model", path, wrongSize}, 1, "image is 8x8, the model takes 5x4 RGB"},
		{[]string{"--model", path, oneChannel}, 1, "images are 1x4x5 (CxHxW), the model takes 3x4x5"},
		{[]string{"--model", path, "--data", writeDir("six", tooMany)}, 2, "the set has 6 classes (labels up to 5), the model outputs 4"},
	} {
		var out, errb bytes.Buffer
		code := exitCode(run(c.args, &out, &errb), &errb)
		msg := errb.String()
		if code != c.code || !strings.Contains(msg, c.want) || strings.Count(msg, "\n") != 1 {
			t.Errorf("%v: exit %d, %q; want %d and one line with %q", c.args, code, msg, c.code, c.want)
		}
	}
}
