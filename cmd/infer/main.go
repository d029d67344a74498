// Command infer runs an integer model written by `qat export` with the integer engine only
// (package export/qnet: integer arithmetic, no gorgonia, no floating point from pixels to class).
//
// Usage:
//
//	infer --model m.qat                    evaluate the MNIST test set: accuracy and images/s
//	                                       at batch 1 and batch 64 on one thread
//	infer --model m.qat digit.png ...      classify PNG images (grayscale, the model's input
//	                                       size, white digit on black like MNIST; --invert for
//	                                       black on white) or idx3 image files (plain or gzip)
//
// Flags: --data DIR (MNIST idx directory; default the copy shipped in the GoMNIST module),
// --limit N (first N test images), --invert, --threads N (batch-64 pass on N threads, one
// Runner each; default 1), --json (the last line of stdout is one JSON object with accuracy,
// images, images_per_second and images_per_second_batch64).
// Bad files get a one-line error and exit status 1.
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
	"sync"
	"time"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "infer: %v\n", err)
		os.Exit(1)
	}
}

type evalResult struct {
	Model              string  `json:"model"`
	Accuracy           float64 `json:"accuracy"`
	Images             int     `json:"images"`
	ImagesPerSecond    float64 `json:"images_per_second"`
	ImagesPerSecond64  float64 `json:"images_per_second_batch64"`
	BatchPredictsMatch bool    `json:"batch_predictions_match"`
	Threads            int     `json:"threads"` // of the batch-64 pass
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("infer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "integer model file written by `qat export`")
	dataDir := fs.String("data", "", "MNIST idx directory (default: the embedded copy)")
	limit := fs.Int("limit", 0, "evaluate the first N test images (0 = all)")
	invert := fs.Bool("invert", false, "invert PNG images (black digit on white)")
	asJSON := fs.Bool("json", false, "print a JSON result as the last line of stdout")
	threads := fs.Int("threads", 1, "threads (one Runner each) for the batch-64 pass; the classes are the same for any N")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *threads < 1 || *threads > 1024 {
		return fmt.Errorf("--threads %d outside 1..1024", *threads)
	}
	if *model == "" {
		return errors.New("--model FILE is required")
	}
	m, err := qnet.ReadFile(*model)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return classify(m, fs.Args(), *invert, *asJSON, stdout)
	}
	_, test, err := data.Load(*dataDir)
	if err != nil {
		return err
	}
	if *limit > 0 {
		test = test.Subset(*limit)
	}
	if test.Rows != m.InH || test.Cols != m.InW || m.InC != 1 {
		return fmt.Errorf("model input %dx%dx%d does not match %dx%d test images", m.InC, m.InH, m.InW, test.Rows, test.Cols)
	}
	res := evaluate(m, test, *threads)
	res.Model = *model
	fmt.Fprintf(stdout, "%s: accuracy %.2f%% on %d images; %.0f images/s at batch 1, %.0f images/s at batch 64 (one thread)\n",
		*model, 100*res.Accuracy, res.Images, res.ImagesPerSecond, res.ImagesPerSecond64)
	if res.Threads > 1 {
		fmt.Fprintf(stdout, "  batch 64 on %d threads: %.0f images/s\n", res.Threads, res.ImagesPerSecond64)
	}
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
	px := s.Rows * s.Cols
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
	File  string `json:"file"`
	Index int    `json:"index"`
	Class int    `json:"class"`
}

func classify(m *qnet.Model, files []string, invert, asJSON bool, stdout io.Writer) error {
	r := m.NewRunner()
	var out []classified
	for _, f := range files {
		imgs, n, err := readImages(f, m, invert)
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
		return printJSON(stdout, map[string]any{"images": len(out), "predictions": out})
	}
	return nil
}

// readImages reads a PNG (one image) or an idx3 image file (plain or gzip).
func readImages(path string, m *qnet.Model, invert bool) ([]uint8, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	if bytes.HasPrefix(b, []byte("\x89PNG")) {
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		bd := img.Bounds()
		if m.InC != 1 || bd.Dx() != m.InW || bd.Dy() != m.InH {
			return nil, 0, fmt.Errorf("%s: image is %dx%d, the model takes %dx%d grayscale", path, bd.Dx(), bd.Dy(), m.InW, m.InH)
		}
		px := make([]uint8, 0, bd.Dx()*bd.Dy())
		for y := bd.Min.Y; y < bd.Max.Y; y++ {
			for x := bd.Min.X; x < bd.Max.X; x++ {
				g := color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y
				if invert {
					g = 255 - g
				}
				px = append(px, g)
			}
		}
		return px, 1, nil
	}
	var rd io.Reader = bytes.NewReader(b)
	if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		z, err := gzip.NewReader(rd)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		rd = z
	}
	imgs, n, rows, cols, err := data.ReadImages(rd)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: not a PNG or idx3 image file: %w", path, err)
	}
	if rows != m.InH || cols != m.InW || m.InC != 1 {
		return nil, 0, fmt.Errorf("%s: images are %dx%d, the model takes %dx%d", path, cols, rows, m.InW, m.InH)
	}
	return imgs, n, nil
}

func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
