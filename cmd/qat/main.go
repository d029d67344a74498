package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/qatgo/qatgo/report"
	"github.com/qatgo/qatgo/train"
)

func main() {
	os.Exit(exitCode(run(os.Args[1:], os.Stdout, os.Stderr), os.Stderr, "qat"))
}

func run(args []string, stdout, stderr io.Writer) (err error) {
	defer func() { err = dataMismatch(args, err) }()
	if len(args) == 0 {
		return mainJob(stdout, stderr)
	}
	switch args[0] {
	case "train":
		return cmdTrain(args[1:], stdout, stderr)
	case "export":
		return cmdExport(args[1:], stdout, stderr)
	case "summary":
		return cmdSummary(args[1:], stdout, stderr)
	case "bench":
		return cmdBench(args[1:], stdout, stderr)
	case "prune":
		return cmdPrune(args[1:], stdout, stderr)
	case "sensitivity":
		return cmdSensitivity(args[1:], stdout, stderr)
	case "cluster":
		return cmdCluster(args[1:], stdout, stderr)
	case "compress":
		return cmdCompress(args[1:], stdout, stderr)
	case "plot":
		return cmdPlot(args[1:], stdout, stderr)
	case "report":
		return cmdReport(args[1:], stdout, stderr)
	case "analyze":
		return cmdAnalyze(args[1:], stdout, stderr)
	case "mixed":
		return cmdMixed(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usagef(nil, "unknown command %q (have train, export, summary, bench, prune, sensitivity, cluster, compress, plot, report, analyze, mixed; no command runs the main job)", args[0])
}

const usage = `usage: qat [train|export|summary|bench|prune|sensitivity|cluster|compress|plot|report|analyze|mixed] [flags]
  qat                  train W8A8 QAT LeNet-5 on the embedded MNIST, export, evaluate the integer model
  qat train   [flags]  train (float, qat) or calibrate (ptq)
  qat export  [flags]  convert a checkpoint into an integer model file (--format qat|onnx|c)
  qat summary FILE     print an integer model's layers
  qat bench   [flags]  training and inference speed, with ratios
  qat prune   [flags]  prune-retrain cycles (or gradual pruning) of a trained checkpoint
  qat sensitivity [flags]  accuracy per layer pruned alone, with suggested targets
  qat cluster [flags]  k-means weight sharing with centroid fine-tuning
  qat compress [flags] prune -> cluster -> Huffman-coded export, with a stage table
  qat plot RUN_DIR...  pictures of runs (RUN_DIR/plots) and their accuracy-vs-bytes frontier
  qat report RUN_DIR   RUN_DIR/report.md: results, pictures, model summary
  qat analyze --from RUN --bits 2,4,8  per-layer SQNR of post-training quantization vs float
  qat mixed --from RUN --budget-bytes N  per-layer bits fitting N file bytes, QAT, export

Run qat CMD -h for a command's synopsis, flags and examples. With --json stdout holds only a
JSON object. Exit status: 0 success or -h, 1 failure, 2 usage error.
`

// trainFlags binds the training flags to cfg.
func trainFlags(fs *flag.FlagSet, cfg *train.Config) {
	fs.StringVar(&cfg.Arch, "model", cfg.Arch, "model: lenet5, lenet5-bn, lenet300-100, or a spec `file` ending in .json (README: Model spec files)")
	fs.Var(&cfg.Mode, "mode", "float, qat (fake-quant training) or ptq (calibrate --from, no training)")
	fs.IntVar(&cfg.Quant.WBits, "wbits", cfg.Quant.WBits, "weight bits (2..8)")
	fs.IntVar(&cfg.Quant.ABits, "abits", cfg.Quant.ABits, "activation bits (2..8)")
	fs.IntVar(&cfg.Quant.LogitBits, "logit-bits", cfg.Quant.LogitBits, "bits of the last layer's output (2..8)")
	fs.BoolVar(&cfg.Quant.PerChannel, "per-channel", cfg.Quant.PerChannel, "per-output-channel weight scales")
	fs.Var(layerBits{&cfg.Quant}, "layer-bits", "per-layer bits, e.g. conv1=8:8,fc2=8:8 (NAME=WBITS:ABITS; mixed precision)")
	fs.Float64Var(&cfg.Quant.Decay, "ema-decay", cfg.Quant.Decay, "EMA decay of activation ranges")
	fs.IntVar(&cfg.Quant.Delay, "quant-delay", cfg.Quant.Delay, "QAT steps before activations are quantized")
	fs.Var(&cfg.Quant.Rounding, "rounding", "requantization rounding: single (correctly rounded) or double (TFLite's default, bit-exact with it); a --from fine-tune takes this flag, not the checkpoint's rule")
	fs.StringVar(&cfg.Quant.Quantizer, "quantizer", "ema", "scales: ema (|w|max weights, EMA activation ranges) or lsq (learned step sizes)")
	fs.StringVar(&cfg.Quant.Range, "range", "minmax", "calibration ranges for ptq and the initial lsq steps: minmax, mse or percentile")
	fs.Float64Var(&cfg.Quant.Percentile, "percentile", 99.99, "percentile of --range percentile")
	fs.StringVar(&cfg.From, "from", cfg.From, "start from this checkpoint (file or run directory)")
	fs.BoolVar(&cfg.Resume, "resume", cfg.Resume, "resume the run in --out from its checkpoint")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs")
	fs.IntVar(&cfg.StopAfter, "stop-after", cfg.StopAfter, "stop this invocation after N epochs (continue later with --resume)")
	fs.IntVar(&cfg.BatchSize, "batch", cfg.BatchSize, "batch size")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "learning rate")
	fs.Var(&cfg.Optimizer, "optimizer", "sgd (momentum) or adam")
	fs.Float64Var(&cfg.Momentum, "momentum", cfg.Momentum, "SGD momentum")
	fs.Float64Var(&cfg.WeightDecay, "weight-decay", cfg.WeightDecay, "weight decay")
	fs.Var(&cfg.Schedule, "schedule", "learning-rate schedule: const, cosine, step")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (init and data order)")
	fs.StringVar(&cfg.Out, "out", cfg.Out, "run directory (checkpoint.qck, metrics.jsonl)")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, dataUsage)
	fs.IntVar(&cfg.TrainLimit, "train-limit", cfg.TrainLimit, "use only the first N training images (0 = all)")
	fs.IntVar(&cfg.TestLimit, "test-limit", cfg.TestLimit, "evaluate on the first N test images (0 = all)")
	fs.IntVar(&cfg.Val, "val", cfg.Val, "hold out the last N training images (after --train-limit) as a validation set, reported every epoch (0 = none)")
	fs.IntVar(&cfg.CalibImages, "calib", cfg.CalibImages, "ptq calibration images")
	fs.IntVar(&cfg.Augment, "augment", cfg.Augment, "shift training images randomly by up to N pixels (0 = off)")
	fs.Var(&cfg.Ops, "ops", "conv/pool ops: fast (qatgo's NCHW ops) or gorgonia (stock)")
	fs.IntVar(&cfg.EvalBatch, "eval-batch", cfg.EvalBatch, "evaluation batch size")
}

func cmdTrain(args []string, stdout, stderr io.Writer) error {
	cfg := train.DefaultConfig()
	fs := newFlagSet("train", stderr)
	trainFlags(fs, &cfg)
	asJSON := fs.Bool("json", false, "print only a JSON object on stdout (human lines to stderr)")
	quiet := fs.Bool("quiet", false, "no progress bars (drawn only when stderr is a terminal)")
	plotOn := plotFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	inheritPerChannel(&cfg.Quant)
	if err := cfg.Validate(); err != nil {
		return invalid(fs, err)
	}
	out := output(*asJSON, stdout, stderr)
	res, err := train.Run(cfg, options(*quiet, out, stderr))
	var se *train.SettingError
	if errors.As(err, &se) { // a setting that only the data shows out of range (--val)
		return invalid(fs, err)
	}
	if err != nil {
		return err
	}
	val := ""
	if res.ValAccuracy != nil {
		val = fmt.Sprintf(", validation %.2f%%", 100**res.ValAccuracy)
	}
	bits := fmt.Sprintf(" W%dA%d", res.WBits, res.ABits)
	switch {
	case res.Mode == train.ModeFloat:
		bits = ""
	case len(res.FloatLayers) > 0:
		bits += fmt.Sprintf(" (float: %s)", strings.Join(res.FloatLayers, ", "))
	}
	fmt.Fprintf(out, "%s %s%s: test accuracy %.2f%%%s after %d epochs (%.1f s training); checkpoint %s\n",
		res.Arch, res.Mode, bits, 100*res.TestAccuracy, val, res.Epochs, res.TrainSeconds, res.Checkpoint)
	autoPlot(*plotOn, stderr, cfg.Out, report.EvalOptions{DataDir: cfg.DataDir, TestLimit: cfg.TestLimit})
	if *asJSON {
		return printJSON(stdout, res)
	}
	return nil
}

// options sends one line per epoch, cycle or stage to log, and progress bars to stderr when
// it is a terminal (and not quiet).
func options(quiet bool, log, stderr io.Writer) train.Options {
	return train.Options{Log: log, Progress: progress(quiet, stderr)}
}

func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
