package ort

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/onnx"
	"github.com/qatgo/qatgo/export/qnet"
)

// ErrNotInstalled is wrapped by Available's error when node or the npm packages are missing.
var ErrNotInstalled = errors.New("ONNX Runtime checker not installed")

// DefaultDir returns the directory of this package's source (interop/ort), where run.js and
// node_modules live, or "" if it cannot be found.
func DefaultDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	dir := filepath.Dir(file)
	if _, err := os.Stat(filepath.Join(dir, "run.js")); err != nil {
		return ""
	}
	return dir
}

// Available reports whether node and dir/node_modules/onnxruntime-node are present; its
// error wraps ErrNotInstalled and says how to install them.
func Available(dir string) error {
	if dir == "" {
		return fmt.Errorf("%w: interop/ort not found (pass its directory)", ErrNotInstalled)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("%w: no node in PATH", ErrNotInstalled)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node", "package.json")); err != nil {
		return fmt.Errorf("%w: run (cd %s && ONNXRUNTIME_NODE_INSTALL=skip npm ci)", ErrNotInstalled, dir)
	}
	return nil
}

// TestImagesPath returns the MNIST test images file (t10k-images-idx3-ubyte, gzip or not) in
// dir, or in the embedded copy (the GoMNIST module directory) if dir is "".
func TestImagesPath(dir string) (string, error) {
	if dir == "" {
		d, err := data.DefaultDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	for _, name := range []string{"t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no t10k-images-idx3-ubyte[.gz] in %s", dir)
}

// RunOptions is one run of a model in ONNX Runtime.
type RunOptions struct {
	Dir    string // interop/ort (DefaultDir if "")
	Model  string // the .onnx file
	Images string // idx3-ubyte images file
	Limit  int    // the first Limit images (0 = all)
	// FloatInput feeds float32 InputScale * (pixel - InputZero) (QDQ form) instead of the
	// uint8 pixels.
	FloatInput bool
	InputScale float64
	InputZero  int32
	// Optimized, if not "", is where ONNX Runtime saves the graph it runs after its fusions.
	Optimized string
	// Shape, if not zero, is the C, H, W of an image; the idx file then holds C*H*W bytes per
	// image (as rows x cols). Zero: one channel of the file's rows x cols.
	Shape [3]int
}

// Output is one graph output over all images.
type Output struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // uint8 or float32
	PerImage int    `json:"per_image"`
	Data     []byte `json:"-"` // the raw values of all images (float32 little-endian)
}

// Result is what ONNX Runtime computed.
type Result struct {
	Version string    `json:"ort"`
	Images  int       `json:"images"`
	Outputs []*Output `json:"outputs"`
	Argmax  []int     `json:"argmax"`
}

// Output returns the output named name, or nil.
func (r *Result) Output(name string) *Output {
	for _, o := range r.Outputs {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// Run runs run.js and reads what it wrote.
func Run(opt RunOptions) (*Result, error) {
	if opt.Dir == "" {
		opt.Dir = DefaultDir()
	}
	if err := Available(opt.Dir); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "qatgo-ort-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	args := []string{filepath.Join(opt.Dir, "run.js"), "--model", opt.Model, "--images", opt.Images,
		"--limit", strconv.Itoa(opt.Limit), "--out", tmp}
	if opt.FloatInput {
		args = append(args, "--float-input", strconv.FormatFloat(opt.InputScale, 'g', -1, 64)+","+strconv.Itoa(int(opt.InputZero)))
	}
	if opt.Optimized != "" {
		args = append(args, "--optimized", opt.Optimized)
	}
	if opt.Shape != [3]int{} {
		args = append(args, "--shape", fmt.Sprintf("%d,%d,%d", opt.Shape[0], opt.Shape[1], opt.Shape[2]))
	}
	cmd := exec.Command("node", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("onnxruntime (node run.js): %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	b, err := os.ReadFile(filepath.Join(tmp, "summary.json"))
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("run.js summary: %w", err)
	}
	if len(r.Argmax) != r.Images {
		return nil, fmt.Errorf("run.js summary: %d argmax for %d images", len(r.Argmax), r.Images)
	}
	for _, o := range r.Outputs {
		if o.Data, err = os.ReadFile(filepath.Join(tmp, o.Name+".bin")); err != nil {
			return nil, err
		}
		size := 1
		if o.Type == "float32" {
			size = 4
		}
		if len(o.Data) != r.Images*o.PerImage*size {
			return nil, fmt.Errorf("run.js output %s: %d bytes for %d images of %d values", o.Name, len(o.Data), r.Images, o.PerImage)
		}
	}
	return &r, nil
}

// LayerDiff is the comparison of one layer's output codes.
type LayerDiff struct {
	Name      string  `json:"name"`
	Values    int     `json:"values"`    // codes compared (all images)
	Differing int     `json:"differing"` // codes that differ
	Share     float64 `json:"share"`     // Differing / Values
	MaxDiff   int     `json:"max_diff"`  // largest |engine - ort| in codes
}

// Comparison is the engine against ONNX Runtime on the same images.
type Comparison struct {
	Images         int         `json:"images"`
	Agreement      float64     `json:"argmax_agreement"` // share of images with the same argmax
	Disagreeing    int         `json:"disagreeing"`
	EngineAccuracy float64     `json:"engine_accuracy"`
	ORTAccuracy    float64     `json:"ort_accuracy"`
	Layers         []LayerDiff `json:"layers"` // the layers ORT exposed, then "codes"
}

// Compare runs the engine on the first r.Images images of set and compares it with r: argmax
// and accuracy of both, and for "codes" and every layer output r holds (named as in
// layerNames, the names the ONNX writer gives m's layers) the share of differing codes and
// the largest difference.
func Compare(m *qnet.Model, layerNames []string, set *data.Set, r *Result) (*Comparison, error) {
	if r.Images > set.N {
		return nil, fmt.Errorf("ORT ran %d images, the set has %d", r.Images, set.N)
	}
	if len(layerNames) != len(m.Layers) {
		return nil, fmt.Errorf("%d layer names for %d layers", len(layerNames), len(m.Layers))
	}
	type cmpOut struct {
		layer int // index into the trace
		o     *Output
		diff  LayerDiff
	}
	var outs []*cmpOut
	for i, name := range layerNames {
		if o := r.Output(name); o != nil {
			outs = append(outs, &cmpOut{layer: i, o: o, diff: LayerDiff{Name: name}})
		}
	}
	codes := r.Output("codes")
	if codes == nil || codes.Type != "uint8" {
		return nil, fmt.Errorf("ORT result has no uint8 output \"codes\"")
	}
	outs = append(outs, &cmpOut{layer: len(m.Layers) - 1, o: codes, diff: LayerDiff{Name: "codes"}})
	run := m.NewRunner()
	c := &Comparison{Images: r.Images}
	var engOK, ortOK, agree int
	for i := 0; i < r.Images; i++ {
		trace := run.Trace(set.Image(i))
		eng := qnet.Argmax(trace[len(trace)-1])
		if eng == r.Argmax[i] {
			agree++
		}
		if eng == int(set.Labels[i]) {
			engOK++
		}
		if r.Argmax[i] == int(set.Labels[i]) {
			ortOK++
		}
		for _, co := range outs {
			if co.o.Type != "uint8" {
				return nil, fmt.Errorf("ORT output %s is %s, want uint8", co.o.Name, co.o.Type)
			}
			e := trace[co.layer]
			if len(e) != co.o.PerImage {
				return nil, fmt.Errorf("ORT output %s has %d values per image, the engine's layer %d has %d", co.o.Name, co.o.PerImage, co.layer, len(e))
			}
			got := co.o.Data[i*co.o.PerImage : (i+1)*co.o.PerImage]
			for j, v := range e {
				d := int(v) - int(got[j])
				if d != 0 {
					co.diff.Differing++
					co.diff.MaxDiff = max(co.diff.MaxDiff, d, -d)
				}
			}
			co.diff.Values += len(e)
		}
	}
	n := float64(max(r.Images, 1))
	c.Agreement, c.Disagreeing = float64(agree)/n, r.Images-agree
	c.EngineAccuracy, c.ORTAccuracy = float64(engOK)/n, float64(ortOK)/n
	for _, co := range outs {
		co.diff.Share = float64(co.diff.Differing) / float64(max(co.diff.Values, 1))
		c.Layers = append(c.Layers, co.diff)
	}
	return c, nil
}

// CheckOptions is one Check.
type CheckOptions struct {
	Dir       string // interop/ort (DefaultDir if "")
	ImagesDir string // MNIST idx directory ("" = the embedded copy)
	Limit     int    // the first Limit test images (0 = all)
	// ONNX is the writer's options; Check sets LayerOutputs.
	ONNX onnx.Options
	// Keep, if not "", is where the exported model is written (else a temporary file).
	Keep string
	// Optimized, if not "", is where ONNX Runtime saves the graph it runs.
	Optimized string
	// SetImages runs ONNX Runtime on the images of the set Check is given (written to a
	// temporary idx file, any C x H x W) instead of the MNIST test images file.
	SetImages bool
}

// Check exports m with every layer's output exposed, runs it in ONNX Runtime on the MNIST
// test images and compares it with the engine.
func Check(m *qnet.Model, test *data.Set, opt CheckOptions) (*Comparison, *Result, error) {
	if opt.Dir == "" {
		opt.Dir = DefaultDir()
	}
	if err := Available(opt.Dir); err != nil {
		return nil, nil, err
	}
	var images string
	var shape [3]int
	if opt.SetImages {
		limit := opt.Limit
		if limit <= 0 || limit > test.N {
			limit = test.N
		}
		tmp, err := os.MkdirTemp("", "qatgo-ort-images-")
		if err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(tmp)
		images = filepath.Join(tmp, "images.idx")
		var b bytes.Buffer
		// C*H rows of W bytes: the CHW image as the idx file's rows x cols.
		if err := data.WriteImages(&b, test.Images[:limit*test.ImageSize()], limit, test.ChannelCount()*test.Rows, test.Cols); err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(images, b.Bytes(), 0o644); err != nil {
			return nil, nil, err
		}
		shape = [3]int{test.ChannelCount(), test.Rows, test.Cols}
	} else {
		var err error
		if images, err = TestImagesPath(opt.ImagesDir); err != nil {
			return nil, nil, err
		}
	}
	path := opt.Keep
	if path == "" {
		tmp, err := os.MkdirTemp("", "qatgo-onnx-")
		if err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(tmp)
		path = filepath.Join(tmp, "model.onnx")
	}
	o := opt.ONNX
	o.LayerOutputs = true
	if err := onnx.WriteFile(path, m, o); err != nil {
		return nil, nil, err
	}
	limit := opt.Limit
	if limit <= 0 || limit > test.N {
		limit = test.N
	}
	ro := RunOptions{Dir: opt.Dir, Model: path, Images: images, Limit: limit, Optimized: opt.Optimized, Shape: shape}
	if o.Form == onnx.QDQ {
		ro.FloatInput = true
		ro.InputScale = float64(math.Float32frombits(m.Meta.InputScaleBits))
		ro.InputZero = m.InputZero
	}
	r, err := Run(ro)
	if err != nil {
		return nil, nil, err
	}
	c, err := Compare(m, onnx.LayerNames(m), test, r)
	return c, r, err
}
