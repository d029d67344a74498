package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/train"
)

// mainJob is `qat` with no arguments: W8A8 QAT of LeNet-5 on the embedded MNIST, export, and
// evaluation of the integer model on the full test set.
func mainJob(stdout, stderr io.Writer) error {
	cfg := train.DefaultConfig()
	fmt.Fprintf(stdout, "qat: training %s W%dA%d QAT for %d epochs on the embedded MNIST (run directory %s)\n",
		cfg.Arch, cfg.Quant.WBits, cfg.Quant.ABits, cfg.Epochs, cfg.Out)
	res, err := train.Run(cfg, options(false, stdout, stderr))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fake-quant test accuracy %.2f%% (%.1f s training)\n", 100*res.TestAccuracy, res.TrainSeconds)
	out := filepath.Join(cfg.Out, "model.qat")
	er, err := export.Run(export.Config{From: cfg.Out, Out: out, Progress: stderr})
	if err != nil {
		return err
	}
	printExport(stdout, er)
	return nil
}

func cmdExport(args []string, stdout, stderr io.Writer) error {
	var cfg export.Config
	fs := newFlagSet("export", stderr)
	fs.StringVar(&cfg.From, "from", "", "trained checkpoint (file or run directory)")
	fs.StringVar(&cfg.Out, "out", "", "integer model file to write (e.g. model.qat)")
	fs.StringVar(&cfg.DataDir, "data", "", "MNIST idx directory (default: the embedded copy)")
	fs.IntVar(&cfg.TestLimit, "test-limit", 0, "compare on the first N test images (0 = all)")
	fs.IntVar(&cfg.EvalBatch, "eval-batch", 100, "simulation batch size")
	asJSON := fs.Bool("json", false, "print a JSON result as the last line of stdout")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	res, err := export.Run(cfg)
	if err != nil {
		return err
	}
	printExport(stdout, res)
	if *asJSON {
		return printJSON(stdout, res)
	}
	return nil
}

func printExport(w io.Writer, r *export.Result) {
	fmt.Fprintf(w, "wrote %s: %d bytes (float32 parameters: %d bytes, %.1fx smaller)\n", r.Out, r.Bytes, r.Float32Bytes, float64(r.Float32Bytes)/float64(r.Bytes))
	printSummary(w, r.Summary)
	fmt.Fprintf(w, "\nsimulation vs integer engine on %d test images:\n", r.Images)
	fmt.Fprintf(w, "  fake-quant accuracy  %.2f%%\n  integer accuracy     %.2f%%\n  argmax agreement     %.2f%%\n", 100*r.SimAccuracy, 100*r.IntAccuracy, 100*r.Agreement)
	fmt.Fprintf(w, "  %-8s %22s %18s\n", "layer", "max |sim-int| (steps)", "differing values")
	for _, l := range r.Layers {
		fmt.Fprintf(w, "  %-8s %22d %17.4f%%\n", l.Name, l.MaxSteps, 100*l.Differing)
	}
}

func printSummary(w io.Writer, s []qnet.LayerSummary) {
	fmt.Fprintf(w, "  %-3s %-16s %-12s %8s %6s %6s %8s\n", "#", "layer", "out shape", "params", "wbits", "abits", "bytes")
	for _, l := range s {
		shape := fmt.Sprintf("%dx%dx%d", l.OutC, l.OutH, l.OutW)
		wb := "-"
		if l.WeightBits > 0 {
			wb = fmt.Sprint(l.WeightBits)
		}
		fmt.Fprintf(w, "  %-3d %-16s %-12s %8d %6s %6d %8d\n", l.Index, l.Kind, shape, l.Params, wb, l.OutBits, l.Bytes)
	}
}

func cmdSummary(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("summary", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("summary needs one model file: qat summary FILE.qat")
	}
	m, err := qnet.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s, input %dx%dx%d uint8\n", fs.Arg(0), m.Name, m.InC, m.InH, m.InW)
	printSummary(stdout, m.Summary())
	return nil
}
