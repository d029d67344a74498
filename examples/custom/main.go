package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

func main() {
	epochs := flag.Int("epochs", 1, "QAT epochs")
	trainLimit := flag.Int("train-limit", 6000, "training images (0 = all 60,000)")
	out := flag.String("out", "custom.qat", "integer model file to write")
	runDir := flag.String("run", "", "run directory for checkpoints (\"\" = none)")
	flag.Parse()
	if err := run(*epochs, *trainLimit, *out, *runDir); err != nil {
		fmt.Fprintln(os.Stderr, "custom:", err)
		os.Exit(1)
	}
}

func run(epochs, trainLimit int, out, runDir string) error {
	// Three 3x3 convolutions with stride 2 and padding 1 (28 -> 14 -> 7 -> 4), no pooling,
	// then one fully connected layer; the first conv keeps 8-bit weights.
	spec := &nn.Spec{Name: "custom", Input: [3]int{1, 28, 28}, Layers: []nn.LayerSpec{
		nn.Conv(16, 3, 2, 1).Quantized(8, 4, true), nn.ReLU(),
		nn.Conv(32, 3, 2, 1), nn.ReLU(),
		nn.Conv(64, 3, 2, 1), nn.ReLU(),
		nn.Flat(),
		nn.Dense(10),
	}}
	q := nn.DefaultConfig()
	q.WBits, q.ABits = 4, 4
	m, err := nn.Build(spec, q, 1)
	if err != nil {
		return err
	}
	trainSet, testSet, err := data.Load("") // the MNIST shipped with the GoMNIST module
	if err != nil {
		return err
	}
	cfg := train.DefaultConfig()
	cfg.Mode, cfg.Epochs, cfg.TrainLimit, cfg.Out = train.ModeQAT, epochs, trainLimit, runDir
	// Ctrl-C stops training; with -run the checkpoint of that moment is written.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m, history, err := train.Fit(ctx, m, trainSet, testSet, cfg, train.Options{Log: os.Stderr})
	if err != nil {
		return err
	}
	last := history[len(history)-1]
	ex, err := export.FromModel(m, testSet, 0)
	if err != nil {
		return err
	}
	if err := ex.WriteFile(out); err != nil {
		return err
	}
	fmt.Printf("%s: %d epochs, simulated %.2f%%, integer %.2f%%, agreement %.2f%% on %d images; %s (%d bytes)\n",
		m.Arch, last.Epoch, 100*ex.Report.SimAccuracy, 100*ex.Report.IntAccuracy, 100*ex.Report.Agreement, ex.Report.Images, out, len(ex.File))
	for _, l := range ex.Report.Layers {
		fmt.Printf("  %-6s max %d steps apart, %.4f%% of activations differ\n", l.Name, l.MaxSteps, 100*l.Differing)
	}
	return nil
}
