package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
)

func main() {
	os.Exit(exitCode(run(os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

// A usageError is a mistake in the command line: exit status 2, one line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return "infer: " + e.msg + "; see infer -h" }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// exitCode prints err (if any) to stderr and returns the exit status for it.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, ue.Error())
		return 2
	}
	fmt.Fprintf(stderr, "infer: %v\n", err)
	return 1
}

const synopsis = `usage: infer --model FILE.qat [flags] [IMAGE...]

Run an integer model with the integer engine only. Without images: accuracy and images/s on
the test set (--data). With images (PNG of the model's input size: 8-bit grayscale, white digit
on black, for a 1-channel model, 8-bit RGB(A) for a 3-channel one; or idx3/idx4 image files,
plain or gzip): the class of each.
`

const examples = `
examples:
  infer --model runs/qat/model.qat
  infer --model model.qat --limit 1000 --json
  infer --model model.qat --invert --gray photo-of-digit.png

exit status: 0 success or -h, 1 failure, 2 usage error. With --json stdout holds only the JSON object.
`

// MaxImageFile bounds the size of an image file given as an argument.
const MaxImageFile = 64 << 20

type evalResult struct {
	Model              string  `json:"model_file"`
	Accuracy           float64 `json:"test_accuracy"`
	Images             int     `json:"images"`
	ImagesPerSecond    float64 `json:"images_per_second"`
	ImagesPerSecond64  float64 `json:"images_per_second_batch64"`
	BatchPredictsMatch bool    `json:"batch_predictions_match"`
	Threads            int     `json:"threads"` // of the batch-64 pass
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("infer", flag.ContinueOnError)
	model := fs.String("model", "", "integer model `file` written by qat export (required)")
	dataDir := fs.String("data", "", "idx `dir`ectory: t10k-images-idx3-ubyte[.gz] (idx3 or idx4 N x C x H x W) and t10k-labels-idx1-ubyte[.gz] (default: the MNIST shipped in the GoMNIST module; only the test files are read)")
	limit := fs.Int("limit", 0, "evaluate the first N test images (0 = all)")
	invert := fs.Bool("invert", false, "invert PNG images (black digit on white)")
	gray := fs.Bool("gray", false, "convert color, 16-bit and 1/2/4-bit PNG images to 8-bit gray (else they are refused)")
	asJSON := fs.Bool("json", false, "print only a JSON object on stdout (human lines to stderr)")
	threads := fs.Int("threads", 1, "threads (one Runner each) for the batch-64 pass (1..256); the classes are the same for any N")
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprint(stderr, synopsis+"\nflags:\n")
			fs.PrintDefaults()
			fmt.Fprint(stderr, examples)
			return err
		}
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
			msg = "unknown flag " + f
		}
		return usagef("%s", msg)
	}
	if *threads < 1 || *threads > 256 {
		return usagef("--threads = %d: allowed 1..256", *threads)
	}
	if *model == "" {
		return usagef("--model FILE is required")
	}
	if *limit < 0 || *limit > data.MaxCount {
		return usagef("--limit = %d: allowed 0..%d", *limit, data.MaxCount)
	}
	out := stdout
	if *asJSON {
		out = stderr
	}
	m, err := qnet.ReadFile(*model)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return classify(m, *model, fs.Args(), imageOptions{invert: *invert, gray: *gray}, *asJSON, out, stdout)
	}
	test, err := data.LoadTest(*dataDir)
	if err != nil {
		return err
	}
	if *limit > 0 {
		test = test.Subset(*limit)
	}
	oc, oh, ow := m.OutputShape()
	if err := test.CheckInput(m.InC, m.InH, m.InW); err != nil {
		return usagef("--data does not fit --model %s: %s", *model, strings.TrimPrefix(err.Error(), "data: "))
	}
	if err := test.CheckLabels(oc * oh * ow); err != nil {
		return usagef("--data does not fit --model %s: %s", *model, strings.TrimPrefix(err.Error(), "data: "))
	}
	res := evaluate(m, test, *threads)
	res.Model = *model
	fmt.Fprintf(out, "%s: accuracy %.2f%% on %d images; %.0f images/s at batch 1 (one thread), %.0f images/s at batch 64 (%d thread(s))\n",
		*model, 100*res.Accuracy, res.Images, res.ImagesPerSecond, res.ImagesPerSecond64, res.Threads)
	if !res.BatchPredictsMatch {
		return errors.New("batched predictions differ from single-image predictions (engine bug)")
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	return nil
}

// evaluate measures accuracy and speed: batch 1 through Predict on one thread, batch 64
// through PredictBatch on threads goroutines (one Runner each, the images split into
// contiguous shares of whole batches); both must give the same classes.
func evaluate(m *qnet.Model, s *data.Set, threads int) evalResult {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	r := m.NewRunner()
	preds := make([]int, s.N)
	start := time.Now()
	correct := 0
	for i := 0; i < s.N; i++ {
		preds[i] = r.Predict(s.Image(i))
		if preds[i] == int(s.Labels[i]) {
			correct++
		}
	}
	t1 := time.Since(start)
	px := s.ImageSize()
	batches := make([]int, s.N)
	runners := []*qnet.Runner{r}
	for len(runners) < threads {
		runners = append(runners, m.NewRunner())
	}
	share := (s.N/64 + threads - 1) / threads * 64 // images per thread, whole batches
	runtime.GOMAXPROCS(threads)
	start = time.Now()
	var wg sync.WaitGroup
	for t, r := range runners {
		lo, hi := min(t*share, s.N), min((t+1)*share, s.N)
		if t == threads-1 {
			hi = s.N
		}
		wg.Go(func() {
			for first := lo; first < hi; first += 64 {
				n := min(64, hi-first)
				r.PredictBatch(s.Images[first*px:(first+n)*px], n, batches[first:first+n])
			}
		})
	}
	wg.Wait()
	t64 := time.Since(start)
	return evalResult{
		Accuracy: float64(correct) / float64(max(s.N, 1)), Images: s.N,
		ImagesPerSecond: float64(s.N) / t1.Seconds(), ImagesPerSecond64: float64(s.N) / t64.Seconds(),
		BatchPredictsMatch: slices.Equal(batches, preds), Threads: threads,
	}
}

type classified struct {
	File  string `json:"image_file"`
	Index int    `json:"index"`
	Class int    `json:"class"`
}

// imageOptions say how PNG images are read.
type imageOptions struct {
	invert bool // 255 - p
	gray   bool // convert any PNG to 8-bit gray
}

func classify(m *qnet.Model, modelFile string, files []string, opt imageOptions, asJSON bool, stdout, jsonOut io.Writer) error {
	r := m.NewRunner()
	var out []classified
	for _, f := range files {
		imgs, n, err := readImages(f, m, opt)
		if err != nil {
			return err
		}
		px := m.InC * m.InH * m.InW
		for i := 0; i < n; i++ {
			c := r.Predict(imgs[i*px : (i+1)*px])
			out = append(out, classified{File: f, Index: i, Class: c})
			if n == 1 {
				fmt.Fprintf(stdout, "%s: %d\n", f, c)
			} else {
				fmt.Fprintf(stdout, "%s[%d]: %d\n", f, i, c)
			}
		}
	}
	if asJSON {
		return printJSON(jsonOut, map[string]any{"model_file": modelFile, "images": len(out), "predictions": out})
	}
	return nil
}

// readImages reads a PNG (one image) or an idx3 or idx4 image file (plain or gzip), at most
// MaxImageFile bytes. A PNG's size and format are checked from its header before it is
// decoded: it must have the model's input size and, for a 1-channel model, unless opt.gray,
// be 8-bit grayscale; for a 3-channel model 8-bit RGB or RGBA.
func readImages(path string, m *qnet.Model, opt imageOptions) ([]uint8, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxImageFile+1))
	if err != nil {
		return nil, 0, err
	}
	if len(b) > MaxImageFile {
		return nil, 0, fmt.Errorf("%s: larger than %d bytes", path, MaxImageFile)
	}
	if bytes.HasPrefix(b, []byte("\x89PNG")) {
		return readPNG(path, b, m, opt)
	}
	var rd io.Reader = bytes.NewReader(b)
	if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		z, err := gzip.NewReader(rd)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		rd = z
	}
	imgs, n, c, rows, cols, err := data.ReadImagesCHW(rd)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: not a PNG or idx3/idx4 image file: %w", path, err)
	}
	if c != m.InC || rows != m.InH || cols != m.InW {
		return nil, 0, fmt.Errorf("%s: images are %dx%dx%d (CxHxW), the model takes %dx%dx%d", path, c, rows, cols, m.InC, m.InH, m.InW)
	}
	return imgs, n, nil
}

// pngColorTypes names the PNG color types (IHDR byte 25).
var pngColorTypes = map[byte]string{0: "grayscale", 2: "RGB", 3: "palette", 4: "grayscale+alpha", 6: "RGBA"}

func readPNG(path string, b []byte, m *qnet.Model, opt imageOptions) ([]uint8, int, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if m.InC != 1 && m.InC != 3 {
		return nil, 0, fmt.Errorf("%s: the model takes %d-channel images; a PNG gives 1 (gray) or 3 (RGB): pass an idx4 file", path, m.InC)
	}
	kinds := map[int]string{1: "grayscale", 3: "RGB"}
	if cfg.Width != m.InW || cfg.Height != m.InH {
		return nil, 0, fmt.Errorf("%s: image is %dx%d, the model takes %dx%d %s", path, cfg.Width, cfg.Height, m.InW, m.InH, kinds[m.InC])
	}
	// IHDR: 8-byte signature, length, "IHDR", width, height, bit depth (24), color type (25);
	// DecodeConfig has checked it is there.
	depth, ctype := b[24], b[25]
	if m.InC == 3 {
		if depth != 8 || (ctype != 2 && ctype != 6) {
			kind, ok := pngColorTypes[ctype]
			if !ok {
				kind = fmt.Sprintf("color type %d", ctype)
			}
			return nil, 0, fmt.Errorf("%s: PNG is %d-bit %s, the model takes 8-bit RGB (or RGBA, alpha dropped)", path, depth, kind)
		}
		return readRGB(path, b, opt)
	}
	if (ctype != 0 || depth != 8) && !opt.gray {
		kind, ok := pngColorTypes[ctype]
		if !ok {
			kind = fmt.Sprintf("color type %d", ctype)
		}
		return nil, 0, fmt.Errorf("%s: PNG is %d-bit %s, the model takes 8-bit grayscale: convert it, or pass --gray to convert it here", path, depth, kind)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	bd := img.Bounds()
	px := make([]uint8, 0, bd.Dx()*bd.Dy())
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			g := color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y
			if opt.invert {
				g = 255 - g
			}
			px = append(px, g)
		}
	}
	return px, 1, nil
}

// readRGB decodes an 8-bit RGB or RGBA PNG into CHW planes R, G, B (alpha dropped; with
// opt.invert, 255 - p).
func readRGB(path string, b []byte, opt imageOptions) ([]uint8, int, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	bd := img.Bounds()
	plane := bd.Dx() * bd.Dy()
	px := make([]uint8, 3*plane)
	i := 0
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			for ch, v := range [3]uint8{c.R, c.G, c.B} {
				if opt.invert {
					v = 255 - v
				}
				px[ch*plane+i] = v
			}
			i++
		}
	}
	return px, 1, nil
}

func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
