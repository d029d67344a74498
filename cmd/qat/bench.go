package main

import (
	"fmt"
	"io"
	"reflect"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/internal/trainbench"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// cmdBench measures training speed (float vs QAT on the same batches) and, with --from and
// --int, inference speed (the float graph vs the integer engine), each in one process.
func cmdBench(args []string, stdout, stderr io.Writer) error {
	cfg := train.DefaultConfig()
	fs := newFlagSet("bench", stderr)
	fs.StringVar(&cfg.Arch, "model", cfg.Arch, "model: lenet5, lenet5-bn, lenet300-100, or a spec `file` ending in .json")
	fs.IntVar(&cfg.Quant.WBits, "wbits", cfg.Quant.WBits, "weight bits (2..8)")
	fs.IntVar(&cfg.Quant.ABits, "abits", cfg.Quant.ABits, "activation bits (2..8)")
	fs.Var(&cfg.Quant.Rounding, "rounding", "requantization rounding: single or double")
	fs.IntVar(&cfg.BatchSize, "batch", cfg.BatchSize, "training batch size (1..4096)")
	batches := fs.Int("batches", 100, "training batches per run (0 = skip the training benchmark)")
	rounds := fs.Int("rounds", 4, "rounds the four training runs are interleaved in (against drift in machine speed; >= 1)")
	paired := fs.Int("paired", -1, "pairs of steps (fast float, fast QAT) in the paired overhead phase (-1 = --batches, 0 = skip)")
	from := fs.String("from", "", "checkpoint for the inference benchmark")
	intModel := fs.String("int", "", "integer model `file` for the inference benchmark: the export of --from")
	images := fs.Int("images", 2000, "test images for the inference benchmark (1..10000)")
	dataDir := fs.String("data", "", dataUsage)
	asJSON := fs.Bool("json", false, "print only a JSON object on stdout (human lines to stderr)")
	engine := fs.String("engine", "", "integer model `file`: time the engine's kernel sets at batch 1, 8, 64, 256 (--images each, at least 256; --rounds interleaved) and exit")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *engine != "" {
		if err := firstErr(train.IntIn("rounds", *rounds, 1, 1_000_000), train.IntIn("images", *images, 1, 1<<20)); err != nil {
			return invalid(fs, err)
		}
		rs, err := benchEngine(*engine, *images, *rounds, output(*asJSON, stdout, stderr))
		if err == nil && *asJSON {
			err = printJSON(stdout, map[string]any{"engine": rs})
		}
		return err
	}
	if *paired == -1 {
		*paired = *batches
	}
	// The bench's own settings; the quantization ones are train.Config's.
	err := firstErr(
		train.IntIn("batches", *batches, 0, 1_000_000),
		train.IntIn("rounds", *rounds, 1, 1_000_000),
		train.IntIn("paired", *paired, 0, 1_000_000),
		train.IntIn("images", *images, 1, data.MaxCount),
		train.IntIn("BatchSize", cfg.BatchSize, 1, train.MaxBatch),
	)
	arch := cfg.Arch // a spec file stays a path for BenchTraining (Validate names the spec)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return invalid(fs, err)
	}
	if (*from != "") != (*intModel != "") {
		return usagef(fs, "the inference benchmark needs both --from CHECKPOINT and --int MODEL.qat")
	}
	out := output(*asJSON, stdout, stderr)
	result := map[string]any{"arch": cfg.Arch}
	if *batches > 0 {
		trainSet, err := data.LoadTrain(*dataDir)
		if err != nil {
			return err
		}
		rs, err := trainbench.Run(arch, cfg.Quant, cfg.BatchSize, *batches, min(*rounds, *batches), *paired, cfg.Seed, trainSet)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "training %s, batch %d, %d batches per run in %d interleaved rounds, same batches and init:\n", cfg.Arch, cfg.BatchSize, *batches, max(1, min(*rounds, *batches)))
		for _, r := range rs {
			fmt.Fprintf(out, "  %-8s %-5s %8.0f images/s  %6.1f s/epoch (60k, CPU %.1f s)  time x%.3f of stock float  x%.2f faster than stock %-5s  peak RSS %.0f MiB (run), %.0f MiB (process)",
				r.Ops, r.Mode, r.ImagesPerSec, r.EpochSeconds, r.EpochCPUSeconds, r.TimeVsStockFloat, r.SpeedupVsStock, r.Mode, r.RunPeakRSSMiB, r.PeakRSSMiB)
			if r.Mode == "qat" {
				fmt.Fprintf(out, "  fake-quant overhead %+.1f%% vs %s float (median of rounds %+.1f%%)", 100*r.QATOverhead, r.Ops, 100*r.QATOverheadMedian)
				if r.PairedOverhead != 0 || r.PairedOverheadMedian != 0 {
					fmt.Fprintf(out, ", paired steps %+.1f%% (median of pairs %+.1f%%)", 100*r.PairedOverhead, 100*r.PairedOverheadMedian)
				}
			}
			fmt.Fprintln(out)
		}
		result["training"] = rs
	}
	if *from != "" {
		ck, err := train.LoadCheckpoint(*from)
		if err != nil {
			return err
		}
		m, err := ck.Model()
		if err != nil {
			return err
		}
		qm, err := qnet.ReadFile(*intModel)
		if err != nil {
			return err
		}
		if err := sameModel(m, qm); err != nil {
			return usagef(fs, "--int %s is not the export of --from %s: %v", *intModel, *from, err)
		}
		testSet, err := data.LoadTest(*dataDir)
		if err != nil {
			return err
		}
		rs, err := export.BenchInference(m, qm, testSet, *images)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "inference, one thread, %d test images:\n", min(*images, testSet.N))
		base, dense := map[int]float64{}, map[int]float64{}
		for _, r := range rs {
			switch r.Engine {
			case "float-graph":
				base[r.Batch] = r.ImagesPerSec
			case "integer-dense":
				dense[r.Batch] = r.ImagesPerSec
			}
		}
		for _, r := range rs {
			fmt.Fprintf(out, "  %-13s batch %-3d %9.0f images/s  x%.2f vs float graph", r.Engine, r.Batch, r.ImagesPerSec, r.ImagesPerSec/base[r.Batch])
			if d := dense[r.Batch]; d > 0 && r.Engine == "integer" {
				fmt.Fprintf(out, "  x%.2f vs the dense kernels on the same file", r.ImagesPerSec/d)
			}
			fmt.Fprintln(out)
		}
		result["checkpoint"], result["model_file"], result["inference"] = *from, *intModel, rs
	}
	if *asJSON {
		return printJSON(stdout, result)
	}
	return nil
}

// sameModel checks that qm is the integer model export.Convert makes of m: the same layers
// (kinds, shapes, weights and quantization). A benchmark of two different models would
// compare nothing.
func sameModel(m *nn.Model, qm *qnet.Model) error {
	want, err := export.Convert(m)
	if err != nil {
		return err
	}
	if want.InC != qm.InC || want.InH != qm.InH || want.InW != qm.InW || len(want.Layers) != len(qm.Layers) {
		return fmt.Errorf("%s is %d layers on %dx%dx%d input, the file %d layers on %dx%dx%d",
			m.Arch, len(want.Layers), want.InC, want.InH, want.InW, len(qm.Layers), qm.InC, qm.InH, qm.InW)
	}
	for i := range want.Layers {
		if !reflect.DeepEqual(want.Layers[i], qm.Layers[i]) {
			return fmt.Errorf("layer %d (%v) differs", i, qm.Layers[i].Kind())
		}
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
