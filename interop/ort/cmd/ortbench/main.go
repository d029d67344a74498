package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qatgo/qatgo/export/onnx"
	"github.com/qatgo/qatgo/export/qnet"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "ortbench: %v; see ortbench -h\n", err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "ortbench: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

// row is one batch size's result.
type row struct {
	Batch       int     `json:"batch"`
	Engine      float64 `json:"engine_images_per_second"`
	ORT         float64 `json:"ort_images_per_second"`
	Ratio       float64 `json:"ratio"`        // engine / ORT, from the summed times
	RatioMedian float64 `json:"ratio_median"` // the median of the rounds' ratios
	// With --ort-model: the engine on that model, and engine (--model) / engine (--ort-model).
	EngineORTModel float64 `json:"engine_on_ort_model_images_per_second,omitempty"`
	EngineRatio    float64 `json:"engine_ratio,omitempty"`
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ortbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "integer model file (*.qat)")
	ortModel := fs.String("ort-model", "", "the integer model file ONNX Runtime runs, if not --model (e.g. the dense model beside a pruned one: ONNX Runtime has no sparse kernels)")
	rounds := fs.Int("rounds", 6, "rounds, each timing both runtimes at every batch size (1..1000)")
	images := fs.Int("images", 1024, "images per batch size per round (64..65536)")
	batchList := fs.String("batches", "1,8,64,256", "batch sizes")
	form := fs.String("form", "qoperator", "ONNX form: qoperator or qdq")
	int8w := fs.Bool("int8-weights", false, "ONNX weights as int8 (zero point 0) instead of uint8 w+128 (faster in ONNX Runtime, but its x86 kernels without VNNI saturate on them)")
	asJSON := fs.Bool("json", false, "print only a JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	switch {
	case *model == "":
		return usageError{errors.New("--model FILE.qat is required")}
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	case *rounds < 1 || *rounds > 1000:
		return usageError{fmt.Errorf("--rounds = %d: allowed 1..1000", *rounds)}
	case *images < 64 || *images > 65536:
		return usageError{fmt.Errorf("--images = %d: allowed 64..65536", *images)}
	}
	var batches []int
	for _, s := range strings.Split(*batchList, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || b < 1 || b > *images {
			return usageError{fmt.Errorf("--batches: %q is not an integer in 1..%d", s, *images)}
		}
		batches = append(batches, b)
	}
	out := stdout
	if *asJSON {
		out = stderr
	}
	f, err := onnx.ParseForm(*form)
	if err != nil {
		return usageError{err}
	}
	m, err := qnet.ReadFile(*model)
	if err != nil {
		return err
	}
	script, err := benchScript()
	if err != nil {
		return err
	}
	om := m
	if *ortModel != "" {
		if om, err = qnet.ReadFile(*ortModel); err != nil {
			return err
		}
		if om.InC != m.InC || om.InH != m.InH || om.InW != m.InW {
			return fmt.Errorf("%s takes %dx%dx%d images, %s %dx%dx%d", *ortModel, om.InC, om.InH, om.InW, *model, m.InC, m.InH, m.InW)
		}
	} else {
		*ortModel = *model
	}
	dir, err := os.MkdirTemp("", "ortbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	onnxPath := filepath.Join(dir, "model.onnx")
	if err := onnx.WriteFile(onnxPath, om, onnx.Options{Form: f, WeightsInt8: *int8w}); err != nil {
		return err
	}
	eng := newEngineBench(m, *images)
	var engD *engineBench // the engine on the ONNX Runtime model, if that is another file
	if om != m {
		engD = newEngineBench(om, *images)
	}
	engT := make([][]float64, len(batches)) // seconds per round
	ortT := make([][]float64, len(batches))
	denT := make([][]float64, len(batches))
	fmt.Fprintf(out, "engine on %s vs ONNX Runtime 1.30 on %s (%s form, %s weights), one thread each, %d images per batch size, %d rounds alternating which runs first\n",
		*model, *ortModel, f, map[bool]string{false: "uint8", true: "int8"}[*int8w], *images, *rounds)
	for r := range *rounds {
		runEngine := func() {
			for i, b := range batches {
				engT[i] = append(engT[i], eng.time(b))
				if engD != nil {
					denT[i] = append(denT[i], engD.time(b))
				}
			}
		}
		runORT := func() error {
			ips, err := ortRound(script, onnxPath, *batchList, *images)
			if err != nil {
				return err
			}
			for i, b := range batches {
				v, ok := ips[b]
				if !ok || !(v > 0) {
					return fmt.Errorf("bench.js gave no rate for batch %d", b)
				}
				ortT[i] = append(ortT[i], float64(*images)/v)
			}
			return nil
		}
		if r%2 == 0 {
			runEngine()
			if err := runORT(); err != nil {
				return err
			}
		} else {
			if err := runORT(); err != nil {
				return err
			}
			runEngine()
		}
		fmt.Fprintf(stderr, "round %d/%d done\n", r+1, *rounds)
	}
	rows := make([]row, len(batches))
	fmt.Fprintf(out, "%6s %16s %16s %8s %14s", "batch", "engine images/s", "ORT images/s", "ratio", "median ratio")
	if engD != nil {
		fmt.Fprintf(out, " %22s %14s", "engine on ORT's model", "engine ratio")
	}
	fmt.Fprintln(out)
	for i, b := range batches {
		n := float64(*images * *rounds)
		e, o := n/sum(engT[i]), n/sum(ortT[i])
		ratios := make([]float64, len(engT[i]))
		for r := range ratios {
			ratios[r] = ortT[i][r] / engT[i][r]
		}
		rows[i] = row{Batch: b, Engine: e, ORT: o, Ratio: e / o, RatioMedian: median(ratios)}
		fmt.Fprintf(out, "%6d %16.0f %16.0f %7.2fx %13.2fx", b, e, o, e/o, rows[i].RatioMedian)
		if engD != nil {
			d := n / sum(denT[i])
			rows[i].EngineORTModel, rows[i].EngineRatio = d, e/d
			fmt.Fprintf(out, " %22.0f %13.2fx", d, e/d)
		}
		fmt.Fprintln(out)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"model_file": *model, "ort_model_file": *ortModel, "rounds": *rounds, "images": *images, "batches": rows})
	}
	return nil
}

// engineBench times one Runner of the model on seeded random images.
type engineBench struct {
	r    *qnet.Runner
	imgs []uint8
	px   int
	pred []int
}

func newEngineBench(m *qnet.Model, images int) *engineBench {
	px := m.InC * m.InH * m.InW
	rng := rand.New(rand.NewPCG(30, 1))
	imgs := make([]uint8, images*px)
	for i := range imgs {
		imgs[i] = uint8(rng.IntN(256))
	}
	return &engineBench{r: m.NewRunner(), imgs: imgs, px: px, pred: make([]int, images)}
}

// time returns the seconds the engine takes for all images at batch b, on one locked thread,
// after one untimed batch.
func (e *engineBench) time(b int) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n := len(e.pred)
	step := func(i int) {
		k := min(b, n-i)
		if b == 1 {
			e.pred[i] = e.r.Predict(e.imgs[i*e.px : (i+1)*e.px])
			return
		}
		e.r.PredictBatch(e.imgs[i*e.px:(i+k)*e.px], k, e.pred[i:i+k])
	}
	step(0)
	t0 := time.Now()
	for i := 0; i < n; i += b {
		step(i)
	}
	return time.Since(t0).Seconds()
}

// ortRound runs one round of bench.js and returns its images/s per batch size.
func ortRound(script, model, batches string, images int) (map[int]float64, error) {
	cmd := exec.Command("node", script, model, "--batches", batches, "--images", strconv.Itoa(images), "--rounds", "1", "--json")
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("node %s: %v: %s", filepath.Base(script), err, strings.TrimSpace(se.String()))
	}
	lines := strings.Split(strings.TrimSpace(so.String()), "\n")
	var res struct {
		ORT []struct {
			Batch int     `json:"batch"`
			IPS   float64 `json:"images_per_second"`
		} `json:"onnxruntime"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		return nil, fmt.Errorf("bench.js output: %v", err)
	}
	ips := map[int]float64{}
	for _, r := range res.ORT {
		ips[r.Batch] = r.IPS
	}
	return ips, nil
}

// benchScript finds interop/ort/bench/bench.js from the working directory (the repository or
// below it) and checks that onnxruntime-node is installed beside it.
func benchScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		s := filepath.Join(dir, "interop", "ort", "bench", "bench.js")
		if _, err := os.Stat(s); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "interop", "ort", "node_modules", "onnxruntime-node")); err != nil {
				return "", errors.New("onnxruntime-node is not installed: run (cd interop/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci)")
			}
			return s, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("interop/ort/bench/bench.js not found: run ortbench inside the qatgo repository")
		}
		dir = parent
	}
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}
