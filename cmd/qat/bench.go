package main

import (
	"fmt"
	"io"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/train"
)

// cmdBench measures training speed (float vs QAT on the same batches) and, with --from and
// --int, inference speed (the float graph vs the integer engine), each in one process.
func cmdBench(args []string, stdout, stderr io.Writer) error {
	cfg := train.DefaultConfig()
	fs := newFlagSet("bench", stderr)
	fs.StringVar(&cfg.Arch, "model", cfg.Arch, "model")
	fs.IntVar(&cfg.Quant.WBits, "wbits", cfg.Quant.WBits, "weight bits")
	fs.IntVar(&cfg.Quant.ABits, "abits", cfg.Quant.ABits, "activation bits")
	fs.IntVar(&cfg.BatchSize, "batch", cfg.BatchSize, "training batch size")
	batches := fs.Int("batches", 100, "training batches per run (0 = skip the training benchmark)")
	rounds := fs.Int("rounds", 4, "rounds the four training runs are interleaved in (against drift in machine speed)")
	paired := fs.Int("paired", -1, "pairs of steps (fast float, fast QAT) in the paired overhead phase (-1 = --batches, 0 = skip)")
	from := fs.String("from", "", "checkpoint for the inference benchmark")
	intModel := fs.String("int", "", "integer model file for the inference benchmark")
	images := fs.Int("images", 2000, "test images for the inference benchmark")
	dataDir := fs.String("data", "", "MNIST idx directory")
	asJSON := fs.Bool("json", false, "print a JSON result as the last line of stdout")
	engine := fs.String("engine", "", "integer model file: time the engine's kernel sets at batch 1, 8, 64, 256 (--images each, --rounds interleaved) and exit")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *engine != "" {
		rs, err := benchEngine(*engine, *images, *rounds, stdout)
		if err == nil && *asJSON {
			err = printJSON(stdout, map[string]any{"engine": rs})
		}
		return err
	}
	if err := cfg.Quant.Validate(); err != nil {
		return err
	}
	trainSet, testSet, err := data.Load(*dataDir)
	if err != nil {
		return err
	}
	result := map[string]any{}
	if *batches > 0 {
		if *paired < 0 {
			*paired = *batches
		}
		rs, err := train.BenchTraining(cfg.Arch, cfg.Quant, cfg.BatchSize, *batches, *rounds, *paired, cfg.Seed, trainSet)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "training %s, batch %d, %d batches per run in %d interleaved rounds, same batches and init:\n", cfg.Arch, cfg.BatchSize, *batches, max(1, min(*rounds, *batches)))
		for _, r := range rs {
			fmt.Fprintf(stdout, "  %-8s %-5s %8.0f images/s  %6.1f s/epoch (60k, CPU %.1f s)  time x%.3f of stock float  x%.2f faster than stock %-5s  peak RSS %.0f MiB (run), %.0f MiB (process)",
				r.Ops, r.Mode, r.ImagesPerSec, r.EpochSeconds, r.EpochCPUSeconds, r.TimeVsStockFloat, r.SpeedupVsStock, r.Mode, r.RunPeakRSSMiB, r.PeakRSSMiB)
			if r.Mode == "qat" {
				fmt.Fprintf(stdout, "  fake-quant overhead %+.1f%% vs %s float (median of rounds %+.1f%%)", 100*r.QATOverhead, r.Ops, 100*r.QATOverheadMedian)
				if r.PairedOverhead != 0 || r.PairedOverheadMedian != 0 {
					fmt.Fprintf(stdout, ", paired steps %+.1f%% (median of pairs %+.1f%%)", 100*r.PairedOverhead, 100*r.PairedOverheadMedian)
				}
			}
			fmt.Fprintln(stdout)
		}
		result["training"] = rs
	}
	if *from != "" || *intModel != "" {
		if *from == "" || *intModel == "" {
			return fmt.Errorf("the inference benchmark needs both --from CHECKPOINT and --int MODEL.qat")
		}
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
		rs, err := export.BenchInference(m, qm, testSet, *images)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "inference, one thread, %d test images:\n", *images)
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
			fmt.Fprintf(stdout, "  %-13s batch %-3d %9.0f images/s  x%.2f vs float graph", r.Engine, r.Batch, r.ImagesPerSec, r.ImagesPerSec/base[r.Batch])
			if d := dense[r.Batch]; d > 0 && r.Engine == "integer" {
				fmt.Fprintf(stdout, "  x%.2f vs the dense kernels on the same file", r.ImagesPerSec/d)
			}
			fmt.Fprintln(stdout)
		}
		result["inference"] = rs
	}
	if *asJSON {
		return printJSON(stdout, result)
	}
	return nil
}
